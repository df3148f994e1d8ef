"""Insurance copies: storage locations, the ledger, audits, repair, records, Dask scale-out."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from openpyxl import load_workbook

from oais_preserve.audits import audit, repair
from oais_preserve.cli import main
from oais_preserve.errors import InvalidPackageError, UserInputError
from oais_preserve.executors import open_executor
from oais_preserve.ledger import SCHEMA_VERSION, Ledger
from oais_preserve.records import write_inspection_minutes_xlsx
from oais_preserve.storage import (
    LOCATION_MARKER,
    StorageConfig,
    init_location,
    load_storage_config,
    package_status,
    reindex,
    replicate,
    store,
)
from oais_preserve.xmlcheck import premis_schema

from .conftest import run_bagit_validator
from .storage_helpers import make_bag, write_config


def _stored(tmp_path: Path, count: int, *, files: int = 6, seed: int = 0) -> StorageConfig:
    config = write_config(tmp_path)
    source = tmp_path / "incoming"
    source.mkdir(exist_ok=True)
    for index in range(count):
        store(config, make_bag(source, index, files=files, seed=seed))
    replicate(config)
    return config


def _bags(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".events"))


def _all_copy_files(config: StorageConfig) -> list[Path]:
    paths = []
    for location in config.locations.values():
        for bag in _bags(location.path):
            paths += sorted(p for p in bag.rglob("*") if p.is_file())
    return paths


def _flip_bit(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    position = rng.randrange(len(data))
    data[position] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


# --------------------------------------------------------------------------- configuration and copies


def test_config_refuses_mistakes(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not found"):
        load_storage_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('[locations.a]\npath = "x"\n[locations.b]\npath = "x/y"\n', encoding="utf-8")
    with pytest.raises(UserInputError, match="overlap"):
        load_storage_config(bad)
    bad.write_text("min_copies = 2\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="locations"):
        load_storage_config(bad)
    bad.write_text("[locations.a\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="TOML"):
        load_storage_config(bad)


def test_store_is_not_safe_until_replicated(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bag = make_bag(tmp_path / "in", 1)
    first = store(config, bag)
    assert first.copied and first.verified_copies == 1 and not first.safe
    again = store(config, bag)
    assert not again.copied
    copies = replicate(config)
    assert [c.location for c in copies] == ["replica"] and copies[0].safe
    assert run_bagit_validator(copies[0].path).returncode == 0
    with Ledger(config.ledger_path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION
        assert [p.hoso_code for p in ledger.packages_of_fonds("H49", 2)] == ["H49.01.001"]
        assert ledger.packages_of_fonds("H49", 3) == []
        package = ledger.packages()[0]
        assert (package.fonds_code, package.payload_files) == ("H49", 7)
        assert ledger.integrity_check() == "ok"
    events = sorted((config.locations["replica"].path / f"{bag.name}.events").glob("*.xml"))
    assert len(events) == 1
    premis_schema().assertValid(etree.parse(str(events[0])))
    # Same OBJID, different content: refused rather than mixed with the stored package.
    other = make_bag(tmp_path / "other", 1, seed=9)
    with pytest.raises(UserInputError, match="different package"):
        store(config, other, "replica")


def test_store_refuses_an_invalid_bag(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bag = make_bag(tmp_path / "in", 2)
    next(bag.glob("data/representations/rep1/data/*.bin")).write_bytes(b"changed")
    with pytest.raises(InvalidPackageError):
        store(config, bag)
    assert not any(config.locations["primary"].path.glob("urn*"))


def test_reindex_rebuilds_the_ledger_from_the_bags(tmp_path: Path) -> None:
    config = _stored(tmp_path, 3)
    before = {(s.objid, s.copies) for s in package_status(config)}
    for name in os.listdir(config.ledger_path.parent):
        os.unlink(config.ledger_path.parent / name)
    counts = reindex(config)
    assert counts == {"found": 6, "recorded": 6, "invalid": 0, "conflicting": 0}
    assert {(s.objid, s.copies) for s in package_status(config)} == before


def test_schema_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(UserInputError, match="newer"):
        Ledger(path)


# --------------------------------------------------------------------------- audits and repair


def test_bit_rot_is_found_exactly_and_repaired(tmp_path: Path) -> None:
    """Acceptance: 100 bit flips across two copies of 20 bags; exactly those found; all repaired."""
    config = _stored(tmp_path, 20)
    rng = random.Random(5)
    files = _all_copy_files(config)
    # Choose 100 files, never the same bag file in both copies (repair needs one good copy).
    chosen: list[Path] = []
    used: set[tuple[str, str]] = set()
    for path in rng.sample(files, len(files)):
        location = "primary" if path.is_relative_to(config.locations["primary"].path) else "replica"
        key = path.relative_to(config.locations[location].path).as_posix()
        if key in {k for _, k in used}:
            continue
        used.add((location, key))
        chosen.append(path)
        if len(chosen) == 100:
            break
    for path in chosen:
        _flip_bit(path, rng)
    assert {
        p.parents[0].name for p in chosen if p.name.startswith(("manifest", "tagmanifest"))
    }  # tampering too

    result = audit(config, full=True)
    changed = {Path(f.path) for f in result.failures if f.outcome == "changed"}
    assert changed == set(chosen)
    assert {Path(f.path) for f in result.failures} <= set(chosen)  # no false positive anywhere
    assert result.files_checked == len(files)

    minutes = write_inspection_minutes_xlsx(
        tmp_path / "bien-ban.xlsx", faults=result.failures, run=result.to_dict()
    )
    sheet = load_workbook(minutes).active
    assert sheet is not None
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "BIÊN BẢN KIỂM TRA CƠ SỞ DỮ LIỆU TÀI LIỆU LƯU TRỮ SỐ" in cells
    assert {str(p) for p in chosen} <= set(cells)

    fixed = repair(config)
    assert fixed.ok and {Path(p) for p in fixed.repaired} == set(chosen)
    again = audit(config, full=True)
    assert again.ok and again.files_checked == len(files)
    assert all(s.safe for s in package_status(config))
    for location in config.locations.values():
        bag = _bags(location.path)[0]
        assert run_bagit_validator(bag).returncode == 0
        events = sorted((location.path / f"{bag.name}.events").glob("*.xml"))
        for event in events:
            premis_schema().assertValid(etree.parse(str(event)))


def test_missing_extra_oxum_and_manifest_tampering(tmp_path: Path) -> None:
    config = _stored(tmp_path, 2)
    bag = _bags(config.locations["primary"].path)[0]
    victim = next(bag.glob("data/representations/rep1/data/*.bin"))
    victim.write_bytes(b"forged content")
    # The forger also rewrites the manifest line, so the bag looks self-consistent on its own.
    manifest = bag / "manifest-sha256.txt"
    import hashlib

    lines = [
        (hashlib.sha256(b"forged content").hexdigest() + line[64:]) if victim.name in line else line
        for line in manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    ]
    manifest.write_text("".join(lines), encoding="utf-8")
    (bag / "data" / "METS.xml").unlink()
    (bag / "data" / "intruder.txt").write_text("x")
    result = audit(config, locations=["primary"])  # scheduled: nothing due yet
    assert result.files_checked == 0 or all(f.outcome != "changed" for f in result.failures)
    result = audit(config, locations=["primary"], full=True)
    outcomes = {(Path(f.path).name, f.outcome) for f in result.failures}
    assert {
        (victim.name, "changed"),
        ("manifest-sha256.txt", "changed"),
        ("METS.xml", "missing"),
        ("intruder.txt", "extra"),
        ("bag-info.txt", "oxum"),
    } <= outcomes
    report = result.to_dict()["archivematica"]
    assert report["success"] is False
    assert any(p.endswith("METS.xml") for p in report["failures"]["files"]["missing"])
    assert any(p.endswith("intruder.txt") for p in report["failures"]["files"]["untracked"])
    assert repair(config).ok
    (bag / "data" / "intruder.txt").unlink()  # repair never deletes: an operator decides about extras
    assert audit(config, full=True).ok


def test_no_good_copy_means_no_overwrite(tmp_path: Path) -> None:
    config = _stored(tmp_path, 1)
    rel = None
    for location in config.locations.values():
        bag = _bags(location.path)[0]
        target = sorted(bag.glob("data/representations/rep1/data/*.bin"))[0]
        rel = target.relative_to(bag)
        target.write_bytes(f"damaged in {location.name}".encode())
    assert rel is not None
    assert not audit(config, full=True).ok
    result = repair(config)
    assert not result.ok and len(result.unrepairable) == 2 and not result.repaired
    for location in config.locations.values():
        bag = _bags(location.path)[0]
        assert (bag / rel).read_bytes() == f"damaged in {location.name}".encode()
    assert not any(s.safe for s in package_status(config))


def test_bounded_runs_check_least_recently_checked_first(tmp_path: Path) -> None:
    config = _stored(tmp_path, 4)
    with Ledger(config.ledger_path) as ledger:
        total_files, total_bytes = ledger.due_totals("primary", time.time() + 1)
    first = audit(config, locations=["primary"], full=True, max_bytes=total_bytes // 3)
    assert first.state == "stopped" and 0 < first.files_checked < total_files
    second = audit(config, locations=["primary"], full=True)  # resumes the stopped full run
    assert second.state == "finished"
    assert first.files_checked + second.files_checked == total_files
    with Ledger(config.ledger_path) as ledger:
        assert set(ledger.check_counts("ok").values()) == {1}
        runs = ledger.audit_runs()
        assert [r.state for r in runs] == ["resumed", "finished"]
        coverage = ledger.coverage(time.time() - 3 * 365 * 86400)
        assert coverage["primary"] == (total_files, total_files)
    zero = audit(config, locations=["primary"], full=True, max_duration=0)
    assert zero.state == "stopped" and zero.files_checked == 0


def test_two_audits_of_one_location_do_not_run_together(tmp_path: Path) -> None:
    config = _stored(tmp_path, 1)
    import fcntl

    lock = config.ledger_path.with_name(f".{config.ledger_path.name}.audit-primary.lock")
    with open(lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        with pytest.raises(UserInputError, match="another audit"):
            audit(config, locations=["primary"])
        assert audit(config, locations=["replica"], full=True).ok  # other locations go on


def test_serialized_copies_are_streamed_not_extracted(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bags = tmp_path / "bags"
    tar_bag = make_bag(bags, 1)
    zip_bag = make_bag(bags, 2)
    with tarfile.open(tmp_path / f"{tar_bag.name}.tar", "w") as archive:
        archive.add(tar_bag, arcname=tar_bag.name)
    with zipfile.ZipFile(tmp_path / f"{zip_bag.name}.zip", "w") as archive:
        for path in sorted(zip_bag.rglob("*")):
            archive.write(path, path.relative_to(bags).as_posix())
    for archive_path in (tmp_path / f"{tar_bag.name}.tar", tmp_path / f"{zip_bag.name}.zip"):
        result = store(config, archive_path)
        assert result.copied
    assert len(replicate(config)) == 2
    stored_tar = config.locations["replica"].path / f"{tar_bag.name}.tar"
    with tarfile.open(stored_tar) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("001.bin"))
    with open(stored_tar, "r+b") as handle:
        handle.seek(member.offset_data + 3)
        byte = handle.read(1)
        handle.seek(member.offset_data + 3)
        handle.write(bytes([byte[0] ^ 0x10]))
    result = audit(config, full=True)
    assert [(f.outcome, f.path.rsplit("!", 1)[1]) for f in result.failures] == [
        ("changed", member.name.split("/", 1)[1])
    ]
    assert not [p for p in tmp_path.glob("**/.oais*") if p.name != LOCATION_MARKER]  # nothing extracted
    assert repair(config).ok
    assert audit(config, full=True).ok


def test_kill_9_five_times_then_finish(tmp_path: Path) -> None:
    """Acceptance: kill -9 at random moments; every file checked once after its success; ledger sound.

    A damaged file in the first batch is found before the first kill: the resumed runs must still
    report it, with its PREMIS failure event and the copy marked damaged.
    """
    config = write_config(tmp_path, days=(30, 30))
    for index in range(20):
        store(config, make_bag(tmp_path / "in", index, files=300), "primary")
    # Make every file due: pretend the last check is older than the schedule.
    with Ledger(config.ledger_path) as ledger, ledger.write() as db:
        db.execute("UPDATE copy_files SET last_checked=0, outcome='unchecked'")
        first = db.execute(
            "SELECT c.relpath, f.path, cf.id FROM copy_files cf JOIN copies c ON c.id = cf.copy_id"
            " JOIN files f ON f.id = cf.file_id WHERE f.path LIKE 'data/%.bin' ORDER BY cf.id LIMIT 1"
        ).fetchone()
    damaged = config.locations["primary"].path / first[0] / first[1]
    _flip_bit(damaged, rng := random.Random(9))
    command = [
        sys.executable,
        "-c",
        "from oais_preserve.cli import main; main()",
        "audit",
        "--config",
        str(tmp_path / "storage.toml"),
        "--workers",
        "1",
        "--no-progress",
    ]
    killed = 0
    for _ in range(5):
        with Ledger(config.ledger_path) as ledger:
            runs_before = len(ledger.audit_runs())
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_progress(config.ledger_path, runs_before, process)
        time.sleep(rng.uniform(0, 0.01))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait()
    assert killed == 5, "the audit finished before being killed: make it longer"
    with Ledger(config.ledger_path) as ledger:
        assert ledger.due_totals("primary", time.time() - 30 * 86400)[0] > 0  # work was left
    with Ledger(config.ledger_path) as ledger:
        assert ledger.run_failures(ledger.audit_runs()[0].id)  # found before the first kill
    final = subprocess.run([*command, "--json"], capture_output=True, text=True, check=False)
    assert final.returncode == 1, final.stderr
    report = json.loads(final.stdout)
    assert [(f["outcome"], f["path"]) for f in report["failures"]] == [("changed", str(damaged))]
    events = _premis_events(config.locations["primary"].path / f"{first[0]}.events")
    assert ("fixity check", "failure") in events
    assert ("primary", "damaged") in next(
        s.copies for s in package_status(config) if first[0] in s.objid.replace(":", "_")
    )
    with Ledger(config.ledger_path) as ledger:
        assert ledger.integrity_check() == "ok"
        counts = ledger.check_counts("ok")
        all_ids = {row[0] for row in ledger.db.execute("SELECT id FROM copy_files")}
        assert set(counts) == all_ids - {first[2]}  # every file checked, the damaged one failed
        assert set(counts.values()) == {1}  # none twice after its successful check
        states = [r.state for r in ledger.audit_runs()]
        assert states == ["resumed"] * 5 + ["finished"]  # each killed run taken over by the next


def _wait_for_progress(ledger_path: Path, runs_before: int, process: subprocess.Popen[bytes]) -> None:
    """Until the new run has recorded its first batch (so the kill lands mid-audit)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True, timeout=5) as db:
                row = db.execute(
                    "SELECT files_checked FROM audit_runs ORDER BY id DESC LIMIT 1 OFFSET 0"
                ).fetchone()
                count = db.execute("SELECT COUNT(*) FROM audit_runs").fetchone()[0]
            if count > runs_before and row and row[0] > 0:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.002)


