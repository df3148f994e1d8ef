"""build-batch over a generated fonds of >= 50 hồ sơ: killed halfway, re-run, every package valid."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from oais_preserve import build_batch, import_catalogue, validate
from oais_preserve.cli import main
from oais_preserve.qa import QaJob, QaResult
from oais_preserve.samples_catalogue import generate_catalogue

from .conftest import run_bagit_validator, run_eark_validator

HOSO = 52
PREMIS = {"p": "http://www.loc.gov/premis/v3"}
CLI = [sys.executable, "-c", "from oais_preserve.cli import main; main()"]


@pytest.fixture(scope="module")
def fonds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A catalogue of 52 hồ sơ with scans; one hồ sơ's scan is a symlink, which the builder refuses."""
    root = tmp_path_factory.mktemp("batch")
    sample = generate_catalogue(
        root / "catalogue.xlsx", hoso_count=HOSO, docs_per_hoso=1, seed=21, scans=root / "scans"
    )
    assert sample.scans is not None
    bad = sample.hoso_codes[7]
    scan = sample.scans / f"{bad}.1.pdf"
    target = root / "elsewhere.pdf"
    scan.rename(target)
    scan.symlink_to(target)
    return sample.path, sample.scans, bad


def _holds(package: Path, file_code: str) -> bool:
    ead = (package / "data/metadata/descriptive/EAD.xml").read_text(encoding="utf-8")
    return f"<arcFileCode>H55.22.{file_code}</arcFileCode>" in ead


