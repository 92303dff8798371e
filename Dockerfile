# syntax=docker/dockerfile:1.7
# One image for core (`morgan serve`), the reranker service (`morgan reranker serve`) and the
# migration Job (`morgan db upgrade`). GPU work for LLMs runs in Ollama, not here.
#
#   docker build -t morgan .                          # CPU onnxruntime
#   docker build -t morgan:gpu --build-arg GPU=true .  # onnxruntime-gpu for the reranker pod
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG GPU=false
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch comes from the PyTorch CPU index, installed before the package so pip keeps it:
# the default PyPI wheel drags in ~3 GB of CUDA libraries that nothing in this image uses
# (in-process models are small and run on CPU; the reranker uses onnxruntime). Keep the
# version in step with pyproject.toml.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY tui ./tui
# llama-cpp-python (the embedded LLM) compiles here; portable flags so the image runs on any x86-64.
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF"
# The `gpu` extra adds onnxruntime-gpu; the CPU onnxruntime wheel must then go, because both
# install the same `onnxruntime` module and the last one unpacked would win at random.
RUN if [ "$GPU" = "true" ]; then \
        pip install ".[gpu]" \
        && pip uninstall -y onnxruntime \
        && pip install --force-reinstall --no-deps "onnxruntime-gpu>=1.18"; \
    else \
        pip install .; \
    fi \
    && python -c "import morgan"

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 morgan \
    && useradd --system --uid 10001 --gid morgan --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin morgan \
    && mkdir -p /data \
    && chown morgan:morgan /data
COPY --from=build /opt/venv /opt/venv
# Migrations ship beside the package; `morgan db upgrade` finds them via MORGAN_ALEMBIC_DIR.
COPY alembic /app/alembic
ENV PATH=/opt/venv/bin:$PATH \
    MORGAN_ALEMBIC_DIR=/app/alembic \
    MORGAN_HOME=/data \
    HOME=/data \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000 8081
ENTRYPOINT ["morgan"]
CMD ["serve", "--host", "0.0.0.0"]
