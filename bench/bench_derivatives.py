#!/usr/bin/env python3
"""Access-copy generation: oais_preserve's pyvips path against the same job done with Pillow.

The job, per master: a JPEG access copy (long edge 2000 px, quality 85, sRGB) and a 256 px JPEG
thumbnail (quality 80) made from the access copy. Masters: ``--count`` (default 50) generated
300-dpi A4 colour TIFFs (2480 x 3508, 8-bit RGB, uncompressed, as scanners write them).

* ``pyvips``: ``oais_preserve.derivatives.make_derivatives`` itself (shrink-on-load / streaming,
  digest of each output, cache entry written) in a process set up by ``configure_worker()``
  exactly as the DIP builder's worker processes are: one libvips thread (the builder runs one
  worker process per core), one malloc arena, no operation cache;
* ``pyvips-threads``: the same with libvips' default thread pool (one thread per core), as when
  ``build_dip(workers=1)`` runs everything in the caller's process;
* ``pillow``: ``Image.open`` + ``draft("RGB", …)`` + ``thumbnail(…, reducing_gap=3.0)`` (Pillow's
  fast paths) + ``save(quality=85)``, then the thumbnail (``optimize=True``) from the access copy,
  with the same JPEG settings as ours.

Each run happens in its own child process, so that its peak RSS (VmHWM) is its own; the variants
are interleaved for ``--rounds`` rounds on a warm page cache, and the median is reported.

    .venv/bin/python bench/bench_derivatives.py                 # 50 masters, 3 rounds
    .venv/bin/python bench/bench_derivatives.py --count 60 --rounds 5 --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

A4_300DPI = (2480, 3508)
VARIANTS = ("pyvips", "pillow", "pyvips-threads")


def generate_masters(folder: Path, count: int, seed: int) -> list[Path]:
    """``count`` distinct A4 300-dpi colour TIFF masters (cached: regenerated only when missing)."""
    import pyvips

    folder.mkdir(parents=True, exist_ok=True)
    width, height = A4_300DPI
    masters = []
    for index in range(count):
        path = folder / f"master-{seed}-{index:03d}.tif"
        masters.append(path)
        if path.exists():
            continue
        # A paper-like page: warm background, a soft gradient, ink-like noise, a photo-like block.
        xy = pyvips.Image.xyz(width, height)
        gradient = (xy[0] * (40 / width) + xy[1] * (30 / height)).cast("uchar")
        noise = pyvips.Image.gaussnoise(width, height, sigma=18 + index % 7, mean=128)
        paper = (noise * 0.25 + 180 + gradient).cast("uchar")
        page = paper.bandjoin([(paper - 12 - index % 5).cast("uchar"), (paper - 40).cast("uchar")])
        block = pyvips.Image.gaussnoise(900, 600, sigma=60, mean=100).cast("uchar")
        photo = block.bandjoin([(block * 0.8).cast("uchar"), (block * 0.6 + 30).cast("uchar")])
        page = page.insert(photo, 300 + 7 * index, 500 + 11 * index)
        page = page.copy(interpretation="srgb", xres=300 / 25.4, yres=300 / 25.4)
        tmp = path.with_suffix(".partial.tif")
        page.tiffsave(str(tmp), compression="none", resunit="inch")
        os.replace(tmp, path)
    return masters


# --- the two jobs, each run in a child process -----------------------------------------------------


def run_pyvips(masters: list[Path], out: Path, threads: int | None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from oais_preserve.derivatives import DerivativeSettings, configure_worker, make_derivatives

    configure_worker(threads)  # as in the DIP builder's worker processes (threads=1)
    settings = DerivativeSettings()
    written = 0
    for master in masters:
        fake_digest = hashlib.sha256(str(master).encode()).hexdigest()  # a fresh cache: always made
        result = make_derivatives(master, fake_digest, "image", settings, out)
        written += sum(o.size for o in result.outputs)
    return written


def run_pillow(masters: list[Path], out: Path) -> int:
    from PIL import Image

    edge, thumb = 2000, 256
    written = 0
    out.mkdir(parents=True, exist_ok=True)
    for master in masters:
        access_path = out / f"{master.stem}.jpg"
        thumb_path = out / f"{master.stem}.thumb.jpg"
        with Image.open(master) as im:
            im.draft("RGB", (edge, edge))  # a no-op for TIFF; JPEG masters decode at reduced scale
            if im.mode != "RGB":
                im = im.convert("RGB")
            im.thumbnail((edge, edge), Image.Resampling.LANCZOS, reducing_gap=3.0)
            im.save(access_path, "JPEG", quality=85)
        with Image.open(access_path) as im:
            im.draft("RGB", (thumb, thumb))  # JPEG: DCT-domain downscale
            im.thumbnail((thumb, thumb), Image.Resampling.LANCZOS, reducing_gap=3.0)
            im.save(thumb_path, "JPEG", quality=80, optimize=True)
        written += access_path.stat().st_size + thumb_path.stat().st_size
    return written


def _peak_rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def child(variant: str, masters_dir: Path, count: int, seed: int) -> None:
    masters = sorted(masters_dir.glob(f"master-{seed}-*.tif"))[:count]
    with tempfile.TemporaryDirectory(prefix="bench-deriv-") as tmp:
        started = time.perf_counter()
        if variant == "pillow":
            written = run_pillow(masters, Path(tmp))
        else:
            written = run_pyvips(masters, Path(tmp), 1 if variant == "pyvips" else None)
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "variant": variant,
                "seconds": seconds,
                "files": len(masters),
                "bytes_out": written,
                "peak_rss_kib": _peak_rss_kib(),
            }
        )
    )


def measure(variant: str, masters_dir: Path, count: int, seed: int) -> dict[str, Any]:
    env = dict(os.environ)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--masters",
        str(masters_dir),
        "--count",
        str(count),
        "--seed",
        str(seed),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("build/bench/derivatives"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=VARIANTS)
    parser.add_argument("--masters", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.masters, args.count, args.seed)
        return
    masters_dir = args.out / "masters"
    masters = generate_masters(masters_dir, args.count, args.seed)
    input_bytes = sum(p.stat().st_size for p in masters)
    for path in masters:  # warm the page cache once for every variant
        with open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:  # interleaved, so drifts of a shared machine hit every variant
            runs[variant].append(measure(variant, masters_dir, args.count, args.seed))
    summary: dict[str, Any] = {
        "masters": len(masters),
        "master_size": f"{A4_300DPI[0]}x{A4_300DPI[1]} px, 8-bit RGB, uncompressed TIFF",
        "input_mb": round(input_bytes / 1e6, 1),
        "rounds": args.rounds,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "variants": {},
    }
    for variant, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        summary["variants"][variant] = {
            "median_seconds": round(seconds, 2),
            "masters_per_second": round(len(masters) / seconds, 2),
            "peak_rss_mb": round(max(r["peak_rss_kib"] for r in results) * 1024 / 1e6, 1),
            "all_seconds": [round(r["seconds"], 2) for r in results],
        }
    v = summary["variants"]
    summary["pyvips_vs_pillow_throughput"] = round(
        v["pyvips"]["masters_per_second"] / v["pillow"]["masters_per_second"], 2
    )
    summary["pyvips_threads_vs_pillow_throughput"] = round(
        v["pyvips-threads"]["masters_per_second"] / v["pillow"]["masters_per_second"], 2
    )
    summary["pyvips_vs_pillow_peak_rss"] = round(v["pyvips"]["peak_rss_mb"] / v["pillow"]["peak_rss_mb"], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{summary['masters']} masters ({summary['master_size']}, {summary['input_mb']} MB), "
        f"{args.rounds} interleaved rounds, median:"
    )
    print(f"{'variant':<16}{'s':>8}{'masters/s':>11}{'peak RSS MB':>13}")
    for name, row in v.items():
        print(f"{name:<16}{row['median_seconds']:>8}{row['masters_per_second']:>11}{row['peak_rss_mb']:>13}")
    print(
        f"pyvips / Pillow throughput: {summary['pyvips_vs_pillow_throughput']}x "
        f"(libvips thread pool: {summary['pyvips_threads_vs_pillow_throughput']}x); "
        f"peak RSS ratio {summary['pyvips_vs_pillow_peak_rss']}"
    )
    shutil.rmtree(args.out / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
