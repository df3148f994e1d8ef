#!/usr/bin/env python3
"""Fixity-audit throughput and ledger query time, against the anchors named in issue 5.

Measured on a warm page cache, interleaved (anchor, ours, anchor, ours...) and best of
``--repeat``, so that the ratios of one run are what we record:

  1. scans corpus (~``--scan-gb`` GB): ``hashlib.file_digest`` SHA-256 over the files vs
     ``audit(full=True)`` of the same files stored as a bag, with 1 and ``--workers`` processes;
  2. ``--small-files`` small files: ``bagit.py --validate --processes N`` vs our audit, files/s;
  3. a synthetic ledger with ``--ledger-rows`` copy-file rows: time of the query choosing the
     next files to audit (first page, a deep page) and of the due totals.

The bags are made by hard-linking the corpus files into ``<out>/store/primary/<bag>/data``
(no second copy on disk) and registered with ``reindex`` (a full verification, not timed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from oais_preserve.audits import audit  # noqa: E402
from oais_preserve.bag import PayloadEntry, write_bag_tags  # noqa: E402
from oais_preserve.executors import open_executor  # noqa: E402
from oais_preserve.ledger import Ledger  # noqa: E402
from oais_preserve.samples import generate_scan_corpus, generate_small_corpus  # noqa: E402
from oais_preserve.storage import StorageConfig, init_location, load_storage_config, reindex  # noqa: E402

MB = 1_000_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def corpus(root: Path, name: str, make: Any, key: dict[str, Any]) -> list[Path]:
    folder = root / name
    stamp = folder / "corpus.json"
    if not (stamp.exists() and json.loads(stamp.read_text()) == key):
        shutil.rmtree(folder, ignore_errors=True)
        log(f"generating {name} {key} ...")
        make(folder)
        stamp.write_text(json.dumps(key))
    return sorted(p for p in (folder / "files").rglob("*") if p.is_file())


def make_store(work: Path, name: str, files: list[Path], base: Path) -> StorageConfig:
    """A one-location store holding one bag whose payload is hard links to ``files``."""
    store_root = work / f"store-{name}"
    shutil.rmtree(store_root, ignore_errors=True)
    bag = store_root / "primary" / f"urn_BENCH_uuid_{name}"
    entries = []
    for path in files:
        rel = "data/" + path.relative_to(base).as_posix()
        target = bag / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        entries.append(PayloadEntry(rel, path.stat().st_size, {"sha256": digest}))
    write_bag_tags(
        bag, entries, {"External-Identifier": f"urn:BENCH:uuid:{name}", "Bag-Group-Identifier": "BENCH"}
    )
    (store_root / "storage.toml").write_text(
        '[locations.primary]\npath = "primary"\nmedium = "BENCH"\naudit_every_days = 365\n', encoding="utf-8"
    )
    config = load_storage_config(store_root / "storage.toml")
    init_location(config, "primary")
    reindex(config)
    return config


def warm(files: list[Path]) -> None:
    for path in files:
        with open(path, "rb", buffering=0) as handle:
            while handle.read(1 << 22):
                pass


def time_hashlib(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        with open(path, "rb") as handle:
            hashlib.file_digest(handle, "sha256")
    return time.perf_counter() - start


def _digest_one(path: Path) -> int:
    with open(path, "rb") as handle:
        hashlib.file_digest(handle, "sha256")
    return path.stat().st_size


def time_hashlib_pool(files: list[Path], processes: int) -> float:
    """The same anchor spread over a process pool: the parallelism this machine gives right now."""
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_noop, range(processes)))  # start the workers before timing
        start = time.perf_counter()
        list(pool.map(_digest_one, files, chunksize=4))
        return time.perf_counter() - start


def _noop(value: int) -> int:
    return value


def time_audit(config: StorageConfig, workers: int) -> tuple[float, int, int]:
    with open_executor(workers) as executor:
        start = time.perf_counter()
        result = audit(config, full=True, executor=executor)
        seconds = time.perf_counter() - start
    assert result.ok and result.state == "finished", result.failures[:3]
    return seconds, result.files_checked, result.bytes_checked


def time_bagit(bag: Path, processes: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bagit", "--validate", "--processes", str(processes), "--quiet", str(bag)],
        check=True,
    )
    return time.perf_counter() - start


def ledger_queries(work: Path, rows: int) -> dict[str, float]:
    """A ledger with ``rows`` copy-file rows (half checked long ago, half recently): query times."""
    path = work / "ledger-1m" / "ledger.sqlite"
    shutil.rmtree(path.parent, ignore_errors=True)
    per_package = 500
    now = time.time()
    with Ledger(path) as ledger:
        with ledger.write() as db:
            packages = rows // (2 * per_package)
            for number in range(packages):
                package_id = ledger.add_package(
                    db,
                    objid=f"urn:BENCH:uuid:{number}",
                    name=f"p{number}",
                    fonds_code="BENCH",
                    hoso_code=f"B.{number}",
                    created="2025-01-01",
                    files=[
                        (f"data/f{i:04d}.tif", 1000 + i, f"{number:032x}{i:032x}") for i in range(per_package)
                    ],
                    payload_bytes=0,
                    payload_files=per_package,
                    registered="2025-01-01",
                )
                for location in ("primary", "replica"):
                    ledger.add_copy(
                        db,
                        package_id=package_id,
                        location=location,
                        relpath=f"p{number}",
                        form="dir",
                        verified="2025-01-01",
                        checked_at=now - (number % 1000) * 86400,
                    )
        total = ledger.db.execute("SELECT COUNT(*) FROM copy_files").fetchone()[0]
        cutoff = now - 182 * 86400
        timings: dict[str, float] = {"rows": float(total)}
        start = time.perf_counter()
        first = ledger.due_page("primary", cutoff, (-1.0, 0), 2048)
        timings["first page of 2048 due files (s)"] = time.perf_counter() - start
        after = (first[-1].last_checked, first[-1].copy_file_id)
        start = time.perf_counter()
        for _ in range(50):
            page = ledger.due_page("primary", cutoff, after, 2048)
            after = (page[-1].last_checked, page[-1].copy_file_id)
        timings["next page, after 50 pages (s, per page)"] = (time.perf_counter() - start) / 50
        start = time.perf_counter()
        ledger.due_totals("primary", cutoff)
        timings["due totals for progress (s)"] = time.perf_counter() - start
        start = time.perf_counter()
        ledger.packages_of_fonds("BENCH", 2)
        timings["packages of a fonds with >= 2 copies (s)"] = time.perf_counter() - start
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scan-gb", type=float, default=1.5)
    parser.add_argument("--scan-files", type=int, default=400)
    parser.add_argument("--small-files", type=int, default=20000)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench-storage")
    parser.add_argument("--skip", action="append", default=[], choices=["scan", "small", "ledger"])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"workers": args.workers, "cpu": os.cpu_count()}

    if "scan" not in args.skip:
        total = int(args.scan_gb * 1e9)
        files = corpus(
            args.out,
            "scan",
            lambda d: generate_scan_corpus(d, total_bytes=total, file_count=args.scan_files),
            {"bytes": total, "files": args.scan_files},
        )
        base = args.out / "scan" / "files"
        config = make_store(args.out, "scan", files, base)
        size = sum(p.stat().st_size for p in files)
        warm(files)
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            best["hashlib"] = min(best.get("hashlib", 1e9), time_hashlib(files))
            key = f"hashlib-pool-{args.workers}"
            best[key] = min(best.get(key, 1e9), time_hashlib_pool(files, args.workers))
            best["audit-1"] = min(best.get("audit-1", 1e9), time_audit(config, 1)[0])
            best[f"audit-{args.workers}"] = min(
                best.get(f"audit-{args.workers}", 1e9), time_audit(config, args.workers)[0]
            )
        mbs = {k: size / v / MB for k, v in best.items()}
        results["scan"] = {
            "files": len(files),
            "bytes": size,
            "MB/s": mbs,
            "audit-1 / hashlib": mbs["audit-1"] / mbs["hashlib"],
            f"audit-{args.workers} / audit-1": mbs[f"audit-{args.workers}"] / mbs["audit-1"],
            f"hashlib-pool-{args.workers} / hashlib": mbs[f"hashlib-pool-{args.workers}"] / mbs["hashlib"],
        }
        log(json.dumps(results["scan"], indent=2))

    if "small" not in args.skip:
        files = corpus(
            args.out,
            "small",
            lambda d: generate_small_corpus(d, file_count=args.small_files),
            {"files": args.small_files},
        )
        base = args.out / "small" / "files"
        config = make_store(args.out, "small", files, base)
        bag = config.locations["primary"].path / "urn_BENCH_uuid_small"
        count = len(files) + 4  # payload + tag files the audit checks
        warm(files)
        small: dict[str, float] = {}
        for _ in range(args.repeat):
            for processes in sorted({1, args.workers}):
                small[f"bagit-{processes}"] = min(
                    small.get(f"bagit-{processes}", 1e9), time_bagit(bag, processes)
                )
                small[f"audit-{processes}"] = min(
                    small.get(f"audit-{processes}", 1e9), time_audit(config, processes)[0]
                )
        fps = {k: (len(files) if k.startswith("bagit") else count) / v for k, v in small.items()}
        results["small"] = {
            "files": len(files),
            "files/s": fps,
            **{
                f"audit-{p} / bagit-{p}": fps[f"audit-{p}"] / fps[f"bagit-{p}"]
                for p in sorted({1, args.workers})
            },
        }
        log(json.dumps(results["small"], indent=2))

    if "ledger" not in args.skip:
        results["ledger"] = ledger_queries(args.out, args.ledger_rows)
        log(json.dumps(results["ledger"], indent=2))

    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
