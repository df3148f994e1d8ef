"""Batch packaging: one AIP_hoso per selected hồ sơ of a catalogue, grouped by phông.

Each hồ sơ is one work unit (a picklable :class:`HosoJob` run by the top-level :func:`build_one`)
sent to a ``concurrent.futures.Executor``, so the same code runs in a local process pool or on a
Dask cluster. A unit checks its scans (:mod:`oais_preserve.qa`), then builds with
:func:`oais_preserve.packages.build_aip`, which stages the package beside its destination and
renames it into place only when complete and self-validated. So the batch is resumable: a
complete, valid package is found and skipped, a ``.partial`` left by a killed run is redone. One
bad hồ sơ is recorded as failed with its reason and never stops the others.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    as_completed,
    wait,
)
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .catalogue import CatalogueHoSo, CatalogueImport, import_catalogue
from .description import file_name_safe
from .errors import OaisPreserveError, UserInputError
from .executors import prepare_worker, stop_workers
from .premis import Event, Identifier
from .profile import new_id, timestamp
from .qa import QaJob, QaResult, check_job

log = logging.getLogger(__name__)

Status = Literal["built", "skipped", "failed"]
BatchProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class HosoJob:
    """Everything a worker needs to package one hồ sơ (plain data: picklable)."""

    file_code: str
    fonds_code: str
    description: dict[str, Any]
    scans: str
    dest: str
    qa: tuple[QaJob, ...] = ()
    migrations: tuple[tuple[str, str, str], ...] = ()  # (field, TT02 original, TT05 code)
    algorithms: tuple[str, ...] = ("sha256",)


@dataclass(frozen=True)
class BatchItem:
    """The fate of one hồ sơ in a batch."""

    file_code: str
    fonds_code: str
    status: Status
    path: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    files: int = 0
    bytes: int = 0
    qa: str | None = None  # worst QA outcome of its scans


@dataclass
class BatchReport:
    items: list[BatchItem] = field(default_factory=list)
    seconds: float = 0.0

    def _count(self, status: Status) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def built(self) -> int:
        return self._count("built")

    @property
    def skipped(self) -> int:
        return self._count("skipped")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def ok(self) -> bool:
        return self.failed == 0 and bool(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "built": self.built,
            "skipped": self.skipped,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "items": [asdict(item) for item in self.items],
        }


def _migration_event(migrations: Sequence[tuple[str, str, str]], when: str) -> Event:
    counts: dict[tuple[str, str, str], int] = {}
    for mapping in migrations:
        counts[mapping] = counts.get(mapping, 0) + 1
    detail = "; ".join(
        f"{name}: {original!r} -> {code}" + (f" (x{n})" if n > 1 else "")
        for (name, original, code), n in counts.items()
    )
    return Event(
        Identifier("UUID", new_id()),
        "migration",
        when,
        "Chuyển giá trị danh mục TT 02/2019 sang mã TT 05/2025 (TT02 catalogue values mapped to TT05 codes)",
        "success",
        detail[:2000],
    )


def build_one(job: HosoJob) -> BatchItem:
    """Check and package one hồ sơ; never raises for a problem of that hồ sơ (top-level: picklable)."""
    from .packages import build_aip

    started = time.monotonic()
    qa_results: list[QaResult] = []
    try:
        qa_results = [check_job(q) for q in job.qa]
        worst = max((r.outcome for r in qa_results), key=("pass", "warning", "fail").index, default=None)
        events = [_migration_event(job.migrations, timestamp())] if job.migrations else []
        result = build_aip(
            job.description,
            Path(job.scans),
            Path(job.dest),
            workers=1,
            algorithms=job.algorithms,
            qa=qa_results,
            events=events,
        )
    except OaisPreserveError as exc:
        return BatchItem(
            job.file_code,
            job.fonds_code,
            "failed",
            reason=str(exc)[:1000],
            seconds=time.monotonic() - started,
        )
    except Exception as exc:  # a bug or an OS error must not stop the other hồ sơ
        log.debug("build of %s failed", job.file_code, exc_info=True)
        reason = f"{type(exc).__name__}: {exc}"[:1000]
        return BatchItem(
            job.file_code, job.fonds_code, "failed", reason=reason, seconds=time.monotonic() - started
        )
    return BatchItem(
        job.file_code,
        job.fonds_code,
        "skipped" if result.skipped else "built",
        path=str(result.path),
        seconds=time.monotonic() - started,
        files=result.files,
        bytes=result.bytes,
        qa=worst,
    )


def qa_jobs(catalogue: CatalogueImport, hoso: CatalogueHoSo) -> tuple[QaJob, ...]:
    """QA jobs for the scans of one imported hồ sơ, with its context (naming rule, maps at 300 dpi)."""
    jobs = []
    description = hoso.description or {}
    for rel in description.get("hoso", {}).get("files", []):
        jobs.append(QaJob(str(catalogue.scan_path(rel)), rel, file_code=hoso.file_code))
    for doc in description.get("documents", []):
        drawing = doc.get("typeName") in ("30", "31")
        ordinal = doc.get("docOrdinal")
        for rel in doc.get("files", []):
            path = str(catalogue.scan_path(rel))
            jobs.append(QaJob(path, rel, drawing=drawing, file_code=hoso.file_code, ordinal=ordinal))
    return tuple(jobs)


def plan_jobs(
    catalogue: CatalogueImport, out: Path, codes: Sequence[str] | None = None, *, qa: bool = True
) -> tuple[list[HosoJob], list[BatchItem]]:
    """Jobs for the selected, valid hồ sơ (``codes`` None: every valid one); failed items for the rest."""
    if catalogue.scans is None:
        raise UserInputError("cần thư mục bản quét để đóng gói (the scans folder is needed to package)")
    wanted = None if codes is None else list(dict.fromkeys(codes))
    by_code = {h.file_code: h for h in catalogue.hoso}
    jobs: list[HosoJob] = []
    failed: list[BatchItem] = []
    for code in wanted if wanted is not None else [h.file_code for h in catalogue.hoso]:
        hoso = by_code.get(code)
        if hoso is None:
            failed.append(
                BatchItem(code, "", "failed", reason="không có trong danh mục (not in the catalogue)")
            )
            continue
        fonds = str((hoso.description or {}).get("fonds", {}).get("fondsCode") or hoso.fonds_code or "")
        if not hoso.valid:
            failed.append(
                BatchItem(
                    code,
                    fonds,
                    "failed",
                    reason=f"{hoso.errors} lỗi danh mục (catalogue problems): see import-catalogue --report",
                )
            )
            continue
        assert hoso.description is not None
        jobs.append(
            HosoJob(
                code,
                fonds,
                hoso.description,
                str(catalogue.scans),
                str(out / file_name_safe(fonds or "_")),
                qa_jobs(catalogue, hoso) if qa else (),
                tuple((c.field, c.original, c.code) for c in hoso.conversions),
            )
        )
    return jobs, failed


def build_batch(
    catalogue: CatalogueImport | Path | str,
    out: Path | str,
    *,
    scans: Path | str | None = None,
    codes: Sequence[str] | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    qa: bool = True,
    progress: BatchProgress | None = None,
    on_item: Callable[[BatchItem], None] | None = None,
) -> BatchReport:
    """Package the hồ sơ of a catalogue, one AIP_hoso each, into ``out/<mã phông>/``.

    ``catalogue`` is an import result or a catalogue file (imported with ``scans``). ``codes``
    limits the batch to those hồ sơ (e.g. a selection list); None packages every valid hồ sơ.
    Work goes to ``executor`` when given, else to a pool of ``workers`` processes (None: one per
    core; 1: in this process). A worker that dies (crash, out of memory) fails only the hồ sơ it
    was building: see :func:`_run_in_own_pools` and :func:`_run_on_executor`. Raises only for a
    batch that cannot start (no catalogue, no scans, nothing to package).
    """
    started = time.monotonic()
    if not isinstance(catalogue, CatalogueImport):
        catalogue = import_catalogue(catalogue, scans=scans)
    out = Path(out)
    jobs, failed = plan_jobs(catalogue, out, codes, qa=qa)
    if not jobs and not failed:
        raise UserInputError("không có hồ sơ nào để đóng gói (nothing to package)")
    report = BatchReport(list(failed))
    total = len(jobs) + len(failed)
    for item in failed:
        if on_item:
            on_item(item)
    done = len(failed)
    if progress:
        progress("build-batch", done, total)
    count = workers if workers is not None else (os.cpu_count() or 1)

    def record(item: BatchItem) -> None:
        nonlocal done
        report.items.append(item)
        done += 1
        if on_item:
            on_item(item)
        if progress:
            progress("build-batch", done, total)

    if executor is not None:
        _run_on_executor(jobs, executor, record, count)
    elif count <= 1:
        for job in jobs:
            record(build_one(job))
    else:
        _run_in_own_pools(jobs, count, record)
    order = {code: i for i, code in enumerate(codes or [h.file_code for h in catalogue.hoso])}
    report.items.sort(key=lambda item: (item.fonds_code, order.get(item.file_code, len(order))))
    report.seconds = time.monotonic() - started
    return report


# --- running the jobs -----------------------------------------------------------------------------

_Record = Callable[[BatchItem], None]
_DIED = "tiến trình xử lý bị dừng đột ngột (the worker process died: crash or out of memory)"


def _failed(job: HosoJob, reason: str) -> BatchItem:
    return BatchItem(job.file_code, job.fonds_code, "failed", reason=reason[:1000])


def _pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of our own (one place to make it, so a test can give it an initializer).

    Workers come from a fork server, not a fork of this process: the catalogue import has used
    libvips here (page counts), and a child forked from its threads can hang in libvips.
    """
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("forkserver"), initializer=prepare_worker
    )


