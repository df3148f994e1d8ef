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

from .derivatives import DerivativeError, DerivativeSettings
from .description import Document, HoSo, load_description, validate_description
from .dip import AccessPolicy, DipResult, build_dip
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
from .validate import ValidationReport, validate

__all__ = [
    "AccessPolicy",
    "BuildResult",
    "DerivativeError",
    "DerivativeSettings",
    "DescriptionError",
    "DipResult",
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
    "UnsafePathError",
    "UserInputError",
    "ValidationReport",
    "__version__",
    "build_aip",
    "build_dip",
    "build_sip",
    "default_identifier",
    "export_zip",
    "ingest",
    "load_description",
    "read_file",
    "read_files",
    "validate",
    "validate_description",
]
