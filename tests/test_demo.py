"""`make demo`: the whole job end to end on a small catalogue; its outputs exist and are valid."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from oais_preserve import demo
from oais_preserve.storage import load_storage_config, package_status

from .conftest import run_bagit_validator


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(demo.main, ["--out", str(out), "--hoso", "4", "--workers", "1"])
    assert result.exit_code == 0, result.output
    return out, result.output


def _cells(path: Path) -> list[str]:
    workbook = load_workbook(path, read_only=True)
    return [
        str(value)
        for sheet in workbook
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value
    ]


def test_every_step_runs_and_says_so(demo_run: tuple[Path, str]) -> None:
    out, output = demo_run
    for number in range(1, demo.STEPS + 1):
        assert f"Bước {number}/{demo.STEPS}" in output
    assert "every step as expected" in output
    for folder in (
        "danh-muc",
        "lua-chon",
        "kiem-tra-chat-luong",
        "aip",
        "kho",
        "dip",
        "ban-giao",
        "bao-cao-nam",
    ):
        assert f"{folder}/" in output and (out / folder).is_dir()


def test_catalogue_selection_and_qa_outputs(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    errors = _cells(out / "danh-muc" / "bao-cao-loi.xlsx")
    assert any("Thời hạn bảo quản" in cell for cell in errors)  # the planted code error is reported
    assert any("Ngày, tháng, năm văn bản" in cell for cell in errors)  # and the planted date
    selected = (out / "lua-chon" / "danh-muc-lua-chon.csv").read_text(encoding="utf-8-sig")
    assert "H55.22.11.1962.2" in selected
    first = json.loads((out / "kiem-tra-chat-luong" / "lan-1.json").read_text(encoding="utf-8"))
    second = json.loads((out / "kiem-tra-chat-luong" / "lan-2-sau-quet-lai.json").read_text(encoding="utf-8"))
    outcomes = [r["outcome"] for r in first["files"]]
    assert outcomes.count("fail") == 1 and len(outcomes) == len(second["files"])
    assert all(r["outcome"] == "pass" for r in second["files"])


def test_packages_copies_and_audit_records(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    aips = sorted(p for p in (out / "aip").glob("*/*") if (p / "bagit.txt").is_file())
    assert aips
    for aip in aips:  # bagit's own validator, as a separate process
        assert run_bagit_validator(aip).returncode == 0
    config = load_storage_config(out / "kho" / "storage.toml")
    status = package_status(config)
    assert len(status) == len(aips) and all(s.safe and len(s.copies) == 2 for s in status)
    replica = config.location("kho-du-phong").path
    for aip in aips:  # the repaired replica is byte for byte the package built
        assert run_bagit_validator(replica / aip.name).returncode == 0
    minutes = _cells(out / "kho" / "bien-ban-kiem-tra.xlsx")
    assert any(cell.startswith(str(replica)) and cell.endswith(".pdf") for cell in minutes)
    with config.open_ledger() as ledger:
        runs = ledger.audit_runs()
        assert [run.failures for run in runs] == [0, 1, 0]
        assert any(event[1] == "repair" for event in ledger.events())
    assert (out / "kho" / "nhat-ky-sao-luu.xlsx").is_file()


def test_dip_handover_and_report(demo_run: tuple[Path, str]) -> None:
    out, output = demo_run
    viewers = list((out / "dip").glob("*/documentation/index.html"))
    assert len(viewers) == 1 and str(viewers[0]) in output
    tars = sorted((out / "ban-giao").glob("BGNV_*.tar"))
    assert tars
    for tar in tars:
        digest, name = (tar.parent / f"{tar.name}.sha256").read_text(encoding="utf-8").split()
        assert name.lstrip("*") == tar.name and digest == hashlib.sha256(tar.read_bytes()).hexdigest()
        with tarfile.open(tar) as archive:
            assert any(m.name.endswith("bien-ban-ban-giao.xlsx") for m in archive.getmembers())
    report = json.loads(next((out / "bao-cao-nam").glob("bao-cao-*.json")).read_text(encoding="utf-8"))
    rows = report["fonds"]
    packaged = sum(1 for p in (out / "aip").glob("*/*") if (p / "bagit.txt").is_file())
    assert sum(r["packaged"] for r in rows) == sum(r["handed_over"] for r in rows) == packaged
    assert sum(r["digitized"] for r in rows) == sum(r["selected"] for r in rows) == packaged
    # From the storage ledger: two copies of every package, three audits, the flipped bit found and repaired.
    assert sum(r["stored"] for r in rows) == packaged
    assert sum(r["copies_held"] for r in rows) == 2 * packaged
    assert sum(r["problems_found"] for r in rows) == sum(r["problems_repaired"] for r in rows) == 1
    assert all(r["audits"] == 3 for r in rows)


def test_a_problem_nobody_planted_makes_the_demo_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step finding what it should not (here: QA finds no failure where one was planted) exits 1."""
    monkeypatch.setattr(demo, "PLANTED_DPI", 200)  # the "bad" scan is now a good one
    out = tmp_path / "out"
    result = CliRunner().invoke(demo.main, ["--out", str(out), "--hoso", "4", "--workers", "1"])
    assert result.exit_code == 1
    assert "QA should fail exactly the planted 200 dpi scan" in result.stderr


def test_an_existing_folder_not_made_by_the_demo_is_never_emptied(tmp_path: Path) -> None:
    (tmp_path / "hồ sơ quan trọng.pdf").write_bytes(b"%PDF-1.7 original")
    result = CliRunner().invoke(demo.main, ["--out", str(tmp_path), "--hoso", "4"])
    assert result.exit_code == 2 and "choose another --out" in result.output
    assert (tmp_path / "hồ sơ quan trọng.pdf").read_bytes() == b"%PDF-1.7 original"
