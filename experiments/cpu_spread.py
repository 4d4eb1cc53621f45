"""How much the trained numbers move with the CPU's kernels: the main job and the digits certificate
rerun under each CPU capability torch can dispatch to here, beside their spread over seeds.

torch picks its vectorised CPU kernels by the CPU (AVX-512, AVX2, or plain C++ "DEFAULT"); a
user on another kind of CPU gets other kernels, sums in another order, and a training that
diverges in the last digits and then further. ``ATEN_CPU_CAPABILITY`` (torch) and
``ONEDNN_MAX_CPU_ISA`` (oneDNN's convolutions) emulate the other kinds on this CPU. For each
capability this runs ``experiments/compare_bounds.py`` (embedded default) and
``experiments/certify.py`` (embedded default, seed 0), and certify with further seeds on the
native kernels, then writes ``spread.json`` and ``table.txt``: per statistic the value under
each capability, the largest cross-capability difference, and the uncertainty the output
itself states (the standard error of a mean over seeds; for a certificate its spread over
seeds), so a reader sees whether the machine moves a number by more than its uncertainty.

    python experiments/cpu_spread.py --out experiments/results/cpu-spread     # ~25 min of one core
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: torch's name for each capability -> the oneDNN ISA cap that matches it (None: no cap, native)
CAPABILITIES = {"native": None, "avx2": "AVX2", "default": "SSE41"}
CERT_KEYS = ("zero-one", "bounded-ce")


def _env(capability: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    if CAPABILITIES[capability] is not None:
        env.update(ATEN_CPU_CAPABILITY=capability, ONEDNN_MAX_CPU_ISA=CAPABILITIES[capability])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _run(cmd: list[str], env: dict, log: Path) -> float:
    t0 = time.time()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"cpu_spread.py: {' '.join(cmd)} failed (exit {proc.returncode}); see {log}")
    return time.time() - t0


def _certificates(results: dict) -> dict:
    """{schedule: {loss: certified bound}} of one certify results.json: the tightest class combination,
    as certify.py reports it (each combination is valid at the full δ; certify.py pays for the choice)."""
    return {run["schedule"]: {loss: min(v["bound"] for v in run["certificates"][loss].values())
                              for loss in CERT_KEYS if loss in run["certificates"]}
            for run in results["runs"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cpu_spread.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True, help="folder for spread.json and table.txt (new or empty)")
    p.add_argument("--capabilities", nargs="+", default=list(CAPABILITIES), choices=list(CAPABILITIES))
    p.add_argument("--certify-seeds", nargs="+", type=int, default=[0, 1],
                   help="seeds of the certificate on the native kernels (seed 0 also runs under each capability)")
    p.add_argument("--no-certify", action="store_true", help="the main job only")
    p.add_argument("--regression-lr", type=float, default=0.01,
                   help="also run the main job with this learning rate (the digits preset's is 0.05) on the native "
                        "kernels: a real change of the training, which a cross-CPU check must still catch; 0: skip")
    a = p.parse_args(argv)
    out = Path(a.out)
    if out.exists() and any(out.iterdir()):
        p.error(f"--out {out} is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cpu-spread-"))
    main_jobs, certs, seconds = {}, {}, {}
    for cap in a.capabilities:
        dest = work / f"main-{cap}"
        seconds[f"main-{cap}"] = _run([sys.executable, "experiments/compare_bounds.py", "--out", str(dest)],
                                      _env(cap), work / f"main-{cap}.log")
        main_jobs[cap] = json.loads((dest / "results.json").read_text())
        print(f"main job, {cap}: {main_jobs[cap]['environment'].get('cpu_capability')}, {seconds[f'main-{cap}']:.0f} s",
              flush=True)
    if a.regression_lr:
        dest = work / "main-regression"
        seconds["main-regression"] = _run([sys.executable, "experiments/compare_bounds.py", "--out", str(dest),
                                           "--lr", str(a.regression_lr)], _env("native"), work / "main-regression.log")
        regression = json.loads((dest / "results.json").read_text())
        print(f"main job, native, lr {a.regression_lr}: {seconds['main-regression']:.0f} s", flush=True)
    runs = [] if a.no_certify else [(cap, 0) for cap in a.capabilities] + \
        [("native", s) for s in a.certify_seeds if s != 0 and "native" in a.capabilities]
    for cap, seed in runs:
        dest = work / f"cert-{cap}-seed{seed}"
        seconds[dest.name] = _run([sys.executable, "experiments/certify.py", "--out", str(dest), "--seed", str(seed),
                                   "--quiet"], _env(cap), work / f"{dest.name}.log")
        certs[(cap, seed)] = _certificates(json.loads((dest / "results.json").read_text()))
        print(f"certify, {cap}, seed {seed}: {certs[(cap, seed)]}, {seconds[dest.name]:.0f} s", flush=True)
    report = summarize(main_jobs, certs)
    # the summaries themselves, so that a test can hold its cross-CPU check against them
    report["summaries"] = {cap: r["comparison"]["summary"] for cap, r in main_jobs.items()}
    if a.regression_lr:
        report["regression"] = {"lr": a.regression_lr, "command": regression["command"],
                                "summary": regression["comparison"]["summary"]}
    report["seconds"] = seconds
    report["capabilities_seen"] = {cap: r["environment"].get("cpu_capability") for cap, r in main_jobs.items()}
    report["cpu_model"] = next(iter(main_jobs.values()))["environment"].get("cpu_model")
    (out / "spread.json").write_text(json.dumps(report, indent=1) + "\n")
    text = table(report)
    (out / "table.txt").write_text(text + "\n")
    print(text)
    print(f"results in {out} (spread.json, table.txt)")
    return 0


def summarize(main_jobs: dict, certs: dict) -> dict:
    """Per main-job statistic and per certificate: values by capability, largest difference, uncertainty."""
    caps = list(main_jobs)
    base = caps[0]
    stats = []
    for schedule, by_stat in main_jobs[base]["comparison"]["summary"].items():
        for stat, v in by_stat.items():
            n = len(v["values"])
            se = max(main_jobs[c]["comparison"]["summary"][schedule][stat]["std"] for c in caps) / math.sqrt(n)
            means = {c: main_jobs[c]["comparison"]["summary"][schedule][stat]["mean"] for c in caps}
            diff = max(abs(m - means[base]) for m in means.values())
            stats.append({"schedule": schedule, "statistic": stat, "means": means, "largest_difference": diff,
                          "standard_error": se, "ratio": diff / se if se > 0 else (0.0 if diff < 1e-12 else math.inf)})
    cert_rows = []
    cert_caps = sorted({c for c, s in certs if s == 0})
    seeds = sorted({s for c, s in certs if c == "native"})
    for schedule in (certs[next(iter(certs))] if certs else {}):
        for loss in certs[next(iter(certs))][schedule]:
            by_cap = {c: certs[(c, 0)][schedule][loss] for c in cert_caps}
            by_seed = {s: certs[("native", s)][schedule][loss] for s in seeds}
            cert_rows.append({"schedule": schedule, "loss": loss, "by_capability": by_cap, "by_seed": by_seed,
                              "capability_range": max(by_cap.values()) - min(by_cap.values()),
                              "seed_range": max(by_seed.values()) - min(by_seed.values()) if len(by_seed) > 1 else None})
    return {"main_job": stats, "certificates": cert_rows, "base": base}


def table(report: dict) -> str:
    stats = report["main_job"]
    caps = list(stats[0]["means"]) if stats else []
    lines = ["Main job (embedded default, 3 seeds): mean of each statistic under each CPU capability; "
             "|Δ| = largest difference from the first; SE = standard error of the mean over seeds (largest)",
             f"{'schedule':10} {'statistic':26} " + " ".join(f"{c:>10}" for c in caps) + f" {'|Δ|':>9} {'SE':>9} {'|Δ|/SE':>7}"]
    for s in stats:
        if s["largest_difference"] == 0 and s["standard_error"] == 0:
            continue
        lines.append(f"{s['schedule']:10} {s['statistic']:26} " + " ".join(f"{s['means'][c]:10.4f}" for c in caps)
                     + f" {s['largest_difference']:9.4f} {s['standard_error']:9.4f} {s['ratio']:7.2f}")
    exact = sum(1 for s in stats if s["largest_difference"] == 0)
    lines.append(f"{exact} of {len(stats)} statistics identical under every capability; largest |Δ|/SE "
                 f"{max((s['ratio'] for s in stats), default=0):.2f}")
    if report["certificates"]:
        lines += ["", "Digits certificates (certify.py default): certified risk under each capability (seed 0) "
                  "and over seeds (native kernels)"]
        for r in report["certificates"]:
            caps_txt = ", ".join(f"{c} {v:.4f}" for c, v in r["by_capability"].items())
            seeds_txt = ", ".join(f"seed {s} {v:.4f}" for s, v in r["by_seed"].items())
            lines.append(f"  {r['schedule']:10} {r['loss']:10} {caps_txt}; range {r['capability_range']:.4f} | "
                         f"{seeds_txt}; range {r['seed_range'] if r['seed_range'] is None else round(r['seed_range'], 4)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
