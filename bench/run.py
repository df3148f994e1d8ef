#!/usr/bin/env python3
"""Throughput and memory benchmark of oais_preserve against plain anchors, in one run.

Corpora (generated once, cached under ``<out>/corpus``):
  (a) ``scan``  - about ``--scan-gb`` GB of scan-like TIFF/PDF/JPEG files (``--scan-files``);
  (b) ``small`` - ``--small-files`` small files of mixed formats;
  (c) ``small-rss`` - ``--rss-files`` small files, to compare the builder's peak memory.

Measured on a warm page cache, for (a) and (b):
  1. ``hashlib.file_digest(f, "sha256")``, in one process and in ``--workers`` processes;
     our read-and-hash stage (``oais_preserve.fixity.read_files``) the same way;
  2. ``cp -r`` of the corpus, then ``bagit.py --sha256 --processes N`` on the copy;
  3. ``fido -q -recurse`` over the corpus, and our read + hash + identify stage;
  4. our ``build_aip`` in a child process, with its peak RSS; also on corpus (c).

Results: a table on stdout (or JSON with ``--json``), ``<out>/results.json`` and a Markdown
fragment ``<out>/results.md`` for docs/benchmarks.md. MB = 10^6 bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib
import json
import multiprocessing
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MB = 1_000_000
CHUNK = 1 << 20


# --------------------------------------------------------------------------- data


@dataclass
class Corpus:
    name: str
    description: Path
    files_dir: Path
    files: list[Path]
    bytes: int
    generated_seconds: float | None  # None: taken from the cache


@dataclass
class Row:
    corpus: str
    step: str
    processes: int
    seconds: float | None = None
    files: int = 0
    bytes: int = 0
    peak_rss_mb: float | None = None  # the build's main process (getrusage)
    worker_rss_mb: float | None = None  # its largest worker process (getrusage)
    peak_tree_rss_mb: float | None = None  # main + workers together (sampled)
    note: str = ""
    command: str = ""

    @property
    def mb_s(self) -> float | None:
        return self.bytes / MB / self.seconds if self.seconds else None

    @property
    def files_s(self) -> float | None:
        return self.files / self.seconds if self.seconds else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mb_s"] = _round(self.mb_s)
        data["files_s"] = _round(self.files_s)
        data["seconds"] = _round(self.seconds, 3)
        return data


@dataclass
class Results:
    settings: dict[str, Any]
    host: dict[str, Any]
    corpora: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    ratios: dict[str, float | None] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def find(self, corpus: str, step: str, processes: int | None = None) -> Row | None:
        for row in self.rows:
            if row.corpus == corpus and row.step == step and processes in (None, row.processes):
                return row if row.seconds is not None else None
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "host": self.host,
            "corpora": self.corpora,
            "rows": [row.to_dict() for row in self.rows],
            "ratios": {k: _round(v, 3) for k, v in self.ratios.items()},
            "skipped": self.skipped,
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- options


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel runs (default 2)")
    parser.add_argument("--scan-gb", type=float, default=1.5, help="size of corpus (a) in GB (default 1.5)")
    parser.add_argument("--scan-files", type=int, default=400, help="files in corpus (a) (default 400)")
    parser.add_argument("--small-files", type=int, default=20000, help="files in corpus (b) (default 20000)")
    parser.add_argument("--rss-files", type=int, default=2000, help="files in corpus (c) (default 2000)")
    parser.add_argument(
        "--files-per-document",
        type=int,
        default=20,
        help="files per document in corpora (b) and (c), as page-per-file scans arrive (default 20;"
        " 1 = one document per file)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="tiny corpora: a smoke run of every step")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="STEP",
        help="skip a step: hash, ours, cp-bagit, fido, identify, build (repeatable)",
    )
    parser.add_argument(
        "--child-build", nargs=3, metavar=("DESCRIPTION", "SOURCE", "DEST"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.scan_gb, args.scan_files, args.small_files, args.rss_files = 0.04, 24, 600, 60
    return args


# --------------------------------------------------------------------------- host and corpora


def host_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "filesystem": _filesystem(REPO),
    }
    with contextlib.suppress(Exception):
        import pyvips

        info["libvips"] = ".".join(str(pyvips.version(i)) for i in range(3))
    for name in ("bagit", "opf-fido", "oais_preserve"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            info[f"{name}_version"] = version(name)
    return info


def _memory_gb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _filesystem(path: Path) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True, check=True).stdout
        return out.splitlines()[1].split()[1]
    return "unknown"


def _generator_fingerprint() -> str:
    source = REPO / "oais_preserve" / "samples.py"
    return hashlib.sha256(source.read_bytes()).hexdigest()[:16]


def ensure_corpus(root: Path, name: str, params: dict[str, Any], make: Callable[[Path], Path]) -> Corpus:
    """Generate a corpus unless ``root/name`` already holds one made with the same parameters."""
    folder = root / name
    stamp = folder / "corpus.json"
    key = {**params, "generator": _generator_fingerprint()}
    generated: float | None = None
    if not (stamp.exists() and json.loads(stamp.read_text())["key"] == key):
        shutil.rmtree(folder, ignore_errors=True)
        log(f"generating corpus {name} {params} ...")
        start = time.perf_counter()
        description = make(folder)
        generated = time.perf_counter() - start
        stamp.write_text(json.dumps({"key": key, "description": description.name, "seconds": generated}))
        log(f"  done in {generated:.1f} s")
    description = folder / json.loads(stamp.read_text())["description"]
    files = sorted(p for p in (folder / "files").rglob("*") if p.is_file())
    return Corpus(name, description, folder / "files", files, sum(p.stat().st_size for p in files), generated)


def make_corpora(args: argparse.Namespace, root: Path) -> list[Corpus]:
    from oais_preserve.samples import generate_scan_corpus, generate_small_corpus

    total = int(args.scan_gb * 1e9)
    seed = args.seed
    return [
        ensure_corpus(
            root,
            "scan",
            {"bytes": total, "files": args.scan_files, "seed": seed},
            lambda d: generate_scan_corpus(d, total_bytes=total, file_count=args.scan_files, seed=seed),
        ),
        ensure_corpus(
            root,
            "small",
            {"files": args.small_files, "seed": seed, "per_doc": args.files_per_document},
            lambda d: generate_small_corpus(
                d, file_count=args.small_files, seed=seed, files_per_document=args.files_per_document
            ),
        ),
        ensure_corpus(
            root,
            "small-rss",
            {"files": args.rss_files, "seed": seed, "per_doc": args.files_per_document},
            lambda d: generate_small_corpus(
                d, file_count=args.rss_files, seed=seed, files_per_document=args.files_per_document
            ),
        ),
    ]


def warm(corpus: Corpus) -> None:
    """Read every file once so that all timed steps start from the same (warm) page cache."""
    for path in corpus.files:
        with open(path, "rb", buffering=0) as handle:
            while handle.read(CHUNK * 4):
                pass


# --------------------------------------------------------------------------- 1. hashing


def hash_one(path: Path) -> int:
    with open(path, "rb") as handle:
        if hasattr(hashlib, "file_digest"):
            hashlib.file_digest(handle, "sha256")
        else:  # Python 3.10
            digest = hashlib.sha256()
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return path.stat().st_size


def _noop(_: int) -> int:
    return 0


def time_hashlib(corpus: Corpus, processes: int) -> Row:
    row = Row(corpus.name, "hashlib.file_digest sha256", processes, files=len(corpus.files))
    row.command = 'hashlib.file_digest(f, "sha256") per file' + (
        f", multiprocessing.Pool({processes})" if processes > 1 else ""
    )
    if processes == 1:
        start = time.perf_counter()
        row.bytes = sum(hash_one(p) for p in corpus.files)
        row.seconds = time.perf_counter() - start
        return row
    with multiprocessing.Pool(processes) as pool:
        pool.map(_noop, range(processes))  # processes are up before the clock starts
        chunk = max(1, len(corpus.files) // (processes * 16))
        start = time.perf_counter()
        row.bytes = sum(pool.imap_unordered(hash_one, corpus.files, chunksize=chunk))
        row.seconds = time.perf_counter() - start
    return row


def time_read_files(corpus: Corpus, processes: int, *, identify: bool) -> Row:
    """Our single-pass reader (``oais_preserve.fixity.read_files``), copy target off."""
    step = "oais read+hash+identify" if identify else "oais read+hash"
    row = Row(corpus.name, step, processes, files=len(corpus.files), bytes=corpus.bytes)
    row.command = f"oais_preserve.fixity.read_files(FileJob(path, None, identify={identify}), ('sha256',))"
    fixity = importlib.import_module("oais_preserve.fixity")
    jobs = [fixity.FileJob(p, None, identify=identify) for p in corpus.files]
    if processes == 1:
        start = time.perf_counter()
        fixity.read_files(jobs, ("sha256",))
        row.seconds = time.perf_counter() - start
        return row
    with ProcessPoolExecutor(processes) as executor:
        list(executor.map(_noop, range(processes)))
        start = time.perf_counter()
        fixity.read_files(jobs, ("sha256",), executor=executor)
        row.seconds = time.perf_counter() - start
    row.command += f", executor=ProcessPoolExecutor({processes})"
    return row


# --------------------------------------------------------------------------- 2. cp -r + bagit.py


def run_timed(command: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_cp_bagit(corpus: Corpus, work: Path, processes: int) -> list[Row]:
    copy = work / f"{corpus.name}-copy"
    shutil.rmtree(copy, ignore_errors=True)
    cp = ["cp", "-r", str(corpus.files_dir), str(copy)]
    bagit = [str(BIN / "bagit.py"), "--sha256", "--processes", str(processes), str(copy)]
    try:
        cp_s = run_timed(cp)
        bagit_s = run_timed(bagit)
        sync_s = run_timed(["sync"])
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    size, count = corpus.bytes, len(corpus.files)
    return [
        Row(corpus.name, "cp -r", 1, cp_s, count, size, command=_show(cp)),
        Row(corpus.name, "bagit.py --sha256", processes, bagit_s, count, size, command=_show(bagit)),
        Row(
            corpus.name,
            "cp -r + bagit.py",
            processes,
            cp_s + bagit_s,
            count,
            size,
            command=f"{_show(cp)} && {_show(bagit)}",
        ),
        Row(
            corpus.name,
            "cp -r + bagit.py + sync",
            processes,
            cp_s + bagit_s + sync_s,
            count,
            size,
            note=(
                "cp and bagit.py do not fsync; our build syncs the package to disk before publishing it,"
                " hence this row"
            ),
            command=f"{_show(cp)} && {_show(bagit)} && sync",
        ),
    ]


def _show(command: Sequence[str]) -> str:
    shown = [str(Path(c).relative_to(REPO)) if c.startswith(str(REPO)) else c for c in command]
    return shlex.join(shown)


# --------------------------------------------------------------------------- 3. fido


def time_fido(corpus: Corpus) -> Row:
    command = [str(BIN / "fido"), "-q", "-recurse", str(corpus.files_dir)]
    seconds = run_timed(command)
    return Row(
        corpus.name, "fido -q -recurse", 1, seconds, len(corpus.files), corpus.bytes, command=_show(command)
    )


# --------------------------------------------------------------------------- 4. our build


def build_available() -> str | None:
    """None when ``oais_preserve.build_aip`` can be used, else why not."""
    try:
        module = importlib.import_module("oais_preserve")
    except Exception as exc:  # the package may be mid-edit: report, do not fail the bench
        return f"import oais_preserve failed: {type(exc).__name__}: {exc}"
    if not hasattr(module, "build_aip"):
        return "oais_preserve.build_aip does not exist yet"
    return None


def _vm_hwm_kb() -> int | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def child_build(description: str, source: str, dest: str, workers: int) -> None:
    """Run in a fresh process: one build, then one JSON line on stdout."""
    from oais_preserve import build_aip

    start = time.perf_counter()
    try:
        result = build_aip(Path(description), Path(source), Path(dest), workers=workers)
        out: dict[str, Any] = {"files": result.files, "bytes": result.bytes, "path": str(result.path)}
    except Exception as exc:
        out = {"error": f"{type(exc).__name__}: {exc}"}
    out["seconds"] = time.perf_counter() - start
    # VmHWM is this process's own high-water mark. ru_maxrss is not: Linux carries the peak of
    # the pre-exec image over exec, so a child of the (large) bench process would report the
    # bench's own memory.
    out["maxrss_self_kb"] = _vm_hwm_kb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["maxrss_children_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(out), flush=True)


def _tree_rss(proc: Any) -> int:
    total = 0
    with contextlib.suppress(Exception):
        for member in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(Exception):
                total += member.memory_info().rss
    return total


def _watch(child: subprocess.Popen[str]) -> int:
    """Peak RSS (bytes) of the child and its workers together, sampled every 20 ms."""
    try:
        import psutil
    except ImportError:
        child.wait()
        return 0
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss(proc))
        time.sleep(0.02)
    return peak


def time_build(corpus: Corpus, work: Path, workers: int) -> Row:
    dest = work / f"{corpus.name}-aip"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--workers",
        str(workers),
        "--child-build",
        str(corpus.description),
        str(corpus.files_dir),
        str(dest),
    ]
    row = Row(corpus.name, "oais build_aip", workers, files=len(corpus.files), bytes=corpus.bytes)
    row.command = f"build_aip(description, source_dir, dest_dir, workers={workers}) in a fresh process"
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tree_peak = _watch(child)
        stdout, stderr = child.communicate()
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    lines = stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        row.note = f"child failed (exit {child.returncode}): {stderr.strip()[-300:]}"
        return row
    out = json.loads(lines[-1])
    if "error" in out:
        row.note = out["error"][:300]
        return row
    row.seconds, row.files, row.bytes = out["seconds"], out["files"], out["bytes"]
    row.peak_rss_mb = out["maxrss_self_kb"] / 1024
    row.worker_rss_mb = out["maxrss_children_kb"] / 1024 or None
    row.peak_tree_rss_mb = tree_peak / 2**20 if tree_peak else None
    return row


# --------------------------------------------------------------------------- orchestration


def measure_corpus(corpus: Corpus, args: argparse.Namespace, work: Path, results: Results) -> None:
    n = args.workers
    skip = set(args.skip)
    log(f"[{corpus.name}] warming the page cache ({len(corpus.files)} files, {corpus.bytes / MB:.0f} MB)")
    warm(corpus)
    steps: list[tuple[str, str, Callable[[], Row | list[Row]]]] = [
        ("hash", "hashlib x1", lambda: time_hashlib(corpus, 1)),
        ("hash", f"hashlib x{n}", lambda: time_hashlib(corpus, n)),
        ("ours", "oais read+hash x1", lambda: time_read_files(corpus, 1, identify=False)),
        ("ours", f"oais read+hash x{n}", lambda: time_read_files(corpus, n, identify=False)),
        ("cp-bagit", "cp -r + bagit.py", lambda: time_cp_bagit(corpus, work, n)),
        ("fido", "fido", lambda: time_fido(corpus)),
        ("identify", "oais read+hash+identify x1", lambda: time_read_files(corpus, 1, identify=True)),
        ("build", "oais build_aip", lambda: time_build(corpus, work, n)),
    ]
    for key, label, run in steps:
        if key in skip:
            continue
        if key == "build" and (reason := build_available()):
            results.skipped.append(f"{corpus.name}: our build skipped: {reason}")
            log(f"[{corpus.name}] {label}: SKIPPED ({reason})")
            continue
        log(f"[{corpus.name}] {label} ...")
        try:
            produced = run()
        except Exception as exc:  # one broken step must not lose the others
            results.skipped.append(f"{corpus.name}: {label} failed: {type(exc).__name__}: {exc}")
            log(f"[{corpus.name}] {label}: FAILED {type(exc).__name__}: {exc}")
            continue
        for row in produced if isinstance(produced, list) else [produced]:
            results.rows.append(row)
            log(f"    {_row_summary(row)}")


def _row_summary(row: Row) -> str:
    if row.seconds is None:
        return f"{row.step}: no result ({row.note})"
    rss = f", peak RSS main/worker/tree {_rss(row)} MiB" if row.peak_rss_mb else ""
    speed = f"{row.mb_s:.0f} MB/s, {row.files_s:.0f} files/s"
    return f"{row.step} x{row.processes}: {row.seconds:.2f} s, {speed}{rss}"


def compute_ratios(results: Results, workers: int) -> None:
    r = results.ratios
    for name in ("scan", "small"):
        hash1, hashn = (
            results.find(name, "hashlib.file_digest sha256", 1),
            results.find(name, "hashlib.file_digest sha256", workers),
        )
        ours1, oursn = results.find(name, "oais read+hash", 1), results.find(name, "oais read+hash", workers)
        r[f"{name}: oais read+hash / hashlib, 1 process"] = _div(_mb(ours1), _mb(hash1))
        r[f"{name}: oais read+hash / hashlib, {workers} processes"] = _div(_mb(oursn), _mb(hashn))
        build = results.find(name, "oais build_aip")
        anchor = results.find(name, "cp -r + bagit.py")
        synced = results.find(name, "cp -r + bagit.py + sync")
        r[f"{name}: build MB/s per worker / hashlib MB/s (1 process)"] = _div(
            _div(_mb(build), workers), _mb(hash1)
        )
        r[f"{name}: build time / (cp -r + bagit.py) time"] = _div(_sec(build), _sec(anchor))
        r[f"{name}: build time / (cp -r + bagit.py + sync) time"] = _div(_sec(build), _sec(synced))
        fido, ident = results.find(name, "fido -q -recurse"), results.find(name, "oais read+hash+identify", 1)
        r[f"{name}: oais identify files/s / fido files/s"] = _div(_fps(ident), _fps(fido))
    big, small = results.find("small", "oais build_aip"), results.find("small-rss", "oais build_aip")
    r["small: build files/s"] = _fps(big)
    for label, attr in (
        ("main", "peak_rss_mb"),
        ("largest worker", "worker_rss_mb"),
        ("tree", "peak_tree_rss_mb"),
    ):
        r[f"peak RSS ({label}): small build / small-rss build"] = _div(
            getattr(big, attr, None), getattr(small, attr, None)
        )


def _mb(row: Row | None) -> float | None:
    return row.mb_s if row else None


def _fps(row: Row | None) -> float | None:
    return row.files_s if row else None


def _sec(row: Row | None) -> float | None:
    return row.seconds if row else None


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# --------------------------------------------------------------------------- reporting


HEADER = ("corpus", "step", "procs", "seconds", "MB/s", "files/s", "peak RSS MiB main/worker/tree")


def table_rows(results: Results) -> Iterator[tuple[str, ...]]:
    for row in results.rows:
        yield (
            row.corpus,
            row.step,
            str(row.processes),
            _fmt(row.seconds, 2),
            _fmt(row.mb_s, 0),
            _fmt(row.files_s, 0),
            _rss(row),
        )


def _rss(row: Row) -> str:
    values = (row.peak_rss_mb, row.worker_rss_mb, row.peak_tree_rss_mb)
    return "-" if values == (None, None, None) else " / ".join(_fmt(v, 0) for v in values)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render_table(results: Results) -> str:
    rows = [HEADER, *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.extend(f"{k}: {_fmt(v, 2)}" for k, v in results.ratios.items())
    lines.extend(f"NOTE {s}" for s in results.skipped)
    return "\n".join(lines)


def render_markdown(results: Results) -> str:
    host, settings = results.host, results.settings
    out = [
        f"### Benchmark run of {host['date']}",
        "",
        f"- Machine: {host['cpu']}, {host['cpus']} CPUs, {host['memory_gb']} GB RAM, {host['filesystem']}; "
        f"{host['platform']}; Python {host['python']}; libvips {host.get('libvips', '?')}; "
        f"bagit {host.get('bagit_version', '?')}; fido {host.get('opf-fido_version', '?')}.",
        f"- Invocation: `{settings['invocation']}` (workers = {settings['workers']}; warm page cache: every "
        "corpus is read once before timing; MB = 10^6 bytes).",
        "- Corpora: "
        + "; ".join(
            f"**{name}** {c['files']} files, {c['bytes'] / MB:,.0f} MB" for name, c in results.corpora.items()
        ),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(HEADER))) + "|",
    ]
    out.extend("| " + " | ".join(r) + " |" for r in table_rows(results))
    out += ["", "Ratios:", ""]
    out.extend(f"- {k}: **{_fmt(v, 2)}**" for k, v in results.ratios.items())
    if results.skipped:
        out += ["", "Not measured:", ""]
        out.extend(f"- {s}" for s in results.skipped)
    notes = dict.fromkeys(f"{row.corpus} / {row.step}: {row.note}" for row in results.rows if row.note)
    if notes:
        out += ["", "Notes:", ""]
        out.extend(f"- {note}" for note in notes)
    out += ["", "Commands:", "", "```"]
    seen: set[str] = set()
    for row in results.rows:
        if row.command and row.command not in seen:
            seen.add(row.command)
            out.append(row.command)
    out += ["```", ""]
    return "\n".join(out)


def write_outputs(results: Results, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results.to_dict(), indent=2, ensure_ascii=False) + "\n")
    (out / "results.md").write_text(render_markdown(results), encoding="utf-8")


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_build:
        child_build(*args.child_build, workers=args.workers)
        return 0
    out = args.out.resolve()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    settings = {key: value for key, value in vars(args).items() if key not in ("child_build", "out")}
    settings["out"] = str(args.out)
    settings["invocation"] = _show([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]])
    results = Results(settings=settings, host=host_info())
    corpora = make_corpora(args, out / ("corpus-quick" if args.quick else "corpus"))
    for corpus in corpora:
        results.corpora[corpus.name] = {
            "files": len(corpus.files),
            "bytes": corpus.bytes,
            "generated_seconds": _round(corpus.generated_seconds, 2),
            "description": str(corpus.description),
        }
    for corpus in corpora[:2]:
        measure_corpus(corpus, args, work, results)
    if "build" not in args.skip and not build_available():
        log(f"[{corpora[2].name}] oais build_aip (memory comparison) ...")
        warm(corpora[2])
        row = time_build(corpora[2], work, args.workers)
        results.rows.append(row)
        log(f"    {_row_summary(row)}")
    shutil.rmtree(work, ignore_errors=True)
    compute_ratios(results, args.workers)
    write_outputs(results, out)
    print(json.dumps(results.to_dict(), indent=2, ensure_ascii=False) if args.json else render_table(results))
    log(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
