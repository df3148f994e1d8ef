"""Handover from the storage ledger; the ledger's handover tables; the report's ledger figures."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from oais_preserve import InvalidPackageError, UserInputError
from oais_preserve.audits import audit, repair
from oais_preserve.bag import read_bag_info
from oais_preserve.cli import main
from oais_preserve.handover import HandoverIncompleteError, Party, handover
from oais_preserve.handover_storage import select_stored_aips
from oais_preserve.handover_verify import verify_handover
from oais_preserve.ledger import _MIGRATIONS, SCHEMA_VERSION, Ledger
from oais_preserve.storage import StorageConfig, store
from oais_preserve.yearreport import COLUMNS, UNKNOWN, yearly_report

from .storage_helpers import make_bag, write_config

SENDER = Party("Trung tâm Lưu trữ lịch sử tỉnh Thái Nguyên", "Nguyễn Văn Thành", "Giám đốc")
RECEIVER = Party("Cục Văn thư và Lưu trữ nhà nước, Bộ Nội vụ")


def _bags_of(store_dir: Path, fonds: str) -> list[Path]:
    return [
        bag
        for bag in sorted(store_dir.iterdir())
        if read_bag_info(bag).get("Bag-Group-Identifier") == [fonds]
    ]


def _stored(tmp_path: Path, bags: list[Path], *, replicate: bool = True) -> StorageConfig:
    from oais_preserve.storage import replicate as replicate_all

    config = write_config(tmp_path)
    for bag in bags:
        store(config, bag)
    if replicate:
        replicate_all(config)
    return config


def _record(tar: Path) -> dict[str, Any]:
    from oais_preserve.yearreport import read_handover_record

    return read_handover_record(tar)


def _payload_files(bag: Path) -> list[Path]:
    return [p for p in sorted((bag / "data" / "representations").rglob("*")) if p.is_file()]


def _payload_file(bag: Path) -> Path:
    return _payload_files(bag)[0]


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_handover_from_storage_reads_good_copies_and_is_recorded(fonds_store: Path, tmp_path: Path) -> None:
    """Two AIPs, both replicated; the primary copy of each is damaged in a different way that no
    audit has seen yet: the handover falls back to the replica for both and says so."""
    bags = _bags_of(fonds_store, "P08")
    assert len(bags) == 2
    config = _stored(tmp_path, bags)
    primary = config.locations["primary"].path
    first, second = (primary / bag.name for bag in bags)
    _flip_byte(_payload_file(first))  # found while the payload is copied (digest from the ledger)
    _payload_file(second).unlink()  # found by the structural audit before anything is written

    out = tmp_path / "out"
    (result,) = handover(config, out, sender=SENDER, receiver=RECEIVER, fonds=["P08"], workers=1)

    assert result.storage is not None
    assert {c["location"] for c in result.storage["copies"]} == {"replica"}
    assert result.storage["below_minimum"] == [] and result.storage["min_copies"] == 2
    receipt = verify_handover(result.path)
    assert receipt.ok, receipt.problems
    assert sorted(p.name for p in out.iterdir()) == [result.path.name, f"{result.path.name}.sha256"]
    record = _record(result.path)
    assert record["storage"] == result.storage  # the biên bản states the copies and the rule
    with Ledger(config.ledger_path) as ledger:
        (row,) = ledger.handovers()
        assert (row.name, row.fonds_code, row.sha256, row.bytes) == (
            result.path.name.removesuffix(".tar"),
            "P08",
            result.sha256,
            result.path.stat().st_size,
        )
        assert row.below_minimum == 0 and row.min_copies == 2
        handed = ledger.handed_over_packages(row.id)
        objids = sorted(str(read_bag_info(bag)["External-Identifier"][0]) for bag in bags)
        assert [p.objid for p in handed] == objids
        assert {p.location for p in handed} == {"replica"} and {p.verified_copies for p in handed} == {2}
        # The ledger's hồ sơ codes are the record's mã hồ sơ: the report counts the same hồ sơ.
        assert {p.hoso_code for p in handed} == {p["arc_file_code"] for p in record["packages"]}
    # A re-run finds the tar in place and records nothing twice.
    (again,) = handover(config, out, sender=SENDER, receiver=RECEIVER, fonds=["P08"], workers=1)
    assert again.skipped
    with Ledger(config.ledger_path) as ledger:
        assert len(ledger.handovers()) == 1


def test_copies_found_damaged_by_an_audit_are_not_read(fonds_store: Path, tmp_path: Path) -> None:
    """An audit marks one copy damaged: that AIP is below the minimum (refused), its damaged copy
    is never read when the handover is allowed anyway, and after repair it is safe again."""
    from datetime import date

    bags = _bags_of(fonds_store, "P08")
    config = _stored(tmp_path, bags)
    target = config.locations["primary"].path / bags[0].name
    _flip_byte(_payload_file(target))
    assert not audit(config, full=True).ok  # the ledger now knows the primary copy is damaged
    with Ledger(config.ledger_path) as ledger:
        damaged = [c for c in ledger.copies() if c.state != "ok"]
        assert [(c.location, c.relpath) for c in damaged] == [("primary", bags[0].name)]
    objid = read_bag_info(bags[0])["External-Identifier"][0]
    out = tmp_path / "out"
    with pytest.raises(InvalidPackageError) as caught:
        handover(config, out, sender=SENDER, receiver=RECEIVER, fonds=["P08"], workers=1)
    assert [(p.where, p.rule, p.value) for p in caught.value.problems] == [
        (f"P08: {objid}", "min-copies", "1")
    ]

    (result,) = handover(
        config, out, sender=SENDER, receiver=RECEIVER, fonds=["P08"], allow_below_minimum=True, workers=1
    )
    assert result.storage is not None
    locations = {c["objid"]: c["location"] for c in result.storage["copies"]}
    assert locations[objid] == "replica"
    assert sorted(locations.values()) == ["primary", "replica"]  # the other AIP: its first location
    assert [b["objid"] for b in result.storage["below_minimum"]] == [objid]
    assert verify_handover(result.path).ok

    assert repair(config).ok and audit(config, full=True).ok
    (later,) = handover(
        config,
        out,
        sender=SENDER,
        receiver=RECEIVER,
        fonds=["P08"],
        handover_date=date(2030, 1, 2),
        workers=1,
    )
    assert later.storage is not None and later.storage["below_minimum"] == []
    assert {c["location"] for c in later.storage["copies"]} == {"primary"}


def test_every_copy_damaged_is_refused_and_nothing_is_written(fonds_store: Path, tmp_path: Path) -> None:
    bags = _bags_of(fonds_store, "P08")
    config = _stored(tmp_path, bags)
    for location in config.locations.values():
        _flip_byte(_payload_file(location.path / bags[1].name))
    out = tmp_path / "out"
    with pytest.raises(InvalidPackageError) as caught:
        handover(config, out, sender=SENDER, receiver=RECEIVER, fonds=["P08"], workers=1)
    (problem,) = caught.value.problems
    assert problem.rule == "copies" and "primary" in problem.message and "replica" in problem.message
    assert not out.exists()  # no tar, no partial, not even the folder the handover made
    with Ledger(config.ledger_path) as ledger:
        assert ledger.handovers() == []


def test_below_minimum_is_refused_unless_allowed_and_then_recorded(fonds_store: Path, tmp_path: Path) -> None:
    bags = _bags_of(fonds_store, "P07")[:2]
    config = _stored(tmp_path, bags, replicate=False)  # one copy each; the minimum is 2
    config_file = tmp_path / "storage.toml"
    out = tmp_path / "out"
    args = ["handover", "P07", str(out), "--storage", str(config_file), "--sender", SENDER.organization]
    args += ["--workers", "1"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1, refused.output
    assert refused.output.count("min-copies") == 2 and not list(out.glob("*.tar*"))

    allowed = CliRunner().invoke(main, [*args, "--allow-below-minimum", "--json"])
    assert allowed.exit_code == 0, allowed.output
    (entry,) = json.loads(allowed.output)["handovers"]
    tar = Path(entry["path"])
    record = _record(tar)
    storage = record["storage"]
    assert isinstance(storage, dict) and storage["allowed_below_minimum"] is True
    assert sorted(b["objid"] for b in storage["below_minimum"]) == sorted(
        read_bag_info(bag)["External-Identifier"][0] for bag in bags
    )
    assert {b["verified_copies"] for b in storage["below_minimum"]} == {1}
    assert verify_handover(tar).ok
    with Ledger(config.ledger_path) as ledger:
        (row,) = ledger.handovers()
        assert row.below_minimum == 2
    # The printed record says it too.
    with tarfile.open(tar) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("bien-ban-ban-giao.xlsx"))
        handle = archive.extractfile(member)
        assert handle is not None
        (tmp_path / "record.xlsx").write_bytes(handle.read())
    cells = [
        c for row in load_workbook(tmp_path / "record.xlsx").active.iter_rows(values_only=True) for c in row
    ]
    assert any(isinstance(c, str) and "chưa đủ 2 bản sao" in c for c in cells)


def test_a_fonds_not_ready_does_not_stop_the_others(fonds_store: Path, tmp_path: Path) -> None:
    config = _stored(tmp_path, _bags_of(fonds_store, "P07")[:2])  # two verified copies each
    store(config, _bags_of(fonds_store, "P08")[0])  # one copy only: below the minimum
    with pytest.raises(InvalidPackageError):  # the library call on its own still refuses the lot
        select_stored_aips(config, None)
    out = tmp_path / "out"
    with pytest.raises(HandoverIncompleteError) as caught:
        handover(config, out, sender=SENDER, receiver=RECEIVER, workers=1)
    (written,) = caught.value.written
    assert written.fonds_code == "P07" and list(caught.value.failures) == ["P08"]
    assert [p.rule for p in caught.value.problems] == ["fonds", "min-copies"]
    assert verify_handover(written.path, workers=1).ok
    with Ledger(config.ledger_path) as ledger:
        assert [row.fonds_code for row in ledger.handovers()] == ["P07"]


def test_handover_cli_needs_exactly_one_source(tmp_path: Path, fonds_store: Path) -> None:
    config = write_config(tmp_path)
    runner = CliRunner()
    base = ["handover", "P08", str(tmp_path / "out"), "--sender", "X"]
    both = runner.invoke(
        main, [*base, "--storage", str(tmp_path / "storage.toml"), "--store", str(fonds_store)]
    )
    assert both.exit_code == 2 and "not both" in both.output
    assert runner.invoke(main, base).exit_code == 2
    allow = runner.invoke(main, [*base, "--store", str(fonds_store), "--allow-below-minimum"])
    assert allow.exit_code == 2 and "needs --storage" in allow.output
    empty = runner.invoke(main, [*base, "--storage", str(tmp_path / "storage.toml")])
    assert empty.exit_code == 2 and "holds no AIP of fonds: P08" in empty.output
    assert config.ledger_path.exists()
    # The environment's configuration gives way to an explicit --store.
    env = runner.invoke(
        main,
        [*base, "--store", str(fonds_store), "--workers", "1", "--json"],
        env={"OAIS_STORAGE_CONFIG": str(tmp_path / "storage.toml")},
    )
    assert env.exit_code == 0, env.output
    assert json.loads(env.output)["handovers"][0]["storage"] is None


def test_old_ledger_is_upgraded_in_place(tmp_path: Path) -> None:
    """A ledger written by the first schema gains the handover tables and keeps everything."""
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.execute(
        "INSERT INTO packages (objid, name, fonds_code, payload_bytes, payload_files, registered)"
        " VALUES ('urn:P07:uuid:1', 'b1', 'P07', 10, 1, '2025-03-01T00:00:00+07:00')"
    )
    db.execute(
        "INSERT INTO events (at, kind, package_id, outcome)"
        " VALUES ('2025-03-01T00:00:00+07:00', 'store', 1, 'success')"
    )
    db.commit()
    db.close()
    assert SCHEMA_VERSION == 2
    with Ledger(path) as ledger:
        assert ledger.schema_version == 2
        assert [p.objid for p in ledger.packages()] == ["urn:P07:uuid:1"]
        assert len(ledger.events()) == 1
        assert ledger.handovers() == []
        assert ledger.integrity_check() == "ok"
        tables = {r[0] for r in ledger.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"handovers", "handover_packages"} <= tables
    with Ledger(path) as ledger:  # opening again migrates nothing twice
        assert ledger.schema_version == 2


# --- the yearly report from the ledger -------------------------------------------------------------


def _independent_counts(ledger_path: Path, year: int) -> dict[str, dict[str, int]]:
    """The ledger figures the report must show, counted here with plain SQL."""
    db = sqlite3.connect(ledger_path)
    y = str(year)
    fonds = [r[0] for r in db.execute("SELECT DISTINCT fonds_code FROM packages")]
    counts: dict[str, dict[str, int]] = {}
    for code in fonds:
        package_ids = [r[0] for r in db.execute("SELECT id FROM packages WHERE fonds_code=?", (code,))]
        marks = ",".join("?" * len(package_ids))
        copy_ids = [
            r[0] for r in db.execute(f"SELECT id FROM copies WHERE package_id IN ({marks})", package_ids)
        ]
        copy_marks = ",".join("?" * len(copy_ids)) or "NULL"
        runs_of_year = {
            r[0] for r in db.execute("SELECT id FROM audit_runs WHERE started LIKE ?", (f"{y}-%",))
        }
        checks = db.execute(
            f"SELECT run_id, copy_id, path, outcome FROM checks WHERE copy_id IN ({copy_marks})", copy_ids
        ).fetchall()
        first_store = {}
        for package_id, at in db.execute(
            f"SELECT package_id, at FROM events WHERE kind IN ('store', 'reindex') AND outcome='success'"
            f" AND package_id IN ({marks}) ORDER BY at",
            package_ids,
        ):
            first_store.setdefault(package_id, at)
        counts[code] = {
            "stored": sum(1 for at in first_store.values() if at.startswith(y)),
            "copies_held": db.execute(
                f"SELECT COUNT(*) FROM copies WHERE state='ok' AND package_id IN ({marks})", package_ids
            ).fetchone()[0],
            "audits": len({run for run, _c, _p, _o in checks if run in runs_of_year}),
            "problems_found": len({(c, p) for run, c, p, o in checks if run in runs_of_year and o != "ok"}),
            "problems_repaired": db.execute(
                f"SELECT COUNT(*) FROM events WHERE kind='repair' AND outcome='success' AND at LIKE ?"
                f" AND package_id IN ({marks})",
                (f"{y}-%", *package_ids),
            ).fetchone()[0],
        }
    db.close()
    return counts


def test_report_figures_match_the_ledger(tmp_path: Path) -> None:
    """A generated year: two fonds stored and replicated, audits with bit rot, repairs, a handover."""
    from oais_preserve.profile import now

    year = now().year
    source = tmp_path / "bags"
    bags = [make_bag(source, i, fonds="H49" if i < 4 else "H50") for i in range(6)]
    config = write_config(tmp_path)
    from oais_preserve.storage import replicate

    for bag in bags:
        store(config, bag)
    replicate(config)
    assert audit(config, full=True).ok
    for index in (0, 1, 4):
        _flip_byte(_payload_file(config.locations["replica"].path / bags[index].name))
    _payload_files(config.locations["primary"].path / bags[0].name)[-1].unlink()  # another file
    found = audit(config, full=True)
    assert len(found.failures) == 5  # 3 changed, 1 missing, and the missing file's Payload-Oxum
    assert repair(config).ok
    assert audit(config, full=True).ok
    with Ledger(config.ledger_path) as ledger:  # a handover recorded by an earlier tool run
        from oais_preserve.ledger import HandedOverPackage

        ledger.record_handover(
            name=f"BGNV_H50_{year}0301",
            fonds_code="H50",
            handover_date=f"{year}-03-01",
            path="/elsewhere/BGNV_H50.tar",
            sha256="0" * 64,
            size=1,
            receiver="Bộ Nội vụ",
            min_copies=2,
            packages=[HandedOverPackage("urn:H50:uuid:x", "H50.01.004", "primary", 2)],
            recorded=f"{year}-03-01T10:00:00+07:00",
        )
        ledger.record_handover(  # another year: not counted
            name=f"BGNV_H50_{year - 1}0301",
            fonds_code="H50",
            handover_date=f"{year - 1}-03-01",
            path="/elsewhere/old.tar",
            sha256="1" * 64,
            size=1,
            receiver="Bộ Nội vụ",
            min_copies=2,
            packages=[HandedOverPackage("urn:H50:uuid:y", "H50.01.005", "primary", 2)],
            recorded=f"{year - 1}-03-01T10:00:00+07:00",
        )
    expected = _independent_counts(config.ledger_path, year)
    assert expected["H49"] == {
        "stored": 4,
        "copies_held": 8,
        "audits": 3,
        "problems_found": 4,  # the Oxum mismatch is found too; it needs no repair of its own
        "problems_repaired": 3,
    }
    assert expected["H50"]["problems_found"] == 1 and expected["H50"]["problems_repaired"] == 1

    out = tmp_path / "report"
    no_aips = tmp_path / "no-aips"  # the helper bags are not AIPs: the package columns stay empty here
    no_aips.mkdir()
    args = [
        "report",
        "--year",
        str(year),
        "--storage",
        str(tmp_path / "storage.toml"),
        "--store",
        str(no_aips),
    ]
    result = CliRunner().invoke(main, [*args, str(out), "--json"])
    assert result.exit_code == 0, result.output
    book = load_workbook(out / f"bao-cao-{year}.xlsx", read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    headers = ["STT", *(h for _k, h in COLUMNS)]
    start = next(i for i, row in enumerate(rows) if list(row[: len(headers)]) == headers)
    by_fonds = {row[1]: dict(zip(headers, row, strict=False)) for row in rows[start + 1 :] if row[0]}
    assert set(by_fonds) == {"H49", "H50"}
    names = dict(COLUMNS)
    for code, figures in expected.items():
        for key, value in figures.items():
            assert by_fonds[code][names[key]] == value, (code, key)
        assert by_fonds[code][names["selected"]] == UNKNOWN  # still no source: never a made-up 0
    assert by_fonds["H50"][names["handed_over"]] == 1 and by_fonds["H49"][names["handed_over"]] == 0
    data = json.loads((out / f"bao-cao-{year}.json").read_text(encoding="utf-8"))
    assert [h["name"] for h in data["handovers"]] == [f"BGNV_H50_{year}0301.tar"]
    # three audit runs, each over both fonds: the total counts runs, not runs per fonds
    assert expected["H50"]["audits"] == 3 and data["totals"]["audits"] == 3
    for key in ("stored", "copies_held", "problems_found", "problems_repaired"):  # per package: sums
        assert data["totals"][key] == sum(figures[key] for figures in expected.values()), key

    # A year with nothing in the ledger: real zeros from the ledger, not "no data".
    quiet = yearly_report(year - 5, [], storage=config)
    assert {(r.fonds_code, r.audits, r.problems_found, r.stored) for r in quiet.rows} == {
        ("H49", 0, 0, 0),
        ("H50", 0, 0, 0),
    }


def test_report_counts_a_handover_once_from_tar_and_ledger(fonds_store: Path, tmp_path: Path) -> None:
    bags = _bags_of(fonds_store, "P08")
    config = _stored(tmp_path, bags)
    (result,) = handover(config, tmp_path / "out", sender=SENDER, receiver=RECEIVER, fonds=["P08"], workers=1)
    year = int(result.path.name.rsplit("_", 1)[1][:4])
    report = yearly_report(year, handovers=[result.path], storage=config)
    (row,) = [r for r in report.rows if r.fonds_code == "P08"]
    assert row.handed_over == 2 and len(report.handovers) == 1
    from_ledger = yearly_report(year, storage=config)  # no tar given, no AIP folder: the ledger alone
    (row,) = [r for r in from_ledger.rows if r.fonds_code == "P08"]
    assert row.handed_over == 2 and row.packaged == 2 and row.fonds_name
    assert [h["name"] for h in from_ledger.handovers] == [result.path.name]
    assert row.stored == 2 and row.copies_held == 4
    # the tar under another name is still that handover (same digest); a second handover of the
    # fonds in the year, recorded in the ledger, hands over the same two hồ sơ: still 2
    renamed = tmp_path / "elsewhere" / "ban-sao.tar"
    renamed.parent.mkdir()
    renamed.write_bytes(result.path.read_bytes())
    when = date(year, 1, 2) if result.path.name.endswith("0101.tar") else date(year, 1, 1)
    handover(config, tmp_path / "out", sender=SENDER, receiver=RECEIVER, handover_date=when, workers=1)
    twice = yearly_report(year, handovers=[result.path, renamed], storage=config)
    (row,) = [r for r in twice.rows if r.fonds_code == "P08"]
    assert row.handed_over == 2 and len(twice.handovers) == 2
    with pytest.raises(UserInputError):
        yearly_report(year)


def test_handover_on_a_dask_cluster_matches_the_local_one(fonds_store: Path, tmp_path: Path) -> None:
    """--scheduler: the audits of the copies run on the cluster's workers; same AIPs, same copies."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is the optional [dask] extra")
    bags = _bags_of(fonds_store, "P08")
    config = _stored(tmp_path, bags)
    _payload_files(config.locations["primary"].path / bags[1].name)[-1].unlink()  # the audit must see it
    local_out, remote_out = tmp_path / "local", tmp_path / "remote"
    (local,) = handover(config, local_out, sender=SENDER, receiver=RECEIVER, fonds=["P08"], workers=2)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        args = ["handover", "P08", str(remote_out), "--storage", str(tmp_path / "storage.toml")]
        args += ["--sender", SENDER.organization, "--scheduler", cluster.scheduler_address, "--json"]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (remote,) = json.loads(result.output)["handovers"]
    assert remote["storage"] == local.storage
    assert {c["location"] for c in remote["storage"]["copies"]} == {"primary", "replica"}
    key = sorted((p["name"], p["sha256"]) for p in _record(Path(remote["path"]))["packages"])
    assert key == sorted((p.name, p.sha256) for p in local.packages)
    assert verify_handover(Path(remote["path"])).ok


