"""Prior-split study (issue 31): how much of each class should train the prior, and how much certify?

A larger D_prior gives a better prior (a smaller KL and empirical risk for the posterior to pay),
a larger D_cert a smaller PAC-Bayes step, dominated by the tail classes' m_j (the effective size
1/Σ_j π_j²/m_j). The split rule is fixed before training and depends on the class sizes only
(:func:`ltbound.train.stochastic.networks.class_prior_fractions`): the largest class puts
``prior_fraction`` in D_prior, the smallest ``tail_prior_fraction``, log-linear between.

For each setting this runs ``experiments/certify.py`` (digits-lt, imbalance 20, IB and Switching,
its defaults otherwise) and tabulates D_prior / D_cert sizes, the tail classes' m_j, the effective
size, the priors' balanced test errors, the certified balanced 0-1 risks and the certified
difference Switching − IB. Writes ``results.json`` and ``table.md`` into ``--out``.

    python experiments/prior_split_study.py --out experiments/results/prior-split-digits
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
import time
from pathlib import Path

#: (prior_fraction, tail_prior_fraction or None), fixed before any run
SETTINGS = ((0.5, None), (0.5, 0.25), (0.3, None), (0.3, 0.15), (0.7, None))
SCHEDULES = ("ib", "switching")


def _certify_module():
    spec = importlib.util.spec_from_file_location("certify_script", Path(__file__).with_name("certify.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def row(setting: tuple, res: dict, certificates: Path) -> dict:
    """One setting's summary from certify.py's results.json; the difference recomputed from its certificates.npz."""
    from ltbound.certificates.certificate_files import recompute_certificates

    runs = {r["schedule"]: r for r in res["runs"]}
    split = runs["ib"]["split"]
    cert = split["cert_counts"]
    eff = 1.0 / sum((1.0 / len(cert)) ** 2 / m for m in cert)
    d = recompute_certificates(certificates)["differences"][0]
    out = {"prior_fraction": setting[0], "tail_prior_fraction": setting[1], "n_prior": split["n_prior"],
           "n_cert": split["n_cert"], "cert_counts": cert, "prior_counts": split["prior_counts"],
           "effective_size": eff, "difference": {k: d[k] for k in ("a", "b", "lower", "upper", "empirical",
                                                                     "disagreement", "verdict")},
           "certify_timings": res["timings"]}
    for s in SCHEDULES:
        best = min(runs[s]["certificates"]["zero-one"].values(), key=lambda c: c["bound"])
        out[s] = {"certificate": best["bound"], "empirical": best["empirical"], "kl": best["kl"],
                  "sigma": runs[s]["sigma"], "prior_test_error": runs[s]["test"]["prior_balanced_error"],
                  "stochastic_test_error": runs[s]["test"]["stochastic_balanced_error"]}
    return out


def table(rows: list[dict]) -> str:
    head = ("| prior share (head → tail) | D_prior / D_cert | D_cert tail m_j | effective size | prior test error "
            "IB / Sw | certified 0-1 IB / Sw | empirical IB / Sw | Switching − IB certified | verdict |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        share = f"{r['prior_fraction']:g}" + ("" if r["tail_prior_fraction"] is None
                                               else f" → {r['tail_prior_fraction']:g}")
        tail = ", ".join(str(v) for v in sorted(r["cert_counts"])[:3])
        d = r["difference"]
        lines.append(f"| {share} | {r['n_prior']} / {r['n_cert']} | {tail} | {r['effective_size']:.0f} | "
                     f"{r['ib']['prior_test_error']:.3f} / {r['switching']['prior_test_error']:.3f} | "
                     f"{r['ib']['certificate']:.4f} / {r['switching']['certificate']:.4f} | "
                     f"{r['ib']['empirical']:.4f} / {r['switching']['empirical']:.4f} | "
                     f"[{d['lower']:+.4f}, {d['upper']:+.4f}] | {d['verdict']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="prior_split_study.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (results.json, table.md, runs/<setting>/)")
    p.add_argument("--keep-runs", action="store_true", help="keep each setting's certify.py folder (large)")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    mod = _certify_module()
    rows, t0 = [], time.perf_counter()
    for f, t in SETTINGS:
        name = f"prior{f:g}" + ("" if t is None else f"-tail{t:g}")
        run_dir = out / "runs" / name
        flags = ["--schedules", *SCHEDULES, "--prior-fraction", str(f), "--quiet", "--out", str(run_dir)]
        if t is not None:
            flags += ["--tail-prior-fraction", str(t)]
        if not (run_dir / "results.json").is_file():
            with contextlib.redirect_stdout(io.StringIO()):
                if mod.main(flags) != 0:
                    print(f"prior_split_study.py: error: certify.py failed for {name}", file=sys.stderr)
                    return 2
        res = json.loads((run_dir / "results.json").read_text())
        rows.append(row((f, t), res, run_dir / "certificates.npz"))
        print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    doc = {"command": ["python", "experiments/prior_split_study.py", *(argv if argv is not None else sys.argv[1:])],
           "settings": [list(s) for s in SETTINGS], "schedules": list(SCHEDULES), "rows": rows,
           "certify_wall_seconds": round(sum(r["certify_timings"]["wall_seconds"] for r in rows), 1),
           "certify_cpu_seconds": round(sum(r["certify_timings"]["cpu_seconds"] for r in rows), 1)}
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    text = table(rows)
    (out / "table.md").write_text(text + "\n")
    print(text)
    if not a.keep_runs:
        import shutil
        shutil.rmtree(out / "runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