# --------------------------------------------------------------------------- Dask and the CLI


def test_dask_cluster_gives_the_same_results_as_local(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="dask.distributed is the optional [dask] extra")
    config = _stored(tmp_path, 4)
    rng = random.Random(3)
    for path in rng.sample(_all_copy_files(config), 6):
        _flip_bit(path, rng)
    with open_executor(workers=2) as local:
        expected = audit(config, full=True, executor=local)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        open_executor(scheduler=cluster.scheduler_address) as executor,
    ):
        assert executor is not None
        remote = audit(config, full=True, executor=executor)
        result = CliRunner().invoke(
            main,
            [
                "audit",
                "--config",
                str(tmp_path / "storage.toml"),
                "--full",
                "--json",
                "--no-progress",
                "--scheduler",
                cluster.scheduler_address,
            ],
        )
    key = sorted((f.path, f.outcome, f.detail) for f in expected.failures)
    assert key and sorted((f.path, f.outcome, f.detail) for f in remote.failures) == key
    assert (remote.files_checked, remote.bytes_checked) == (expected.files_checked, expected.bytes_checked)
    assert result.exit_code == 1
    cli_failures = json.loads(result.output)["failures"]
    assert sorted((f["path"], f["outcome"], f["detail"]) for f in cli_failures) == key


