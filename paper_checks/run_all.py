"""Run every paper check and print a table of verdicts.

Usage (from the repository root)::

    python paper_checks/run_all.py                 # all checks, a table
    python paper_checks/run_all.py --fast          # skip the slow ones (training, large simulations)
    python paper_checks/run_all.py --only table12 theorem1
    python paper_checks/run_all.py --json          # machine-readable
    python paper_checks/run_all.py --list          # the check names
    python -m paper_checks.run_all ...             # the same, as a module
    python -m paper_checks.check_table12           # one module's checks

Each row gives the claim, where the paper makes it, the verdict (``holds``, ``fails``,
``holds only if <condition>``, ``holds where judged: <what was not judged>``, ``not run: <what
produces the input>``), the evidence and the command that reproduces it. A ``fails`` verdict is a finding about the paper, not a
failure of the runner; the exit status is 1 only when a check itself raised (``error``).

Run as a file, this script has its own folder, not the repository root, on ``sys.path``;
:func:`_load_by_path` then imports the folder as the package ``paper_checks`` (and the
sibling ``ltbound`` when it is not installed) from their paths with importlib, so nothing is
added to ``sys.path``. The whole run takes a few minutes on 2 CPU cores; ``--fast`` seconds.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Sequence

#: The check modules, in the order of the paper (Sect. 3.1, then the appendices, then Sect. 4).
CHECK_MODULES = (
    "check_eq1_sampling",
    "check_cifar_counts",
    "check_exchange_eq21",
    "check_increase_b2",
    "check_eq7_mcdiarmid",
    "check_eq7_coverage",
    "check_theorem1",
    "check_table12",
    "check_appendix_a_records",
    "check_table1_orderings",
    "check_certified_difference",
    "check_table9_decomposition",
    "check_best_claims",
    "check_significance",
)

_COLUMNS = (("claim", 30), ("where", 16), ("verdict", 30), ("evidence", 66), ("reproduce", 44))


def load_checks(modules: Sequence[str] = CHECK_MODULES) -> list:
    """Import the check modules (which registers their checks); return their checks in order."""
    from paper_checks import _check
    wanted = {f"paper_checks.{mod}" for mod in modules}
    for mod in modules:
        importlib.import_module(f"paper_checks.{mod}")
    return [c for c in _check.registered() if c.module in wanted]


def select(checks: list, only: Sequence[str] | None, fast: bool) -> list:
    """The checks to run: those named in ``only`` (all if None), minus the slow ones if ``fast``."""
    if only:
        known = {c.name: c for c in checks}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise SystemExit(f"unknown check name(s) {unknown}; known: {', '.join(known)}")
        checks = [known[name] for name in only]
    if fast:
        checks = [c for c in checks if not c.slow]
    return checks


def format_table(verdicts: Sequence, wall_seconds: float) -> str:
    """The verdicts as a fixed-width text table (long cells wrap within their column)."""
    from ltbound._table import format_table as grid    # here: run as a file, ltbound may be loaded by path

    rows = []
    for v in verdicts:
        evidence = v.summary
        rows.append([f"{v.name}: {v.claim}", v.where, v.verdict_text, evidence,
                     f"{v.command}\n{v.module_command}\n({v.seconds:.1f} s{', slow' if v.slow else ''})"])
    table = grid(rows, [name for name, _ in _COLUMNS], widths=[w for _, w in _COLUMNS], rstrip=True,
                         row_gap=True)
    lines = [table]
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    tally = ", ".join(f"{k}: {n}" for k, n in counts.items())
    lines.append(f"{len(verdicts)} checks ({tally}) in {wall_seconds:.1f} s wall time")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, modules: Sequence[str] = CHECK_MODULES) -> int:
    """The command line (see the module docstring); ``modules`` limits which check modules load."""
    parser = argparse.ArgumentParser(prog="python paper_checks/run_all.py",
                                     description="Every claim of the Switching paper as a runnable check with a verdict.")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these checks")
    parser.add_argument("--fast", action="store_true", help="skip the slow checks (training, large simulations)")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    parser.add_argument("--list", action="store_true", help="list the check names and exit")
    args = parser.parse_args(argv)

    checks = load_checks(modules)
    if args.list:
        for c in checks:
            print(f"{c.name:28s} {'slow' if c.slow else 'fast':5s} {c.where:22s} {c.claim}")
        return 0
    chosen = select(checks, args.only, args.fast)
    t0 = time.perf_counter()
    verdicts = []
    for c in chosen:
        if not args.json:
            print(f"running {c.name} ...", file=sys.stderr, flush=True)
        verdicts.append(c.run())
    wall = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"wall_seconds": round(wall, 3), "verdicts": [v.to_dict() for v in verdicts]}, indent=2))
    else:
        print(format_table(verdicts, wall))
        for v in verdicts:
            if v.status == "error":
                print(f"\n[{v.name}] error:\n{v.evidence.get('traceback', v.summary)}", file=sys.stderr)
    return 1 if any(v.status == "error" for v in verdicts) else 0


def _load_by_path(name: str, folder: Path) -> None:
    """Import the package in ``folder`` under ``name`` from its path (no sys.path change)."""
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    if not __package__:
        # Run as a file: import this folder as `paper_checks`, and the repository's `ltbound`
        # when it is not installed (pip install -e . makes it importable anyway).
        here = Path(__file__).resolve().parent
        if importlib.util.find_spec("ltbound") is None:
            _load_by_path("ltbound", here.parent / "ltbound")
        _load_by_path("paper_checks", here)
        raise SystemExit(importlib.import_module("paper_checks.run_all").main())
    raise SystemExit(main())
