"""Benchmark: fido's own matcher vs oais_preserve.identify on many small files of mixed formats.

Usage::

    .venv/bin/python bench/bench_identify.py                   # 20,000 generated files, 2 workers
    .venv/bin/python bench/bench_identify.py --corpus DIR      # an existing folder (or where to build one)
    .venv/bin/python bench/bench_identify.py --files 2000 --json

The corpus is built from copies of the PRONOM skeleton suite (../shared, if present) plus generated
text, random binary and small synthetic PNG/GIF/JPEG/PDF/ZIP/DOCX files. Both tools read each file
from disk (page cache warm) and identify it in-process; fido runs ``Fido.identify_file`` with its
bundled v109 signatures, we run ``FormatIdentifier.identify_path``. The multi-process runs use a
warmed ``ProcessPoolExecutor`` (signatures already loaded in each worker); the cold numbers
include starting the workers and loading the signatures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import struct
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SKELETON = REPO.parent / "shared/corpora/siegfried-testdata/cmd/sf/testdata/skeleton-suite"
MAX_COPY = 256 * 1024  # skeleton files larger than this are not "small"
CHUNK = 250  # files per task in the process pool

Result = list[tuple[str, ...]]  # PUIDs per file, in fido's order


# --------------------------------------------------------------------------- corpus


def words(rng: random.Random, count: int) -> str:
    vocabulary = ["hồ sơ", "tài liệu", "archive", "record", "fonds", "series", "item", "date", "2024", "OAIS"]
    return " ".join(rng.choice(vocabulary) for _ in range(count))


def png(rng: random.Random) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    width, height = rng.randint(1, 64), rng.randint(1, 64)
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def docx(rng: random.Random) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types><Override PartName="/word/document.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", f"<w:document><w:t>{words(rng, 200)}</w:t></w:document>")
    return out.getvalue()


def plain_zip(rng: random.Random) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", words(rng, 300))
    return out.getvalue()


GENERATORS: list[tuple[str, Callable[[random.Random], bytes]]] = [
    ("txt", lambda r: words(r, r.randint(5, 2000)).encode()),
    (
        "csv",
        lambda r: "\n".join(
            ",".join(str(r.random()) for _ in range(6)) for _ in range(r.randint(2, 200))
        ).encode(),
    ),
    ("json", lambda r: json.dumps({"id": r.random(), "title": words(r, 30)}, ensure_ascii=False).encode()),
    ("xml", lambda r: f'<?xml version="1.0" encoding="UTF-8"?><doc><t>{words(r, 300)}</t></doc>'.encode()),
    ("html", lambda r: f"<!DOCTYPE html><html><body><p>{words(r, 300)}</p></body></html>".encode()),
    ("bin", lambda r: r.randbytes(r.randint(16, 16384))),
    ("dat", lambda r: r.randbytes(r.randint(16, 4096))),
    ("png", png),
    ("gif", lambda r: b"GIF89a" + r.randbytes(r.randint(20, 2000)) + b"\x00;"),
    (
        "jpg",
        lambda r: (
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + r.randbytes(r.randint(100, 8000)) + b"\xff\xd9"
        ),
    ),
    (
        "pdf",
        lambda r: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + words(r, 400).encode() + b"\ntrailer\n<<>>\n%%EOF\n",
    ),
    ("zip", plain_zip),
    ("docx", docx),
]


def build_corpus(root: Path, count: int, seed: int = 20240601) -> None:
    """``count`` small files under ``root``: half skeleton-suite copies (if present), half generated."""
    rng = random.Random(seed)
    sources = sorted(p for p in SKELETON.rglob("*") if p.is_file() and p.stat().st_size <= MAX_COPY)
    copies = count // 2 if sources else 0
    for number in range(count):
        folder = root / f"{number // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        if number < copies:
            source = sources[number % len(sources)]
            shutil.copyfile(source, folder / f"{number:05d}-{source.name}")
        else:
            extension, make = GENERATORS[number % len(GENERATORS)]
            (folder / f"{number:05d}.{extension}").write_bytes(make(rng))


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- the two tools


def fido_conf() -> tuple[Path, list[str], str]:
    from fido import CONFIG_DIR

    return Path(CONFIG_DIR), ["formats-v109.xml", "format_extensions.xml"], "container-signature-20200121.xml"


def make_fido() -> tuple[Any, list[tuple[str, ...]]]:
    """fido's own class, in-process, with the files its 1.6.1 command line uses (explicitly: its
    constructor defaults name formats-v104.xml, which the wheel does not ship)."""
    from fido.fido import Fido

    found: list[tuple[str, ...]] = []

    def collect(name: str, matches: list[tuple[Any, str]], delta: float, matchtype: str = "") -> None:
        found.append(tuple(fmt.find("puid").text for fmt, _ in matches))

    conf, formats, container = fido_conf()
    fido = Fido(
        quiet=True,
        handle_matches=collect,
        conf_dir=str(conf),
        format_files=formats,
        containersignature_file=container,
    )
    return fido, found


def run_fido(paths: Sequence[Path]) -> Result:
    fido, found = _FIDO if _FIDO is not None else make_fido()
    found.clear()
    with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):  # "Zero byte file" notices
        for path in paths:
            before = len(found)
            fido.identify_file(str(path))
            if len(found) == before:
                found.append(())
    return list(found)


def run_ours(paths: Sequence[Path]) -> Result:
    from oais_preserve.identify import default_identifier

    identifier = default_identifier()
    return [tuple(m.puid for m in identifier.identify_path(p).matches) for p in paths]


def read_buffers(paths: Sequence[Path]) -> list[tuple[str, bytes, bytes, int, bytes | None]]:
    from oais_preserve.identify import BOF_SIZE, EOF_SIZE, default_identifier

    identifier = default_identifier()
    out = []
    for path in paths:
        data = path.read_bytes()
        keep = identifier.wants_container(data[:BOF_SIZE]) and len(data) <= identifier.max_container_bytes
        out.append((path.name, data[:BOF_SIZE], data[-EOF_SIZE:], len(data), data if keep else None))
    return out


# Per-process state of pool workers.
_FIDO: tuple[Any, list[tuple[str, ...]]] | None = None


def init_fido_worker() -> None:
    global _FIDO
    _FIDO = make_fido()


def init_ours_worker() -> None:
    from oais_preserve.identify import default_identifier

    default_identifier()


def pause(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


# --------------------------------------------------------------------------- timing


def timed(work: Callable[[], Result]) -> tuple[float, Result]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def chunks(paths: Sequence[Path]) -> Iterator[list[Path]]:
    for start in range(0, len(paths), CHUNK):
        yield list(paths[start : start + CHUNK])


def timed_pool(
    paths: Sequence[Path], workers: int, init: Callable[[], None], work: Callable[[Sequence[Path]], Result]
) -> tuple[float, float, Result]:
    """(warm seconds, cold seconds, results): cold includes starting workers and loading signatures."""
    started = time.perf_counter()
    # "spawn": each worker starts clean and loads its own signatures, as a fresh pool would.
    with ProcessPoolExecutor(max_workers=workers, initializer=init, mp_context=get_context("spawn")) as pool:
        pids = set(pool.map(pause, [0.3] * (2 * workers)))  # start every worker before timing
        ready = time.perf_counter()
        results = [r for part in pool.map(work, chunks(paths)) for r in part]
        done = time.perf_counter()
    if len(pids) < workers:
        print(f"warning: only {len(pids)} of {workers} workers started before timing", file=sys.stderr)
    return done - ready, done - started - 0.3 * 2, results


def measure(paths: list[Path], workers: int, with_fido: bool) -> dict[str, Any]:
    from oais_preserve.identify import default_identifier

    n = len(paths)
    report: dict[str, Any] = {"files": n, "workers": workers}
    started = time.perf_counter()
    identifier = default_identifier()
    report["ours_load_s"] = round(time.perf_counter() - started, 3)
    report["signature_version"] = identifier.signature_version

    seconds, ours = timed(lambda: run_ours(paths))
    report["ours_1proc_files_per_s"] = round(n / seconds)
    buffers = read_buffers(paths)
    started = time.perf_counter()
    for name, bof, eof, size, container in buffers:
        identifier.identify(bof, eof, name=name, size=size, container=container)
    report["ours_in_memory_files_per_s"] = round(n / (time.perf_counter() - started))
    warm, cold, pooled = timed_pool(paths, workers, init_ours_worker, run_ours)
    report[f"ours_{workers}proc_files_per_s"] = round(n / warm)
    report[f"ours_{workers}proc_cold_files_per_s"] = round(n / cold)
    assert pooled == ours, "pool results differ from the single-process run"

    if with_fido:
        started = time.perf_counter()
        make_fido()
        report["fido_load_s"] = round(time.perf_counter() - started, 3)
        seconds, theirs = timed(lambda: run_fido(paths))
        report["fido_1proc_files_per_s"] = round(n / seconds)
        warm, cold, _ = timed_pool(paths, workers, init_fido_worker, run_fido)
        report[f"fido_{workers}proc_files_per_s"] = round(n / warm)
        report[f"fido_{workers}proc_cold_files_per_s"] = round(n / cold)
        report["ratio_1proc"] = round(report["ours_1proc_files_per_s"] / report["fido_1proc_files_per_s"], 1)
        report[f"ratio_{workers}proc"] = round(
            report[f"ours_{workers}proc_files_per_s"] / report[f"fido_{workers}proc_files_per_s"], 1
        )
        same = sum(a == b for a, b in zip(ours, theirs, strict=True))
        report["same_puids_as_fido"] = same
        report["different_puids"] = [
            {"file": str(p), "ours": list(a), "fido": list(b)}
            for p, a, b in zip(paths, ours, theirs, strict=True)
            if a != b
        ][:20]
    return report


def print_report(report: dict[str, Any]) -> None:
    workers = report["workers"]
    print(f"files: {report['files']}  signatures: {report['signature_version']}  workers: {workers}")
    print(
        f"signature loading: ours {report['ours_load_s']} s"
        + (f", fido {report['fido_load_s']} s" if "fido_load_s" in report else "")
    )
    rows = [
        ("1 process (read + identify)", "1proc_files_per_s"),
        (f"{workers} processes, warm", f"{workers}proc_files_per_s"),
        (f"{workers} processes, incl. start-up", f"{workers}proc_cold_files_per_s"),
    ]
    print(f"{'':38s}{'fido':>10s}{'ours':>10s}{'ratio':>8s}")
    for label, key in rows:
        fido = report.get(f"fido_{key}")
        ours = report[f"ours_{key}"]
        ratio = f"{ours / fido:.1f}x" if fido else "-"
        print(f"{label:38s}{fido if fido else '-':>10}{ours:>10}{ratio:>8s}")
    print(f"ours, identification alone (buffers in memory): {report['ours_in_memory_files_per_s']} files/s")
    if "same_puids_as_fido" in report:
        print(f"same PUIDs as fido: {report['same_puids_as_fido']} / {report['files']}")
        for row in report["different_puids"]:
            print(f"  differs: {row}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, help="folder of files (built there if missing or empty)")
    parser.add_argument("--files", type=int, default=20000, help="files to generate (default 20000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-fido", action="store_true", help="only time oais_preserve")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    with contextlib.ExitStack() as stack:
        root = args.corpus
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-identify-")))
        if not root.exists() or not any(root.iterdir()):
            build_corpus(root, args.files)
        paths = corpus_files(root)
        report = measure(paths, args.workers, not args.skip_fido)
        report["corpus"] = str(args.corpus) if args.corpus else "generated (temporary)"
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
