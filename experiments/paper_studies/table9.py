"""Table 9: bias² + variance of the softmax outputs over the seeds (ltbound.bias_variance)."""
from __future__ import annotations

import numpy as np

from ltbound._table import format_table
from ltbound.published import TABLE9 as PAPER_T9

from .runs import Setup, end_epoch
from .stats import ordering_verdict


def study(st: Setup) -> dict:
    """Table 9: bias² + variance of the softmax outputs over the seeds (ltbound.bias_variance)."""
    from ltbound import bias_variance
    from ltbound.train.retrain import predict_proba, retrain_classifier

    if len(st.seeds) < 2:
        raise ValueError(f"--seeds must be >= 2 for Table 9 (variance over independently trained models), "
                         f"got {len(st.seeds)}; the study's default is 5")
    ytr, yte = st.labels()
    c = int(ytr.max()) + 1
    probs: dict[str, list[np.ndarray]] = {}
    runs_of: dict[str, dict[int, str]] = {}
    for label, sched, crt in (("IB only", "ib-ib", None), ("CR only", "cr-cr", None),
                              ("Decouple-cRT", "ib-ib", "CB"), ("Switching (S = 1)", "ib-cr", None)):
        probs[label], runs_of[label] = [], {}
        for k in st.seeds:
            p = st.run(sched, k)
            f = st.features(p, end_epoch(p))
            if crt is None:
                w, b = f["weight"], f["bias"]
            else:
                w, b = retrain_classifier(f["train"], ytr, crt, num_classes=c, seed=k, **st.retrain_settings())
            probs[label].append(predict_proba(f["test"], w, b))
            runs_of[label][k] = str(p)
    rows, brier = [], {}
    onehot = np.eye(c)[yte]
    for label, ps in probs.items():
        bv = bias_variance(np.stack(ps), yte)
        # total = mean over models and samples of the squared error (K, m): resampling both is clean
        brier[label] = ((np.stack(ps) - onehot) ** 2).sum(axis=2)
        acc, b2, var, tot = PAPER_T9[label]
        rows.append({"label": label, "paper": tot, "paper_accuracy": acc, "paper_bias2": b2, "paper_variance": var,
                     "accuracy": bv.accuracy, "bias2": bv.bias2, "variance": bv.variance, "total": bv.total,
                     "num_models": bv.num_models, "runs": runs_of[label]})

    # Paired two-way bootstrap of the difference in total error: resample the seeds (the same
    # seeds for both methods: models of seed k share their initialisation) and the test samples.
    rng = np.random.default_rng(0)
    m, k_models = yte.size, len(st.seeds)
    boot_models = rng.integers(0, k_models, size=(2000, k_models))
    boot_samples = rng.integers(0, m, size=(2000, m))

    def pair_test(r1: dict, r2: dict) -> dict:
        d = brier[r1["label"]] - brier[r2["label"]]                       # (K, m)
        per_model = np.stack([d[:, idx].mean(axis=1) for idx in boot_samples])   # (B, K)
        reps = np.take_along_axis(per_model, boot_models, axis=1).mean(axis=1)
        return {"diff": float(d.mean()), "low": float(np.quantile(reps, 0.025)),
                "high": float(np.quantile(reps, 0.975)), "n": int(m),
                "method": "paired bootstrap over seeds and test samples"}

    header = ["method", "acc (paper)", "bias² (paper)", "variance (paper)", "total (paper)"]
    lines = [[r["label"], f"{r['accuracy']:.3f} ({r['paper_accuracy']:.3f})", f"{r['bias2']:.3f} ({r['paper_bias2']:.3f})",
              f"{r['variance']:.3f} ({r['paper_variance']:.3f})", f"{r['total']:.3f} ({r['paper']:.3f})"] for r in rows]
    table = f"K = {len(st.seeds)} models per method\n" + format_table(lines, header)
    verdict = ordering_verdict(rows, min_gap=0.01, pair_test=pair_test)
    verdict["why"] += " (total error; 95% intervals: paired bootstrap over seeds and test samples)"
    notes = ["Decomposition: squared error of the softmax vector over K seeds (Geman et al. 1992; see "
             "ltbound/decomposition.py for why); the paper does not define its own, so only orderings compare, "
             "not magnitudes.",
             "Decouple-cRT: the IB-only backbone with a classifier re-trained by CB sampling "
             f"({st.retrain_settings()}).",
             "BBN is out of scope (a two-branch network this project does not implement)."]
    return {"rows": rows, "table": table, "verdict": verdict, "notes": notes}
