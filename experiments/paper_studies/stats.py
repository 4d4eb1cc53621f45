"""The statistics every study shares: mean ± std over seeds, the paired difference, the ordering verdict.

A study's rows are dicts built by :func:`row`; :func:`ordering_verdict` compares every pair of
rows the paper orders with ours, and :func:`rows_table` prints them beside the paper's numbers.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ltbound._table import format_table

#: Pairs of rows whose paper values differ by less than this are not treated as a claim of the
#: paper (percent points; 0.01 for Table 9's fractions): a 0.1-point gap on one run is not an ordering.
MIN_PAPER_GAP = 1.0


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN with fewer than 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> dict[str, Any]:
    """Mean of a[s] - b[s] over the seeds both have, with a two-sided paired Student-t interval.

    The one place a study's uncertainty is computed: :func:`ltbound.statistics.heldout.compare_over_seeds`
    (paired by seed) does the statistics. Returns ``diff``, ``low``, ``high``, ``n``,
    ``p_value`` and ``method``; ``low``/``high`` are NaN with fewer than 2 pairs.
    """
    from ltbound.statistics.heldout import compare_over_seeds

    seeds = sorted(set(a) & set(b))
    if not seeds:
        return {"diff": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0,
                "p_value": float("nan"), "method": "paired t"}
    cmp = compare_over_seeds([a[s] for s in seeds], [b[s] for s in seeds], alpha=1.0 - level, paired=True)
    return {"diff": float(cmp.difference), "low": float(cmp.low), "high": float(cmp.high), "n": len(seeds),
            "p_value": float(cmp.p_value), "method": cmp.method}


def ordering_verdict(rows: list[dict], *, value_key: str = "values", paper_key: str = "paper",
                     min_gap: float = MIN_PAPER_GAP,
                     pair_test: Callable[[dict, dict], dict] | None = None) -> dict[str, Any]:
    """Compare every pair of rows the paper orders (paper gap >= ``min_gap``) with ours.

    A pair is *resolved* when the interval of our difference excludes 0; it *agrees* when its
    sign is the paper's. Verdict: "different" if any resolved pair reverses the paper's order,
    else "same ordering" if at least one pair is resolved, else "not detectable at this size".
    """
    test = pair_test or (lambda r1, r2: paired_difference(r1[value_key], r2[value_key]))
    pairs = []
    for i, r1 in enumerate(rows):
        for r2 in rows[i + 1:]:
            p1, p2 = r1.get(paper_key), r2.get(paper_key)
            if p1 is None or p2 is None or abs(p1 - p2) < min_gap - 1e-12:
                continue
            t = test(r1, r2)
            resolved = bool(np.isfinite(t["low"]) and (t["low"] > 0 or t["high"] < 0))
            agrees = bool(resolved and np.sign(t["diff"]) == np.sign(p1 - p2))
            pairs.append({"a": r1["label"], "b": r2["label"], "paper_diff": p1 - p2, **t,
                          "resolved": resolved, "agrees": agrees})
    resolved = [p for p in pairs if p["resolved"]]
    against = [p for p in resolved if not p["agrees"]]
    leaning = sum(1 for p in pairs if not p["resolved"] and np.sign(p["diff"]) == -np.sign(p["paper_diff"]))
    if against:
        verdict = "different"
        why = (f"{len(against)} of {len(resolved)} resolved pairs reverse the paper's order "
               f"(e.g. {against[0]['a']} vs {against[0]['b']})")
    elif resolved:
        verdict = "same ordering"
        why = f"{len(resolved)} of {len(pairs)} pairs the paper orders are resolved, all as the paper"
    else:
        verdict = "not detectable at this size"
        why = f"none of the {len(pairs)} pairs the paper orders is resolved (95% intervals include 0)"
    if leaning:
        why += f"; {leaning} unresolved pair(s) point the other way"
    return {"verdict": verdict, "why": why, "pairs": pairs, "min_paper_gap": min_gap}


def row(label: str, paper: float | None, values: dict[int, float], runs: dict[int, str] | None = None,
        **extra: Any) -> dict[str, Any]:
    m, s = mean_std(list(values.values()))
    return {"label": label, "paper": paper, "values": {int(k): float(v) for k, v in values.items()},
            "mean": m, "std": s, "n": len(values), "runs": runs or {}, **extra}


def fmt_ms(r: dict, digits: int = 1) -> str:
    if r["n"] == 0:
        return "-"
    s = "" if not np.isfinite(r["std"]) else f" ± {r['std']:.{digits}f}"
    return f"{r['mean']:.{digits}f}{s}"


def rows_table(rows: list[dict], first: str = "setting", extra: tuple[tuple[str, str], ...] = ()) -> str:
    header = [first, *[h for h, _ in extra], "paper", "ours (mean ± std, %)", "n"]
    lines = [[r["label"], *[str(r.get(k, "")) for _, k in extra],
              "-" if r["paper"] is None else f"{r['paper']:.1f}", fmt_ms(r), str(r["n"])] for r in rows]
    return format_table(lines, header)
