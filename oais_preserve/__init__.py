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

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# Public name -> the submodule that defines it. Submodules are imported on first use (PEP 562):
# a worker process that needs only ``fixity`` and ``identify`` then does not pay ~1 s importing
# openpyxl, matplotlib, pyvips and the rest of the package before its first file.
_EXPORTS: dict[str, str] = {
    "AuditResult": "audits",
    "RepairResult": "audits",
    "audit": "audits",
    "repair": "audits",
    "BatchItem": "batch",
    "BatchReport": "batch",
    "build_batch": "batch",
    "CatalogueImport": "catalogue",
    "CatalogueProblem": "catalogue",
    "import_catalogue": "catalogue",
    "write_error_report": "catalogue",
    "DerivativeError": "derivatives",
    "DerivativeSettings": "derivatives",
    "Document": "description",
    "HoSo": "description",
    "load_description": "description",
    "validate_description": "description",
    "AccessPolicy": "dip",
    "DipResult": "dip",
    "build_dip": "dip",
    "DescriptionError": "errors",
    "FondsRecordError": "errors",
    "IdentificationError": "errors",
    "InvalidPackageError": "errors",
    "OaisPreserveError": "errors",
    "PackageConflictError": "errors",
    "Problem": "errors",
    "UnsafePathError": "errors",
    "UserInputError": "errors",
    "open_executor": "executors",
    "FileJob": "fixity",
    "FileRecord": "fixity",
    "read_file": "fixity",
    "read_files": "fixity",
    "FondsConflictError": "handover",
    "HandoverIncompleteError": "handover",
    "HandoverReceipt": "handover_verify",
    "HandoverResult": "handover",
    "Party": "handover",
    "find_aips": "handover",
    "handover": "handover",
    "verify_handover": "handover_verify",
    "FormatIdentifier": "identify",
    "Identification": "identify",
    "default_identifier": "identify",
    "ingest": "ingest",
    "Ledger": "ledger",
    "BuildResult": "packages",
    "build_aip": "packages",
    "build_sip": "packages",
    "export_zip": "packages",
    "QaResult": "qa",
    "check_file": "qa",
    "write_qa_report": "qa",
    "Selection": "selection",
    "select_hoso": "selection",
    "write_selection": "selection",
    "FondsStatistics": "statistics",
    "PackageFacts": "statistics",
    "fonds_statistics": "statistics",
    "read_package_facts": "statistics",
    "StorageConfig": "storage",
    "StoreResult": "storage",
    "init_location": "storage",
    "load_storage_config": "storage",
    "reindex": "storage",
    "replicate": "storage",
    "store": "storage",
    "ValidationReport": "validate",
    "validate": "validate",
    "YearReport": "yearreport",
    "write_report": "yearreport",
    "yearly_report": "yearreport",
}

if TYPE_CHECKING:
    from .audits import AuditResult, RepairResult, audit, repair
    from .batch import BatchItem, BatchReport, build_batch
    from .catalogue import CatalogueImport, CatalogueProblem, import_catalogue, write_error_report
    from .derivatives import DerivativeError, DerivativeSettings
    from .description import Document, HoSo, load_description, validate_description
    from .dip import AccessPolicy, DipResult, build_dip
    from .errors import (
        DescriptionError,
        FondsRecordError,
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
    from .handover import (
        FondsConflictError,
        HandoverIncompleteError,
        HandoverResult,
        Party,
        find_aips,
        handover,
    )
    from .handover_verify import HandoverReceipt, verify_handover
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


if not TYPE_CHECKING:  # type checkers see the imports above; a typo stays an error for them

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    """``validate``, ``ingest`` and ``handover`` are functions named like their submodules. Importing
    such a submodule sets the package attribute to the module; this keeps the function there, as the
    eager ``from .validate import validate`` did."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
    "FondsConflictError",
    "FondsRecordError",
    "FondsStatistics",
    "FormatIdentifier",
    "HandoverIncompleteError",
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
