"""Where a handover reads its AIPs when they are kept in storage: the ledger chooses.

For each named fonds, :func:`select_stored_aips` asks the storage ledger for the fonds'
packages and checks that each one is "safe": the configured minimum of verified, undamaged
copies on distinct media (:data:`StorageConfig.min_copies <oais_preserve.storage.StorageConfig>`).
A fonds below it is refused with the reasons, unless the caller explicitly allows it; the
handover record and the ledger then say so. Per package it lists the clean copies (state ``ok``
and every file's last check ``ok``) that are bag folders, in the configuration's location order:
the handover audits the first and falls back to the next when one turns out to be damaged.

:func:`record_handover` writes the finished handover into the ledger, so that the yearly report
counts what was handed over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidPackageError, Problem, UserInputError
from .ledger import HandedOverPackage, Ledger
from .profile import timestamp
from .statistics import PackageFacts
from .storage import StorageConfig, copy_path, verified_media

__all__ = ["StorageSelection", "StoredAip", "StoredCopy", "record_handover", "select_stored_aips"]


@dataclass(frozen=True)
class StoredCopy:
    """One copy of a package that the handover may read: its location and its bag folder."""

    location: str
    path: Path


@dataclass
class StoredAip:
    """One package of a fonds as the ledger knows it, with its clean copies in preference order."""

    objid: str
    hoso_code: str
    verified_copies: int  # distinct media holding a verified, undamaged copy
    candidates: list[StoredCopy]
    digests: dict[str, str]  # payload path in the bag -> SHA-256 recorded in the ledger
    chosen: int = 0  # index of the candidate in use
    rejected: list[str] = field(default_factory=list)  # why earlier candidates were dropped
    facts: PackageFacts | None = None  # read from the chosen copy once it passed its audit
    audited: int = -1  # index of the candidate that passed

    @property
    def copy(self) -> StoredCopy | None:
        return self.candidates[self.chosen] if self.chosen < len(self.candidates) else None

    def drop(self, reason: str) -> StoredCopy | None:
        """Give up the current copy (``reason`` is kept); returns the next one, if any."""
        current = self.copy
        if current is not None:
            self.rejected.append(f"{current.location}: {reason}")
        self.chosen += 1
        return self.copy


@dataclass
class StorageSelection:
    """The AIPs of each fonds to hand over, and the storage rule in force."""

    min_copies: int
    allow_below_minimum: bool
    fonds: dict[str, list[StoredAip]]
    refused: dict[str, list[Problem]] = field(default_factory=dict)  # with ``partial``: fonds left out
    ledger_fonds: list[str] = field(default_factory=list)  # every fonds code the ledger holds

    def below_minimum(self, code: str) -> list[StoredAip]:
        return [aip for aip in self.fonds.get(code, []) if aip.verified_copies < self.min_copies]

    def note(self, code: str) -> dict[str, Any]:
        """What the handover record states about the copies (the ``storage`` section)."""
        return {
            "min_copies": self.min_copies,
            "allowed_below_minimum": self.allow_below_minimum,
            "below_minimum": [
                {"objid": aip.objid, "verified_copies": aip.verified_copies}
                for aip in self.below_minimum(code)
            ],
            "copies": [
                {
                    "objid": aip.objid,
                    "location": aip.copy.location if aip.copy else "",
                    "verified_copies": aip.verified_copies,
                }
                for aip in self.fonds.get(code, [])
            ],
        }


def select_stored_aips(
    config: StorageConfig,
    fonds: Sequence[str] | None,
    *,
    allow_below_minimum: bool = False,
    partial: bool = False,
) -> StorageSelection:
    """The AIPs of each fonds in ``fonds`` (default: every fonds in the ledger), from the ledger.

    Raises :class:`InvalidPackageError` naming every package that cannot be handed over: one with
    no clean bag-folder copy (always), one below the minimum of verified copies (unless
    ``allow_below_minimum``). With ``partial`` the fonds holding such packages are left out of
    ``fonds`` and listed in ``refused`` with those problems instead (the handover goes on with
    the others). A fonds with no package in the ledger is a :class:`UserInputError`.
    """
    order = {name: index for index, name in enumerate(config.locations)}
    selection = StorageSelection(config.min_copies, allow_below_minimum, {})
    problems: list[Problem] = []
    with config.open_ledger() as ledger:
        selection.ledger_fonds = _all_fonds(ledger)
        codes = list(dict.fromkeys(fonds)) if fonds else selection.ledger_fonds
        missing = []
        for code in codes:
            packages = ledger.packages_in_fonds(code)
            if not packages:
                missing.append(code)
                continue
            safe = {row.id for row in ledger.packages_of_fonds(code, config.min_copies)}
            aips = selection.fonds.setdefault(code, [])
            for row in packages:
                media = verified_media(config, ledger, row.id)
                clean = sorted(
                    (c for c in ledger.clean_copies(row.id) if c.location in config.locations),
                    key=lambda c: order[c.location],
                )
                folders = [StoredCopy(c.location, copy_path(config, c)) for c in clean if c.form == "dir"]
                where = f"{code}: {row.objid}"
                if not folders:
                    reason = (
                        "only serialized (.tar/.zip) copies are clean; a handover reads bag folders"
                        if clean
                        else "no undamaged copy (run audit and repair)"
                    )
                    problems.append(Problem(where, f"không có bản sao dùng được / {reason}", rule="copies"))
                    selection.refused.setdefault(code, []).append(problems[-1])
                if (row.id not in safe or media < config.min_copies) and not allow_below_minimum:
                    problems.append(
                        Problem(
                            where,
                            f"chưa đủ {config.min_copies} bản sao đã kiểm tra / fewer than "
                            f"{config.min_copies} verified copies on distinct media "
                            "(replicate first, or allow it explicitly)",
                            str(media),
                            "min-copies",
                        )
                    )
                    selection.refused.setdefault(code, []).append(problems[-1])
                digests = {f.path: f.sha256 for f in ledger.files(row.id) if f.path.startswith("data/")}
                aips.append(StoredAip(row.objid, row.hoso_code, media, folders, digests))
    if missing:
        raise UserInputError(
            "sổ lưu trữ không có AIP của phông / the storage ledger holds no AIP of fonds: "
            + ", ".join(missing)
        )
    if not selection.fonds:
        raise UserInputError("sổ lưu trữ chưa có AIP nào / the storage ledger holds no AIP")
    if problems and not partial:
        raise InvalidPackageError("AIP chưa đủ điều kiện bàn giao / AIPs not ready for handover", problems)
    for code in selection.refused:
        del selection.fonds[code]
    return selection


def _all_fonds(ledger: Ledger) -> list[str]:
    return [str(row[0]) for row in ledger.db.execute("SELECT DISTINCT fonds_code FROM packages ORDER BY 1")]


def record_handover(
    config: StorageConfig,
    *,
    name: str,
    fonds_code: str,
    handover_date: str,
    path: Path,
    sha256: str,
    size: int,
    receiver: str,
    aips: Sequence[StoredAip],
) -> int:
    """Record a finished handover tar in the ledger (idempotent); returns its row id."""
    with config.open_ledger() as ledger:
        return ledger.record_handover(
            name=name,
            fonds_code=fonds_code,
            handover_date=handover_date,
            path=str(path),
            sha256=sha256,
            size=size,
            receiver=receiver,
            min_copies=config.min_copies,
            packages=[
                HandedOverPackage(
                    aip.objid, aip.hoso_code, aip.copy.location if aip.copy else "", aip.verified_copies
                )
                for aip in aips
            ],
            recorded=timestamp(),
        )
