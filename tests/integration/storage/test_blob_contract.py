"""One contract for every BlobStore: the local folder and S3 on a real SeaweedFS.

Plus the parts only one backend has: path escapes on disk, bucket creation and multipart
aborts on S3, the URL factory, and the on-disk upload queue across an object-store outage.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import aioboto3
import msgspec
import pytest

from morgan.storage.blobs import (
    BlobNotFound,
    BlobQueueFull,
    BlobStore,
    BlobStoreError,
    BlobStoreUnavailable,
    BlobTooLarge,
    InvalidBlobKey,
    LocalBlobStore,
    QueuedBlobStore,
    S3BlobStore,
    build_blob_store,
    collect,
    make_blob_key,
    safe_filename,
    validate_blob_key,
)
from tests.fixtures.seaweed import SeaweedServer

MiB = 1024 * 1024
CONTRACT_BUCKET = "morgan-contract"


def s3_store(
    server: SeaweedServer, bucket: str = CONTRACT_BUCKET, **options: object
) -> S3BlobStore:
    return S3BlobStore(
        bucket,
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key=server.access_key,
        secret_key=server.secret_key,
        **options,  # type: ignore[arg-type]
    )


async def chunks(data: bytes, size: int, consumed: list[int] | None = None) -> AsyncIterator[bytes]:
    """Yield `data` in pieces, counting the pieces the store actually pulled."""
    for start in range(0, len(data), size):
        if consumed is not None:
            consumed.append(start)
        yield data[start : start + size]
        await asyncio.sleep(0)


@pytest.fixture(
    params=[
        "local",
        pytest.param("s3", marks=pytest.mark.s3),
        # The production wrapper: what the server really uses in front of S3 and the folder.
        "queued-local",
        pytest.param("queued-s3", marks=pytest.mark.s3),
    ]
)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], BlobStore]:
    if request.param == "local":
        return lambda: LocalBlobStore(tmp_path / "blobs")
    if request.param == "queued-local":
        return lambda: QueuedBlobStore(LocalBlobStore(tmp_path / "blobs"), tmp_path / "spool")
    server = request.getfixturevalue("seaweedfs")
    if request.param == "queued-s3":
        return lambda: QueuedBlobStore(s3_store(server), tmp_path / "spool")
    return lambda: s3_store(server)


@pytest.fixture
async def store(make_store: Callable[[], BlobStore]) -> AsyncIterator[BlobStore]:
    blob_store = make_store()
    yield blob_store
    await blob_store.close()


@pytest.fixture
def prefix() -> str:
    """Keys of one test never meet another's in the shared bucket."""
    return f"t{uuid.uuid4().hex[:12]}"


# -- the contract ------------------------------------------------------------------------


async def test_round_trip_and_overwrite(store: BlobStore, prefix: str) -> None:
    key = f"{prefix}/2026-01-31/notes.txt"
    assert not await store.exists(key)
    assert await store.put(key, b"first version", content_type="text/plain") == 13
    assert await store.exists(key)
    assert await store.get(key) == b"first version"
    assert await store.put(key, b"v2") == 2
    assert await store.get(key) == b"v2"


async def test_streaming_put_and_open_stream(store: BlobStore, prefix: str) -> None:
    data = os.urandom(300_000)
    key = f"{prefix}/streamed.bin"
    assert await store.put(key, chunks(data, 7_001)) == len(data)
    assert await store.get(key) == data
    assert await collect(await store.open_stream(key)) == data


async def test_empty_blob(store: BlobStore, prefix: str) -> None:
    key = f"{prefix}/empty"
    assert await store.put(key, chunks(b"", 10)) == 0
    assert await store.exists(key)
    assert await store.get(key) == b""


async def test_max_bytes_exceeded_mid_stream_leaves_nothing(store: BlobStore, prefix: str) -> None:
    key = f"{prefix}/too-big.bin"
    consumed: list[int] = []
    with pytest.raises(BlobTooLarge):
        await store.put(key, chunks(b"x" * 10_240, 1_024, consumed), max_bytes=3_500)
    assert len(consumed) == 4, "the store must stop reading as soon as the limit is passed"
    assert not await store.exists(key)
    with pytest.raises(BlobNotFound):
        await store.get(key)