def test_missing_dask_scheduler_is_a_clear_error() -> None:
    with (
        pytest.raises(UserInputError, match="Dask scheduler"),
        open_executor(scheduler="tcp://127.0.0.1:9", connect_timeout=1),
    ):
        pass


def test_cli_exit_codes_json_and_forms(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    runner = CliRunner()
    toml = str(tmp_path / "storage.toml")
    bag = make_bag(tmp_path / "in", 4)
    result = runner.invoke(main, ["store", "--config", toml, "--workers", "1", "--json", str(bag)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True
    result = runner.invoke(main, ["audit", "--config", toml, "--full", "--json", "--workers", "1"])
    assert result.exit_code == 0 and json.loads(result.output)["archivematica"]["success"] is True
    victim = next(config.locations["replica"].path.glob("*/data/representations/rep1/data/*.bin"))
    victim.write_bytes(b"rot")
    result = runner.invoke(
        main,
        [
            "audit",
            "--config",
            toml,
            "--full",
            "--json",
            "--workers",
            "1",
            "--minutes",
            str(tmp_path / "bb.xlsx"),
        ],
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["archivematica"]["failures"]["files"]["changed"] == [str(victim)]
    assert (tmp_path / "bb.xlsx").is_file()
    result = runner.invoke(
        main, ["storage-report", "--config", toml, "--backup-log", str(tmp_path / "nk.xlsx"), "--json"]
    )
    assert result.exit_code == 0
    log = load_workbook(tmp_path / "nk.xlsx").active
    assert log is not None
    values = [str(c.value) for row in log.iter_rows() for c in row if c.value is not None]
    assert "NHẬT KÝ SAO LƯU TÀI LIỆU LƯU TRỮ SỐ" in values and "Sao lưu (nhân bản)" in values
    result = runner.invoke(main, ["repair", "--config", toml])
    assert result.exit_code == 0 and "repaired" in result.output
    result = runner.invoke(main, ["copies", "--config", toml])
    assert result.exit_code == 0 and "safe" in result.output
    result = runner.invoke(main, ["audit", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "not found" in result.output
    result = runner.invoke(main, ["audit", "--config", toml, "--location", "moon"])
    assert result.exit_code == 2 and "unknown storage location" in result.output


def test_cli_progress_line_only_on_a_terminal_unless_asked(tmp_path: Path) -> None:
    write_config(tmp_path)
    toml = str(tmp_path / "storage.toml")
    runner = CliRunner()  # its stderr is not a terminal, as under cron
    stored = runner.invoke(
        main, ["store", "--config", toml, "--workers", "1", str(make_bag(tmp_path / "in", 2))]
    )
    assert stored.exit_code == 0, stored.output
    assert "MB/s" not in stored.stderr
    quiet = runner.invoke(main, ["audit", "--config", toml, "--full", "--workers", "1"])
    assert quiet.exit_code == 0 and "MB/s" not in quiet.stderr
    forced = runner.invoke(main, ["audit", "--config", toml, "--full", "--workers", "1", "--progress"])
    assert forced.exit_code == 0 and "MB/s" in forced.stderr


def test_audits_during_stores_keep_the_ledger_sound(tmp_path: Path) -> None:
    """An audit running while packages are stored: both finish, the ledger stays consistent."""
    import threading

    config = _stored(tmp_path, 2)
    errors: list[BaseException] = []
    stop = threading.Event()

    def audit_loop() -> None:
        try:
            while not stop.is_set():
                audit(config, locations=["replica"], full=True)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=audit_loop)
    thread.start()
    try:
        for index in range(10, 16):
            store(config, make_bag(tmp_path / "more", index))
    finally:
        stop.set()
        thread.join()
    assert not errors
    replicate(config)
    with Ledger(config.ledger_path) as ledger:
        assert ledger.integrity_check() == "ok"
        assert len(ledger.packages()) == 8
    assert audit(config, full=True).ok


def test_a_real_aip_is_stored_replicated_and_still_valid(
    sample_fonds: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    from oais_preserve import build_aip

    from .conftest import run_eark_validator

    scans, descriptions = sample_fonds
    aip = build_aip(descriptions[0], scans, tmp_path / "aip", workers=1)
    config = write_config(tmp_path)
    result = store(config, aip.path)
    assert not result.safe
    replica = replicate(config)[0]
    assert replica.safe
    with Ledger(config.ledger_path) as ledger:
        row = ledger.package(aip.objid)
        assert row is not None
        fonds = aip.objid.split(":")[1]
        assert row.fonds_code == fonds and row.hoso_code and row.created
        assert [p.objid for p in ledger.packages_of_fonds(fonds, 2)] == [aip.objid]
    assert run_bagit_validator(replica.path).returncode == 0
    checked = run_eark_validator(replica.path / "data")
    assert checked.returncode == 0 and "VALID" in checked.stdout, (
        checked.stdout[-2000:] + checked.stderr[-2000:]
    )
    assert audit(config, full=True).ok


def test_each_location_keeps_its_own_schedule(tmp_path: Path) -> None:
    config = _stored(tmp_path, 2)  # primary every 182 days, replica every 365
    with Ledger(config.ledger_path) as ledger, ledger.write() as db:
        db.execute("UPDATE copy_files SET last_checked=?", (time.time() - 200 * 86400,))
    first = audit(config)
    assert first.ok and first.files_checked > 0
    with Ledger(config.ledger_path) as ledger:
        checked = ledger.db.execute(
            "SELECT DISTINCT cf.location FROM checks k JOIN copy_files cf ON cf.id = k.copy_file_id"
        ).fetchall()
        assert checked == [("primary",)]  # the replica is not due before 365 days
        assert ledger.prune_checks(time.time() + 1) == first.files_checked  # successes can be forgotten
    assert audit(config).files_checked == 0  # nothing due any more


def test_hostile_archives_are_refused(tmp_path: Path) -> None:
    import io

    from oais_preserve.errors import UnsafePathError

    config = write_config(tmp_path)
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as archive:
        archive.writestr("bag/bagit.txt", "BagIt-Version: 1.0\n")
        archive.writestr("bag/../../escape.txt", "x")
    with pytest.raises(UnsafePathError, match="escapes"):
        store(config, slip)
    linked = tmp_path / "linked.tar"
    bag = make_bag(tmp_path / "bags", 3)
    with tarfile.open(linked, "w") as archive:
        archive.add(bag, arcname=bag.name)
        link = tarfile.TarInfo(f"{bag.name}/data/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link, io.BytesIO())
    with pytest.raises(InvalidPackageError) as caught:
        store(config, linked)
    assert any(p.rule == "special-file" for p in caught.value.problems)
    assert not (tmp_path / "escape.txt").exists()
    primary = config.locations["primary"].path
    assert [p.name for p in primary.iterdir()] == [LOCATION_MARKER]  # nothing stored


# --------------------------------------------------------------------------- review of issue 5


def _premis_events(events_dir: Path) -> list[tuple[str, str]]:
    """(eventType, eventOutcome) of every PREMIS event written beside a copy, oldest first."""
    out = []
    for path in sorted(events_dir.glob("*.xml")):
        tree = etree.parse(str(path))
        kind = tree.xpath("string(//*[local-name()='eventType'])")
        outcome = tree.xpath("string(//*[local-name()='eventOutcome'])")
        out.append((str(kind), str(outcome)))
    return out


def _zip_member_data_offset(path: Path, name_end: str) -> tuple[str, int, int]:
    """(member name, offset of its stored data, stored size) of the member whose name ends so."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(name_end))
    with open(path, "rb") as handle:
        handle.seek(info.header_offset + 26)
        name_length, extra_length = (
            int.from_bytes(handle.read(2), "little"),
            int.from_bytes(handle.read(2), "little"),
        )
    return info.filename, info.header_offset + 30 + name_length + extra_length, info.compress_size


def test_an_unmounted_location_is_refused_never_created(tmp_path: Path) -> None:
    config = write_config(tmp_path, init=False)
    bag = make_bag(tmp_path / "in", 1)
    with pytest.raises(UserInputError, match="does not exist"):
        store(config, bag)
    assert not config.locations["primary"].path.exists()  # no folder made on the wrong disk
    runner = CliRunner()
    conf = str(tmp_path / "storage.toml")
    stored = runner.invoke(main, ["store", "--config", conf, str(bag)])
    assert stored.exit_code == 2 and "init-location" in stored.output
    done = runner.invoke(main, ["init-location", "--config", conf, "primary", "replica"])
    assert done.exit_code == 0, done.output
    marker = json.loads((config.locations["replica"].path / LOCATION_MARKER).read_text(encoding="utf-8"))
    assert (marker["location"], marker["medium"]) == ("replica", "NAS-02")
    store(config, bag)
    # The NAS share goes away: its mount point is an empty folder on the system disk.
    replica = config.locations["replica"].path
    replica.rename(tmp_path / "nas-offline")
    results = replicate(config)
    assert [r.copied for r in results] == [False] and "does not exist" in results[0].error
    assert not replica.exists()
    replica.mkdir()
    with pytest.raises(UserInputError, match="marker"):
        audit(config, locations=["replica"])
    with pytest.raises(UserInputError, match="marker"):
        repair(config, locations=["replica"])
    assert "marker" in replicate(config)[0].error and list(replica.iterdir()) == []
    # Another disk, initialised as another location, mounted there: refused too.
    (replica / LOCATION_MARKER).write_text('{"location": "replica", "medium": "USB-7"}', encoding="utf-8")
    with pytest.raises(UserInputError, match="wrong disk"):
        store(config, bag, "replica")
    with pytest.raises(UserInputError, match="wrong disk"):
        init_location(config, "replica")
    (replica / LOCATION_MARKER).unlink()
    replica.rmdir()
    (tmp_path / "nas-offline").rename(replica)  # mounted again
    assert replicate(config)[0].copied
    assert all(s.safe for s in package_status(config))


def test_a_copy_missing_entirely_is_replicated_again(tmp_path: Path) -> None:
    config = _stored(tmp_path, 2)
    gone = _bags(config.locations["replica"].path)[0]
    shutil.rmtree(gone)
    found = audit(config, locations=["replica"], full=True)
    assert {f.outcome for f in found.failures} == {"missing"}
    fixed = repair(config)
    assert fixed.ok and fixed.repaired == [str(gone)]
    with Ledger(config.ledger_path) as ledger:
        kinds = [e[1] for e in ledger.events() if e[3] == "replica"]
    assert kinds[-1] == "replication" and "repair" not in kinds  # one staged copy, not file by file
    assert not list(config.locations["replica"].path.glob(".*.partial"))
    assert audit(config, full=True).ok
    assert all(s.safe for s in package_status(config))


def test_a_partial_file_left_by_a_killed_archive_store_is_cleaned(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bag = make_bag(tmp_path / "bags", 1)
    archive_path = tmp_path / f"{bag.name}.tar"
    with tarfile.open(archive_path, "w") as archive:
        archive.add(bag, arcname=bag.name)
    for location in config.locations.values():  # what kill -9 mid-copy leaves: a file
        (location.path / f".{archive_path.name}.partial").write_bytes(b"half a tar")
    assert store(config, archive_path).copied
    assert [r.copied for r in replicate(config)] == [True]
    for location in config.locations.values():
        assert not (location.path / f".{archive_path.name}.partial").exists()
    assert audit(config, full=True).ok


def test_an_unrecorded_copy_in_place_is_verified_and_recorded(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bags = [make_bag(tmp_path / "in", index) for index in range(3)]
    for bag in bags:
        store(config, bag, "primary")
    replica = config.locations["replica"].path
    # Killed between publish() and the ledger commit: whole copies in place, not recorded.
    shutil.copytree(bags[0], replica / bags[0].name)
    shutil.copytree(bags[1], replica / bags[1].name)
    changed = next((replica / bags[1].name).glob("data/representations/rep1/data/*.bin"))
    _flip_bit(changed, random.Random(5))
    results = {r.objid: r for r in replicate(config)}
    objids = sorted(results)
    assert results[objids[0]].copied and not results[objids[0]].error
    assert not results[objids[1]].copied and "differs" in results[objids[1]].error
    assert results[objids[2]].copied  # the run carried on after the bad one
    with Ledger(config.ledger_path) as ledger:
        held = {p.objid: {c.location for c in ledger.copies(p.id)} for p in ledger.packages()}
    assert held == {
        objids[0]: {"primary", "replica"},
        objids[1]: {"primary"},
        objids[2]: {"primary", "replica"},
    }
    assert (replica / bags[1].name).is_dir()  # left untouched for a person to look at
    runner = CliRunner()
    cli = runner.invoke(main, ["replicate", "--config", str(tmp_path / "storage.toml"), "--json"])
    assert cli.exit_code == 1
    assert [f["objid"] for f in json.loads(cli.output)["failed"]] == [objids[1]]
    # store: the same when the package is stored again after a crash.
    other = make_bag(tmp_path / "in", 7)
    shutil.copytree(other, config.locations["primary"].path / other.name)
    assert store(config, other, "primary").copied
    assert audit(config, full=True).ok


def test_a_resumed_full_audit_keeps_what_the_killed_run_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oais_preserve import audits

    config = _stored(tmp_path, 2)
    bag = _bags(config.locations["primary"].path)[0]
    victim = sorted(bag.glob("data/representations/rep1/data/*.bin"))[0]
    _flip_bit(victim, random.Random(1))

    def killed(run: object) -> None:  # the last batch is committed, then kill -9
        raise KeyboardInterrupt

    monkeypatch.setattr(audits, "_finish_copies", killed)
    with pytest.raises(KeyboardInterrupt):
        audit(config, locations=["primary"], full=True)
    monkeypatch.undo()
    resumed = audit(config, locations=["primary"], full=True)
    assert [(f.outcome, f.path) for f in resumed.failures] == [("changed", str(victim))]
    events = _premis_events(config.locations["primary"].path / f"{bag.name}.events")
    assert [e for e in events if e[0] == "fixity check"] == [("fixity check", "failure")]
    states = {
        (c[0], c[1]) for s in package_status(config) for c in s.copies if s.objid.endswith(bag.name[-36:])
    }
    assert ("primary", "damaged") in states
    assert repair(config).ok
    assert audit(config, full=True).ok


def test_zip_bit_flips_are_found_member_by_member(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bags = tmp_path / "bags"
    for index, compression in ((1, zipfile.ZIP_STORED), (2, zipfile.ZIP_DEFLATED)):
        bag = make_bag(bags, index, files=8)
        with zipfile.ZipFile(tmp_path / f"{bag.name}.zip", "w", compression=compression) as archive:
            for path in sorted(bag.rglob("*")):
                archive.write(path, path.relative_to(bags).as_posix())
        store(config, tmp_path / f"{bag.name}.zip")
    replicate(config)
    flipped = []
    for stored in sorted(config.locations["replica"].path.glob("*.zip")):
        for end in ("001.bin", "005.bin"):
            name, offset, length = _zip_member_data_offset(stored, end)
            with open(stored, "r+b") as handle:
                handle.seek(offset + length // 2)
                byte = handle.read(1)
                handle.seek(offset + length // 2)
                handle.write(bytes([byte[0] ^ 0x08]))
            flipped.append(f"{stored}!{name.split('/', 1)[1]}")
        if "00000002" in stored.name:  # deflated: an invalid block type is a zlib.error, not a CRC error
            name, offset, _ = _zip_member_data_offset(stored, "003.bin")
            with open(stored, "r+b") as handle:
                handle.seek(offset)
                byte = handle.read(1)
                handle.seek(offset)
                handle.write(bytes([byte[0] | 0x06]))
            flipped.append(f"{stored}!{name.split('/', 1)[1]}")
    result = audit(config, full=True)
    assert sorted(f.path for f in result.failures) == sorted(flipped)
    assert {f.outcome for f in result.failures} == {"unreadable"}
    with Ledger(config.ledger_path) as ledger:
        assert {r.state for r in ledger.audit_runs()} == {"finished"}  # never left "running"
    assert repair(config).ok
    assert audit(config, full=True).ok


def test_links_appended_to_a_stored_tar_are_reported(tmp_path: Path) -> None:
    import io

    config = write_config(tmp_path)
    bag = make_bag(tmp_path / "bags", 1)
    archive_path = tmp_path / f"{bag.name}.tar"
    with tarfile.open(archive_path, "w") as archive:
        archive.add(bag, arcname=bag.name)
    store(config, archive_path)
    replicate(config)
    stored = config.locations["replica"].path / archive_path.name
    with tarfile.open(stored, "a") as archive:
        for kind, name in ((tarfile.SYMTYPE, "data/passwd"), (tarfile.LNKTYPE, "data/hard")):
            link = tarfile.TarInfo(f"{bag.name}/{name}")
            link.type, link.linkname = kind, "/etc/passwd"
            archive.addfile(link, io.BytesIO())
    result = audit(config, full=True)
    assert sorted((f.outcome, f.path.rsplit("!", 1)[1]) for f in result.failures) == [
        ("special-file", "data/hard"),
        ("special-file", "data/passwd"),
    ]
    assert {c for s in package_status(config) for c in s.copies} == {
        ("primary", "ok"),
        ("replica", "damaged"),
    }
    assert repair(config).ok  # the archive is replaced whole from the good copy
    assert audit(config, full=True).ok


def test_two_stores_of_one_new_package_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    config = write_config(tmp_path)
    bag = make_bag(tmp_path / "bags", 1)
    original = Ledger.package
    barrier = threading.Barrier(2)

    def slow_lookup(self: Ledger, objid: str) -> object:  # a busy disk widens the lookup/insert window
        found = original(self, objid)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)
        return found

    monkeypatch.setattr(Ledger, "package", slow_lookup)
    errors: list[BaseException] = []

    def run(location: str) -> None:
        try:
            store(config, bag, location)
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("primary", "replica")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [s.safe for s in package_status(config)] == [True]


def test_repair_takes_the_location_locks_and_clears_its_leftovers(tmp_path: Path) -> None:
    from oais_preserve.audits import _location_locks

    config = _stored(tmp_path, 1)
    bag = _bags(config.locations["replica"].path)[0]
    victim = sorted(bag.glob("data/representations/rep1/data/*.bin"))[0]
    _flip_bit(victim, random.Random(3))
    stale = [victim.with_name(f".{victim.name}.repair"), victim.with_name(f".{victim.name}.k3j9x.repair")]
    for path in stale:  # left by repairs killed mid-copy
        path.write_bytes(b"half")
    assert not audit(config, full=True).ok
    with _location_locks(config, ["replica"]), pytest.raises(UserInputError, match="audit or repair"):
        repair(config)
    with _location_locks(config, ["replica"]), pytest.raises(UserInputError, match="audit or repair"):
        audit(config, locations=["replica"])
    assert repair(config).ok
    assert not any(path.exists() for path in stale)
    assert audit(config, full=True).ok


def test_a_corrupt_ledger_and_boolean_settings_are_clear_errors(tmp_path: Path) -> None:
    config = _stored(tmp_path, 1)
    for path in config.ledger_path.parent.iterdir():
        path.unlink()
    config.ledger_path.write_bytes(b"this is not a SQLite file, it was overwritten" * 100)
    result = CliRunner().invoke(main, ["copies", "--config", str(tmp_path / "storage.toml")])
    assert result.exit_code == 2
    assert "cannot open the ledger" in result.output and "Traceback" not in result.output
    assert "internal error" not in result.output
    for setting in (
        "min_copies = true",
        "min_copies = 2\n[locations.a]\npath = 'a'\naudit_every_days = false",
    ):
        bad = tmp_path / "bool.toml"
        bad.write_text(setting + ("\n[locations.b]\npath = 'b'\n" if "locations" not in setting else ""))
        with pytest.raises(UserInputError, match="must be"):
            load_storage_config(bad)


def test_the_audits_module_is_not_shadowed_by_the_function() -> None:
    import importlib
    import inspect

    import oais_preserve

    module = importlib.import_module("oais_preserve.audits")
    assert inspect.ismodule(module) and module.audit is oais_preserve.audit
    assert callable(oais_preserve.audit) and not inspect.ismodule(oais_preserve.audit)
