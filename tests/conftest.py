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

# The identifier's table cache goes under build/, not into the user's own cache folder; worker
# processes inherit the setting.
os.environ.setdefault("OAIS_PRESERVE_CACHE_DIR", str(REPO / "build" / "test-cache"))


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


@pytest.fixture(scope="session")
def fonds_store(sample_fonds: tuple[Path, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of AIP bags: 30 hồ sơ of fonds P07 and 2 of fonds P08, built once per session.

    Rendering 30 hồ sơ of scans takes over a minute, so the 30 descriptions are derived from the
    3 generated ones: each copy gets its own mã hồ sơ and title (and every third one drops its
    last document, so the counts differ between hồ sơ) and reuses the generated scans. The
    two P08 hồ sơ are copies re-assigned to another fonds.
    """
    import json

    from oais_preserve.packages import build_aip

    scans, descriptions = sample_fonds
    root = tmp_path_factory.mktemp("store")
    store = root / "store"
    derived = root / "descriptions"
    derived.mkdir()
    originals = [json.loads(path.read_text(encoding="utf-8")) for path in descriptions]
    plan = [("P07", i) for i in range(30)] + [("P08", i) for i in range(2)]
    for fonds, index in plan:
        data = json.loads(json.dumps(originals[index % len(originals)]))
        hoso = data["hoso"]
        head, _sep, number = hoso["fileCode"].rpartition(".")
        hoso["fileCode"] = f"{head}.{int(number) + 1000 * (index + 1) + (500 if fonds == 'P08' else 0)}"
        hoso["title"] = f"{hoso['title']} (bản {index + 1})"
        if fonds == "P08":
            data["fonds"] |= {"fondsCode": "P08", "fondsName": "Phông Ty Thủy lợi tỉnh Bắc Thái"}
        if index % 3 == 2 and len(data["documents"]) > 1:
            dropped = data["documents"].pop()
            hoso["totalDoc"] = len(data["documents"])
            hoso["numberOfPage"] -= int(dropped.get("numberOfPage", 0))
            if "numberOfPaper" in hoso and dropped.get("kind") == "doc":
                hoso["numberOfPaper"] = max(1, hoso["numberOfPaper"] - int(dropped.get("numberOfPage", 0)))
        path = derived / f"{fonds}-{index}.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        build_aip(path, scans, store, workers=1)
    return store