async def test_max_bytes_on_whole_bytes_and_exact_limit(store: BlobStore, prefix: str) -> None:
    with pytest.raises(BlobTooLarge):
        await store.put(f"{prefix}/a", b"12345", max_bytes=4)
    assert not await store.exists(f"{prefix}/a")
    assert await store.put(f"{prefix}/b", chunks(b"1234", 1), max_bytes=4) == 4
    assert await store.get(f"{prefix}/b") == b"1234"


async def test_rejected_replacement_keeps_the_old_blob(store: BlobStore, prefix: str) -> None:
    key = f"{prefix}/kept.txt"
    await store.put(key, b"original")
    with pytest.raises(BlobTooLarge):
        await store.put(key, chunks(b"y" * 9_000, 1_000), max_bytes=5_000)
    assert await store.get(key) == b"original"


async def test_failing_stream_leaves_nothing(store: BlobStore, prefix: str) -> None:
    key = f"{prefix}/broken.bin"

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial data"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put(key, broken())
    assert not await store.exists(key)


async def test_delete_is_idempotent(store: BlobStore, prefix: str) -> None:
    key = f"{prefix}/gone.txt"
    await store.delete(key)
    await store.put(key, b"data")
    await store.delete(key)
    await store.delete(key)
    assert not await store.exists(key)
    with pytest.raises(BlobNotFound):
        await store.get(key)


async def test_missing_blob_raises_not_found(store: BlobStore, prefix: str) -> None:
    with pytest.raises(BlobNotFound):
        await store.get(f"{prefix}/missing")
    with pytest.raises(BlobNotFound):
        await store.open_stream(f"{prefix}/missing")
    assert not await store.exists(f"{prefix}/missing")


async def test_a_folder_is_not_a_blob(store: BlobStore, prefix: str) -> None:
    await store.put(f"{prefix}/dir/file", b"x")
    assert not await store.exists(f"{prefix}/dir")
    with pytest.raises(BlobNotFound):
        await store.get(f"{prefix}/dir")


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "a/../../outside",
    "a/..",
    "./a",
    "a/./b",
    "a//b",
    "a/",
    "a\\..\\b",
    "C:/Windows/win.ini",
    "a\x00b",
    "line\nbreak",
    "k" * 1025,
]


@pytest.mark.parametrize("bad_key", BAD_KEYS)
async def test_invalid_keys_are_refused(store: BlobStore, bad_key: str) -> None:
    with pytest.raises(InvalidBlobKey):
        await store.put(bad_key, b"x")
    with pytest.raises(InvalidBlobKey):
        await store.put(bad_key, chunks(b"x", 1))
    with pytest.raises(InvalidBlobKey):
        await store.get(bad_key)
    with pytest.raises(InvalidBlobKey):
        await store.exists(bad_key)
    with pytest.raises(InvalidBlobKey):
        await store.delete(bad_key)


async def test_every_byte_value_survives(store: BlobStore, prefix: str) -> None:
    data = bytes(range(256)) * 1_000
    await store.put(f"{prefix}/whole.bin", data, content_type="application/octet-stream")
    await store.put(f"{prefix}/streamed.bin", chunks(data, 4_099))
    assert await store.get(f"{prefix}/whole.bin") == data
    assert await store.get(f"{prefix}/streamed.bin") == data


async def test_twenty_megabytes_streamed(store: BlobStore, prefix: str) -> None:
    block = os.urandom(MiB)
    expected = hashlib.sha256()

    async def twenty_mib() -> AsyncIterator[bytes]:
        for index in range(20):
            piece = bytes([index]) + block[1:]
            expected.update(piece)
            yield piece

    key = f"{prefix}/big.bin"
    assert await store.put(key, twenty_mib(), max_bytes=25 * MiB) == 20 * MiB
    received = hashlib.sha256()
    size = 0
    async for piece in await store.open_stream(key):
        received.update(piece)
        size += len(piece)
    assert size == 20 * MiB
    assert received.hexdigest() == expected.hexdigest()


