"""oais_preserve: TT05 / E-ARK preservation packages (SIP_hoso, AIP_hoso) in BagIt bags.

The public API, in the order a newcomer meets it::

    from oais_preserve import load_description, build_sip, ingest, build_aip, validate, export_zip

    hoso = load_description("descriptions/H49.64.33.2001.160.json")   # every problem at once
    sip = build_sip(hoso, "scans/", "out/sip")                          # SIP_hoso folder
    aip = ingest(sip.path, "out/aip")                                    # SIP -> AIP_hoso bag
    report = validate(aip.path)                                          # bag + XSD + E-ARK rules
    export_zip(aip.path, "out/zip")                                      # plain TT05 .zip

See docs/api.md for the whole surface.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .batch import BatchItem, BatchReport, build_batch
from .catalogue import CatalogueImport, CatalogueProblem, import_catalogue, write_error_report
from .description import Document, HoSo, load_description, validate_description
from .errors import (
    DescriptionError,
    IdentificationError,
    InvalidPackageError,
    OaisPreserveError,
    Problem,
    UnsafePathError,
    UserInputError,
)
from .fixity import FileJob, FileRecord, read_file, read_files
from .identify import FormatIdentifier, Identification, default_identifier
from .ingest import ingest
from .packages import BuildResult, build_aip, build_sip, export_zip
from .qa import QaResult, check_file, write_qa_report
from .selection import Selection, select_hoso, write_selection
from .validate import ValidationReport, validate

__all__ = [
    "BatchItem",
    "BatchReport",
    "BuildResult",
    "CatalogueImport",
    "CatalogueProblem",
    "DescriptionError",
    "Document",
    "FileJob",
    "FileRecord",
    "FormatIdentifier",
    "HoSo",
    "Identification",
    "IdentificationError",
    "InvalidPackageError",
    "OaisPreserveError",
    "Problem",
    "QaResult",
    "Selection",
    "UnsafePathError",
    "UserInputError",
    "ValidationReport",
    "__version__",
    "build_aip",
    "build_batch",
    "build_sip",
    "check_file",
    "default_identifier",
    "export_zip",
    "import_catalogue",
    "ingest",
    "load_description",
    "read_file",
    "read_files",
    "select_hoso",
    "validate",
    "validate_description",
    "write_error_report",
    "write_qa_report",
    "write_selection",
]
