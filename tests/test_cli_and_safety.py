"""The command line, tampering detection, hostile input and crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from oais_preserve import build_aip, validate
from oais_preserve.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def one_aip(sample_fonds: tuple[Path, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    scans, descriptions = sample_fonds
    return build_aip(descriptions[0], scans, tmp_path_factory.mktemp("aip"), workers=1).path


def fresh_copy(bag: Path, tmp_path: Path) -> Path:
    target = tmp_path / bag.name
    shutil.copytree(bag, target)
    return target


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_cli_accepts_a_good_bag(one_aip: Path) -> None:
    code, out, _ = run_cli("validate", str(one_aip))
    assert code == 0 and "VALID" in out
    code, out, _ = run_cli("validate", "--json", str(one_aip))
    assert code == 0 and json.loads(out)["valid"] is True


def test_every_tampering_is_reported_by_path_in_one_run(one_aip: Path, tmp_path: Path) -> None:
    bag = fresh_copy(one_aip, tmp_path)
    data_files = sorted((bag / "data/representations/rep1/data").iterdir())
    flipped, deleted = data_files[0], data_files[1]
    raw = bytearray(flipped.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    flipped.write_bytes(bytes(raw))
    deleted.unlink()
    (bag / "data/representations/rep1/data/extra.txt").write_text("added", encoding="utf-8")
    manifest = bag / "manifest-sha256.txt"
    lines = manifest.read_text(encoding="utf-8").splitlines()
    edited = next(i for i, line in enumerate(lines) if "documentation/" in line)
    lines[edited] = "0" * 64 + lines[edited][64:]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, out, _ = run_cli("validate", "--json", str(bag))
    assert code == 1
    report = json.loads(out)
    wheres = {(p["where"], p["rule"]) for p in report["problems"]}
    rel = lambda p: p.relative_to(bag).as_posix()  # noqa: E731
    assert any(w == rel(flipped) and r == "changed" for w, r in wheres), wheres
    assert any(w == rel(deleted) and r == "missing" for w, r in wheres), wheres
    assert any(w.endswith("extra.txt") and r == "extra" for w, r in wheres), wheres
    assert any(w == "data/documentation/thong-tin-goi.txt" for w, _ in wheres), wheres
    assert any(w == "manifest-sha256.txt" for w, _ in wheres), "the tag manifest no longer matches"


def test_missing_path_and_bad_description_are_one_line_errors(tmp_path: Path, sample_fonds) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli("validate", str(tmp_path / "nope"))
    assert code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    code, _, err = run_cli("build-aip", str(bad), str(sample_fonds[0]), str(tmp_path / "out"))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("oais-preserve:")


def test_identify_cli(sample_fonds: tuple[Path, list[Path]]) -> None:
    code, out, _ = run_cli("identify", "--json", str(sample_fonds[0]))
    assert code == 0
    rows = json.loads(out)
    assert rows and all(row["sha256"] for row in rows)
    assert any(row["puid"] and row["puid"].startswith(("fmt/", "x-fmt/")) for row in rows)


def test_zip_slip_and_symlink_members_are_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("pkg/METS.xml", "<mets/>")
        zf.writestr("pkg/../../escape.txt", "gotcha")
    code, _, err = run_cli("validate", str(evil))
    assert code == 2 and "zip-slip" in err
    assert not (tmp_path.parent / "escape.txt").exists()
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("pkg/METS.xml")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    code, _, err = run_cli("validate", str(link))
    assert code == 2 and "symbolic link" in err


def test_xxe_in_mets_is_not_resolved(one_aip: Path, tmp_path: Path) -> None:
    bag = fresh_copy(one_aip, tmp_path)
    mets = bag / "data/METS.xml"
    text = mets.read_text(encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    doctype = f'<!DOCTYPE mets [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
    text = text.replace("?>\n", "?>\n" + doctype, 1).replace('LABEL="', 'LABEL="&xxe;', 1)
    mets.write_text(text, encoding="utf-8")
    report = validate(bag, verify=False)
    assert not report.valid
    assert "TOP-SECRET-VALUE" not in json.dumps(report.to_dict())


def test_kill_9_leaves_nothing_partial_and_a_rerun_finishes(
    sample_fonds: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    scans, descriptions = sample_fonds
    out = tmp_path / "out"
    script = (
        "import sys; from oais_preserve import build_aip; "
        "build_aip(sys.argv[1], sys.argv[2], sys.argv[3], workers=1)"
    )
    cmd = [sys.executable, "-c", script, str(descriptions[1]), str(scans), str(out)]
    for delay in (0.3, 0.6, 0.9):
        proc = subprocess.Popen(cmd, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = [p for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else []
        for package in finished:  # if the build won the race, what is there must be whole
            assert validate(package).valid
        if finished:
            shutil.rmtree(finished[0])
    result = build_aip(descriptions[1], scans, out, workers=1)
    assert validate(result.path).valid
    assert sorted(p.name for p in out.iterdir()) == [result.path.name], "no partial or lock left behind"


def test_console_script_entry_point_runs() -> None:
    exe = Path(sys.executable).with_name("oais-preserve")
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "oais-preserve" in result.stdout


def test_documented_example_runs(tmp_path: Path) -> None:
    """docs/example.py is the runnable example of docs/api.md: it must keep working."""
    result = subprocess.run(
        [sys.executable, str(REPO / "docs" / "example.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("valid") == 2
    assert len(list((tmp_path / "build/example/zip").glob("*.zip"))) == 2


@pytest.fixture(scope="module")
def one_sip(sample_fonds: tuple[Path, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from oais_preserve import build_sip

    scans, descriptions = sample_fonds
    return build_sip(descriptions[2], scans, tmp_path_factory.mktemp("sip"), workers=1).path


def test_ingest_refuses_a_sip_whose_file_no_longer_matches_its_checksum(
    one_sip: Path, tmp_path: Path
) -> None:
    sip = fresh_copy(one_sip, tmp_path)
    victim = next((sip / "representations/rep1/data").iterdir())
    raw = bytearray(victim.read_bytes())
    raw[-10] ^= 0x01  # same size: only the digest can tell
    victim.write_bytes(bytes(raw))
    code, out, err = run_cli("ingest", "--json", str(sip), str(tmp_path / "aip"))
    assert code == 1, err
    problems = json.loads(out)["problems"]
    assert any(p["rule"] == "fixity" and victim.name in p["where"] for p in problems)
    leftovers = list((tmp_path / "aip").iterdir()) if (tmp_path / "aip").exists() else []
    assert not leftovers, "no AIP, partial folder or lock may remain"


def test_ingest_of_a_zipped_sip_and_the_cli_json(one_sip: Path, tmp_path: Path) -> None:
    from oais_preserve import export_zip

    archive = export_zip(one_sip, tmp_path / "sip.zip")
    code, out, err = run_cli("ingest", "--json", str(archive), str(tmp_path / "aip"))
    assert code == 0, err
    result = json.loads(out)
    assert result["package_type"] == "AIP" and result["files"] > 0
    assert validate(Path(result["path"])).valid


def test_a_mets_href_escaping_the_package_is_refused(one_sip: Path, tmp_path: Path) -> None:
    sip = fresh_copy(one_sip, tmp_path)
    rep_mets = sip / "representations/rep1/METS.xml"
    text = rep_mets.read_text(encoding="utf-8")
    first_href = text.split('xlink:href="data/', 1)[1].split('"', 1)[0]
    rep_mets.write_text(
        text.replace(f'xlink:href="data/{first_href}"', 'xlink:href="../../../../etc/passwd"', 1),
        encoding="utf-8",
    )
    report = validate(sip, verify=False)
    assert not report.valid
    assert any(p.rule == "unsafe-path" for p in report.problems)


def test_an_objid_cannot_steer_the_output_out_of_its_folder(
    sample_fonds: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    from oais_preserve import UnsafePathError

    scans, descriptions = sample_fonds
    for objid in ("urn:../../escape:uuid:1", "urn:a/b:uuid:1", ".hidden"):
        with pytest.raises(UnsafePathError):
            build_aip(descriptions[0], scans, tmp_path / "out", objid=objid)
    assert not (tmp_path / "escape").exists()


def test_damaged_zip_is_a_one_line_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("pkg/METS.xml", "<mets/>" * 100)
    raw = bytearray(broken.read_bytes())
    raw[40:60] = b"\0" * 20  # damage the member's data and header, keep the central directory
    broken.write_bytes(bytes(raw))
    code, _, err = run_cli("validate", str(broken))
    assert code in (1, 2) and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("oais-preserve:")


def test_export_zip_refuses_to_write_inside_the_package(one_aip: Path, tmp_path: Path) -> None:
    bag = fresh_copy(one_aip, tmp_path)
    code, _, err = run_cli("export-zip", str(bag), str(bag / "data" / "documentation"))
    assert code == 2 and "inside the package" in err
    assert validate(bag).valid


def test_a_symlinked_folder_inside_a_package_is_not_followed(one_sip: Path, tmp_path: Path) -> None:
    sip = fresh_copy(one_sip, tmp_path)
    outside = tmp_path / "outside"
    shutil.move(str(sip / "representations/rep1/data"), outside)
    (sip / "representations/rep1/data").symlink_to(outside, target_is_directory=True)
    report = validate(sip)
    assert not report.valid
    assert any(p.rule == "unsafe-path" for p in report.problems)


def test_problem_list_on_a_closed_stdout_keeps_the_exit_code_and_the_message(tmp_path: Path) -> None:
    """``--json | head -1`` on a user mistake: still exit 2 and the one-line message on stderr."""
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    (tmp_path / "src").mkdir()
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        exe = Path(sys.executable).with_name("oais-preserve")
        args = [
            str(exe),
            "build-aip",
            str(tmp_path / "bad.json"),
            str(tmp_path / "src"),
            str(tmp_path / "out"),
        ]
        result = subprocess.run(
            [*args, "--json"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False
        )
    finally:
        os.close(write_end)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("oais-preserve: ") and "Traceback" not in result.stderr