async def test_generated_keys_work_on_every_store(store: BlobStore) -> None:
    key = make_blob_key(f"u-{uuid.uuid4().hex[:8]}", "../Quarterly Report (final).PDF")
    await store.put(key, b"%PDF-1.7")
    assert await store.get(key) == b"%PDF-1.7"


async def test_concurrent_writers(store: BlobStore, prefix: str) -> None:
    payloads = {f"{prefix}/c{i}": os.urandom(10_000 + i) for i in range(12)}
    await asyncio.gather(*(store.put(k, chunks(v, 3_000)) for k, v in payloads.items()))
    for key, value in payloads.items():
        assert await store.get(key) == value


async def test_health_is_up(store: BlobStore) -> None:
    health = await store.health()
    assert (health.name, health.state, health.backend) == ("blobs", "up", store.backend)


# -- keys ---------------------------------------------------------------------------------


def test_make_blob_key_layout() -> None:
    key = make_blob_key(42, "/home/me/Résumé 2026.pdf", datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    user, day, name = key.split("/")
    assert (user, day) == ("42", "2026-01-31")
    file_id, _, filename = name.partition("_")
    assert uuid.UUID(hex=file_id) and filename == "Resume_2026.pdf"
    assert validate_blob_key(key) == key
    assert make_blob_key(42, "a.txt") != make_blob_key(42, "a.txt")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.docx", "report.docx"),
        ("...", "file"),
        ("", "file"),
        (".bashrc", "bashrc"),
        ("日本語.pdf", "file.pdf"),
        ("a b;rm -rf $HOME.txt", "a_b_rm_-rf_HOME.txt"),
        ("archive.tar.gz", "archive.tar.gz"),
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_safe_filename_caps_length_and_keeps_extension() -> None:
    name = safe_filename("x" * 500 + ".markdown")
    assert len(name) <= 120 and name.endswith(".markdown")


def test_make_blob_key_refuses_an_empty_user() -> None:
    with pytest.raises(InvalidBlobKey):
        make_blob_key("../", "a.txt")


# -- local folder -------------------------------------------------------------------------


async def test_local_refuses_symlink_escapes(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalBlobStore(tmp_path / "blobs")
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidBlobKey):
        await store.put("link/evil.txt", b"x")
    assert list(outside.iterdir()) == []


async def test_local_permissions_and_no_temp_leftovers(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    await store.put("u/2026-01-01/a.txt", b"secret")
    with pytest.raises(BlobTooLarge):
        await store.put("u/2026-01-01/b.txt", chunks(b"z" * 100, 10), max_bytes=50)
    file_mode = stat.S_IMODE((tmp_path / "blobs/u/2026-01-01/a.txt").stat().st_mode)
    dir_mode = stat.S_IMODE((tmp_path / "blobs/u/2026-01-01").stat().st_mode)
    assert file_mode == 0o600
    assert dir_mode & 0o077 == 0
    assert list((tmp_path / "blobs/.morgan-tmp").iterdir()) == []
    with pytest.raises(InvalidBlobKey):
        await store.get(".morgan-tmp/anything")


async def test_local_health_down_when_root_unusable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    health = await LocalBlobStore(blocker / "blobs").health()
    assert health.state == "down"


# -- S3 only ------------------------------------------------------------------------------


@pytest.mark.s3
async def test_s3_creates_a_missing_bucket(seaweedfs: SeaweedServer) -> None:
    bucket = f"morgan-new-{uuid.uuid4().hex[:8]}"
    refusing = s3_store(seaweedfs, bucket, create_bucket=False)
    with pytest.raises(BlobStoreError):
        await refusing.put("a.txt", b"x")
    await refusing.close()
    store = s3_store(seaweedfs, bucket)
    await store.put("a.txt", b"x")
    assert await store.get("a.txt") == b"x"
    await store.close()


@pytest.mark.s3
async def test_s3_multipart_over_the_limit_aborts(seaweedfs: SeaweedServer, prefix: str) -> None:
    store = s3_store(seaweedfs, part_size=5 * MiB)
    key = f"{prefix}/multipart-too-big.bin"
    consumed: list[int] = []
    with pytest.raises(BlobTooLarge):
        await store.put(key, chunks(b"m" * (12 * MiB), MiB, consumed), max_bytes=7 * MiB)
    assert len(consumed) == 8
    assert not await store.exists(key)
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=seaweedfs.endpoint_url,
        region_name=seaweedfs.region,
        aws_access_key_id=seaweedfs.access_key,
        aws_secret_access_key=seaweedfs.secret_key,
    ) as client:
        uploads = await client.list_multipart_uploads(Bucket=CONTRACT_BUCKET, Prefix=prefix)
        assert uploads.get("Uploads", []) == []
        await store.put(key, b"small", content_type="text/plain")
        head = await client.head_object(Bucket=CONTRACT_BUCKET, Key=key)
        assert head["ContentType"] == "text/plain"
    await store.close()


@pytest.mark.s3
async def test_s3_wrong_secret_is_an_error_not_an_outage(seaweedfs: SeaweedServer) -> None:
    store = S3BlobStore(
        CONTRACT_BUCKET,
        endpoint_url=seaweedfs.endpoint_url,
        access_key=seaweedfs.access_key,
        secret_key="wrong-secret",
    )
    with pytest.raises(BlobStoreError) as caught:
        await store.put("x", b"x")
    assert not isinstance(caught.value, BlobStoreUnavailable)
    assert (await store.health()).state == "down"
    await store.close()


async def test_s3_unreachable_is_unavailable(closed_port: int) -> None:
    store = S3BlobStore(
        CONTRACT_BUCKET,
        endpoint_url=f"http://127.0.0.1:{closed_port}",
        access_key="k",
        secret_key="s",
        max_attempts=1,
    )
    with pytest.raises(BlobStoreUnavailable):
        await store.put("a", b"x")
    with pytest.raises(BlobStoreUnavailable):
        await store.get("a")
    health = await store.health()
    assert health.state == "down" and str(closed_port) in health.detail
    await store.close()


# -- factory ------------------------------------------------------------------------------


def test_build_blob_store_file_url(tmp_path: Path) -> None:
    store = build_blob_store(f"file://{tmp_path}/blobs")
    assert isinstance(store, LocalBlobStore) and store.root == tmp_path / "blobs"


@pytest.mark.parametrize(
    "url",
    [
        "file://relative/path",
        "file:relative",
        "ftp://host/x",
        "s3://",
        "s3://bucket/extra/path",
        "s3://bucket?endpoint=http://x&colour=blue",
        "s3://bucket?create_bucket=maybe",
    ],
)
def test_build_blob_store_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        build_blob_store(url)


async def test_build_blob_store_env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    store = build_blob_store("s3://my-bucket?endpoint=http://127.0.0.1:1&region=eu-west-1")
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.endpoint_url, store.region) == (
        "my-bucket",
        "http://127.0.0.1:1",
        "eu-west-1",
    )
    credentials = await store._session.get_credentials()
    assert credentials is not None and credentials.access_key == "from-env"


