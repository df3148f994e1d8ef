"""The ``oais-preserve`` command line: parse, call the library, render.

Exit codes: 0 success; 1 a package or file failed validation or fixity; 2 a user mistake
(bad path, bad option, invalid description); 3 an unexpected internal error.

Each module below registers the commands of one concept on the ``main`` group.
"""

from __future__ import annotations

from . import catalogue as _catalogue  # noqa: F401  (registers its commands)
from . import packaging  # noqa: F401  (registers its commands)
from ._common import EXIT_INTERNAL, EXIT_INVALID, EXIT_USER, main

__all__ = ["EXIT_INTERNAL", "EXIT_INVALID", "EXIT_USER", "main"]
