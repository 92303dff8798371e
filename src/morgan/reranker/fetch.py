"""Put an exported ONNX cross-encoder into the reranker's model folder, offline-friendly.

Sources: a local folder (a mounted volume, an air-gapped copy), `s3://bucket/prefix` on any
S3-compatible store (the chart's MinIO, a mirror bucket), or an `http(s)://` URL of a
`.tar.gz`/`.tgz`/`.zip` archive or of a single `model.onnx`. The files land in a temporary
folder beside the target and replace it only once an ONNX model is found in them, so a failed
fetch never leaves a half-filled folder that the service would try to load.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import structlog

from morgan.reranker.base import RerankerModelError
from morgan.reranker.onnx_cross_encoder import find_model_file

log = structlog.get_logger(__name__)


def fetch_model(source: str, target: Path, *, force: bool = False) -> Path:
    """Fill `target` from `source`; returns the model file. No-op when a model is already there."""
    target = target.expanduser()
    if not force:
        try:
            return find_model_file(target)
        except RerankerModelError:
            pass
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent))
    try:
        if source.startswith("s3://"):
            asyncio.run(_from_s3(source, staging))
        elif source.startswith(("http://", "https://")):
            _from_url(source, staging)
        else:
            _from_folder(Path(source).expanduser(), staging)
        model = find_model_file(staging)  # refuse to install a folder without a model
        _replace_contents(staging, target)
        log.info("reranker.fetch.done", source=_redacted(source), target=str(target))
        return target / model.relative_to(staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace_contents(staging: Path, target: Path) -> None:
    """Swap in the new files; `target` may be a mount point, so its entries move, not itself."""
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    for new in staging.iterdir():
        os.replace(new, target / new.name)


def _from_folder(folder: Path, staging: Path) -> None:
    if not folder.is_dir():
        raise RerankerModelError(f"reranker model source is not a folder: {folder}")
    shutil.copytree(folder, staging, dirs_exist_ok=True)


def _from_url(url: str, staging: Path) -> None:
    import httpx

    name = Path(urlsplit(url).path).name or "model.onnx"
    download = staging.parent / f"{staging.name}.download"
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            if response.status_code != 200:
                raise RerankerModelError(f"GET {url}: HTTP {response.status_code}")
            with download.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
        _unpack(download, name, staging)
    except httpx.HTTPError as exc:
        raise RerankerModelError(f"GET {url}: {exc}") from exc
    finally:
        download.unlink(missing_ok=True)


def _unpack(file: Path, name: str, staging: Path) -> None:
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(file) as archive:
            archive.extractall(staging, filter="data")
    elif name.endswith(".zip"):
        with zipfile.ZipFile(file) as archive:
            for member in archive.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise RerankerModelError(f"unsafe path in archive: {member}")
            archive.extractall(staging)  # noqa: S202 - every member was checked above
    else:
        shutil.move(file, staging / name)
    _flatten_single_folder(staging)


def _flatten_single_folder(staging: Path) -> None:
    """Archives often hold one top folder (`ms-marco-MiniLM-L-6-v2/...`): lift its contents."""
    entries = list(staging.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name != "onnx":
        inner = entries[0]
        for item in list(inner.iterdir()):
            os.replace(item, staging / item.name)
        inner.rmdir()


async def _from_s3(url: str, staging: Path) -> None:
    """`s3://bucket/prefix?endpoint=URL&region=R`; credentials from AWS_* like the blob store."""
    import aioboto3
    from botocore.config import Config

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    bucket, prefix = parts.hostname, parts.path.lstrip("/")
    if not bucket:
        raise RerankerModelError(f"reranker model source {url!r}: expected s3://bucket/prefix")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    session = aioboto3.Session(region_name=query.get("region") or os.environ.get("AWS_REGION"))
    config = Config(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    found = 0
    async with session.client("s3", endpoint_url=query.get("endpoint"), config=config) as s3:
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = Path(item["Key"][len(prefix) :])
                if not relative.parts or ".." in relative.parts or item["Key"].endswith("/"):
                    continue
                path = staging / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                response = await s3.get_object(Bucket=bucket, Key=item["Key"])
                async with response["Body"] as body:
                    path.write_bytes(await body.read())
                found += 1
    if not found:
        raise RerankerModelError(f"no objects under {_redacted(url)}")


def _redacted(source: str) -> str:
    return source.split("?", 1)[0]