@pytest.mark.s3
async def test_build_blob_store_s3_url_round_trip(
    seaweedfs: SeaweedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    url = (
        f"s3://{seaweedfs.access_key}:{seaweedfs.secret_key}@{CONTRACT_BUCKET}"
        f"?endpoint={seaweedfs.endpoint_url}&region={seaweedfs.region}"
    )
    store = build_blob_store(url)
    key = f"factory/{uuid.uuid4().hex}"
    await store.put(key, b"via url")
    assert await store.get(key) == b"via url"
    await store.delete(key)
    await store.close()


# -- the upload queue across a real outage -------------------------------------------------


@pytest.mark.s3
async def test_queue_spools_while_seaweedfs_is_down_and_flushes_after(
    private_seaweedfs: SeaweedServer, tmp_path: Path
) -> None:
    server = private_seaweedfs
    primary = s3_store(server, "morgan-queue", max_attempts=1, connect_timeout_s=1.0)
    queue = QueuedBlobStore(primary, tmp_path / "spool", max_items=3)

    await queue.put("u/kept.txt", b"stored directly")
    assert queue.pending_count == 0 and await primary.get("u/kept.txt") == b"stored directly"
    assert (await queue.health()).state == "up"

    server.stop()
    assert await queue.put("u/a.txt", b"queued bytes") == 12
    assert await queue.put("u/b.bin", chunks(b"queued stream" * 1000, 999)) == 13_000
    await queue.delete("u/kept.txt")
    assert queue.pending_count == 3
    health = await queue.health()
    assert health.state == "down" and "queue full" in health.detail

    # Reads see the queued state at once.
    assert await queue.get("u/a.txt") == b"queued bytes"
    assert await collect(await queue.open_stream("u/b.bin")) == b"queued stream" * 1000
    assert await queue.exists("u/b.bin")
    assert not await queue.exists("u/kept.txt")
    with pytest.raises(BlobNotFound):
        await queue.get("u/kept.txt")

    # Full: a new key is refused, loudly; replacing a queued key still works.
    with pytest.raises(BlobQueueFull):
        await queue.put("u/c.txt", b"no room")
    await queue.put("u/a.txt", b"queued bytes v2")
    assert queue.pending_count == 3

    assert await queue.flush() == 0
    assert queue.pending_count == 3

    server.start()
    assert await queue.flush() == 3
    assert queue.pending_count == 0
    assert (await queue.health()).state == "up"
    assert await primary.get("u/a.txt") == b"queued bytes v2"
    assert await primary.get("u/b.bin") == b"queued stream" * 1000
    assert not await primary.exists("u/kept.txt")
    assert not [p for p in (tmp_path / "spool").iterdir() if p.is_file()]
    await queue.close()


@pytest.mark.s3
async def test_queue_survives_a_restart_and_drains_in_the_background(
    private_seaweedfs: SeaweedServer, tmp_path: Path
) -> None:
    server = private_seaweedfs
    server.stop()
    first = QueuedBlobStore(
        s3_store(server, "morgan-queue", max_attempts=1, connect_timeout_s=1.0), tmp_path / "spool"
    )
    await first.put("u/one.txt", b"one")
    await first.put("u/two.txt", chunks(b"two" * 5000, 4096))
    health = await first.health()
    assert health.state == "degraded" and "2 upload(s) queued" in health.detail
    await first.close()

    server.start()
    second = QueuedBlobStore(
        s3_store(server, "morgan-queue", max_attempts=1), tmp_path / "spool", retry_interval_s=0.05
    )
    assert (await second.health()).state == "degraded"
    assert await second.get("u/one.txt") == b"one"
    await second.start()
    await asyncio.wait_for(second.drained(), timeout=30)
    assert second.pending_count == 0
    assert await second.primary.get("u/two.txt") == b"two" * 5000
    await second.close()


async def test_queue_restores_only_complete_entries(tmp_path: Path, closed_port: int) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "0000000000000007.data").write_bytes(b"orphan data, no metadata")
    (spool / "0000000000000008.meta").write_bytes(b"{not json")
    entry = {"seq": 9, "op": "put", "key": "u/ok.txt", "content_type": None, "size": 2}
    (spool / "0000000000000009.meta").write_bytes(msgspec.json.encode(entry))
    (spool / "0000000000000009.data").write_bytes(b"ok")
    primary = S3BlobStore(
        "morgan-queue",
        endpoint_url=f"http://127.0.0.1:{closed_port}",
        access_key="k",
        secret_key="s",
        max_attempts=1,
    )
    queue = QueuedBlobStore(primary, spool)
    assert await queue.get("u/ok.txt") == b"ok"
    assert queue.pending_count == 1
    assert not (spool / "0000000000000007.data").exists()
    assert (spool / "0000000000000008.meta.unreadable").exists()
    assert await queue.put("u/new.txt", b"new") == 3
    assert queue.pending_count == 2
    await queue.close()
