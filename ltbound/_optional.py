"""Optional dependencies: import them with a message naming the extra that installs them.

The bound core needs numpy and scipy only (``pip install ltbound``). The trainer needs
``ltbound[train]`` (torch, torchvision, tqdm, pillow, scikit-learn), the figures
``ltbound[plots]`` (matplotlib), the symbolic derivations ``ltbound[theory]`` (sympy);
``ltbound[all]`` installs all of them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: top-level module -> the extra of pyproject.toml that installs it
EXTRA_OF = {"torch": "train", "torchvision": "train", "tqdm": "train", "PIL": "train", "sklearn": "train",
            "matplotlib": "plots", "sympy": "theory"}


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` or raise ImportError saying which extra installs it and what needs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRA_OF.get(top, "all")
        raise ImportError(f"{what} needs {top}, which is not installed; install it with "
                          f"pip install 'ltbound[{extra}]' (or pip install -e '.[{extra}]' in a checkout)") from exc
