"""BagIt writer and validator: conformance suite, round trips, tampering, hostile bags."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import bagit
import pytest

from oais_preserve.bag import (
    BagReport,
    PayloadEntry,
    check_bag_against,
    human_size,
    read_bag_info,
    validate_bag,
    write_bag_tags,
)
from oais_preserve.errors import InvalidPackageError, Problem, UnsafePathError, UserInputError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SUITE = SHARED / "corpora" / "bagit-conformance-suite"
EXPECTED_TSV = SUITE / "EXPECTED.tsv"

# --------------------------------------------------------------------------- conformance suite

# The rule that must explain each failing suite bag (by bag name); out-of-scope-* bags: unsafe-path.
FAILURE_RULES = {
    "baginfo-missing-encoding": "bagit-txt",
    "bom-in-bagit.txt": "bagit-txt",
    "corrupt-data-file": "changed",
    "corrupt-tag-file": "tag-changed",
    "extra-file-in-bag": "extra",
    "invalid-version-number": "bagit-txt",
    "missing-baginfo": "tag-missing",
    "missing-bagit.txt": "bagit-txt",
    "same-filename-listed-twice-with-different-hashes": "duplicate",
    "same-filename-listed-twice-with-the-same-hash": "duplicate",
    "bagit-with-invalid-whitespace": "bagit-txt",
    "notAllManifestsListAllFiles": "extra",
}
# The warning each "warning" bag must raise.
WARNING_RULES = {
    "duplicate-file-with-different-case": "case-collision",
    "made-with-md5sum-tools": "md5sum-marker",
    "relative-path": "relative-path",
    "same-filename-listed-twice-with-different-normalization": "nfc-collision",
    "same-filename-listed-twice-with-the-same-hash": "duplicate",
    "special-system-files": "system-file",
}
# "warning" bags that cannot pass on Linux, as EXPECTED.tsv itself records: bag -> missing file.
LINUX_FAILURES = {
    # Case-sensitive file system: data/HELLO.txt really is absent (only data/hello.txt exists).
    "v0.97/warning/duplicate-file-with-different-case": "data/HELLO.txt",
    # The suite's git repository never held data/.DS_Store, so every checkout lacks it.
    "v0.97/warning/special-system-files": "data/.DS_Store",
}


@dataclass(frozen=True)
class SuiteRow:
    bag_dir: str
    category: str
    expectation: str


def _suite_rows() -> list[SuiteRow]:
    with EXPECTED_TSV.open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        return [
            SuiteRow(r["bag_dir"], r["suite_category"], r["suite_expectation"])
            for r in csv.DictReader(lines, delimiter="\t")
        ]


def _suite_params() -> list[object]:
    if not EXPECTED_TSV.is_file():
        reason = f"BagIt conformance suite not found: {EXPECTED_TSV}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="suite-missing")]
    return [pytest.param(row, id=row.bag_dir) for row in _suite_rows()]


def _rules(problems: Iterable[Problem]) -> set[str | None]:
    return {p.rule for p in problems}


@pytest.mark.parametrize("row", _suite_params())
def test_conformance_suite(row: SuiteRow) -> None:
    report = validate_bag(SUITE / row.bag_dir)
    name = row.bag_dir.rsplit("/", 1)[-1]
    if row.category == "valid":
        assert row.expectation.startswith("PASS")
        assert report.valid, report.problems
    elif row.category in ("invalid", "linux-only", "windows-only"):
        # windows-only bags have no Linux expectation; we refuse them everywhere so bags stay portable.
        assert row.expectation.startswith("FAIL")
        assert not report.valid
        assert FAILURE_RULES.get(name, "unsafe-path") in _rules(report.problems), report.problems
    else:
        assert row.category == "warning", row
        assert WARNING_RULES[name] in _rules(report.warnings), report.warnings
        missing = LINUX_FAILURES.get(row.bag_dir)
        if missing is None:
            assert report.valid, report.problems
        else:
            assert not report.valid
            assert ("missing", missing) in {(p.rule, p.where) for p in report.problems}


def test_conformance_suite_is_left_untouched() -> None:
    if not EXPECTED_TSV.is_file():
        pytest.skip(f"BagIt conformance suite not found: {EXPECTED_TSV}")
    before = sorted((str(p), p.stat().st_mtime_ns) for p in SUITE.rglob("*"))
    for row in _suite_rows():
        validate_bag(SUITE / row.bag_dir)
    assert sorted((str(p), p.stat().st_mtime_ns) for p in SUITE.rglob("*")) == before


def test_pre_096_package_info_is_read_with_a_warning() -> None:
    bag = SUITE / "v0.93" / "valid" / "basic-bag"
    if not bag.is_dir():
        pytest.skip(f"BagIt conformance suite not found: {bag}")
    info = read_bag_info(bag)
    assert info["Source-Organization"] == ["Spengler University"]
    assert info["External-Description"] == [
        "Uncompressed greyscale TIFF images from the Yoshimuri papers collection."
    ]
    report = validate_bag(bag)
    assert report.version == "0.93"
    assert {"old-version", "line-endings"} <= _rules(report.warnings)


# --------------------------------------------------------------------------- helpers


def _digests(content: bytes, algorithms: Sequence[str]) -> dict[str, str]:
    return {a: hashlib.new(a, content).hexdigest() for a in algorithms}


def make_bag(
    bag: Path,
    files: Mapping[str, bytes],
    algorithms: Sequence[str] = ("sha256",),
    info: Mapping[str, str | Sequence[str]] | None = None,
) -> dict[str, tuple[int, dict[str, str]]]:
    """Copy ``files`` (names may arrive NFD, as from macOS) into data/ as NFC, then write the tags.

    Returns what a builder records while copying: path -> (size, digests).
    """
    bag.mkdir(parents=True, exist_ok=True)
    built: dict[str, tuple[int, dict[str, str]]] = {}
    for name, content in files.items():
        path = unicodedata.normalize("NFC", f"data/{name}")
        target = bag / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        built[path] = (len(content), _digests(content, algorithms))
    entries = (PayloadEntry(p, size, d) for p, (size, d) in built.items())
    write_bag_tags(bag, entries, info or {"Source-Organization": "Chi cục Văn thư"}, algorithms=algorithms)
    return built


def where_rules(report: BagReport) -> set[tuple[str, str | None]]:
    return {(p.where, p.rule) for p in report.problems}


BASIC = {
    "a.txt": b"alpha\n",
    "b.txt": b"bravo\n",
    "c.txt": b"charlie\n",
    "sub/d.bin": bytes(range(256)) * 10,
}

# --------------------------------------------------------------------------- round trip

VIETNAMESE_NFD = unicodedata.normalize("NFD", "Hồ sơ số 1/Tài liệu lưu trữ.txt")


@pytest.mark.parametrize("algorithms", [("sha256",), ("sha256", "sha512")])
def test_round_trip_is_accepted_by_bagit_python_and_by_us(
    tmp_path: Path, algorithms: tuple[str, ...]
) -> None:
    files = {**BASIC, VIETNAMESE_NFD: "nội dung".encode(), "name with spaces.txt": b"x", "empty": b""}
    bag = tmp_path / "bag"
    make_bag(bag, files, algorithms, {"Source-Organization": "Lưu trữ", "Contact-Name": ["A", "B"]})

    bagit.Bag(str(bag)).validate()  # the real bagit-python agrees
    report = validate_bag(bag)
    assert report.valid, report.problems
    assert report.warnings == []
    assert report.files_checked == len(files)
    assert report.bytes_checked == sum(len(c) for c in files.values())
    assert report.version == "1.0"
    for name in algorithms:
        assert (bag / f"manifest-{name}.txt").is_file()
        assert (bag / f"tagmanifest-{name}.txt").is_file()


def test_bag_text_files_are_exact(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "data").mkdir()
    (bag / "data" / "x").write_bytes(b"12345")
    entries = [PayloadEntry("data/x", 5, _digests(b"12345", ["sha256"]))]
    write_bag_tags(bag, entries, {"Source-Organization": "Org"}, bagging_date=date(2024, 5, 6))
    assert (bag / "bagit.txt").read_bytes() == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    assert (bag / "bag-info.txt").read_text(encoding="utf-8") == (
        "Source-Organization: Org\nBagging-Date: 2024-05-06\nBag-Size: 5 B\nPayload-Oxum: 5.1\n"
    )
    assert read_bag_info(bag) == {
        "Source-Organization": ["Org"],
        "Bagging-Date": ["2024-05-06"],
        "Bag-Size": ["5 B"],
        "Payload-Oxum": ["5.1"],
    }
    assert not [p for p in bag.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_vietnamese_nfd_names_are_stored_nfc(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, {VIETNAMESE_NFD: b"hs"})
    nfc = unicodedata.normalize("NFC", f"data/{VIETNAMESE_NFD}")
    manifest = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert manifest.endswith(f"  {nfc}\n")
    assert VIETNAMESE_NFD not in manifest
    assert (bag / nfc).is_file()
    assert validate_bag(bag).valid


def test_writer_refuses_nfd_paths(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    bag.mkdir()
    entry = PayloadEntry(f"data/{VIETNAMESE_NFD}", 1, _digests(b"x", ["sha256"]))
    with pytest.raises(UnsafePathError, match="NFC"):
        write_bag_tags(bag, [entry], {})
    assert not (bag / "manifest-sha256.txt").exists()


def test_percent_names_round_trip(tmp_path: Path) -> None:
    # RFC 8493 2.1.3: "%" is written as %25. bagit-python 1.9.0 does not decode %25, so this
    # bag is checked with our validator only; "%7E" must stay literal when reading.
    bag = tmp_path / "bag"
    make_bag(bag, {"50% off.txt": b"p", "%7Ename.txt": b"q", "a%25b": b"r"})
    manifest = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert "data/50%25 off.txt" in manifest
    assert "data/%257Ename.txt" in manifest
    assert "data/a%2525b" in manifest
    report = validate_bag(bag)
    assert report.valid, report.problems
    assert report.warnings == []


def test_newline_and_carriage_return_names_round_trip(tmp_path: Path) -> None:
    probe = tmp_path / "probe\nname"
    try:
        probe.write_bytes(b"")
    except OSError:
        pytest.skip("this file system does not allow line breaks in names")
    bag = tmp_path / "bag"
    make_bag(bag, {"line\nbreak.txt": b"n", "carriage\rreturn.txt": b"r", "plain.txt": b"p"})
    manifest = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert "data/line%0Abreak.txt" in manifest
    assert "data/carriage%0Dreturn.txt" in manifest
    bagit.Bag(str(bag)).validate()
    assert validate_bag(bag).valid


def test_tag_files_in_folders_are_covered_and_stale_manifests_removed(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "metadata" / "preservation").mkdir(parents=True)
    (bag / "metadata" / "preservation" / "premis.xml").write_text("<premis/>", encoding="utf-8")
    (bag / "METS.xml").write_text("<mets/>", encoding="utf-8")
    (bag / "manifest-md5.txt").write_text("stale\n", encoding="utf-8")
    make_bag(bag, BASIC)
    tagmanifest = (bag / "tagmanifest-sha256.txt").read_text(encoding="utf-8")
    assert "  metadata/preservation/premis.xml\n" in tagmanifest
    assert "  METS.xml\n" in tagmanifest
    assert not (bag / "manifest-md5.txt").exists()
    bagit.Bag(str(bag)).validate()
    report = validate_bag(bag)
    assert report.valid and report.warnings == []

    (bag / "metadata" / "preservation" / "premis.xml").write_text("<premis>edited</premis>", encoding="utf-8")
    assert ("metadata/preservation/premis.xml", "tag-changed") in where_rules(validate_bag(bag))


@pytest.mark.parametrize(
    ("info", "entry_path", "digests"),
    [
        ({"Payload-Oxum": "1.1"}, "data/x", None),
        ({"Bad:Label": "v"}, "data/x", None),
        ({"Label": "two\nlines"}, "data/x", None),
        ({}, "data/x", {"sha512": "0" * 128}),
        ({}, "data/x", {"sha256": "xyz"}),
    ],
)
def test_writer_rejects_bad_input(
    tmp_path: Path, info: dict[str, str], entry_path: str, digests: dict[str, str] | None
) -> None:
    entry = PayloadEntry(entry_path, 1, digests or _digests(b"x", ["sha256"]))
    with pytest.raises(UserInputError):
        write_bag_tags(tmp_path, [entry], info)


@pytest.mark.parametrize("path", ["data/../../etc/passwd", "/etc/passwd", "bagit.txt", "data//x", "~/x"])
def test_writer_rejects_unsafe_paths(tmp_path: Path, path: str) -> None:
    entry = PayloadEntry(path, 1, _digests(b"x", ["sha256"]))
    with pytest.raises(UnsafePathError):
        write_bag_tags(tmp_path, [entry], {})


def test_writer_rejects_duplicate_paths_and_unknown_algorithms(tmp_path: Path) -> None:
    entry = PayloadEntry("data/x", 1, _digests(b"x", ["sha256"]))
    with pytest.raises(UnsafePathError, match="twice"):
        write_bag_tags(tmp_path, [entry, entry], {})
    with pytest.raises(UserInputError, match="unsupported"):
        write_bag_tags(tmp_path, [entry], {}, algorithms=("crc32",))


def test_writer_refuses_symlinked_tag_files(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret", encoding="utf-8")
    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "notes.txt").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        make_bag(bag, BASIC)


def test_human_size() -> None:
    assert human_size(0) == "0 B"
    assert human_size(999) == "999 B"
    assert human_size(1_400_000_000) == "1.4 GB"
    assert human_size(42_600_000_000) == "42.6 GB"


def test_sparse_file_over_4_gib_sizes_without_hashing(tmp_path: Path) -> None:
    # Sizes and Payload-Oxum past 2**32 (field lesson: files over 4 GiB broke other tools).
    size = 4 * 2**30 + 123
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    with (bag / "data" / "big.bin").open("wb") as handle:
        handle.truncate(size)  # sparse: no disk space used
    built = {"data/big.bin": (size, {"sha256": "0" * 64})}  # digest never checked below
    write_bag_tags(bag, [PayloadEntry("data/big.bin", size, built["data/big.bin"][1])], {})
    assert read_bag_info(bag)["Payload-Oxum"] == [f"{size}.1"]
    assert read_bag_info(bag)["Bag-Size"] == ["4.3 GB"]
    assert validate_bag(bag, verify_payload=False).valid
    assert check_bag_against(bag, built) == []


# --------------------------------------------------------------------------- tampering


def _flip_byte(bag: Path) -> tuple[str, str]:
    target = bag / "data" / "a.txt"
    content = bytearray(target.read_bytes())
    content[0] ^= 0xFF
    target.write_bytes(bytes(content))
    return "data/a.txt", "changed"


def _delete_file(bag: Path) -> tuple[str, str]:
    (bag / "data" / "b.txt").unlink()
    return "data/b.txt", "missing"


def _add_file(bag: Path) -> tuple[str, str]:
    (bag / "data" / "sub" / "new.txt").write_bytes(b"intruder")
    return "data/sub/new.txt", "extra"


def _edit_manifest_line(bag: Path) -> tuple[str, str]:
    manifest = bag / "manifest-sha256.txt"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = ["0" * 64 + "  data/c.txt\n" if line.endswith("  data/c.txt\n") else line for line in lines]
    manifest.write_text("".join(lines), encoding="utf-8")
    return "data/c.txt", "changed"


def _edit_oxum(bag: Path) -> tuple[str, str]:
    info = bag / "bag-info.txt"
    text = info.read_text(encoding="utf-8")
    info.write_text(text.replace("Payload-Oxum: ", "Payload-Oxum: 9"), encoding="utf-8")
    return "bag-info.txt", "oxum"


TAMPERINGS = {
    "flip-byte": _flip_byte,
    "delete-file": _delete_file,
    "add-file": _add_file,
    "edit-manifest-line": _edit_manifest_line,
    "edit-payload-oxum": _edit_oxum,
}
# Side effects that must be reported too: the oxum covers the payload, the tag manifests the tags.
CONSEQUENCES = {
    "delete-file": {("bag-info.txt", "oxum")},
    "add-file": {("bag-info.txt", "oxum")},
    "edit-manifest-line": {("manifest-sha256.txt", "tag-changed")},
    "edit-payload-oxum": {("bag-info.txt", "tag-changed")},
}


@pytest.mark.parametrize("kind", list(TAMPERINGS))
def test_each_tampering_is_reported_by_path(tmp_path: Path, kind: str) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    finding = TAMPERINGS[kind](bag)
    report = validate_bag(bag)
    assert not report.valid
    assert where_rules(report) == {finding} | CONSEQUENCES.get(kind, set())


def test_all_tamperings_are_reported_in_one_run(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    expected = {tamper(bag) for tamper in TAMPERINGS.values()}
    expected |= set().union(*CONSEQUENCES.values())
    report = validate_bag(bag)
    assert not report.valid
    assert where_rules(report) == expected


def test_changed_checksum_is_reported_per_algorithm(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC, ("sha256", "sha512"))
    _flip_byte(bag)
    changed = [p for p in validate_bag(bag).problems if p.rule == "changed"]
    assert sorted(p.message.split()[0] for p in changed) == ["sha256", "sha512"]
    assert all(p.where == "data/a.txt" for p in changed)


def test_verify_payload_false_checks_completeness_without_hashing(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    _flip_byte(bag)  # same size: only hashing could notice
    quick = validate_bag(bag, verify_payload=False)
    assert quick.valid and quick.bytes_checked == 0 and quick.files_checked == len(BASIC)
    _delete_file(bag)
    assert ("data/b.txt", "missing") in where_rules(validate_bag(bag, verify_payload=False))


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_executor_gives_the_same_report(tmp_path: Path, pool: type[ThreadPoolExecutor]) -> None:
    bag = tmp_path / "bag"
    files = {f"f{i:03}.txt": f"file {i}\n".encode() * (i + 1) for i in range(150)}
    make_bag(bag, files, ("sha256", "md5"))
    (bag / "data" / "f007.txt").write_bytes(b"X" * len(files["f007.txt"]))
    calls: list[tuple[int, int]] = []
    with pool(max_workers=2) as executor:
        report = validate_bag(
            bag, executor=executor, progress=lambda done, total: calls.append((done, total))
        )
    sequential = validate_bag(bag)
    assert report.problems == sequential.problems
    assert {p.where for p in report.problems} == {"data/f007.txt"}
    assert report.bytes_checked == sequential.bytes_checked == sum(len(c) for c in files.values())
    assert calls[-1] == (150, 150)


# --------------------------------------------------------------------------- other defects


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(line)


def test_malformed_manifest_unsupported_algorithm_and_fetch_incomplete(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    _append_line(bag / "manifest-sha256.txt", "not-a-checksum-line\n")
    _append_line(bag / "manifest-sha256.txt", "abc  data/short.txt\n")
    (bag / "manifest-crc32.txt").write_text("00000000  data/a.txt\n", encoding="utf-8")
    digest = _digests(b"later", ["sha256"])["sha256"]
    _append_line(bag / "manifest-sha256.txt", f"{digest}  data/later.bin\n")
    (bag / "fetch.txt").write_text("https://example.org/later.bin 5 data/later.bin\n", encoding="utf-8")
    report = validate_bag(bag)
    rules = where_rules(report)
    assert ("manifest-sha256.txt", "manifest-syntax") in rules
    assert ("manifest-crc32.txt", "unsupported-algorithm") in rules
    assert ("data/later.bin", "fetch-incomplete") in rules
    assert ("data/later.bin", "missing") not in rules


def test_bagit_txt_defects_are_all_reported(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    (bag / "bagit.txt").write_bytes(b"\xef\xbb\xbfBagIt-Version: 2.x\n")
    messages = [p.message for p in validate_bag(bag).problems if p.rule == "bagit-txt"]
    assert any("byte-order mark" in m for m in messages)
    assert any("MAJOR.MINOR" in m for m in messages)
    assert any("Tag-File-Character-Encoding is missing" in m for m in messages)


def test_nfc_collision_on_disk(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, {"Tài liệu.txt": b"nfc"})
    nfd = unicodedata.normalize("NFD", "data/Tài liệu.txt")
    (bag / nfd).write_bytes(b"nfd")
    report = validate_bag(bag)
    assert (unicodedata.normalize("NFC", nfd), "nfc-collision") in where_rules(report)


def test_crlf_and_weak_algorithms_only_warn(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC, ("md5",))
    info = bag / "bag-info.txt"
    info.write_bytes(info.read_bytes().replace(b"\n", b"\r\n"))
    _rewrite_tag_manifest(bag, "md5")  # as a CRLF-writing tool would have
    report = validate_bag(bag)
    assert report.valid, report.problems
    assert {"line-endings", "weak-algorithm"} <= _rules(report.warnings)


def _rewrite_tag_manifest(bag: Path, algorithm: str) -> None:
    names = ["bagit.txt", "bag-info.txt", f"manifest-{algorithm}.txt"]
    lines = [f"{hashlib.new(algorithm, (bag / n).read_bytes()).hexdigest()}  {n}\n" for n in names]
    (bag / f"tagmanifest-{algorithm}.txt").write_text("".join(lines), encoding="utf-8")


def test_read_bag_info_refuses_malformed_file(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    _append_line(bag / "bag-info.txt", "no colon here\n")
    with pytest.raises(InvalidPackageError):
        read_bag_info(bag)
    assert ("bag-info.txt", "bag-info-syntax") in where_rules(validate_bag(bag))


def test_not_a_directory_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError):
        validate_bag(tmp_path / "absent")


# --------------------------------------------------------------------------- hostile bags


def _outside_secret(tmp_path: Path) -> tuple[Path, str]:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"do not read me\n")
    return secret, _digests(secret.read_bytes(), ["sha256"])["sha256"]


@pytest.mark.parametrize(
    "listed", ["data/../../secret.txt", "ABSOLUTE", "data/./../../secret.txt", "~/secret.txt"]
)
def test_unsafe_manifest_paths_are_refused_and_never_read(tmp_path: Path, listed: str) -> None:
    secret, digest = _outside_secret(tmp_path)
    listed = str(secret) if listed == "ABSOLUTE" else listed
    bag = tmp_path / "a" / "bag"
    make_bag(bag, BASIC)
    _append_line(bag / "manifest-sha256.txt", f"{digest}  {listed}\n")
    report = validate_bag(bag)
    assert not report.valid
    assert (listed, "unsafe-path") in where_rules(report)
    assert report.bytes_checked == sum(len(c) for c in BASIC.values())  # the secret was not hashed


def test_etc_passwd_is_refused(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    _append_line(bag / "manifest-sha256.txt", f"{'0' * 64}  data/../../etc/passwd\n")
    _append_line(bag / "manifest-sha256.txt", f"{'0' * 64}  /etc/passwd\n")
    rules = where_rules(validate_bag(bag))
    assert {("data/../../etc/passwd", "unsafe-path"), ("/etc/passwd", "unsafe-path")} <= rules
    assert not any(rule in ("changed", "missing") for _, rule in rules)


def test_symlinks_in_payload_are_refused_and_never_followed(tmp_path: Path) -> None:
    secret, digest = _outside_secret(tmp_path)
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    (bag / "data" / "link.txt").symlink_to(secret)
    (bag / "data" / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    # Listed with the secret's real digest: following the link would make it "verify".
    _append_line(bag / "manifest-sha256.txt", f"{digest}  data/link.txt\n")
    _append_line(bag / "manifest-sha256.txt", f"{digest}  data/linkdir/secret.txt\n")
    report = validate_bag(bag)
    assert not report.valid
    assert where_rules(report) == {
        ("data/link.txt", "symlink"),
        ("data/linkdir", "symlink"),
        ("manifest-sha256.txt", "tag-changed"),
    }
    assert report.bytes_checked == sum(len(c) for c in BASIC.values())


def test_special_files_are_refused(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this OS")
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    os.mkfifo(bag / "data" / "pipe")
    _append_line(bag / "manifest-sha256.txt", f"{'0' * 64}  data/pipe\n")
    report = validate_bag(bag)  # must not block on the FIFO
    assert ("data/pipe", "special-file") in where_rules(report)


def test_undecodable_names_are_refused(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    make_bag(bag, BASIC)
    bad = os.fsdecode(b"bad\xff.txt")  # not UTF-8: no manifest can list it
    (bag / "data" / bad).write_bytes(b"?")
    assert (f"data/{bad}", "extra") in where_rules(validate_bag(bag))
    (bag / "data" / bad).unlink()
    (bag / bad).write_bytes(b"?")
    with pytest.raises(UnsafePathError, match="not valid Unicode"):
        make_bag(bag, BASIC)


# --------------------------------------------------------------------------- check_bag_against


def test_check_bag_against_clean_bag(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    built = make_bag(bag, BASIC, ("sha256", "sha512"))
    assert check_bag_against(bag, built) == []


def test_check_bag_against_does_not_read_the_payload(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    built = make_bag(bag, BASIC)
    _flip_byte(bag)  # same size, different content: invisible without reading
    assert check_bag_against(bag, built) == []
    assert not validate_bag(bag).valid
    if os.geteuid() == 0:
        return  # root reads through chmod 000; the check above already proves it
    target = bag / "data" / "b.txt"
    target.chmod(0)
    try:
        assert check_bag_against(bag, built) == []
    finally:
        target.chmod(0o644)


def test_check_bag_against_detects_size_and_digest_disagreement(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    built = make_bag(bag, BASIC)
    wrong = dict(built)
    size, digests = built["data/a.txt"]
    wrong["data/a.txt"] = (size + 1, digests)
    wrong["data/b.txt"] = (built["data/b.txt"][0], {"sha256": "f" * 64})
    rules = {(p.where, p.rule) for p in check_bag_against(bag, wrong)}
    assert rules == {("data/a.txt", "size"), ("data/b.txt", "changed"), ("bag-info.txt", "oxum")}


def test_check_bag_against_detects_unlisted_and_missing_files(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    built = make_bag(bag, BASIC)
    (bag / "data" / "stray.txt").write_bytes(b"?")
    shutil.rmtree(bag / "data" / "sub")
    rules = {(p.where, p.rule) for p in check_bag_against(bag, built)}
    assert {("data/stray.txt", "extra"), ("data/sub/d.bin", "missing")} <= rules
