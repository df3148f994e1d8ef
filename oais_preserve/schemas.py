"""Where our schemas live, and the offline JSON Schema registry.

From a source checkout the schemas sit in the repository's ``schemas/``; an installed wheel carries
the same folder as ``oais_preserve/schemas`` (pyproject force-include). The registry never fetches
anything: a ``$ref`` to an unknown URI fails instead of reaching the network.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from referencing import Registry, Resource

_MARKER = "hoso-description.schema.json"

#: Base of every ``$id`` of our JSON Schemas; ``.invalid`` can never resolve.
JSON_SCHEMA_BASE = "https://oais-preserve.invalid/schemas/"
DESCRIPTION_SCHEMA_ID = JSON_SCHEMA_BASE + "hoso-description.schema.json"


def _find_schema_dir() -> Path:
    package = Path(__file__).resolve().parent
    # Wheel layout first: next to a wheel, parents[1]/schemas could be some other project's folder.
    candidates = (package / "schemas", package.parent / "schemas")
    for candidate in candidates:
        if (candidate / _MARKER).is_file():
            return candidate
    return candidates[-1]


SCHEMA_DIR: Path = _find_schema_dir()
#: Our strict TT05 EAD schemas (no target namespace).
EAD_XSD_DIR: Path = SCHEMA_DIR / "ead"
#: The official METS / PREMIS / xlink / xml XSDs, shipped unmodified.
OFFICIAL_XSD_DIR: Path = SCHEMA_DIR / "xsd"


def json_schema_files() -> list[Path]:
    """Our JSON Schema files, sorted by name."""
    return sorted(SCHEMA_DIR.glob("*.schema.json"))


@cache
def load_json_schema_registry() -> Registry[Any]:
    """A registry holding every ``*.schema.json`` of :data:`SCHEMA_DIR` under its ``$id``."""
    resources: list[tuple[str, Resource[Any]]] = []
    for path in json_schema_files():
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource: Resource[Any] = Resource.from_contents(contents)
        resources.append((str(contents["$id"]), resource))
    if not resources:
        raise FileNotFoundError(f"no *.schema.json in {SCHEMA_DIR}")
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry
