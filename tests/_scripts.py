"""Load a repository script (experiments/, benchmarks/, paper_checks/) as a module: the one way the tests do it.

Scripts are not a package (they run as ``python experiments/x.py``), so a test that calls their functions
executes the file itself.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: str | Path, name: str | None = None) -> ModuleType:
    """Execute the script at ``path`` (relative to the repository root, or absolute) as a new module.

    The module is entered in ``sys.modules`` under ``name`` (default: the file's stem) before the file runs,
    because dataclasses look their module up while it executes; a later call replaces the entry.
    """
    path = Path(path)
    path = path if path.is_absolute() else ROOT / path
    if not path.is_file():
        raise FileNotFoundError(f"no script at {path}")
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
