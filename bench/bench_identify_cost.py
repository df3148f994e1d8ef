"""Benchmark: what identification costs a worker process, to load and per file.

Usage::

    .venv/bin/python bench/bench_identify_cost.py load                  # fresh processes, best of 3
    .venv/bin/python bench/bench_identify_cost.py match DIR [DIR ...]   # per-file cost, best of 3

``load`` starts fresh interpreters and times ``import oais_preserve.fixity`` (what a build worker
imports) and ``default_identifier()``, once with an empty table cache (the first process on a
machine) and then with the cache in place. ``match`` reads every file's first and last 128 KiB
beforehand and times ``identify`` on the buffers alone, and the candidate selection (index and
literal gates) within it. To compare with another version of the code, run the same command with
``PYTHONPATH`` pointing at that version's source tree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = """
import time
started = time.perf_counter()
import oais_preserve.fixity
from oais_preserve.identify import default_identifier
imported = time.perf_counter()
default_identifier()
print(imported - started, time.perf_counter() - imported)
"""


def load(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "OAIS_PRESERVE_CACHE_DIR": cache}
        for label in ("empty cache", "warm cache"):
            runs = []
            for _ in range(repeats if label == "warm cache" else 1):
                out = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True)
                runs.append(tuple(float(v) for v in out.stdout.split()))
            imported, loaded = min(r[0] for r in runs), min(r[1] for r in runs)
            print(f"{label}: import {imported:.3f} s, default_identifier() {loaded:.3f} s")


def read_buffers(folder: Path) -> list[tuple[str, int, bytes, bytes]]:
    from oais_preserve.identify import BOF_SIZE, EOF_SIZE

    items = []
    for path in sorted(folder.iterdir()):
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            bof = handle.read(BOF_SIZE)
            if size > BOF_SIZE:
                handle.seek(max(size - EOF_SIZE, 0))
            eof = handle.read(EOF_SIZE) if size > BOF_SIZE else bof
        items.append((path.name, size, bof, eof))
    return items


def match(folders: list[Path], repeats: int) -> None:
    from oais_preserve.identify import default_identifier

    identifier = default_identifier()
    for folder in folders:
        items = read_buffers(folder)
        best_identify = best_candidates = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            for _, _, bof, eof in items:
                identifier._candidates(bof, eof)
            best_candidates = min(best_candidates, time.perf_counter() - started)
            started = time.perf_counter()
            for name, size, bof, eof in items:
                identifier.identify(bof, eof, name=name, size=size)
            best_identify = min(best_identify, time.perf_counter() - started)
        n = len(items)
        print(
            f"{folder}: {n} files, identify {best_identify / n * 1e3:.3f} ms/file,"
            f" of which candidate selection {best_candidates / n * 1e3:.3f} ms/file"
        )


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("what", choices=["load", "match"])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.what == "load":
        load(args.repeats)
    else:
        match(args.folders, args.repeats)


if __name__ == "__main__":
    main()