def _run_in_own_pools(jobs: Sequence[HosoJob], workers: int, record: _Record) -> None:
    """Run the jobs in pools of our own; a worker that dies costs only the hồ sơ it was building.

    A dead worker breaks its whole pool (``BrokenProcessPool``): every job still in flight is lost
    with it, though only one of them killed it. Those jobs are re-run one at a time, each alone in
    a fresh pool, so an innocent one is built and the culprit, breaking a pool by itself, is marked
    failed; the jobs not started yet go on in a fresh pool.
    """
    queue = list(jobs)
    while queue:
        lost, queue = _pool_round(queue, workers, record)
        if lost:
            log.warning("a worker died; re-running %d hồ sơ one at a time", len(lost))
        for job in lost:
            again, _ = _pool_round([job], 1, record)
            if again:
                record(_failed(job, f"{_DIED}; lặp lại khi chạy riêng (again when run alone)"))


def _pool_round(
    jobs: Sequence[HosoJob], workers: int, record: _Record
) -> tuple[list[HosoJob], list[HosoJob]]:
    """Run jobs in one fresh pool until done or broken: (jobs lost in the break, jobs not started).

    At most ``workers`` jobs are in flight, so a break loses no more than that many.
    """
    pending = deque(jobs)
    running: dict[Future[BatchItem], HosoJob] = {}
    lost: list[HosoJob] = []
    pool = _pool(workers)
    try:
        while running or (pending and not lost):
            while pending and not lost and len(running) < workers:
                job = pending.popleft()
                try:
                    running[pool.submit(build_one, job)] = job
                except BrokenExecutor:
                    lost.append(job)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                try:
                    item = future.result()
                except BrokenExecutor:
                    lost.append(job)
                    continue
                except Exception as exc:  # e.g. the job or its result could not be pickled
                    item = _failed(job, f"worker: {type(exc).__name__}: {exc}")
                record(item)
    except BaseException as exc:
        if not isinstance(exc, Exception):
            stop_workers(pool)  # Ctrl-C: the workers ignore it (prepare_worker), so stop them now
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return lost, list(pending)