def test_selection_lists_fill_the_selected_column(fonds_store: Path, tmp_path: Path) -> None:
    """'Hồ sơ đã lựa chọn' counts the distinct hồ sơ per fonds on the lists `select` writes."""
    from oais_preserve.profile import now
    from oais_preserve.selection import SelectedHoSo, Selection, write_selection

    def item(fonds: str, code: str) -> SelectedHoSo:
        return SelectedHoSo(
            code, fonds, f"Phông {fonds}", "", f"Hồ sơ {code}", "", "", 2, 9, ("pre1975",), "list"
        )

    first = Selection([item("P07", "P07.01.1"), item("P07", "P07.01.2"), item("P09", "P09.02.7")])
    second = Selection([item("P07", "P07.01.2"), item("P07", "P07.01.3")])  # one hồ sơ on both lists
    xlsx, _csv = write_selection(first, tmp_path / "lua-chon-1")
    _xlsx, csv_en = write_selection(second, tmp_path / "lua-chon-2", lang="en")
    year = now().year
    out = tmp_path / "report"
    args = ["report", "--year", str(year), "--store", str(fonds_store)]
    result = CliRunner().invoke(main, [*args, "--selection", str(xlsx), "--selection", str(csv_en), str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / f"bao-cao-{year}.json").read_text(encoding="utf-8"))
    selected = {row["fonds_code"]: row["selected"] for row in data["fonds"]}
    assert selected == {"P07": 3, "P08": None, "P09": 1}  # P08 is on no list: no data, not 0
    not_a_list = tmp_path / "codes.csv"
    not_a_list.write_text("Mã hồ sơ\nP07.01.1\n", encoding="utf-8")
    refused = CliRunner().invoke(main, [*args, "--selection", str(not_a_list), str(out)])
    assert refused.exit_code == 2 and "not a selection list" in refused.output
