"""How many certification images would prove "Switching lower"? A planning estimate from a certify run's marginals.

A committed certify result (results.json) holds each schedule's per-class empirical 0-1 risk on
D_cert, not the per-image losses, so the certified difference cannot be computed from it; this
script *estimates* it. Per class j, with e_j(A), e_j(B) the two schedules' empirical errors and
d_j = e_j(A) − e_j(B), it assumes the disagreement rates

    P(A errs, B does not) = max(d_j, 0) + ρ·min(e_j(A), e_j(B)),
    P(B errs, A does not) = max(−d_j, 0) + ρ·min(e_j(A), e_j(B)),

(ρ = 0: the two disagree only where their error rates differ; larger ρ: more churn, for
example from the independent weight draws of two stochastic networks). When the run's
``certificates.npz`` lies beside results.json (runs since issue 31), a first block uses the
*measured* rates instead: per class, the share of the N × m_j pair draws where A errs alone and
where B errs alone, at the σ pair that gave the run's certified upper bound. The certificate
depends on the loss matrices only through these per-class shares, so at scale 1 the measured
block reproduces the run's certified interval (a check printed with it). It builds loss matrices
with exactly these class rates for D_cert's counts scaled by s (every class), N passes of
per-sample draws, and the two chosen posteriors' KL, and certifies the difference as
``experiments/certify.py`` does (two-sided, pooled-chernoff, the K² σ pairs paid for, δ), and
one-sided (``sides="upper"``: the direction "A lower" fixed before the data). It prints the
certified interval per (ρ, s) and the smallest s whose upper bound is below 0.
Nothing here is a certificate: it plans the size of one.

    python experiments/difference_sample_size.py experiments/results/certify-cifar10-lt-100/results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ltbound.certificates.difference import risk_difference_certificate

SCALES = (1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32)
CHURN = (0.0, 0.1, 0.25)


def churn_rates(e_a, e_b, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Per class (P(A errs alone), P(B errs alone)) under the assumed churn ρ (module docstring)."""
    d = np.asarray(e_a, float) - np.asarray(e_b, float)
    base = rho * np.minimum(e_a, e_b)
    return np.maximum(d, 0) + base, np.maximum(-d, 0) + base


