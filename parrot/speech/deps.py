"""Optional engine libraries: a clear message when one is not installed."""

from __future__ import annotations

import importlib.util

from parrot.errors import UserError


def need(module: str, engine: str, package: str = "'parrot[speech]'") -> None:
    """Raise a UserError naming what to install if `module` cannot be imported."""
    if importlib.util.find_spec(module.split(".")[0]) is None:
        raise UserError(f"{engine} needs {module.split('.')[0]} (pip install {package})")
