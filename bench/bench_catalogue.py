#!/usr/bin/env python3
"""Catalogue import benchmark: a clean workbook of ``--documents`` documents (default 50,000).

Measured in child processes, interleaved, ``--rounds`` times each, on the same cached workbook:

* anchor: openpyxl read-only streaming of every row of every sheet, doing nothing with them (the
  least any importer built on openpyxl must spend);
* ours: :func:`oais_preserve.import_catalogue` (header detection, value normalization, cross-sheet
  checks, JSON Schema validation of every hồ sơ description).

Each child reports its wall time and peak RSS (``ru_maxrss``). Results: a table on stdout, or JSON
with ``--json``; paste the table into docs/benchmarks.md.

    .venv/bin/python bench/bench_catalogue.py                 # 50,000 documents, 2 rounds
    .venv/bin/python bench/bench_catalogue.py --documents 5000 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_ANCHOR = """
import resource, sys, time
from openpyxl import load_workbook
t = time.monotonic()
wb = load_workbook(sys.argv[1], read_only=True, data_only=True)
rows = 0
for ws in wb.worksheets:
    ws.reset_dimensions()
    for row in ws.iter_rows(values_only=True):
        rows += 1
wb.close()
print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rows)
"""

_OURS = """
import resource, sys, time
from oais_preserve import import_catalogue
t = time.monotonic()
result = import_catalogue(sys.argv[1])
assert not result.problems, result.problems[:3]
print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, result.document_count)
"""


def _run(code: str, workbook: Path) -> tuple[float, float, int]:
    out = subprocess.run(
        [sys.executable, "-c", code, str(workbook)], capture_output=True, text=True, check=True
    )
    seconds, rss_kb, count = out.stdout.split()
    return float(seconds), int(rss_kb) / 1024, int(count)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=50_000)
    parser.add_argument("--per-hoso", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench-catalogue")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from oais_preserve.samples_catalogue import generate_catalogue

    workbook = args.out / f"catalogue-{args.documents}.xlsx"
    generated = None
    if not workbook.exists():
        started = time.monotonic()
        generate_catalogue(workbook, hoso_count=args.documents // args.per_hoso, docs_per_hoso=args.per_hoso)
        generated = time.monotonic() - started
    anchor: list[tuple[float, float, int]] = []
    ours: list[tuple[float, float, int]] = []
    for _ in range(args.rounds):
        anchor.append(_run(_ANCHOR, workbook))
        ours.append(_run(_OURS, workbook))
    a_time = statistics.median(r[0] for r in anchor)
    o_time = statistics.median(r[0] for r in ours)
    result = {
        "documents": ours[0][2],
        "workbook_bytes": workbook.stat().st_size,
        "generated_seconds": generated,
        "anchor_openpyxl_seconds": round(a_time, 2),
        "anchor_peak_rss_mb": round(max(r[1] for r in anchor), 1),
        "ours_seconds": round(o_time, 2),
        "ours_peak_rss_mb": round(max(r[1] for r in ours), 1),
        "ratio_ours_to_anchor": round(o_time / a_time, 2),
        "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("| documents | workbook | openpyxl (anchor) | import_catalogue | ratio | peak RSS anchor / ours |")
    print("|---|---|---|---|---|---|")
    size = result["workbook_bytes"] / 1e6
    rss = f"{result['anchor_peak_rss_mb']} / {result['ours_peak_rss_mb']} MB"
    ratio = result["ratio_ours_to_anchor"]
    print(f"| {result['documents']:,} | {size:.1f} MB | {a_time:.1f} s | {o_time:.1f} s | {ratio}x | {rss} |")


if __name__ == "__main__":
    main()