def measured_rates(losses_a: np.ndarray, losses_b: np.ndarray, labels: np.ndarray,
                   num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class (share of A-alone errors, share of B-alone errors) over the N × m_j pair draws of two (N, m) 0-1
    loss matrices whose entry (k, i) is one pair draw."""
    plus, minus = (losses_a > losses_b), (losses_b > losses_a)
    rows = [np.flatnonzero(labels == j) for j in range(num_classes)]
    return (np.array([plus[:, r].mean() for r in rows]), np.array([minus[:, r].mean() for r in rows]))


def planned_losses(p_plus, p_minus, counts, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(losses_a, losses_b, labels): N × Σm_j matrices whose class j has A erring alone on round(p_plus_j·N·m_j)
    pair draws and B alone on round(p_minus_j·N·m_j), exactly; no draw where both err (it does not move Δ)."""
    la, lb, ys = [], [], []
    for j, m in enumerate(counts):
        size = n * m
        k_plus, k_minus = round(p_plus[j] * size), round(p_minus[j] * size)
        a = np.zeros(size)
        b = np.zeros(size)
        a[:k_plus] = 1
        b[k_plus:k_plus + k_minus] = 1
        la.append(a.reshape(n, m))
        lb.append(b.reshape(n, m))
        ys.append(np.full(m, j))
    return np.concatenate(la, axis=1), np.concatenate(lb, axis=1), np.concatenate(ys)


def plan(p_plus, p_minus, counts, n: int, kl_a: float, kl_b: float, pairs: int, cfg: dict) -> list[dict]:
    """Per scale s of SCALES: the certified two-sided interval and the one-sided upper bound with these rates."""
    rows = []
    for s in SCALES:
        m = np.maximum(np.rint(np.asarray(counts) * s).astype(int), 1)
        la, lb, y = planned_losses(p_plus, p_minus, m, n)
        kw = dict(kl_a=kl_a, kl_b=kl_b, delta=cfg["delta"], prior_grid_size=pairs, mc_draws="per-sample",
                  mc_delta_fraction=cfg["mc_delta_fraction"])
        c = risk_difference_certificate(la, lb, y, **kw)
        one = risk_difference_certificate(la, lb, y, sides="upper", **kw)
        rows.append({"scale": s, "tail": int(m.min()), "d_cert": int(m.sum()), "lower": c.lower, "upper": c.upper,
                     "one_sided_upper": one.upper})
    return rows


def _print_block(label: str, rows: list[dict], a: str) -> None:
    first = next((r for r in rows if r["upper"] < 0), None)
    first_one = next((r for r in rows if r["one_sided_upper"] < 0), None)
    for r in rows:
        print(f"{label:>8} {r['scale']:>8g} {r['tail']:>8d} {r['d_cert']:>7d} [{r['lower']:+.4f}, {r['upper']:+.4f}] "
              f"{r['one_sided_upper']:>+15.4f}")
    print(f"  {label}: two-sided " + (f"proves {a} lower from scale {first['scale']:g} (tail m_j = {first['tail']})"
                                     if first else f"proves nothing up to scale {SCALES[-1]:g}")
          + "; one-sided (direction fixed in advance) " + (f"from scale {first_one['scale']:g} (tail m_j = "
                                                           f"{first_one['tail']})" if first_one else "never"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="difference_sample_size.py", description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="results.json of experiments/certify.py")
    p.add_argument("--a", default="switching", help="schedule A (Δ = risk(A) − risk(B))")
    p.add_argument("--b", default="ib", help="schedule B")
    a = p.parse_args(argv)
    res = json.loads(Path(a.results).read_text())
    runs = {r["schedule"]: r for r in res["runs"]}
    if a.a not in runs or a.b not in runs:
        p.error(f"results hold {sorted(runs)}; --a and --b must name two of them")
    ca, cb = (min(runs[s]["certificates"]["zero-one"].values(), key=lambda c: c["bound"]) for s in (a.a, a.b))
    counts = np.asarray(ca["counts"])
    n = int(ca["num_samples"])
    cfg = runs[a.a]["config"]
    k = len(cfg["sigma_grid"])
    e_a, e_b = np.asarray(ca["per_class_empirical"]), np.asarray(cb["per_class_empirical"])
    print(f"{a.a} − {a.b}: empirical balanced difference {float(np.mean(e_a - e_b)):+.4f}; D_cert per class "
          f"{counts.tolist()}, N = {n}, {k}² σ pairs, δ = {cfg['delta']:g}")
    print(f"{'ρ':>8} {'scale s':>8} {'tail m_j':>8} {'D_cert':>7} {'certified interval':>22} {'one-sided upper':>15}")
    npz = Path(a.results).parent / "certificates.npz"
    diff = next((d for d in res.get("differences") or [] if (d["a"], d["b"]) == (a.a, a.b)), None)
    if npz.is_file() and diff is not None:
        from ltbound.certificates.certificate_files import read_certificate_file

        f = read_certificate_file(npz)
        ia, ib = diff["index_upper"]
        la, lb = (np.asarray(f["losses"][s]["zero-one"][i], float) for s, i in ((a.a, ia), (a.b, ib)))
        p_plus, p_minus = measured_rates(la, lb, np.asarray(f["cert_labels"]), int(f["num_classes"]))
        kl_a, kl_b = f["kl"][a.a][ia], f["kl"][a.b][ib]
        print(f"measured (from {npz.name}, σ pair {ia}, {ib}: KL {kl_a:.3g} + {kl_b:.3g}; A errs alone on "
              f"{float(np.mean(p_plus)):.4f}, B alone on {float(np.mean(p_minus)):.4f} of the π-weighted draws)")
        print("  per class, A errs alone / B errs alone (share of draws): "
              + ", ".join(f"{j}: {a_:.3f} / {b_:.3f}" for j, (a_, b_) in enumerate(zip(p_plus, p_minus))))
        rows = plan(p_plus, p_minus, counts, n, kl_a, kl_b, k * k, cfg)
        _print_block("measured", rows, a.a)
        # the certificate sees the loss matrices only through these shares: scale 1 is the run's own interval
        print(f"  check: scale 1 gives [{rows[0]['lower']:+.4f}, {rows[0]['upper']:+.4f}], the run certified "
              f"[{diff['lower']:+.4f}, {diff['upper']:+.4f}]")
    print(f"assumed churn (each schedule's best σ: KL {ca['kl']:.3g} + {cb['kl']:.3g})")
    for rho in CHURN:
        pp, pm = churn_rates(e_a, e_b, rho)
        _print_block(f"ρ = {rho:g}", plan(pp, pm, counts, n, ca["kl"], cb["kl"], k * k, cfg), a.a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
