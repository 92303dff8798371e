"""Blobs in an S3-compatible object store (AWS S3, MinIO, SeaweedFS) through aioboto3.

Small objects go up in one `PutObject`; a stream that outgrows one part switches to a
multipart upload, so memory stays at one part however large the file is. Any failure,
`max_bytes` included, aborts the multipart upload, so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import aioboto3
import aiohttp
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from morgan.components import ComponentHealth
from morgan.storage.blobs.base import (
    STREAM_CHUNK_SIZE,
    BlobData,
    BlobNotFound,
    BlobStoreError,
    BlobStoreUnavailable,
    BlobTooLarge,
    validate_blob_key,
)

log = structlog.get_logger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
_NO_BUCKET_CODES = {"NoSuchBucket", "404", "NotFound"}


class S3BlobStore:
    """One bucket of an S3-compatible store; the client opens on first use."""

    backend = "s3"

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        create_bucket: bool = True,
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_attempts: int = 3,
        chunk_size: int = STREAM_CHUNK_SIZE,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3 rule)")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.create_bucket = create_bucket
        self.part_size = part_size
        self.chunk_size = chunk_size
        self._session = aioboto3.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
        )
        self._config = Config(
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": "path"},
            # Only send checksums where S3 demands them: S3-compatible servers vary here.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._bucket_ready = False
        self._open_lock = asyncio.Lock()

    async def _s3(self) -> Any:
        """The open client, with the bucket checked (and created) once."""
        async with self._open_lock:
            if self._client is None:
                stack = AsyncExitStack()
                with _translate_errors(self.bucket):
                    self._client = await stack.enter_async_context(
                        self._session.client(
                            "s3", endpoint_url=self.endpoint_url, config=self._config
                        )
                    )
                self._stack = stack
            if not self._bucket_ready:
                await self._ensure_bucket()
                self._bucket_ready = True
            return self._client

    async def _ensure_bucket(self) -> None:
        client = self._client
        try:
            with _translate_errors(self.bucket):
                await client.head_bucket(Bucket=self.bucket)
            return
        except BlobNotFound:
            if not self.create_bucket:
                raise BlobStoreError(f"bucket {self.bucket!r} does not exist") from None
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region and self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            with _translate_errors(self.bucket):
                await client.create_bucket(**kwargs)
            log.info("s3_bucket_created", bucket=self.bucket, endpoint=self.endpoint_url)
        except BlobStoreError as exc:
            cause = exc.__cause__
            code = _error_code(cause) if isinstance(cause, ClientError) else ""
            if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise

    async def put(
        self,
        key: str,
        data: BlobData,
        *,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> int:
        validate_blob_key(key)
        extra = {"ContentType": content_type} if content_type else {}
        if isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
            if max_bytes is not None and len(payload) > max_bytes:
                raise BlobTooLarge(key, max_bytes)
            await self._put_object(key, payload, extra)
            return len(payload)

        buffer = bytearray()
        written = 0
        iterator = aiter(data)
        async for chunk in iterator:
            written += len(chunk)
            if max_bytes is not None and written > max_bytes:
                raise BlobTooLarge(key, max_bytes)
            buffer += chunk
            if len(buffer) >= self.part_size:
                return await self._multipart(key, buffer, written, iterator, extra, max_bytes)
        await self._put_object(key, bytes(buffer), extra)
        return written

    async def _put_object(self, key: str, payload: bytes, extra: dict[str, str]) -> None:
        client = await self._s3()
        with _translate_errors(key):
            await client.put_object(Bucket=self.bucket, Key=key, Body=payload, **extra)

    async def _multipart(
        self,
        key: str,
        buffer: bytearray,
        written: int,
        rest: AsyncIterator[bytes],
        extra: dict[str, str],
        max_bytes: int | None,
    ) -> int:
        client = await self._s3()
        with _translate_errors(key):
            created = await client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        upload_id = created["UploadId"]
        parts: list[dict[str, Any]] = []
        completed = False

        async def send_part(body: bytes) -> None:
            number = len(parts) + 1
            with _translate_errors(key):
                answer = await client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
                )
            parts.append({"ETag": answer["ETag"], "PartNumber": number})

        try:
            while len(buffer) >= self.part_size:
                await send_part(bytes(buffer[: self.part_size]))
                del buffer[: self.part_size]
            async for chunk in rest:
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise BlobTooLarge(key, max_bytes)
                buffer += chunk
                while len(buffer) >= self.part_size:
                    await send_part(bytes(buffer[: self.part_size]))
                    del buffer[: self.part_size]
            if buffer or not parts:
                await send_part(bytes(buffer))
            with _translate_errors(key):
                await client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            completed = True
            return written
        finally:
            if not completed:
                await asyncio.shield(self._abort(client, key, upload_id))

    async def _abort(self, client: Any, key: str, upload_id: str) -> None:
        try:
            await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError, aiohttp.ClientError, OSError) as exc:
            # The store may be down; a lifecycle rule or the server expires the upload.
            log.warning("s3_multipart_abort_failed", key=key, upload_id=upload_id, error=str(exc))

    async def get(self, key: str) -> bytes:
        validate_blob_key(key)
        client = await self._s3()
        with _translate_errors(key):
            answer = await client.get_object(Bucket=self.bucket, Key=key)
            body = answer["Body"]
            async with body:  # releases the connection; `as` would give the raw response
                return await body.read()

    async def open_stream(self, key: str) -> AsyncIterator[bytes]:
        validate_blob_key(key)
        client = await self._s3()
        with _translate_errors(key):
            await client.head_object(Bucket=self.bucket, Key=key)
        return self._iter_object(client, key)

    async def _iter_object(self, client: Any, key: str) -> AsyncIterator[bytes]:
        with _translate_errors(key):
            answer = await client.get_object(Bucket=self.bucket, Key=key)
            body = answer["Body"]
            async with body:
                async for chunk in body.iter_chunks(self.chunk_size):
                    yield chunk

    async def delete(self, key: str) -> None:
        validate_blob_key(key)
        client = await self._s3()
        with _translate_errors(key):
            await client.delete_object(Bucket=self.bucket, Key=key)

    async def exists(self, key: str) -> bool:
        validate_blob_key(key)
        client = await self._s3()
        try:
            with _translate_errors(key):
                await client.head_object(Bucket=self.bucket, Key=key)
        except BlobNotFound:
            return False
        return True

    async def health(self) -> ComponentHealth:
        where = f"{self.endpoint_url or 'aws'}/{self.bucket}"
        try:
            client = await self._s3()
            with _translate_errors(self.bucket):
                await client.head_bucket(Bucket=self.bucket)
        except BlobStoreError as exc:
            return ComponentHealth(
                name="blobs", backend=self.backend, state="down", detail=f"{where}: {exc}"
            )
        return ComponentHealth(name="blobs", backend=self.backend, state="up", detail=where)

    async def close(self) -> None:
        async with self._open_lock:
            stack, self._stack, self._client = self._stack, None, None
            self._bucket_ready = False
        if stack is not None:
            await stack.aclose()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


@contextlib.contextmanager
def _translate_errors(key: str) -> Iterator[None]:
    """Map botocore/aiohttp failures onto the blob-store error tree."""
    try:
        yield
    except ClientError as exc:
        code = _error_code(exc)
        if code in _NOT_FOUND_CODES or code in _NO_BUCKET_CODES:
            raise BlobNotFound(key) from exc
        if _status(exc) >= 500 or code in {"SlowDown", "ServiceUnavailable", "InternalError"}:
            raise BlobStoreUnavailable(f"object store error for {key!r}: {exc}") from exc
        raise BlobStoreError(f"object store refused {key!r}: {exc}") from exc
    except (BotoConnectionError, HTTPClientError, aiohttp.ClientError, OSError) as exc:
        raise BlobStoreUnavailable(f"object store unreachable: {exc}") from exc
    except TimeoutError as exc:
        raise BlobStoreUnavailable(f"object store timed out: {exc}") from exc
    except BotoCoreError as exc:
        raise BlobStoreError(f"object store client error: {exc}") from exc