def _run_on_executor(jobs: Sequence[HosoJob], executor: Executor, record: _Record, workers: int) -> None:
    """Run the jobs on the caller's executor; a job whose worker died is resubmitted once.

    A caller's ``ProcessPoolExecutor`` whose worker died refuses all new work, and we cannot
    repair it: the jobs it refuses go on in pools of our own (``workers`` processes, see
    :func:`_run_in_own_pools`), so one bad hồ sơ still does not stop the batch. Any other
    executor that refuses a resubmission gets the job marked failed with the reason.
    """
    futures = {executor.submit(build_one, job): job for job in jobs}
    retried: dict[Future[BatchItem], HosoJob] = {}
    refused: list[HosoJob] = []
    for future in as_completed(futures):
        job = futures[future]
        try:
            record(future.result())
            continue
        except Exception as exc:  # build_one never raises: the worker itself died
            first = f"{type(exc).__name__}: {exc}"
        log.warning("%s: the worker died (%s); resubmitting once", job.file_code, first)
        try:
            retried[executor.submit(build_one, job)] = job
        except BrokenExecutor:
            refused.append(job)
        except Exception as exc:
            record(
                _failed(
                    job,
                    f"{_DIED}: {first}; không gửi lại được, chạy lại build-batch để hoàn tất"
                    f" (could not resubmit: {type(exc).__name__}: {exc}; re-run the batch to finish)",
                )
            )
    for future in as_completed(retried):
        job = retried[future]
        try:
            item = future.result()
        except Exception as exc:
            again = f"{type(exc).__name__}: {exc}"
            item = _failed(job, f"{_DIED}; lặp lại lần thứ hai (again on a second try): {again}")
        record(item)
    if refused:
        log.warning("the executor given is broken; finishing %d hồ sơ in pools of our own", len(refused))
        _run_in_own_pools(refused, workers, record)
