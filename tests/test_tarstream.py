"""The pipelined tar writer: the bytes, the digests and the flushing behind the writer."""

from __future__ import annotations

import array
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from oais_preserve.errors import OaisPreserveError
from oais_preserve.staging import SyncBehind
from oais_preserve.tarstream import TarPipeline

SMALL_BUFFER = 64 << 10  # many buffers per member: every dispatch and recycling path runs


def _payload(size: int, seed: int) -> bytes:
    return hashlib.shake_256(f"{seed}".encode()).digest(size) if size else b""


def test_members_digests_and_tar_digest(tmp_path: Path) -> None:
    sizes = [0, 1, 511, 512, 513, SMALL_BUFFER - 1, SMALL_BUFFER, 3 * SMALL_BUFFER + 7, 1 << 20]
    sources = {}
    for index, size in enumerate(sizes):
        path = tmp_path / f"src-{index}.bin"
        path.write_bytes(_payload(size, index))
        sources[f"root/m{index}.bin"] = path
    out = tmp_path / "out.tar"
    digests = {}
    with open(out, "wb", buffering=0) as fh:
        tar = TarPipeline(fh.fileno(), 1_700_000_000, buffer_size=SMALL_BUFFER)
        for index, (name, path) in enumerate(sources.items()):
            size = path.stat().st_size
            tar.begin(name, size)
            if index % 2:  # read straight into the pipeline's buffer
                with open(path, "rb", buffering=0) as src:
                    while tar.copy_from(src, size, tar.write):
                        pass
            else:  # written from the caller's memory, in odd-sized pieces
                data = path.read_bytes()
                for start in range(0, len(data), 10_000):
                    tar.write(data[start : start + 10_000])
            digests[name] = tar.end()
        tar_digest = tar.close()
    assert tar_digest == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.stat().st_size % tarfile.RECORDSIZE == 0
    with tarfile.open(out) as archive:
        names = archive.getnames()
        assert names == list(sources)
        for name, path in sources.items():
            member = archive.extractfile(name)
            assert member is not None and member.read() == path.read_bytes()
            assert digests[name].hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hashing_also_covers_only_the_bytes_inside_the_block(tmp_path: Path) -> None:
    out = tmp_path / "out.tar"
    inner = _payload(200_000, 7)
    with open(out, "wb", buffering=0) as fh:
        tar = TarPipeline(fh.fileno(), 0, buffer_size=SMALL_BUFFER)
        tar.begin("wrapped.bin", 3 + len(inner) + 3)
        tar.write(b"HDR")
        fixity = hashlib.sha256()
        src = io.BytesIO(inner)
        while True:
            with tar.hashing_also(fixity):
                if not tar.copy_from(src, len(inner), tar.write):  # type: ignore[arg-type]
                    break
        pending = tar.pending(fixity)
        tar.write(b"END")
        member = tar.end()
        tar.close()
    assert pending.hexdigest() == hashlib.sha256(inner).hexdigest()
    assert member.hexdigest() == hashlib.sha256(b"HDR" + inner + b"END").hexdigest()


def test_misuse_is_refused(tmp_path: Path) -> None:
    with open(tmp_path / "out.tar", "wb", buffering=0) as fh:
        tar = TarPipeline(fh.fileno(), 0, buffer_size=SMALL_BUFFER)
        tar.begin("a", 10)
        with pytest.raises(OaisPreserveError, match="overflow"):
            tar.write(b"x" * 11)
        with pytest.raises(OaisPreserveError, match="copy_from"):  # a sink that writes a copy
            tar.copy_from(io.BytesIO(b"0123456789"), 10, lambda view: tar.write(bytes(view)))  # type: ignore[arg-type]
        with pytest.raises(OaisPreserveError, match="copy_from"):  # a sink that drops the data
            tar.copy_from(io.BytesIO(b"0123456789"), 10, lambda view: None)  # type: ignore[arg-type]
        with pytest.raises(OaisPreserveError, match="size"):
            tar.end()
        tar.abort()


def test_sizes_count_bytes_not_items(tmp_path: Path) -> None:
    with open(tmp_path / "out.tar", "wb", buffering=0) as fh:
        tar = TarPipeline(fh.fileno(), 0, buffer_size=SMALL_BUFFER)
        tar.begin("words", 4)
        with pytest.raises(OaisPreserveError, match="overflow"):
            tar.write(memoryview(array.array("I", [1, 2, 3, 4])))  # 16 bytes, 4 items
        tar.abort()


def test_write_errors_reach_the_caller(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # writing now fails with EPIPE, on the write lane's thread
    try:
        tar = TarPipeline(write_end, 0, buffer_size=SMALL_BUFFER)
        tar.begin("a", 8 * SMALL_BUFFER)
        with pytest.raises(OSError):
            for _ in range(8):
                tar.write(bytes(SMALL_BUFFER))
            tar.end().hexdigest()
            tar.close()
        with pytest.raises(OaisPreserveError, match="incomplete"):  # nothing more may be added
            tar.write(b"x")
        tar.abort()
    finally:
        os.close(write_end)


def test_sync_behind_flushes_as_the_writer_goes_and_reports_failure() -> None:
    flushed: list[int] = []
    sync = SyncBehind(flushed.append, step=100)
    for _ in range(10):
        sync.wrote(60)
    sync.finish()
    assert flushed and flushed == sorted(flushed) and flushed[-1] <= 600
    assert all(mark >= 100 for mark in flushed)

    def failing(_upto: int) -> None:
        raise OSError(28, "No space left on device")

    broken = SyncBehind(failing, step=10)
    broken.wrote(20)
    with pytest.raises(OSError, match="No space"):
        for _ in range(100):  # the helper thread records the failure; finish() raises it
            broken.wrote(1)
        broken.finish()
