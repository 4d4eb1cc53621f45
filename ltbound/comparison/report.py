"""The text table of a :class:`ltbound.comparison.compare_runs.Comparison`: measured risks, bound terms, verdicts.

Formatting only: the numbers come from :func:`ltbound.compare`, the verdicts from
:mod:`ltbound.statistics.verdicts`.
"""

from __future__ import annotations

import math

from .._table import format_table
from ..statistics.verdicts import BOUND_TARGETS, THESE_RUNS


def format_comparison(comp) -> str:
    """A readable table of a :class:`ltbound.comparison.compare_runs.Comparison` (not imported: it imports this
    module): schedules as rows, measured risks and bound terms as columns."""
    s = comp.summary
    if not s:
        return "(no runs)"
    first_run = comp.runs[0].report
    mark = {t.name: ("*" if t.kind == "estimate" else "") for res in (first_run.ib, first_run.sampling, first_run.target)
            for t in res.terms}
    split = first_run.ib.delta_split
    theta = getattr(comp, "theta_words", comp.theta)      # how Θ̂ was formed, in words, when given
    header = (f"loss: {comp.loss} (M = {comp.loss_range:g}), delta = {comp.delta:g} per bound, split "
              f"McDiarmid {split['mcdiarmid']:g} (confidence terms) + Monte Carlo {split['monte_carlo']:g} "
              f"(sign draws), Θ̂ = {theta}; mean ± std over seeds; * = estimate, others rigorous; "
              f"acc interval: test-set {1 - comp.delta:g} interval (mean of its ends over seeds); certified: "
              f"rigorous test-set bound on the balanced 0-1 error at delta {comp.delta:g}")
    # The Monte Carlo error of every 2·R̂ in the tables, once: the draws and the largest standard error.
    rads = [res.rademacher for r in comp.runs for res in (r.report.ib, r.report.target)
            if res.rademacher is not None and res.rademacher.method == "monte-carlo"]
    ses = [2.0 * rad.std_error for rad in rads if math.isfinite(rad.std_error)]
    if rads:
        draws = sorted({rad.num_draws for rad in rads})
        header += (f"; 2·R̂ from {f'{draws[0]:,}' if len(draws) == 1 else f'{draws[0]:,}-{draws[-1]:,}'} sign draws"
                   + (f", Monte Carlo standard error <= {max(ses):.4f}" if ses else ""))
    blocks = []

    def fmt(stat: dict) -> str:
        if stat["mean"] is None:
            return "-"
        # a spread that rounds to zero at 4 decimals is not shown; nor is the sign of a zero
        mean = 0.0 if abs(stat["mean"]) < 5e-5 else stat["mean"]
        return f"{mean:.4f}±{stat['std']:.4f}" if stat["std"] >= 5e-5 else f"{mean:.4f}"

    def fmt_count(stat: dict) -> str:
        vals = [int(v) for v in stat["values"] if v is not None]
        return str(vals[0]) if len(set(vals)) == 1 else f"{min(vals)}-{max(vals)}"

    acc_cols = ["balanced_test_accuracy", "balanced_acc_low", "balanced_acc_high", "certified_balanced_risk",
                "acc_many", "acc_medium", "acc_few", "test_risk_lt",
                "test_risk_balanced", "condition", "confidence_ratio", "num_params"]
    acc_names = [c if c != "num_params" else "|Θ̂|" for c in acc_cols]
    blocks.append(_grid("Measured (balanced test set), Theorem 1's condition Q_n + L^s - L, and |Θ̂| "
                        "(models in each run's Θ̂; with 1 the Rademacher term is 0 by construction)",
                        acc_cols, s, fmt, acc_names, special={"num_params": fmt_count}))
    risk_of = {key: risk for key, _, risk in BOUND_TARGETS}
    for key, title in (("eq6", "Eq. 6 (IB objective): bounds the long-tailed risk"),
                       ("eq7", "Eq. 7 (final-stage p): bounds the long-tailed risk"),
                       ("target", "Target prior uniform: bounds the balanced test risk")):
        cols = [k for k in next(iter(s.values())) if k.startswith(key + "_") and k != key + "_total"]
        cols.append(key + "_total")
        names = [_TERM_LABELS.get(c[len(key) + 1:], c[len(key) + 1:]) + mark.get(c[len(key) + 1:], "")
                 for c in cols]
        cols += [risk_of[key], f"slack_{key}"]
        names += ["test risk", "total − test"]
        if comp.coverage:
            cols.append(f"cover_{key}")
            names.append("vs test risk")
        blocks.append(_grid(title, cols, s, fmt, names,
                            cells={(lb, f"cover_{key}"): _coverage_cell(comp.coverage.get(lb, {}).get(key))
                                   for lb in s}))
    o = comp.orderings
    lines = [f"By balanced test accuracy: {' > '.join(o['by_test_accuracy'])}"]
    if o.get("single_runs"):
        lines.append("  one run per schedule: accuracy pairs are paired tests on the test images and bound pairs use "
                     "the resampling error only; both speak of these trained models, not of the schedules")
    elif comp.runs and "too_few_seeds" not in o:
        lines.append(f"  pairs over seeds: t-test, paired by seed where both schedules ran the same seeds (Welch "
                     "otherwise), each run's resampling or test-set error a floor of the seed variance; Holm over "
                     f"each table's pairs at alpha = {o.get('alpha', comp.delta):g}")
    for name, pc in o.get("accuracy_pairs", {}).items():
        ci = "" if pc["low"] is None else f" [{pc['low']:+.4f}, {pc['high']:+.4f}]"
        p = "" if pc["p_value"] is None else f", p = {pc['p_value']:.3g}"
        if pc["p_value"] is not None and len(o["accuracy_pairs"]) > 1:    # more than one pair: Holm decides
            p += f", Holm p = {pc['p_holm']:.3g}"
        lines.append(f"  balanced acc {name}: {pc['difference']:+.4f}{ci} ({pc['method']}{p}) -> {pc['verdict']}")
    words = {"agrees": "agrees with test accuracy", "DISAGREES": "DISAGREES with test accuracy",
             "too few seeds": "not assessed: fewer than 2 seeds for " + ", ".join(o.get("too_few_seeds", []))}
    for key in ("eq6_total", "eq7_total", "target_total"):
        words["tied"] = ("tied: the bound does not separate the pairs test accuracy separates"
                         if o[key].get("accuracy_separates_a_pair") else
                         f"tied: test accuracy separates no pair at alpha = {o.get('alpha', comp.delta):g}")
        lines.append(f"By {key[:-6]} bound (lowest first): {' < '.join(o[key]['by_bound'])}"
                     f"  -> {words[o[key]['verdict']]}")
        own = o[key].get("versus_own_risk")
        if own:
            what = "balanced" if own["risk"] == "test_risk_balanced" else "long-tailed"
            lines.append(f"  against the {what} test risk it bounds (lowest first: {' < '.join(own['by_risk'])}): "
                         f"{own['verdict']}")
        for name, pr in o[key].get("pairs", {}).items():
            rel = {1: "lower", -1: "higher", 0: "tied"}[pr["relation"]]
            risk = pr.get("risk")
            tail = "" if risk is None else (f"; test risk {_difference(risk)} -> "
                                            f"{ {1: 'lower', -1: 'higher', 0: 'tied'}[risk['relation']] }")
            lines.append(f"  {name}: {_difference(pr)} -> {rel}{tail}")
    negative = [f"{key} for {lb}" for lb, per in s.items() for key in ("eq6", "eq7", "target")
                if (per.get(f"{key}_rademacher") or {}).get("mean") is not None
                and per[f"{key}_rademacher"]["mean"] <= -5e-5]
    if negative:
        # E_ξ max_θ Σ w ξ L(θ) >= max_θ E_ξ Σ w ξ L(θ) = 0: only the Monte Carlo mean can go below 0
        lines.append("2·R̂ below 0 (" + ", ".join(negative) + "): a Monte Carlo mean of sign draws, unbiased for a "
                     "quantity that is >= 0, so below 0 by sampling error; the totals use R̂⁺ = R̂ + the Monte Carlo "
                     "term, which that sign does not change")
    below = [(lb, key) for lb, per in comp.coverage.items() for key, e in per.items() if e["BELOW"]]
    if below:
        lines.append("Bound below the measured test risk beyond its error (so not a bound for that model; "
                     f"R̂ over {'the final-stage checkpoints' if comp.theta == 'checkpoints' else theta} "
                     "misses the generalization gap): "
                     + ", ".join(f"{key} for {lb}" for lb, key in below))
    gap_lines = []
    for label in s:                  # one line per schedule and bound, summed over its seeds
        for key, what in (("eq6", "Eq. 6, long-tailed"), ("target", "target bound, balanced")):
            gs = [(r.seed, r.theta_gaps[key]) for r in comp.runs if r.label == label and r.theta_gaps.get(key)]
            if not gs:
                continue
            seed, worst = max(gs, key=lambda sg: sg[1]["max_gap"] - sg[1]["deviation"])
            devs = [g["deviation"] for _, g in gs]
            dev = f"{devs[0]:.4f}" if len(gs) == 1 else f"{min(devs):.4f}-{max(devs):.4f}"
            where = f"epoch {worst['max_gap_epoch']}" + ("" if len(gs) == 1 else f", seed {seed}")
            gap_lines.append(f"  {label}, {what}: deviation {dev}; largest gap {worst['max_gap']:.4f} "
                             f"({where}); exceeded by {sum(g['exceeded'] for _, g in gs)} of "
                             f"{sum(g['members'] for _, g in gs)} members with test losses "
                             f"({sum(g['members_in_theta'] for _, g in gs)} in Θ̂, {len(gs)} run{'s' * (len(gs) > 1)})")
    if gap_lines:
        lines.append("Uniform over Θ̂ (each bound says test risk(θ) - objective(θ) <= deviation = 2·R̂ + MC + confidence "
                     "for every θ; a member exceeds it by more than 2 test-set standard errors):")
        lines.extend(gap_lines)
    return header + "\n\n" + "\n\n".join(blocks) + "\n\n" + "\n".join(lines)


