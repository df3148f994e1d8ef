"""Typed exceptions raised by oais_preserve.

Every error a user can cause derives from :class:`OaisPreserveError`, so an embedding
system can catch one type; the CLI maps each family to its own exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class OaisPreserveError(Exception):
    """Base class of every error oais_preserve raises on purpose."""


class UserInputError(OaisPreserveError):
    """The caller asked for something impossible: a missing path, a bad option, an existing target."""


class UnsafePathError(UserInputError):
    """A path escapes its root, is a symlink, or collides with another after NFC normalization."""


@dataclass(frozen=True)
class Problem:
    """One finding of a check: where, what value, which rule was broken."""

    where: str
    message: str
    value: str | None = None
    rule: str | None = None

    def __str__(self) -> str:
        parts = [self.where]
        if self.rule:
            parts.append(f"[{self.rule}]")
        parts.append(self.message)
        if self.value is not None:
            parts.append(f"(value: {self.value!r})")
        return " ".join(parts)


class DescriptionError(UserInputError):
    """A descriptive record (phông, hồ sơ, tài liệu) breaks the TT05 rules; lists every problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"{len(self.problems)} lỗi mô tả / description error(s): "
            + "; ".join(str(p) for p in self.problems[:5])
            + (" …" if len(self.problems) > 5 else "")
        )


class FondsRecordError(DescriptionError):
    """A fonds record (``schemas/fonds.schema.json``, e.g. ``--fonds-record``) is invalid."""

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        super().__init__(problems)
        self.path = path
        self.args = (f"{path}: bản mô tả phông không hợp lệ / invalid fonds record: {self.args[0]}",)


class PackageConflictError(UserInputError):
    """A package of the same hồ sơ is already in place and its description differs from the one given.

    An archived package is never overwritten or silently kept: ``differences`` names each record
    and field that changed (e.g. a corrected title, or a chế độ sử dụng changed from 01 to 03).
    """

    def __init__(self, path: str, differences: Sequence[str]) -> None:
        self.path = path
        self.differences = list(differences)
        super().__init__(
            f"{path}: gói đã có khác với mục lục / existing package differs from the catalogue: "
            + "; ".join(self.differences[:5])
            + (" …" if len(self.differences) > 5 else "")
            + ". Gói đã lưu trữ không bị ghi đè (an archived package is never overwritten): kiểm tra"
            " lại mục lục, hoặc chủ động chuyển gói cũ đi rồi chạy lại (check the catalogue, or move"
            " the old package aside on purpose and re-run)"
        )


class InvalidPackageError(OaisPreserveError):
    """A package (bag, E-ARK folder or zip) failed validation; carries every problem found."""

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(
            f"{path}: {len(self.problems)} problem(s): "
            + "; ".join(str(p) for p in self.problems[:5])
            + (" …" if len(self.problems) > 5 else "")
        )


class IdentificationError(OaisPreserveError):
    """The signature files could not be loaded."""
