#!/usr/bin/env python3
"""Handover throughput against its anchor: ``tar cf - STORE | openssl dgst -sha256``.

Builds (once, cached under ``<out>/store``) AIP bags totalling about ``--gb`` GB from the
scan-like benchmark corpus (``--packages`` hồ sơ), then runs, interleaved, ``--rounds`` times on a
warm page cache:

* anchor: ``tar cf - -C STORE . | openssl dgst -sha256`` (reads every file once, hashes the stream,
  writes nothing);
* anchor + write: the same with ``tee OUT.tar`` and ``sync OUT.tar``: it writes and flushes the
  same amount as a handover does (a second reference, not the issue's anchor);
* write floor: the same number of bytes written from memory and made durable the way a handover
  does it (flushed behind the writer, then ``fsync``), with no reading and no hashing: the least
  time any durable handover of these bytes can take on this disk;
* ours, ``zip``: :func:`oais_preserve.handover.handover` as shipped: the structural audit of every
  AIP first, each payload digest checked against the AIP's manifest during the copy, AIPs
  carried as TT05 zips streamed into the tar, the tar written and fsynced;
* ours, ``bag``: the same with the AIPs carried as bags;
* ours, ``zip, full audit first``: ``audit=full_audit`` (every file re-hashed before the copy too).

Ratios are anchor seconds / our seconds per round (1.0 = as fast as the anchor), reported as
the median of the rounds. MB = 10^6 bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

MB = 1_000_000


def build_store(root: Path, gigabytes: float, packages: int, workers: int) -> Path:
    from oais_preserve import build_aip
    from oais_preserve.samples import generate_scan_corpus

    store = root / "store"
    marker = root / "store.json"
    params = {"gb": gigabytes, "packages": packages}
    if marker.is_file() and json.loads(marker.read_text()) == params:
        return store
    shutil.rmtree(root, ignore_errors=True)
    per_package = int(gigabytes * 1e9 / packages)
    for seed in range(packages):
        corpus = root / "corpus" / f"hoso-{seed}"
        description = generate_scan_corpus(corpus, total_bytes=per_package, file_count=12, seed=seed)
        build_aip(description, corpus / "files", store, workers=workers)
        shutil.rmtree(corpus)  # keep only the AIPs
        print(f"  built AIP {seed + 1}/{packages}", file=sys.stderr)
    marker.write_text(json.dumps(params))
    return store


def store_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in store.rglob("*") if p.is_file())


def warm(store: Path) -> None:
    for path in store.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                while fh.read(1 << 24):
                    pass


def time_anchor(store: Path, out: Path | None = None) -> float:
    """``tar | openssl dgst``; with ``out``, the tar is also written there (``tee``) and fsynced."""
    command = f"tar cf - -C {store} . | openssl dgst -sha256 > /dev/null"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        tar = out / "anchor.tar"
        command = f"tar cf - -C {store} . | tee {tar} | openssl dgst -sha256 > /dev/null && sync {tar}"
    started = time.perf_counter()
    subprocess.run(command, shell=True, check=True, executable="/bin/bash")
    seconds = time.perf_counter() - started
    if out is not None:
        shutil.rmtree(out)
    return seconds


def time_write_floor(out: Path, size: int) -> float:
    """Write ``size`` bytes from memory and make them durable, flushed behind the writer as a
    handover does: no reading, no hashing. No durable handover of ``size`` bytes can be faster."""
    from oais_preserve.staging import SyncBehind, file_flusher
    from oais_preserve.tarstream import FLUSH_STEP

    out.mkdir(parents=True, exist_ok=True)
    target = out / "floor.bin"
    block = memoryview(bytearray(4 << 20))
    started = time.perf_counter()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        sync = SyncBehind(file_flusher(fd), step=FLUSH_STEP)
        left = size
        while left:
            written = os.write(fd, block[: min(left, len(block))])
            sync.wrote(written)
            left -= written
        sync.finish()
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    shutil.rmtree(out)
    return seconds


def time_ours(store: Path, out: Path, package_format: str, audit: str, workers: int) -> float:
    from oais_preserve.handover import Party, find_aips, full_audit, handover, structural_audit

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    handover(
        find_aips([store]),
        out,
        sender=Party("Trung tâm Lưu trữ lịch sử (bench)"),
        receiver=Party("Bộ Nội vụ"),
        package_format=package_format,
        audit={"full": full_audit, "default": structural_audit}.get(audit),
        verify_digests=audit != "none",
        workers=workers,
    )
    seconds = time.perf_counter() - started
    shutil.rmtree(out)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("build/bench-handover"))
    parser.add_argument("--gb", type=float, default=2.1)
    parser.add_argument("--packages", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--write-to",
        type=Path,
        help="where the tars are written (default: under --out); a tmpfs such as /dev/shm takes "
        "the disk out and shows what the CPU alone allows",
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=["zip", "bag", "zip-full"],
        help="run only these of our variants (repeatable; default: all three)",
    )
    args = parser.parse_args()

    store = build_store(args.out, args.gb, args.packages, args.workers)
    outputs = args.write_to or args.out
    size = store_bytes(store)
    warm(store)
    variants = {
        "zip": ("zip", "default"),
        "bag": ("bag", "default"),
        "zip, full audit first": ("zip", "full"),
    }
    if args.variant:
        keys = {"zip": "zip", "bag": "bag", "zip-full": "zip, full audit first"}
        variants = {keys[name]: variants[keys[name]] for name in args.variant}
    times: dict[str, list[float]] = {"anchor": [], "anchor + write": [], "write floor": []} | {
        name: [] for name in variants
    }
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    ratios_write: dict[str, list[float]] = {name: [] for name in variants}
    for round_number in range(args.rounds):
        for name, (package_format, audit) in variants.items():
            anchor = time_anchor(store)
            anchor_write = time_anchor(store, outputs / "anchor")
            floor = time_write_floor(outputs / "floor", size)
            times["write floor"].append(floor)
            times["anchor"].append(anchor)
            times["anchor + write"].append(anchor_write)
            ours = time_ours(store, outputs / "handover", package_format, audit, args.workers)
            times[name].append(ours)
            ratios[name].append(anchor / ours)
            ratios_write[name].append(anchor_write / ours)
            print(
                f"  round {round_number + 1} {name}: anchor {anchor:.2f} s, "
                f"anchor + write {anchor_write:.2f} s, write floor {floor:.2f} s, ours {ours:.2f} s",
                file=sys.stderr,
            )
    result = {
        "bytes": size,
        "packages": args.packages,
        "workers": args.workers,
        "rounds": args.rounds,
        "median_seconds": {name: round(statistics.median(v), 2) for name, v in times.items()},
        "median_mb_s": {name: round(size / MB / statistics.median(v), 1) for name, v in times.items()},
        "median_ratio_vs_anchor": {name: round(statistics.median(v), 2) for name, v in ratios.items()},
        "median_ratio_vs_anchor_with_write": {
            name: round(statistics.median(v), 2) for name, v in ratios_write.items()
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
