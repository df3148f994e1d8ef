"""The ``oais-preserve`` command line: parse, call the library, render.

Exit codes: 0 success; 1 a package or file failed validation or fixity; 2 a user mistake
(bad path, bad option, invalid description); 3 an unexpected internal error.

Each module below registers the commands of one concept on the ``main`` group.
"""

from __future__ import annotations

# Each of these modules registers its commands on ``main`` when imported.
from . import catalogue, dip, handover, packaging, storage  # noqa: F401
from ._common import EXIT_INTERNAL, EXIT_INVALID, EXIT_USER, main

__all__ = ["EXIT_INTERNAL", "EXIT_INVALID", "EXIT_USER", "main"]
