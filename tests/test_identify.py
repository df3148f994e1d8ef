"""Format identification: the same PUIDs as the real fido command line, faster, never stalled.

The corpus tests run the real ``fido`` CLI (opf-fido 1.6.1, bundled signatures) once per session
over the PRONOM skeleton suite and the real samples, and require our matches to equal its output.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from oais_preserve import identify as identify_module
from oais_preserve.errors import IdentificationError
from oais_preserve.identify import (
    BOF_SIZE,
    EOF_SIZE,
    FormatIdentifier,
    Identification,
    container_sequence_regex,
    default_identifier,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPORA = SHARED / "corpora"
SKELETON = CORPORA / "siegfried-testdata" / "cmd" / "sf" / "testdata" / "skeleton-suite"
SKELETON_EXPECTED = CORPORA / "siegfried-testdata" / "EXPECTED-skeleton-suite.tsv"
SAMPLES_EXPECTED = CORPORA / "FORMAT-SAMPLES-EXPECTED.tsv"
FIDO_WORKERS = 2
# fido's -nomatchprintf is broken in 1.6.1 (it never unescapes \n), so no-match lines use its
# default CSV format and only match lines are customised.
MATCH_FORMAT = "OK\\t%(info.puid)s\\t%(info.matchtype)s\\t%(info.filename)s\\n"


def need(path: Path) -> Path:
    """``path`` under ../shared, or skip naming what is missing."""
    if not path.exists():
        pytest.skip(f"{path} is absent (corpus tests need ../shared beside the repository)")
    return path


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a TSV whose '#' lines are comments and whose first other line is the header."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def skeleton_files() -> list[Path]:
    return sorted(p for p in need(SKELETON).rglob("*") if p.is_file())


def sample_files() -> list[Path]:
    return [CORPORA / row["path"] for row in read_tsv(need(SAMPLES_EXPECTED))]


# --------------------------------------------------------------------------- the real fido CLI


@dataclass(frozen=True)
class FidoResult:
    puids: tuple[str, ...]
    matchtype: str  # signature | container | extension | fail


def parse_fido_output(text: str) -> dict[str, FidoResult]:
    found: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("OK\t"):
            _, puid, matchtype, name = line.split("\t", 3)
            found.setdefault(name, []).append(puid)
            kinds[name] = matchtype
        elif line.startswith("KO,"):
            row = next(csv.reader(io.StringIO(line)))
            found.setdefault(row[6], [])
            kinds[row[6]] = "fail"
    return {name: FidoResult(tuple(puids), kinds[name]) for name, puids in found.items()}


def run_fido_cli(files: list[Path], workdir: Path) -> dict[str, FidoResult]:
    """The fido command line over ``files``, in parallel chunks; results keyed by path string."""
    chunks = [files[i::FIDO_WORKERS] for i in range(FIDO_WORKERS)]
    procs = []
    for number, chunk in enumerate(chunks):
        listing = workdir / f"fido-input-{number}.txt"
        listing.write_text("".join(f"{p}\n" for p in chunk), encoding="utf-8")
        cmd = [sys.executable, "-m", "fido.fido", "-q", "-matchprintf", MATCH_FORMAT, "-input", str(listing)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    results: dict[str, FidoResult] = {}
    for proc in procs:
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0, "the fido CLI failed"
        results.update(parse_fido_output(out))
    return results


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """An inter-process lock (POSIX); elsewhere each xdist worker simply runs fido itself."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def fido_cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FidoResult]:
    """fido's own answers for both corpora: one run of the real CLI per test session.

    Under pytest-xdist the workers share the run: the first one runs fido, the others wait for
    its results in the session's common temporary directory.
    """
    files = skeleton_files() + sample_files()
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    cache = shared / "fido-cli-results.json"
    with exclusive(shared / "fido-cli.lock"):
        if cache.exists():
            raw = json.loads(cache.read_text(encoding="utf-8"))
            results = {name: FidoResult(tuple(puids), kind) for name, (puids, kind) in raw.items()}
        else:
            results = run_fido_cli(files, tmp_path_factory.mktemp("fido"))
            raw = {name: [list(r.puids), r.matchtype] for name, r in results.items()}
            cache.write_text(json.dumps(raw), encoding="utf-8")
    missing = [str(p) for p in files if str(p) not in results]
    assert not missing, f"fido printed nothing for {missing[:5]}"
    return results


@pytest.fixture(scope="session")
def identifier() -> FormatIdentifier:
    return default_identifier()


def compare(files: list[Path], fido: dict[str, FidoResult], ident: FormatIdentifier) -> list[str]:
    """Differences between our matches and fido's (PUID set, then order), one line per file."""
    problems = []
    for path in files:
        ours = tuple(m.puid for m in ident.identify_path(path).matches)
        theirs = fido[str(path)].puids
        if set(ours) != set(theirs) or ours != theirs:
            problems.append(f"{path}: ours {ours} fido {theirs}")
    return problems


# --------------------------------------------------------------------------- corpus agreement


@pytest.mark.slow
def test_skeleton_suite_equals_fido_cli(
    fido_cli: dict[str, FidoResult], identifier: FormatIdentifier
) -> None:
    files = skeleton_files()
    assert len(files) == 2447
    problems = compare(files, fido_cli, identifier)
    assert not problems, f"{len(problems)} of {len(files)} differ:\n" + "\n".join(problems[:20])

    # Agreement with the documented expectation (the PUID in the file name), ours vs fido's.
    rows = read_tsv(need(SKELETON_EXPECTED))
    ours_hit = fido_hit = 0
    for row in rows:
        path = SKELETON / row["path(rel. to cmd/sf/testdata/skeleton-suite)"]
        ours_hit += row["expected_puid"] in {m.puid for m in identifier.identify_path(path).matches}
        fido_hit += row["expected_puid"] in fido_cli[str(path)].puids
    print(
        f"\nskeleton suite: {len(files)} files equal to fido CLI; expected PUID among matches: "
        f"ours {ours_hit}/{len(rows)}, fido {fido_hit}/{len(rows)}"
    )
    assert ours_hit == fido_hit


@pytest.mark.slow
def test_real_samples_equal_fido_cli(fido_cli: dict[str, FidoResult], identifier: FormatIdentifier) -> None:
    files = sample_files()
    problems = compare(files, fido_cli, identifier)
    assert not problems, f"{len(problems)} of {len(files)} differ:\n" + "\n".join(problems[:20])
    print(f"\nreal samples: {len(files)} files equal to fido CLI")


@pytest.mark.slow
def test_match_basis_follows_fido(fido_cli: dict[str, FidoResult], identifier: FormatIdentifier) -> None:
    basis = {"signature": "signature", "container": "container", "extension": "extension", "fail": "none"}
    wrong = []
    for path in skeleton_files()[::7] + sample_files():
        result = identifier.identify_path(path)
        fido = fido_cli[str(path)]
        if result.basis != basis[fido.matchtype]:
            wrong.append(f"{path}: {result.basis} vs fido {fido.matchtype}")
    assert not wrong, "\n".join(wrong[:20])


