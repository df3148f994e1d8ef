"""``make demo``: generate a small fonds, build SIP → ingest to AIP → validate → export zip.

Runs offline on generated data (scanned-looking PDFs, TIFF and JPEG photos, Vietnamese titles).
Usage: ``python -m oais_preserve.demo --out build/demo [--workers N]``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from .ingest import ingest
from .packages import build_sip, export_zip
from .samples import generate_sample_fonds
from .validate import validate


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build/demo"))
@click.option("--workers", type=click.IntRange(min=1), default=2)
@click.option(
    "--hoso", "hoso_count", type=click.IntRange(min=1), default=3, help="Number of hồ sơ to generate."
)
def main(out: Path, workers: int, hoso_count: int) -> None:
    """Build and check TT05 packages for a generated sample fonds."""
    if out.exists():
        shutil.rmtree(out)
    sample = out / "sample"
    descriptions = generate_sample_fonds(sample, hoso_count=hoso_count)
    click.echo(f"Mẫu / sample: {len(descriptions)} hồ sơ in {sample}")
    rows = []
    for description in descriptions:
        sip = build_sip(description, sample / "scans", out / "sip", workers=workers)
        aip = ingest(sip.path, out / "aip", workers=workers)
        report = validate(aip.path, verify=True)
        archive = export_zip(aip.path, out / "zip")
        title = json.loads(description.read_text(encoding="utf-8"))["hoso"]["title"]
        rows.append((description.stem, title, sip, aip, report.valid, archive))
        if not report.valid:
            for problem in report.problems:
                click.echo(f"  - {problem}", err=True)
    click.echo("")
    click.echo(f"{'Mã hồ sơ':<24} {'tệp':>4} {'bytes':>10}  {'hợp lệ':<6} AIP")
    for code, title, _sip, aip, valid, _zip in rows:
        click.echo(
            f"{code:<24} {aip.files:>4} {aip.bytes:>10}  {'có' if valid else 'KHÔNG':<6} {aip.path.name}"
        )
        click.echo(f"{'':<24} {title}")
    click.echo("")
    click.echo(f"SIP: {out / 'sip'}\nAIP (BagIt): {out / 'aip'}\nZIP (TT05): {out / 'zip'}")
    if not all(valid for *_, valid, _ in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
