# syntax=docker/dockerfile:1.7
# One image for core (`morgan serve`), its `migrate` init step (`morgan db upgrade`) and the
# reranker service (`morgan reranker serve|fetch`). LLM GPU work runs in Ollama, not here.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/morgan:0.1.0 --push .
#   docker build -t morgan:gpu --build-arg GPU=true .   # the `gpu` extra: onnxruntime-gpu[cuda,cudnn]
#
# Behind a local proxy or mirror (nothing is hard-coded):
#   --build-arg PIP_INDEX_URL=http://proxy:3141/root/pypi/+simple/
#   --build-arg PIP_EXTRA_INDEX_URL=...  --build-arg APT_MIRROR=http://proxy:3142/debian
#   --build-arg TORCH_INDEX_URL=...      (a mirror of the PyTorch CPU wheel index)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ARG APT_MIRROR=""
# Point apt at a mirror when asked (deb822 sources of the Debian base image).
RUN if [ -n "$APT_MIRROR" ]; then \
        sed -i "s#http://deb.debian.org/debian#${APT_MIRROR}#g" /etc/apt/sources.list.d/debian.sources; \
    fi

FROM base AS build
ARG GPU=false
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_INDEX_URL=${PIP_INDEX_URL} \
    PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL}
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && apt-get update && apt-get install -y --no-install-recommends build-essential cmake
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    CMAKE_ARGS="-DGGML_NATIVE=OFF"

# Layer 1, dependencies only (from pyproject.toml, not the sources): a code edit reuses it and
# never recompiles llama.cpp. torch comes from the CPU wheel index first, so pip keeps it and
# skips ~3 GB of CUDA libraries nothing here uses. GPU=true swaps in pyproject's `gpu` extra,
# onnxruntime-gpu[cuda,cudnn] (its CUDA runtime and cuDNN as pip wheels, so no CUDA base image
# is needed); the CPU wheel must go, as both install the same `onnxruntime` module and the last
# one unpacked would win. ONNXRUNTIME_GPU overrides the spec, e.g. a CUDA 12 release
# ("onnxruntime-gpu[cuda,cudnn]~=1.24.0") for nodes whose driver predates CUDA 13 (< 580).
ARG ONNXRUNTIME_GPU=""
COPY pyproject.toml /src/pyproject.toml
RUN python - <<'PY'
import tomllib
project = tomllib.load(open("/src/pyproject.toml", "rb"))["project"]
open("/tmp/requirements.txt", "w").write("\n".join(project["dependencies"]) + "\n")
open("/tmp/requirements-gpu.txt", "w").write(
    "\n".join(project["optional-dependencies"]["gpu"]) + "\n"
)
PY
RUN --mount=type=cache,target=/root/.cache/pip \
    TORCH="$(grep -E '^torch==' /tmp/requirements.txt)" \
    && pip install --index-url "$TORCH_INDEX_URL" "$TORCH" \
    && pip install -r /tmp/requirements.txt \
    && if [ "$GPU" = "true" ]; then \
        pip uninstall -y onnxruntime \
        && if [ -n "$ONNXRUNTIME_GPU" ]; then pip install "$ONNXRUNTIME_GPU"; \
           else pip install -r /tmp/requirements-gpu.txt; fi \
        && python -c "import onnxruntime as ort; assert 'CUDAExecutionProvider' in ort.get_available_providers(), ort.get_available_providers()"; \
    fi

# Layer 2, Morgan itself: no dependency resolution, seconds to build.
COPY README.md /src/README.md
COPY src /src/src
COPY tui /src/tui
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps /src && python -c "import morgan"

FROM base AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="morgan" \
      org.opencontainers.image.description="Morgan, a self-hosted personal AI assistant: core, migrations and the ONNX reranker" \
      org.opencontainers.image.source="https://github.com/morgan-ai/morgan" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
# libgomp1: OpenMP runtime of onnxruntime, torch and llama.cpp (absent from slim images).
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && groupadd --system --gid 10001 morgan \
    && useradd --system --uid 10001 --gid morgan --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin morgan \
    && mkdir -p /data \
    && chown morgan:morgan /data
COPY --from=build /opt/venv /opt/venv
# Migrations ship beside the package; `morgan db upgrade` finds them via MORGAN_ALEMBIC_DIR.
COPY alembic /app/alembic
# The keys below are mirrored by tests/integration/helm/run_workload.py (IMAGE_ENV).
ENV PATH=/opt/venv/bin:$PATH \
    MORGAN_ALEMBIC_DIR=/app/alembic \
    MORGAN_HOME=/data \
    HOME=/data \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
USER 10001:10001
# Smoke test: the app imports and the migrations apply (SQLite), as the image's own user.
RUN python -c "import morgan.app" \
    && MORGAN_HOME=/tmp/smoke MORGAN_DATABASE_URL=sqlite+aiosqlite:////tmp/smoke/morgan.db \
       morgan db upgrade \
    && rm -rf /tmp/smoke
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000 8081
ENTRYPOINT ["morgan"]
CMD ["serve", "--host", "0.0.0.0"]
