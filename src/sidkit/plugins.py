"""Finding the parts that register themselves: every module of a package, then installed entry points.

A tokenizer or objective registers when its class is defined (``__init_subclass__``), so making it
available is importing its module: the package's own modules are all imported here, and a separate
distribution adds its own with an entry point (``[project.entry-points."sidkit.methods"]``).
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from sidkit.errors import SidkitError


def import_all(package: str, group: str) -> None:
    """Import every module of ``package`` and every entry point of ``group``."""
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package}.{info.name}")
    for ep in entry_points(group=group):
        try:
            ep.load()
        except Exception as e:  # a broken plug-in names itself instead of breaking every command
            raise SidkitError(f"entry point {ep.name!r} ({ep.value}) of {group}: {type(e).__name__}: {e}") from None
