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

from .audits import AuditResult, RepairResult, audit, repair
from .batch import BatchItem, BatchReport, build_batch
from .catalogue import CatalogueImport, CatalogueProblem, import_catalogue, write_error_report
from .derivatives import DerivativeError, DerivativeSettings
from .description import Document, HoSo, load_description, validate_description
from .dip import AccessPolicy, DipResult, build_dip
from .errors import (
    DescriptionError,
    IdentificationError,
    InvalidPackageError,
    OaisPreserveError,
    PackageConflictError,
    Problem,
    UnsafePathError,
    UserInputError,
)
from .executors import open_executor
from .fixity import FileJob, FileRecord, read_file, read_files
from .handover import HandoverReceipt, HandoverResult, Party, find_aips, handover, verify_handover
from .identify import FormatIdentifier, Identification, default_identifier
from .ingest import ingest
from .ledger import Ledger
from .packages import BuildResult, build_aip, build_sip, export_zip
from .qa import QaResult, check_file, write_qa_report
from .selection import Selection, select_hoso, write_selection
from .statistics import FondsStatistics, PackageFacts, fonds_statistics, read_package_facts
from .storage import (
    StorageConfig,
    StoreResult,
    init_location,
    load_storage_config,
    reindex,
    replicate,
    store,
)
from .validate import ValidationReport, validate
from .yearreport import YearReport, write_report, yearly_report

__all__ = [
    "AccessPolicy",
    "AuditResult",
    "BatchItem",
    "BatchReport",
    "BuildResult",
    "CatalogueImport",
    "CatalogueProblem",
    "DerivativeError",
    "DerivativeSettings",
    "DescriptionError",
    "DipResult",
    "Document",
    "FileJob",
    "FileRecord",
    "FondsStatistics",
    "FormatIdentifier",
    "HandoverReceipt",
    "HandoverResult",
    "HoSo",
    "Identification",
    "IdentificationError",
    "InvalidPackageError",
    "Ledger",
    "OaisPreserveError",
    "PackageConflictError",
    "PackageFacts",
    "Party",
    "Problem",
    "QaResult",
    "RepairResult",
    "Selection",
    "StorageConfig",
    "StoreResult",
    "UnsafePathError",
    "UserInputError",
    "ValidationReport",
    "YearReport",
    "__version__",
    "audit",
    "build_aip",
    "build_batch",
    "build_dip",
    "build_sip",
    "check_file",
    "default_identifier",
    "export_zip",
    "find_aips",
    "fonds_statistics",
    "handover",
    "import_catalogue",
    "ingest",
    "init_location",
    "load_description",
    "load_storage_config",
    "open_executor",
    "read_file",
    "read_files",
    "read_package_facts",
    "reindex",
    "repair",
    "replicate",
    "select_hoso",
    "store",
    "validate",
    "validate_description",
    "verify_handover",
    "write_error_report",
    "write_qa_report",
    "write_report",
    "write_selection",
    "yearly_report",
]