def mutated_corpus(root: Path, count: int = 120, seed: int = 5) -> list[Path]:
    """Truncated and byte-flipped skeleton files plus random and text blobs: partial matches."""
    rng = random.Random(seed)
    sources = rng.sample(skeleton_files(), count)
    made = []
    for number, source in enumerate(sources):
        data = bytearray(source.read_bytes())
        half = root / f"{number}-half-{source.name}"
        half.write_bytes(bytes(data[: len(data) // 2]))
        for _ in range(3):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        flipped = root / f"{number}-flip-{source.name}"
        flipped.write_bytes(bytes(data))
        made += [half, flipped]
    for number in range(40):
        blob = root / f"blob-{number}.{rng.choice(['bin', 'txt', 'pdf', 'doc', 'xml', ''])}"
        text = " ".join(
            rng.choice(["<?xml", "<html>", "%PDF-1.", "PK", "0\n", "word", "\x00"]) for _ in range(50)
        )
        blob.write_bytes(rng.randbytes(rng.randint(0, 3000)) if number % 2 else text.encode())
        made.append(blob)
    return made


@pytest.mark.slow
def test_mutated_files_equal_fido_in_process(tmp_path: Path, identifier: FormatIdentifier) -> None:
    """Near misses exercise the pruning: same results as fido's own identify_file, in-process."""
    from fido import CONFIG_DIR
    from fido.fido import Fido

    printed: list[tuple[str, ...]] = []

    def collect(name: str, matches: list[tuple[Any, str]], delta: float, matchtype: str = "") -> None:
        printed.append(tuple(fmt.find("puid").text for fmt, _ in matches))

    fido = Fido(
        quiet=True,
        handle_matches=collect,
        conf_dir=CONFIG_DIR,
        format_files=["formats-v109.xml", "format_extensions.xml"],
    )
    files = mutated_corpus(tmp_path)
    differ = []
    with contextlib.redirect_stderr(io.StringIO()):
        for path in files:
            printed.clear()
            try:
                fido.identify_file(str(path))
            except Exception:  # fido crashes on some corrupt ZIPs: it reports nothing then
                assert not printed
            theirs = printed[0] if printed else ()  # nothing printed: fido's own error handler
            ours = tuple(m.puid for m in identifier.identify_path(path).matches)
            if len(printed) > 1 or ours != theirs:
                differ.append(f"{path.name}: ours {ours} fido {printed}")
    assert not differ, "\n".join(differ[:20])


# --------------------------------------------------------------------------- fido's own pieces


def test_container_sequences_convert_like_fido() -> None:
    import xml.etree.ElementTree as ET

    from fido import CONFIG_DIR
    from fido.fido import Fido

    root = ET.parse(Path(CONFIG_DIR) / "container-signature-20200121.xml").getroot()
    sequences = [e.text or "" for e in root.iter("Sequence")]
    quirks = ["[00:FF] 'a'", "['6'-'7'] 00", "[&01][&01]", "'x' [22 27] 'y'", "0D0A ['a' 'b']", "'é'"]
    assert len(sequences) > 100
    for sequence in sequences + quirks:
        # convert_container_sequence does not use its instance; no need to load fido's formats.
        assert container_sequence_regex(sequence) == Fido.convert_container_sequence(None, sequence)


def test_regex_widths_agree_with_python() -> None:
    """The EOF search windows rest on our reading of each regex; check it against re's parser."""
    parser = pytest.importorskip("re._parser")
    import xml.etree.ElementTree as ET

    from fido import CONFIG_DIR

    root = ET.parse(Path(CONFIG_DIR) / "formats-v109.xml").getroot()
    sources = [(p.findtext("regex") or "").encode() for p in root.iter("pattern")]
    for source in sources:
        node = identify_module._parse_regex(source)
        assert node is not None, source
        high = parser.parse(source).getwidth()[1]
        expected = None if high >= parser.MAXREPEAT else high
        assert identify_module._max_width(node) == expected, source


# --------------------------------------------------------------------------- unit behaviour


def test_interface(identifier: FormatIdentifier) -> None:
    assert BOF_SIZE == EOF_SIZE == 131072
    assert identifier.tool_name == "fido"
    assert identifier.tool_version == "1.6.1"
    assert identifier.signature_version == "PRONOM v109; container-signature-20200121"
    assert default_identifier() is identifier


def test_empty_file_unknown_extension_is_unknown(identifier: FormatIdentifier) -> None:
    result = identifier.identify(b"", b"", name="nothing.qqqzz", size=0)
    assert (result.puid, result.status, result.basis, result.matches) == (None, "unknown", "none", ())
    assert "empty file" in result.note


def test_empty_file_known_extension_is_tentative(identifier: FormatIdentifier) -> None:
    # fido never trusts signatures on an empty file (its RTF "\A\Z" hack would match).
    result = identifier.identify(b"", b"", name="empty.jp2", size=0)
    assert result.basis == "extension"
    assert result.status == "tentative"
    assert result.puid == "x-fmt/392"


def test_unknown_bytes_are_unknown(identifier: FormatIdentifier) -> None:
    data = b"\x8f\x13oais-preserve: no format has this\x00\x01" * 10
    result = identifier.identify(data, data, name="blob", size=len(data))
    assert (result.puid, result.status, result.basis) == (None, "unknown", "none")
    assert result.format_name is None and result.matches == ()


def test_extension_only_match_is_tentative(identifier: FormatIdentifier) -> None:
    data = b"\x8f\x13 not really a PDF \x00" * 4
    result = identifier.identify(data, data, name="report.PDF", size=len(data))
    assert result.basis == "extension"
    assert result.status == "tentative"
    assert result.puid == result.matches[0].puid
    assert all(m.basis == "extension" for m in result.matches)
    assert len({m.puid for m in result.matches}) > 1  # fido offers every PDF version
    assert "extension match only" in result.note


def test_signature_match_is_identified(identifier: FormatIdentifier) -> None:
    data = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    result = identifier.identify(data, data, name="a.bin", size=len(data))
    assert (result.puid, result.status, result.basis) == ("fmt/18", "identified", "signature")
    assert result.format_name == "Acrobat PDF 1.4 - Portable Document Format"
    assert result.mime_type == "application/pdf"


def fake_ooxml_word() -> bytes:
    """Bytes matching only fido's own fido-fmt/189.word signature (no real ZIP behind them)."""
    head = b"PK\x03\x04" + b"\x00" * 26 + b"[Content_Types].xml \xa2" + b"\x00" * 64
    return head + b"\x00\x00word/document.xmlPK\x01\x02\x2d" + b"\x00" * 40


def test_fido_fmt_ids_never_become_the_puid(identifier: FormatIdentifier) -> None:
    data = fake_ooxml_word()
    result = identifier.identify(data, data, name="letter.docx", size=len(data))
    assert [m.puid for m in result.matches] == ["fido-fmt/189.word"]
    assert result.puid is None
    assert result.status == "tentative"
    assert "fido-fmt/189.word" in result.note and "not a PRONOM PUID" in result.note


def test_fido_fmt_ids_on_real_files(identifier: FormatIdentifier) -> None:
    for path in sample_files() + skeleton_files():
        result = identifier.identify_path(path)
        assert result.puid is None or not result.puid.startswith("fido-fmt/"), path


def test_time_limit_gives_incomplete() -> None:
    ident = FormatIdentifier(time_limit=0.0)
    data = b"%PDF-1.4\n" + bytes(range(256)) * 600
    started = time.perf_counter()
    result = ident.identify(data[:BOF_SIZE], data[-EOF_SIZE:], name="slow.pdf", size=len(data))
    assert time.perf_counter() - started < 1.0
    assert result.status == "incomplete"
    assert "time limit 0 s reached" in result.note


# DXF-like text on which fido's DXF "VAR" regexes backtrack over the whole 128 KiB buffer from
# each of 6,000 start positions: several seconds per regex, in fido as in plain ``re``.
PATHOLOGICAL_DXF = b"0\r\nENDSEC\r\n9\r\n$ACADVER\r\n" + b"0\r\nSECTION\r\n  2\r\nHEADER\r\n" * 6000


def test_time_limit_stops_a_single_catastrophic_regex() -> None:
    """In the main thread the limit interrupts the regex itself (SIGALRM), not just between patterns."""
    ident = FormatIdentifier(time_limit=0.3)
    data = PATHOLOGICAL_DXF
    started = time.perf_counter()
    results = [
        ident.identify(data[:BOF_SIZE], data[-EOF_SIZE:], name="x.dxf", size=len(data)) for _ in range(5)
    ]
    elapsed = time.perf_counter() - started
    assert [r.status for r in results] == ["incomplete"] * 5
    assert all(r.puid is None and "time limit 0.3 s reached" in r.note for r in results)
    if identify_module._alarm_usable():  # POSIX main thread, SIGALRM not taken by a plugin
        assert elapsed < 5 * 0.3 + 1.0


def test_time_limit_between_patterns_only() -> None:
    """Without the alarm (e.g. in a thread) the limit still ends the file after the running regex."""
    ident = FormatIdentifier(time_limit=0.3)
    ident.hard_time_limit = False
    data = PATHOLOGICAL_DXF
    started = time.perf_counter()
    result = ident.identify(data[:BOF_SIZE], data[-EOF_SIZE:], name="x.dxf", size=len(data))
    assert result.status == "incomplete"
    assert time.perf_counter() - started < 10.0


def test_literal_prechecks_avoid_hopeless_regexes(identifier: FormatIdentifier) -> None:
    """The same text without the literals the DXF regexes need is answered at once, exactly."""
    data = b"0\r\nSECTION\r\n  2\r\nHEADER\r\n" * 6000
    started = time.perf_counter()
    result = identifier.identify(data[:BOF_SIZE], data[-EOF_SIZE:], name="x.dxf", size=len(data))
    assert time.perf_counter() - started < 1.0
    assert (result.basis, result.status) == ("extension", "tentative")


# --------------------------------------------------------------------------- containers


def docx_and_xlsx() -> Iterator[tuple[Path, str]]:
    yield SKELETON / "containers" / "fmt-412-container-signature-id-1030.docx", "fmt/412"
    yield SKELETON / "containers" / "fmt-214-container-signature-id-2030.xlsx", "fmt/214"
    yield CORPORA / "siegfried-testdata/cmd/sf/testdata/benchmark/Benchmark.docx", "fmt/412"


@pytest.mark.parametrize(("path", "puid"), list(docx_and_xlsx()), ids=lambda v: getattr(v, "name", v))
def test_ooxml_container_detection(identifier: FormatIdentifier, path: Path, puid: str) -> None:
    data = need(path).read_bytes()
    assert identifier.wants_container(data[:BOF_SIZE])
    result = identifier.identify(
        data[:BOF_SIZE], data[-EOF_SIZE:], name=path.name, size=len(data), container=data
    )
    assert (result.puid, result.basis, result.status) == (puid, "container", "identified")
    assert identifier.identify_path(path) == result


def test_non_containers_do_not_ask_for_content(identifier: FormatIdentifier) -> None:
    assert not identifier.wants_container(b"%PDF-1.4\n")
    assert not identifier.wants_container(b"GIF89a" + b"\x00" * 20)
    assert identifier.wants_container(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff"
    )


def test_container_over_the_byte_cap_is_skipped_and_said() -> None:
    path = need(CORPORA / "siegfried-testdata/cmd/sf/testdata/benchmark/Benchmark.docx")
    ident = FormatIdentifier(max_container_bytes=1000)
    result = ident.identify_path(path)
    # What the BOF/EOF alone say (plain ZIP), with the status of that signature result.
    assert (result.puid, result.basis, result.status) == ("x-fmt/263", "signature", "identified")
    assert "container check skipped: file larger than 1000 bytes" in result.note


def test_container_member_over_the_byte_cap_is_incomplete() -> None:
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types>" + " " * 5000 + "</Types>")
        archive.writestr("word/document.xml", "<w:document/>")
    data = members.getvalue()
    ident = FormatIdentifier(max_container_bytes=1000)
    result = ident.identify(data, data, name="big.docx", size=len(data), container=data)
    assert result.status == "incomplete"
    assert "only the start was read" in result.note


def test_broken_zip_falls_back_to_signature(identifier: FormatIdentifier) -> None:
    data = b"PK\x03\x04" + b"\x00" * 100 + b"PK\x01\x02" + b"\x00" * 60 + b"PK\x05\x06" + b"\x00" * 18
    result = identifier.identify(data, data, name="broken.zip", size=len(data))
    assert result.basis == "signature"
    assert result.puid == "x-fmt/263"


def test_unreadable_container_reports_nothing_like_fido(tmp_path: Path, identifier: FormatIdentifier) -> None:
    """A ZIP whose central directory points before the file start: fido's read fails and it
    prints nothing for the file; we give no format either, and keep the signature result in the note."""
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    data = bytearray(members.getvalue())
    end = data.rfind(b"PK\x05\x06")
    stated = int.from_bytes(data[end + 16 : end + 20], "little")
    data[end + 16 : end + 20] = (stated + 1000).to_bytes(4, "little")  # local headers "before" byte 0
    raw = bytes(data)
    result = identifier.identify(raw, raw, name="broken.docx", size=len(raw), container=raw)
    assert (result.puid, result.status, result.matches) == (None, "unknown", ())
    assert "container not readable" in result.note and "x-fmt/263" in result.note

    from fido import CONFIG_DIR
    from fido.fido import Fido

    printed: list[object] = []
    fido = Fido(
        quiet=True,
        handle_matches=lambda *a: printed.append(a),
        conf_dir=CONFIG_DIR,
        format_files=["formats-v109.xml", "format_extensions.xml"],
    )
    path = tmp_path / "broken.docx"
    path.write_bytes(raw)
    with contextlib.redirect_stderr(io.StringIO()):
        fido.identify_file(str(path))
    assert printed == []


# --------------------------------------------------------------------------- configuration


def test_missing_conf_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(IdentificationError, match=r"versions\.xml"):
        FormatIdentifier(conf_dir=tmp_path)


def test_broken_signature_file_raises(tmp_path: Path) -> None:
    (tmp_path / "versions.xml").write_text(
        "<versions><pronomVersion>1</pronomVersion><pronomSignature>f.xml</pronomSignature>"
        "<pronomContainerSignature>c.xml</pronomContainerSignature>"
        "<fidoExtensionSignature>e.xml</fidoExtensionSignature></versions>",
        encoding="utf-8",
    )
    (tmp_path / "f.xml").write_text("<formats><format>", encoding="utf-8")
    with pytest.raises(IdentificationError, match=r"f\.xml"):
        FormatIdentifier(conf_dir=tmp_path)


def test_offline_conf_dir_with_newer_signatures(tmp_path: Path) -> None:
    """A user-supplied conf dir (same layout as fido's) is read through its versions.xml."""
    (tmp_path / "versions.xml").write_text(
        "<versions><pronomVersion>999</pronomVersion><pronomSignature>formats-v999.xml</pronomSignature>"
        "<pronomContainerSignature>container-signature-29990101.xml</pronomContainerSignature>"
        "<fidoExtensionSignature>ext.xml</fidoExtensionSignature></versions>",
        encoding="utf-8",
    )
    (tmp_path / "formats-v999.xml").write_text(
        "<formats><format><puid>fmt/99999</puid><name>Test Format</name><version>2</version>"
        "<mime>application/x-test</mime><extension>tst</extension><signature><name>t</name>"
        "<pattern><position>BOF</position><regex>(?s)\\AOAISTEST</regex></pattern></signature>"
        "</format></formats>",
        encoding="utf-8",
    )
    (tmp_path / "ext.xml").write_text("<formats/>", encoding="utf-8")
    (tmp_path / "container-signature-29990101.xml").write_text(
        "<ContainerSignatureMapping><ContainerSignatures/><FileFormatMappings/></ContainerSignatureMapping>",
        encoding="utf-8",
    )
    ident = FormatIdentifier(conf_dir=tmp_path)
    assert ident.signature_version == "PRONOM v999; container-signature-29990101"
    hit = ident.identify(b"OAISTEST...", b"OAISTEST...", name="x", size=11)
    assert (hit.puid, hit.format_version, hit.mime_type, hit.status) == (
        "fmt/99999",
        "2",
        "application/x-test",
        "identified",
    )
    miss: Identification = ident.identify(b"other", b"other", name="x.tst", size=5)
    assert (miss.puid, miss.basis, miss.status) == ("fmt/99999", "extension", "tentative")


# --------------------------------------------------------------------------- gates


def test_literal_scan_equals_one_find_per_gate() -> None:
    """The multi-literal scan passes exactly the gates a ``bytes.find`` in each window passes,
    also for literals that overlap each other or themselves, and when they occur many times."""
    literals = [b"abab", b"bab", b"ba", b"SECTION", b"ION\x00", b"\x10\x22\x00\x01", b"\x00\x00", b"xyz"]
    rng = random.Random(7)
    gates = [(lit, rng.randrange(0, 40), rng.randrange(60, 400), (n,)) for n, lit in enumerate(literals)]
    gates.append((b"abab", 0, 12, (len(gates),)))  # the same literal with another window
    scan = identify_module._LiteralScan(gates)
    for _ in range(400):
        pieces = [
            rng.choice([*literals, b"a", b"b", b"\x00", rng.randbytes(3)])
            for _ in range(rng.randrange(0, 80))
        ]
        buffer = b"".join(pieces)
        expected = sorted(
            s for lit, start, stop, sids in gates if buffer.find(lit, start, stop) >= 0 for s in sids
        )
        assert sorted(scan.hits(buffer)) == expected, buffer


def test_candidates_equal_one_find_per_gate(identifier: FormatIdentifier) -> None:
    """On real files, candidate selection equals the plain definition: every index and gate checked alone."""
    t = identifier._t
    for path in [*sample_files()[:60], *skeleton_files()[::40]]:
        data = path.read_bytes()
        bof, eof = data[:BOF_SIZE], data[-EOF_SIZE:]
        expected = set(t.always)
        for offset, length, table in t.index:
            expected.update(table.get(bof[offset : offset + length], ()))
        for gate, sids in t.gates:
            if gate.in_eof:
                start = max(0, len(eof) - gate.start) if gate.start else 0
                hit = eof.find(gate.literal, start) >= 0
            else:
                hit = (
                    bof.find(gate.literal, gate.start, gate.stop if gate.stop is not None else BOF_SIZE) >= 0
                )
            if hit:
                expected.update(sids)
        assert identifier._candidates(bof, eof) == sorted(expected), path


# --------------------------------------------------------------------------- table cache


def write_conf(folder: Path, patterns: str) -> Path:
    """A small fido conf dir: one format whose one signature has ``patterns`` (XML)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "versions.xml").write_text(
        "<versions><pronomVersion>1</pronomVersion><pronomSignature>f.xml</pronomSignature>"
        "<pronomContainerSignature>c.xml</pronomContainerSignature>"
        "<fidoExtensionSignature>e.xml</fidoExtensionSignature></versions>",
        encoding="utf-8",
    )
    (folder / "f.xml").write_text(
        "<formats>"
        f"<format><puid>fmt/90001</puid><name>Ünïcode Ω</name><signature>{patterns}</signature>"
        "<signature><pattern><position>BOF</position><regex>(?s)\\AGOOD</regex></pattern></signature>"
        "</format>"
        "<format><puid>fmt/90002</puid><name>Later</name><extension>tst</extension><signature>"
        "<pattern><position>VAR</position><regex>(?s)LATER.{300}X</regex></pattern></signature></format>"
        "</formats>",
        encoding="utf-8",
    )
    (folder / "e.xml").write_text("<formats/>", encoding="utf-8")
    (folder / "c.xml").write_text(
        "<ContainerSignatureMapping><ContainerSignatures/><FileFormatMappings/></ContainerSignatureMapping>",
        encoding="utf-8",
    )
    return folder


def plain_tables(ident: FormatIdentifier) -> Any:
    return identify_module._tables_to_plain(ident._t)


def test_cached_tables_equal_built_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fido's own signatures: the second load reads the cache, builds nothing, and answers the same."""
    uncached = FormatIdentifier(use_cache=False)
    built = FormatIdentifier(cache_dir=tmp_path)
    assert len(list(tmp_path.glob("identify-*.json"))) == 1
    monkeypatch.setattr(identify_module, "_build_tables", None)  # a rebuild would fail
    cached = FormatIdentifier(cache_dir=tmp_path)
    assert plain_tables(cached) == plain_tables(built) == plain_tables(uncached)
    assert cached._t.outranked_by == built._t.outranked_by
    for path in [*sample_files()[:40], *skeleton_files()[::50]]:
        assert cached.identify_path(path) == built.identify_path(path), path


def test_cache_keeps_broken_and_skipped_patterns(tmp_path: Path) -> None:
    """A pattern that does not compile ends its format, as in fido, also when read from the cache;
    unknown positions are skipped."""
    conf = write_conf(
        tmp_path / "conf",
        "<pattern><position>XYZ</position><regex>x</regex></pattern>"
        "<pattern><position>BOF</position><regex>(?s)\\ABAD(</regex></pattern>",
    )
    for _ in range(2):  # built, then cached
        ident = FormatIdentifier(conf_dir=conf, cache_dir=tmp_path / "cache")
        good = ident.identify(b"GOOD", b"GOOD", name="x", size=4)
        assert good.puid is None and good.status == "unknown"  # the broken first signature ends fmt/90001
        assert ident.identify(b"LATER" + b"." * 300 + b"X", b"", name="y", size=306).puid == "fmt/90002"
        assert ident._t.formats[0].name == "Ünïcode Ω"


def test_damaged_or_stale_cache_is_rebuilt(tmp_path: Path) -> None:
    conf = write_conf(
        tmp_path / "conf", "<pattern><position>BOF</position><regex>(?s)\\AONE</regex></pattern>"
    )
    cache = tmp_path / "cache"
    FormatIdentifier(conf_dir=conf, cache_dir=cache)
    (cached,) = cache.glob("identify-*.json")
    original = cached.read_bytes()
    header, payload = original.split(b"\n", 1)
    damaged = [
        original[: len(original) // 2],  # truncated
        header + b"\n" + payload.replace(b"fmt/90002", b"fmt/90003"),  # digest no longer matches
        b"not json",
        b"",
    ]
    for content in damaged:
        cached.write_bytes(content)
        ident = FormatIdentifier(conf_dir=conf, cache_dir=cache)
        assert ident.identify(b"ONE", b"ONE", name="x", size=3).puid == "fmt/90001"
        assert [f.puid for f in ident._t.formats] == ["fmt/90001", "fmt/90002"]
        assert cached.read_bytes() == original  # rewritten whole
    # Well-formed but wrong content with a matching digest is refused by the checks on reading.
    header_fields = json.loads(header)
    bad_payload = payload.replace(b'"sig_format":[0,0,1]', b'"sig_format":[0,0,7]')
    assert bad_payload != payload
    header_fields["sha256"] = identify_module.hashlib.sha256(bad_payload).hexdigest()
    cached.write_bytes(json.dumps(header_fields).encode() + b"\n" + bad_payload)
    assert identify_module._read_cached_tables(cached, header_fields["key"]) is None
    # New signature bytes: another key, another file.
    write_conf(conf, "<pattern><position>BOF</position><regex>(?s)\\ATWO</regex></pattern>")
    ident = FormatIdentifier(conf_dir=conf, cache_dir=cache)
    assert ident.identify(b"TWO", b"TWO", name="x", size=3).puid == "fmt/90001"
    assert len(list(cache.glob("identify-*.json"))) == 2
    assert not list(cache.glob(".*"))  # no temporary files left
    # A cache file of another version unused for over a month goes when a new one is written.
    old_enough = time.time() - 31 * 86400
    os.utime(cached, (old_enough, old_enough))
    write_conf(conf, "<pattern><position>BOF</position><regex>(?s)\\ATHREE</regex></pattern>")
    FormatIdentifier(conf_dir=conf, cache_dir=cache)
    assert not cached.exists() and len(list(cache.glob("identify-*.json"))) == 2


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_cache_in_a_shared_or_unwritable_folder_is_not_used(tmp_path: Path) -> None:
    conf = write_conf(
        tmp_path / "conf", "<pattern><position>BOF</position><regex>(?s)\\AONE</regex></pattern>"
    )
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    ident = FormatIdentifier(conf_dir=conf, cache_dir=shared)
    assert ident.identify(b"ONE", b"ONE", name="x", size=3).puid == "fmt/90001"
    assert not list(shared.iterdir())
    blocked = tmp_path / "file-not-folder"
    blocked.write_bytes(b"")
    ident = FormatIdentifier(conf_dir=conf, cache_dir=blocked / "cache")
    assert ident.identify(b"ONE", b"ONE", name="x", size=3).puid == "fmt/90001"


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OAIS_PRESERVE_CACHE_DIR", str(tmp_path / "mine"))
    assert identify_module.default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("OAIS_PRESERVE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name != "nt":
        assert identify_module.default_cache_dir() == tmp_path / "xdg" / "oais_preserve"


def test_worker_imports_stay_light() -> None:
    """A build worker imports ``fixity`` (and so ``identify``) only, not the whole package: the
    package exports its names lazily. Every public name still resolves."""
    code = (
        "import sys, oais_preserve.fixity\n"
        "heavy = [m for m in ('openpyxl', 'matplotlib', 'pyvips', 'oais_preserve.packages')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "import oais_preserve\n"
        "assert all(getattr(oais_preserve, name) is not None for name in oais_preserve.__all__)\n"
        "assert set(oais_preserve.__all__) <= set(dir(oais_preserve))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_functions_named_like_their_modules_stay_functions() -> None:
    code = (
        "import oais_preserve.validate, oais_preserve.ingest, oais_preserve.handover, oais_preserve\n"
        "from oais_preserve import validate, ingest, handover\n"
        "assert all(callable(f) for f in (validate, ingest, handover))\n"
        "assert oais_preserve.validate is validate\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_cache_folder_ignores_a_relative_xdg_cache_home(monkeypatch: pytest.MonkeyPatch) -> None:
    from oais_preserve.identify import default_cache_dir

    monkeypatch.delenv("OAIS_PRESERVE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # would land in the current folder
    assert default_cache_dir() == Path.home() / ".cache" / "oais_preserve"
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/tmp/somewhere")
    assert default_cache_dir() == Path("/var/tmp/somewhere/oais_preserve")


def test_a_regex_that_does_not_compile_at_matching_time_is_a_typed_error() -> None:
    from oais_preserve import identify

    with pytest.raises(IdentificationError, match="broken regex"):
        identify._regex(b"(?s)\\ABROKEN(")


def test_self_overlapping_literals() -> None:
    from oais_preserve.identify import _self_overlapping

    assert _self_overlapping(b"\xff" * 8) and _self_overlapping(b"abcab")
    assert not _self_overlapping(b"%PDF-") and not _self_overlapping(b"a")
