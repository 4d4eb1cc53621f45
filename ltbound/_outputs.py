"""Output files of the command-line scripts: none is overwritten without ``--overwrite``.

One convention for every script of ``experiments/`` that writes named files (results, figures,
summaries): before any work, the outputs it would write are looked up; one that exists is
refused (exit status 2) unless ``--overwrite`` is given, so a rerun never silently replaces a
committed figure or someone's results. A write that fails anyway (a full disk, a path that is
a folder) ends in one line naming the flag, not a traceback.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Iterable

__all__ = ["OVERWRITE_HELP", "add_overwrite_flag", "refuse_existing", "write_output"]

OVERWRITE_HELP = "replace output files that already exist (without it, a command refuses to overwrite any)"


def add_overwrite_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add the shared ``--overwrite`` switch (dest ``overwrite``)."""
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def refuse_existing(parser: argparse.ArgumentParser, flag: str, paths: Iterable[str | os.PathLike],
                    overwrite: bool) -> None:
    """Exit with status 2 (``parser.error``) if one of ``paths`` exists and ``overwrite`` is False.

    ``flag`` names the option that chose the paths (``--out``, ``--json``). A path that is a
    folder is refused even with ``overwrite``: a file cannot replace it.
    """
    paths = [Path(p) for p in paths]
    folders = [p for p in paths if p.is_dir()]
    if folders:
        parser.error(f"{flag}: {folders[0]} is a folder, not a file; give a file path")
    found = [str(p) for p in paths if p.exists() or p.is_symlink()]
    if found and not overwrite:
        what = found[0] if len(found) == 1 else ", ".join(found)
        parser.error(f"{flag}: {what} already exist{'s' if len(found) == 1 else ''}; nothing was written: "
                     f"choose another {flag}, or pass --overwrite to replace {'it' if len(found) == 1 else 'them'}")


class OutputError(OSError):
    """An output file could not be written; the message names the flag and the cause."""


def write_output(path: str | os.PathLike, text: str, flag: str) -> None:
    """Write ``text`` to ``path`` (creating its folder), or raise :class:`OutputError` in one line."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise OutputError(f"{flag}: cannot write {path} ({exc.strerror or exc}); choose another path") from None
