"""The small machinery of the paper checks: a verdict per claim and a registry.

A *check* is a function with no arguments that tests one claim of the paper and returns an
:class:`Outcome`: a status, the evidence in words and numbers, and (for a conditional or
failed claim) the condition or the counterexample. :func:`check` registers such a function
under a short name together with the claim and where the paper makes it; :func:`Check.run`
times it and turns it into a :class:`Verdict`, which is what the runner prints.

Statuses
--------
``holds``          the claim is true as the paper states it (within the stated tolerance).
``fails``          a measurement or counterexample contradicts the claim as stated.
``holds only if``  true under a condition the paper does not state (``condition`` says which).
``holds where judged``  true on every part of the claim the inputs reach, but some part (a row or a
                   column of a table without run records) was not judged; ``condition`` names it.
``not run``        the inputs (e.g. GPU run records) are absent; ``condition`` says what produces them.
``error``          the check itself raised: a bug in the check or the library, never a verdict
                   on the paper.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

HOLDS = "holds"
FAILS = "fails"
HOLDS_ONLY_IF = "holds only if"
HOLDS_WHERE_JUDGED = "holds where judged"
NOT_RUN = "not run"
ERROR = "error"
STATUSES = (HOLDS, FAILS, HOLDS_ONLY_IF, HOLDS_WHERE_JUDGED, NOT_RUN, ERROR)

__all__ = ["HOLDS", "FAILS", "HOLDS_ONLY_IF", "HOLDS_WHERE_JUDGED", "NOT_RUN", "ERROR", "STATUSES",
           "Outcome", "Verdict", "Check", "check", "registered", "get", "jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, Fractions, tuples and Paths made JSON-safe.

    Non-finite floats become ``None`` (JSON has no NaN); a Fraction becomes a float.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating, Fraction)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


@dataclass(frozen=True)
class Outcome:
    """What a check function returns.

    Attributes
    ----------
    status : str
        One of ``holds``, ``fails``, ``holds only if``, ``holds where judged``, ``not run`` (see
        the module docstring).
    summary : str
        The evidence in one or two sentences, with the numbers.
    evidence : dict
        The same numbers, machine-readable (made JSON-safe by :func:`jsonable`).
    condition : str
        For ``holds only if``: the condition; for ``holds where judged``: what was not judged
        and why; for ``fails``: the counterexample or the correct statement; for ``not run``:
        the command that produces the missing input.
    """

    status: str
    summary: str
    evidence: dict = field(default_factory=dict)
    condition: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES or self.status == ERROR:
            raise ValueError(f"status must be one of {STATUSES[:-1]}, got {self.status!r}")
        if self.status in (HOLDS_ONLY_IF, HOLDS_WHERE_JUDGED, NOT_RUN) and not self.condition:
            raise ValueError(f"an outcome with status {self.status!r} must say its condition")


@dataclass(frozen=True)
class Verdict:
    """One row of the runner's table: a claim, where the paper makes it, and the verdict."""

    name: str
    claim: str
    where: str
    status: str
    summary: str
    condition: str
    evidence: dict
    command: str
    module_command: str
    slow: bool
    seconds: float

    def to_dict(self) -> dict:
        return {"name": self.name, "claim": self.claim, "where": self.where, "status": self.status,
                "summary": self.summary, "condition": self.condition,
                "evidence": jsonable(self.evidence), "command": self.command,
                "module_command": self.module_command, "slow": self.slow,
                "seconds": round(self.seconds, 3)}

    @property
    def verdict_text(self) -> str:
        """The status with its condition, e.g. ``holds only if class counts are fixed``."""
        if self.status in (HOLDS_ONLY_IF, HOLDS_WHERE_JUDGED, FAILS, NOT_RUN) and self.condition:
            return f"{self.status}: {self.condition}"
        return self.status


@dataclass(frozen=True)
class Check:
    """A registered check: one claim of the paper and the function that tests it."""

    name: str
    claim: str
    where: str
    slow: bool
    func: Callable[[], Outcome]
    module: str

    @property
    def command(self) -> str:
        return f"python paper_checks/run_all.py --only {self.name}"

    @property
    def module_command(self) -> str:
        return f"python -m {self.module}"

    def run(self) -> Verdict:
        """Run the check; an exception becomes an ``error`` verdict carrying its message."""
        t0 = time.perf_counter()
        try:
            out = self.func()
            if not isinstance(out, Outcome):
                raise TypeError(f"check {self.name} returned {type(out).__name__}, not an Outcome")
            status, summary, evidence, condition = out.status, out.summary, out.evidence, out.condition
        except Exception as exc:  # a broken check must not hide the other verdicts
            status, condition, evidence = ERROR, "", {"traceback": traceback.format_exc(limit=6)}
            summary = f"{type(exc).__name__}: {exc}"
        return Verdict(name=self.name, claim=self.claim, where=self.where, status=status,
                       summary=summary, condition=condition, evidence=evidence,
                       command=self.command, module_command=self.module_command,
                       slow=self.slow, seconds=time.perf_counter() - t0)


_REGISTRY: dict[str, Check] = {}


def check(name: str, *, claim: str, where: str, slow: bool = False) -> Callable[[Callable[[], Outcome]], Callable[[], Outcome]]:
    """Decorator: register a no-argument check function under ``name``.

    Parameters
    ----------
    name : str
        Short identifier used by ``--only`` (letters, digits, ``_``).
    claim : str
        The paper's claim in a few words.
    where : str
        Equation / table / section of the paper.
    slow : bool
        True when the check trains models or runs a large simulation (``--fast`` skips it).
    """
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"name must be letters, digits and '_', got {name!r}")

    def register(func: Callable[[], Outcome]) -> Callable[[], Outcome]:
        module = func.__module__
        if module == "__main__":
            # `python -m paper_checks.check_x` runs the file as __main__; name it as the
            # package module so that the command printed for it is the one the user typed.
            module = f"paper_checks.{Path(func.__code__.co_filename).stem}"
        old = _REGISTRY.get(name)
        if old is not None and old.func.__code__.co_filename != func.__code__.co_filename:
            raise ValueError(f"check name {name!r} is registered twice ({old.module} and {module})")
        _REGISTRY[name] = Check(name=name, claim=claim, where=where, slow=slow, func=func, module=module)
        return func

    return register


def registered() -> list[Check]:
    """All registered checks, in registration order."""
    return list(_REGISTRY.values())


def get(name: str) -> Check:
    """The check registered under ``name`` (ValueError listing the known names otherwise)."""
    if name not in _REGISTRY:
        raise ValueError(f"no check named {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]