def _difference(pr: dict) -> str:
    """'+0.0348 ± 0.0030' for a pair test: the difference and the critical difference at the pair's
    Holm level; with seeds also the test, its degrees of freedom and the Holm-adjusted p-value."""
    if pr["p_holm"] is None:
        return f"{pr['difference']:+.4f} (not tested: {pr['method']})"
    text = f"{pr['difference']:+.4f} ± {pr['threshold']:.4f}"
    if pr["method"] == THESE_RUNS:
        return text if pr["family"] == 1 else text + f" (Holm p = {pr['p_holm']:.3g})"
    return text + f" ({pr['method']}, {pr['df']:.3g} df, Holm p = {pr['p_holm']:.3g})"


def _coverage_cell(entry: dict | None) -> str:
    """'above 3/3', 'BELOW 2/3, within 1/3', ... for one schedule and bound."""
    if not entry:
        return "-"
    n = len(entry["runs"])
    return ", ".join(f"{v} {entry[v]}/{n}" for v in ("above", "BELOW", "within error") if entry[v])


#: Column labels of bound terms in the table: the Rademacher column holds 2·R̂ (Eq. 6, 7), not R̂.
_TERM_LABELS = {"rademacher": "2·R̂", "monte_carlo": "2·(R̂⁺−R̂)", "residual": "−Q̂_n"}


def _grid(title: str, cols: list[str], s: dict, fmt, names: list[str] | None = None,
          special: dict | None = None, cells: dict | None = None) -> str:
    names = names or cols
    special = special or {}
    cells = cells or {}

    def cell(lb: str, c: str) -> str:
        if (lb, c) in cells:
            return cells[(lb, c)]
        if c not in s[lb]:
            return "-"
        return special[c](s[lb][c]) if c in special else fmt(s[lb][c])

    return title + "\n" + format_table([[lb, *(cell(lb, c) for c in cols)] for lb in s], ["schedule", *names])
