"""The runnable example of docs/api.md: build, ingest, validate and export a generated fonds."""

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from oais_preserve import build_sip, export_zip, ingest, load_description, validate
from oais_preserve.samples import generate_sample_fonds


def main() -> None:
    work = Path("build/example")
    shutil.rmtree(work, ignore_errors=True)  # start afresh on every run
    descriptions = generate_sample_fonds(work / "sample", hoso_count=2)
    with ProcessPoolExecutor(max_workers=2) as pool:  # or a Dask client's get_executor()
        for path in descriptions:
            hoso = load_description(path)  # DescriptionError lists every problem
            sip = build_sip(hoso, work / "sample" / "scans", work / "sip", executor=pool)
            aip = ingest(sip.path, work / "aip", executor=pool)
            report = validate(aip.path)  # re-reads and checks everything
            print(aip.path.name, aip.files, "files", "valid" if report.valid else report.problems)
            export_zip(aip.path, work / "zip")


if __name__ == "__main__":
    main()