def _packages(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*/*") if not p.name.startswith("."))


def _leftovers(out: Path) -> list[Path]:
    return sorted(out.glob("*/.*"))


def test_killed_batch_resumes_to_a_complete_valid_set(fonds: tuple[Path, Path, str], tmp_path: Path) -> None:
    catalogue, scans, bad = fonds
    out = tmp_path / "out"
    process = subprocess.Popen(
        [*CLI, "build-batch", str(catalogue), str(scans), str(out), "--all", "-w", "2", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while len(_packages(out)) < 12 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(1)  # the workers die a moment after the leader: let any rename in flight land first
    partway = _packages(out)
    assert 12 <= len(partway) < HOSO - 1, "the kill did not land halfway"
    for package in partway:  # whatever is at a final name is whole
        assert validate(package, verify=False).valid, package

    runner = CliRunner()
    rerun = runner.invoke(main, ["build-batch", str(catalogue), str(scans), str(out), "--all", "-w", "2"])
    assert rerun.exit_code == 1, rerun.output  # the bad hồ sơ failed; the others did not stop
    assert f"{len(partway)} đã có / skipped" in rerun.output
    assert f"{HOSO - 1 - len(partway)} đã tạo / built" in rerun.output and "1 lỗi / failed" in rerun.output
    assert bad in rerun.output and "symbolic link" in rerun.output

    packages = _packages(out)
    assert len(packages) == HOSO - 1
    assert _leftovers(out) == []
    assert {p.parent.name for p in packages} == {"H55.22.07", "H55.22.11"}  # grouped by phông
    objids = [p.name for p in packages]
    assert len(set(objids)) == len(objids)  # no duplicate package

    reports = [validate(p, verify=True) for p in packages]
    assert all(r.valid for r in reports), [r.problems for r in reports if not r.valid][:2]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda p: run_eark_validator(p / "data"), packages))
    failures = [(p.name, r.stdout[-400:]) for p, r in zip(packages, runs, strict=True) if r.returncode != 0]
    assert failures == []
    assert run_bagit_validator(packages[0]).returncode == 0

    # QA results are PREMIS validation events on the file objects, valid against premis.xsd (checked above)
    rep = etree.parse(str(packages[0] / "data/representations/rep1/metadata/preservation/PREMIS_rep1.xml"))
    events = rep.xpath("//p:event[p:eventType='validation']", namespaces=PREMIS)
    files = rep.xpath(
        "//p:object[@xsi:type='file']",
        namespaces={**PREMIS, "xsi": "http://www.w3.org/2001/XMLSchema-instance"},
    )
    assert len(events) == len(files) >= 1
    detail = events[0].findtext(
        "p:eventOutcomeInformation/p:eventOutcomeDetail/p:eventOutcomeDetailNote", namespaces=PREMIS
    )
    assert detail is not None and "resolution=200 dpi (pass)" in detail and "pdfa=PDF/A-2B (pass)" in detail
    linked = events[0].findtext("p:linkingObjectIdentifier/p:linkingObjectIdentifierValue", namespaces=PREMIS)
    assert linked in {
        f.findtext("p:objectIdentifier/p:objectIdentifierValue", namespaces=PREMIS) for f in files
    }
    # TT02 values mapped to TT05 codes are kept as a PREMIS migration event in the AIP
    result = import_catalogue(catalogue, scans=scans)
    converted = next(h for h in result.hoso if any(c.original == "Hạn chế" for c in h.conversions))
    package = next(p for p in packages if _holds(p, converted.file_code))
    premis = (package / "data/metadata/preservation/PREMIS.xml").read_text(encoding="utf-8")
    assert "<eventType>migration</eventType>" in premis and "'Hạn chế' -&gt; 02" in premis

    again = runner.invoke(main, ["build-batch", str(catalogue), str(scans), str(out), "--all", "--json"])
    assert f'"skipped": {HOSO - 1}' in again.output and '"built": 0' in again.output


def test_library_api_with_a_caller_executor_and_selection(
    fonds: tuple[Path, Path, str], tmp_path: Path
) -> None:
    catalogue, scans, bad = fonds
    result = import_catalogue(catalogue, scans=scans)
    codes = [h.file_code for h in result.hoso[:4]] + ["H00.NOPE"]
    seen: list[str] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        report = build_batch(
            result, tmp_path / "out", codes=codes, executor=pool, on_item=lambda i: seen.append(i.status)
        )
    assert (report.built, report.skipped, report.failed) == (4, 0, 1)
    assert sorted(seen) == ["built"] * 4 + ["failed"]
    failed = next(i for i in report.items if i.status == "failed")
    assert failed.file_code == "H00.NOPE" and "catalogue" in (failed.reason or "")
    assert all(i.qa == "pass" for i in report.items if i.status == "built")
    assert report.to_dict()["ok"] is False
    del bad


def test_cli_batch_on_a_dask_cluster_matches_the_local_run(
    fonds: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """--scheduler sends the same per-hồ sơ jobs to Dask workers; the packages are the same ones."""
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    catalogue, scans, bad = fonds
    selection = tmp_path / "chosen.csv"
    result = import_catalogue(catalogue, scans=scans)
    codes = [h.file_code for h in result.hoso[:3]] + [bad]
    selection.write_text("Mã hồ sơ\n" + "\n".join(codes) + "\n", encoding="utf-8")
    runner = CliRunner()
    batch = ["build-batch", str(catalogue), str(scans)]
    local = runner.invoke(
        main,
        [*batch, str(tmp_path / "local"), "--selection", str(selection), "--workers", "1", "--json"],
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        remote = runner.invoke(
            main,
            [*batch, str(tmp_path / "dask"), "--selection", str(selection), "--scheduler", address, "--json"],
        )
    assert local.exit_code == remote.exit_code == 1, remote.output  # the symlinked hồ sơ fails in both
    assert [p.name for p in _packages(tmp_path / "dask")] == [p.name for p in _packages(tmp_path / "local")]
    assert len(_packages(tmp_path / "dask")) == 3 and not _leftovers(tmp_path / "dask")
    for package in _packages(tmp_path / "dask"):
        assert validate(package).valid


def _die_on(code: str) -> None:
    """Pool initializer (test only): the worker dies on hồ sơ ``code``, as on a segfault or OOM kill."""
    from oais_preserve import batch

    real = batch.check_job

    def check(job: QaJob) -> QaResult:
        if job.file_code == code:
            os._exit(9)
        return real(job)

    batch.check_job = check


def _dying_pool(code: str) -> Callable[[int], ProcessPoolExecutor]:
    context = multiprocessing.get_context("forkserver")  # as batch._pool: no fork of this process
    return lambda workers: ProcessPoolExecutor(
        workers, mp_context=context, initializer=_die_on, initargs=(code,)
    )


def test_a_worker_that_dies_fails_only_its_own_hoso(
    fonds: tuple[Path, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue, scans, bad = fonds
    result = import_catalogue(catalogue, scans=scans)
    codes = [h.file_code for h in result.hoso if h.file_code != bad][:7]
    crasher = codes[2]
    monkeypatch.setattr("oais_preserve.batch._pool", _dying_pool(crasher))
    out = tmp_path / "out"
    report = build_batch(result, out, codes=codes, workers=2)
    assert (report.built, report.failed) == (6, 1), [(i.file_code, i.reason) for i in report.items]
    failed = next(i for i in report.items if i.status == "failed")
    assert failed.file_code == crasher
    assert "worker process died" in (failed.reason or "") and "alone" in (failed.reason or "")
    packages = _packages(out)
    assert len(packages) == 6 and _leftovers(out) == []
    assert all(validate(p, verify=False).valid for p in packages)


class _FlakyExecutor(ThreadPoolExecutor):
    """A caller's executor that loses the worker on the first try of ``flaky``, every try of ``fatal``."""

    def __init__(self, flaky: str, fatal: str) -> None:
        super().__init__(max_workers=2)
        self.flaky, self.fatal = flaky, fatal
        self.tries: Counter[str] = Counter()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        code = args[0].file_code
        self.tries[code] += 1
        if code == self.fatal or (code == self.flaky and self.tries[code] == 1):
            lost: Future[Any] = Future()
            lost.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
            return lost
        return super().submit(fn, *args, **kwargs)


def test_a_callers_executor_gets_one_resubmission(
    fonds: tuple[Path, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue, scans, bad = fonds
    result = import_catalogue(catalogue, scans=scans)
    codes = [h.file_code for h in result.hoso if h.file_code != bad][:4]
    with _FlakyExecutor(flaky=codes[0], fatal=codes[1]) as flaky:
        report = build_batch(result, tmp_path / "flaky", codes=codes, executor=flaky)
    assert (report.built, report.failed) == (3, 1)
    assert flaky.tries[codes[0]] == flaky.tries[codes[1]] == 2 and flaky.tries[codes[2]] == 1
    failed = next(i for i in report.items if i.status == "failed")
    assert failed.file_code == codes[1] and "second try" in (failed.reason or "")
    # A caller's ProcessPoolExecutor refuses all work once a worker died: what it refuses goes on
    # in pools of our own (dying on the same hồ sơ here), so only the culprit fails.
    monkeypatch.setattr("oais_preserve.batch._pool", _dying_pool(codes[1]))
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(2, mp_context=context, initializer=_die_on, initargs=(codes[1],)) as pool:
        report = build_batch(result, tmp_path / "broken", codes=codes, executor=pool)
    assert (report.built, report.failed) == (3, 1), [(i.file_code, i.reason) for i in report.items]
    failed = next(i for i in report.items if i.status == "failed")
    assert failed.file_code == codes[1] and "alone" in (failed.reason or "")


def test_a_corrected_catalogue_never_keeps_a_stale_package(
    fonds: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """The OBJID follows the hồ sơ code only: a re-run after a correction must not say "skipped"."""
    catalogue, scans, bad = fonds
    result = import_catalogue(catalogue, scans=scans)
    chosen = [h for h in result.hoso if h.file_code != bad][:3]
    codes = [h.file_code for h in chosen]
    out = tmp_path / "out"
    assert build_batch(result, out, codes=codes, workers=1).built == 3
    state = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    retitled, secret, same = (h.description for h in chosen)
    assert retitled is not None and secret is not None and same is not None
    retitled["hoso"]["title"] += " (tiêu đề đã sửa)"
    secret["documents"][0]["mode"] = "03"  # the archivist found the document is Mật
    again = build_batch(result, out, codes=codes, workers=1)
    assert (again.built, again.skipped, again.failed) == (0, 1, 2)
    reasons = {i.file_code: i.reason or "" for i in again.items if i.status == "failed"}
    assert set(reasons) == set(codes[:2])
    for reason in reasons.values():
        assert "gói đã có khác với mục lục / existing package differs from the catalogue" in reason
    assert "EAD.xml: title" in reasons[codes[0]] and ": mode" in reasons[codes[1]]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == state  # nothing overwritten
