"""Shared fixtures: where ../shared is, the external validators, and a generated sample fonds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EARK_VALIDATE = SHARED / "tools" / "eark_validate.py"


def shared_or_skip(*parts: str) -> Path:
    """A path under ../shared, or skip the test naming what is missing (a user's clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (tests that use ../shared run where it is present, as in CI)")
    return path


def eark_python() -> Path:
    """The interpreter of the separate eark-validator environment (`make test` creates it)."""
    configured = os.environ.get("OAIS_EARK_PYTHON")
    candidates = [Path(configured)] if configured else []
    candidates.append(REPO / ".venv-eark" / "bin" / "python")
    for candidate in candidates:
        if candidate.exists():
            return candidate
    pytest.skip("eark-validator environment missing: run `make test` (it creates .venv-eark)")
    raise AssertionError  # unreachable, for type checkers


def run_eark_validator(package_root: Path, *, allow: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the E-ARK validator (../shared/tools/eark_validate.py) for real, offline, in 2.0.4 mode."""
    tool = shared_or_skip("tools", "eark_validate.py")
    cmd = [str(eark_python()), str(tool), "--version", "2.0.4", str(package_root)]
    if allow:
        cmd += ["--allow", allow]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def run_bagit_validator(bag: Path) -> subprocess.CompletedProcess[str]:
    """bagit-python's own validator, as a separate process (`bagit.py --validate`)."""
    return subprocess.run(
        [sys.executable, "-m", "bagit", "--validate", str(bag)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="session")
def sample_fonds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A generated fonds: (scans folder, description files). Generated once per test session."""
    from oais_preserve.samples import generate_sample_fonds

    root = tmp_path_factory.mktemp("fonds")
    descriptions = generate_sample_fonds(root, hoso_count=3, seed=7)
    return root / "scans", descriptions
