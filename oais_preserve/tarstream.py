"""An uncompressed tar written through a pipeline, so hashing and the disk write overlap the reads.

A handover tar is gigabytes written once, and every byte of it needs several digests: the tar's
own SHA-256, the SHA-256 of the member it belongs to (for the bag manifest), sometimes the
fixity digest of a file inside a zipped AIP. Done one after the other per chunk, these and the
write itself leave a core idle most of the time.

Here the bytes are copied into a few large buffers. Each full buffer goes to *lanes*, one
thread each, that work on it in order: the tar's digest, the write to disk, and the digests of
the byte ranges that belong to members (and to any extra digest the caller asked for). hashlib
and ``os.write`` release the GIL, so the lanes share the cores while the caller reads the next
file. Digests of members are therefore known a little later: :meth:`TarPipeline.end` returns a
:class:`PendingDigest`. The written part of the file is flushed to disk behind the writer
(:class:`~oais_preserve.staging.SyncBehind`), so the final ``fsync`` has little left to do.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from io import RawIOBase
from typing import Any

from .errors import OaisPreserveError
from .staging import SyncBehind, file_flusher

BUFFER_SIZE = 4 << 20
BUFFERS = 4  # in flight at once: BUFFERS × BUFFER_SIZE of memory
# Flushed to disk every FLUSH_STEP bytes. Small steps keep the disk busy in an even stream: with
# 256 MB steps the reads and digests stalled behind each large flush (2.1 GB handover: 5.0-5.5 s
# against 4.1-4.4 s with 32 MB), while a bare write of the same bytes takes the same time either way.
FLUSH_STEP = 32 << 20

_MEMBER_LANE, _EXTRA_LANE = 0, 1


class PendingDigest:
    """A SHA-256 that the lanes are still computing; :meth:`hexdigest` waits for it."""

    def __init__(self, pipeline: TarPipeline, hasher: Any, last_buffer: int) -> None:
        self._pipeline = pipeline
        self._hasher = hasher
        self._last_buffer = last_buffer
        self._value: str | None = None

    def hexdigest(self) -> str:
        if self._value is None:
            self._pipeline.settle(self._last_buffer)
            self._value = self._hasher.hexdigest()
        return self._value


class TarPipeline:
    """Writes a POSIX (pax) tar to the file descriptor ``fd``, hashing every byte on the way.

    Use :meth:`begin`, :meth:`write` (as many times as needed) and :meth:`end` per member, then
    :meth:`close`, which returns the tar's SHA-256 once everything is on disk. After an error,
    call :meth:`abort`. Not thread-safe: one caller thread drives it.
    """

    def __init__(self, fd: int, mtime: float, *, buffer_size: int = BUFFER_SIZE) -> None:
        self._fd = os.dup(fd)  # ours to close once no lane can use it any more
        self._mtime = int(mtime)
        self._sha = hashlib.sha256()
        self._sync = SyncBehind(file_flusher(self._fd), step=FLUSH_STEP)
        self._lanes = {
            name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tar-{name}")
            for name in ("tar", "write", "member", "extra")
        }
        self._free = [bytearray(buffer_size) for _ in range(BUFFERS)]
        self._buffer = self._free.pop()
        self._fill = 0
        self._number = 0  # sequence number of the buffer being filled
        # per lane, the byte ranges of the current buffer each hasher needs: (hasher, start, end)
        self._segments: tuple[list[tuple[Any, int, int]], ...] = ([], [])
        self._inflight: deque[tuple[int, bytearray, list[Future[None]]]] = deque()
        self._member: Any = None
        self._member_size = self._member_done = 0
        self._extra: Any = None
        self._staged = 0  # bytes read into the buffer by copy_from, not yet written
        self._failed = False
        self.size = 0

    # --- members --------------------------------------------------------------------------
    def begin(self, name: str, size: int) -> None:
        """Start a member of ``size`` bytes; its data follows through :meth:`write`."""
        self._check_usable()
        if self._member is not None:
            raise OaisPreserveError(f"tar member {name!r} begun before the previous one ended")
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode, info.type = size, self._mtime, 0o644, tarfile.REGTYPE
        info.uname = info.gname = ""
        self._put(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict"))
        self._member = hashlib.sha256()
        self._member_size, self._member_done = size, 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Member data. The bytes are copied: the caller may reuse its buffer at once."""
        self._check_usable()
        count = memoryview(data).nbytes
        if self._member is None:
            raise OaisPreserveError("tar data written outside a member")
        if self._member_done + count > self._member_size:
            raise OaisPreserveError(f"tar member overflow: {self._member_done + count} > {self._member_size}")
        self._put(data, hashed_as_member=True)
        self._member_done += count
        return count

    def copy_from(self, src: RawIOBase, limit: int, sink: Callable[[memoryview], object]) -> int:
        """Read up to ``limit`` bytes of member data from ``src`` straight into the tar's buffer.

        This spares a copy of every byte. The bytes are handed to ``sink``, which must pass them
        on to :meth:`write` unchanged (``write`` itself, or a zip member's ``write``); they are
        then taken where they already are. Returns the count read, 0 at the end of ``src``.
        """
        self._check_usable()
        room = memoryview(self._buffer)[self._fill : self._fill + min(limit, len(self._buffer) - self._fill)]
        count = src.readinto(room) or 0
        if count:
            self._staged = count
            try:
                sink(room[:count])
            finally:
                left, self._staged = self._staged, 0
            if left:
                raise OaisPreserveError("tar: copy_from's sink did not write the data it was given")
        return count

    def flush(self) -> None:
        """File-like objects (zipfile) flush their output; the tar is flushed at :meth:`close`."""

    def end(self) -> PendingDigest:
        """Close the current member (exactly as long as announced); its SHA-256, when ready."""
        if self._member_done != self._member_size:
            raise OaisPreserveError(
                f"tar member size: {self._member_done} written, {self._member_size} announced"
            )
        digest = PendingDigest(self, self._member, self._number)
        self._member = None
        if rest := self._member_size % tarfile.BLOCKSIZE:
            self._put(bytes(tarfile.BLOCKSIZE - rest))
        return digest

    def add_bytes(self, name: str, data: bytes) -> PendingDigest:
        """Add a small member whole."""
        self.begin(name, len(data))
        self.write(data)
        return self.end()

    @contextmanager
    def hashing_also(self, hasher: Any) -> Iterator[None]:
        """Feed the member bytes written inside the ``with`` block to ``hasher`` as well.

        Used for the fixity digest of a file whose bytes pass, unchanged, through a zip stream;
        :meth:`pending` then gives its digest.
        """
        self._extra = hasher
        try:
            yield
        finally:
            self._extra = None

    def pending(self, hasher: Any) -> PendingDigest:
        """The digest of ``hasher`` over everything fed to it so far, once the lanes are done."""
        return PendingDigest(self, hasher, self._number)

    def close(self) -> str:
        """End of archive, every byte written and flushed to disk; returns the tar's SHA-256."""
        self._check_usable()
        self._put(bytes(2 * tarfile.BLOCKSIZE))
        if rest := self.size % tarfile.RECORDSIZE:
            self._put(bytes(tarfile.RECORDSIZE - rest))
        self.settle(self._number)
        self._sync.finish()
        os.fsync(self._fd)
        self._shutdown()
        return self._sha.hexdigest()

    def abort(self) -> None:
        """Stop the lanes after a failure (what they were doing is finished, nothing new starts)."""
        self._failed = True
        self._sync.stop()
        self._shutdown()

    # --- the pipeline ---------------------------------------------------------------------
    def settle(self, number: int) -> None:
        """Wait until buffer ``number`` and every earlier one has been hashed and written."""
        if number >= self._number and self._fill:
            self._dispatch()
        while self._inflight and self._inflight[0][0] <= number:
            self._recycle()

    def _put(self, data: bytes | bytearray | memoryview, *, hashed_as_member: bool = False) -> None:
        view = memoryview(data).cast("B")
        in_place = self._staged > 0
        if in_place and not (view.obj is self._buffer and len(view) == self._staged):
            raise OaisPreserveError("tar: copy_from's sink wrote something else than its data")
        self._staged = 0
        while view:
            start = self._fill
            count = min(len(view), len(self._buffer) - start)
            if not in_place:
                self._buffer[start : start + count] = view[:count]
            self._fill += count
            if hashed_as_member:
                self._segment(_MEMBER_LANE, self._member, start, start + count)
                if self._extra is not None:
                    self._segment(_EXTRA_LANE, self._extra, start, start + count)
            self.size += count
            view = view[count:]
            if self._fill == len(self._buffer):
                self._dispatch()

    def _segment(self, lane: int, hasher: Any, start: int, end: int) -> None:
        """Record that ``hasher`` needs bytes [start, end) of the current buffer (merged when adjacent)."""
        segments = self._segments[lane]
        if segments and segments[-1][0] is hasher and segments[-1][2] == start:
            segments[-1] = (hasher, segments[-1][1], end)
        else:
            segments.append((hasher, start, end))

    def _dispatch(self) -> None:
        """Hand the current buffer to the lanes and start filling a free one."""
        view = memoryview(self._buffer)[: self._fill]
        lanes = self._lanes
        futures = [
            lanes["tar"].submit(self._sha.update, view),
            lanes["write"].submit(self._write_out, view),
        ]
        for lane, name in ((_MEMBER_LANE, "member"), (_EXTRA_LANE, "extra")):
            if segments := self._segments[lane]:
                parts = [(hasher, view[start:end]) for hasher, start, end in segments]
                futures.append(lanes[name].submit(_update_all, parts))
        self._inflight.append((self._number, self._buffer, futures))
        self._segments = ([], [])
        self._number += 1
        self._fill = 0
        if not self._free:
            self._recycle()
        self._buffer = self._free.pop()

    def _recycle(self) -> None:
        """Wait for the oldest buffer in flight; its lanes' errors are raised here."""
        _number, buffer, futures = self._inflight.popleft()
        wait(futures)  # every lane is done with the buffer, even when one of them failed
        self._free.append(buffer)
        for future in futures:
            if future.exception() is not None:
                self._failed = True  # bytes are missing from the tar: nothing more may be added
                future.result()

    def _check_usable(self) -> None:
        if self._failed:
            raise OaisPreserveError("tar: an earlier write or digest failed; the tar is incomplete")

    def _write_out(self, view: memoryview) -> None:
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._sync.wrote(written)

    def _shutdown(self) -> None:
        for lane in self._lanes.values():
            lane.shutdown(wait=True, cancel_futures=True)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _update_all(parts: list[tuple[Any, memoryview]]) -> None:
    for hasher, data in parts:
        hasher.update(data)
