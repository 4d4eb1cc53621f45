"""Compare the paper's bounds for IB and Switching on real per-sample losses.

With no arguments: trains, on scikit-learn's 8x8 digits made long-tailed by the standard
protocol (imbalance 20), IB only, Switching (IB -> CR, the paper's method) and IB -> CB,
three seeds each, with the paper's schedule shape scaled to the data set; then puts every
term of Eq. 6, Eq. 7 and the balanced-risk bound (cross-entropy clipped at 5, M = 5, by
default) beside the measured test risks. Writes
``results.json``, ``bounds.png`` and the run records into an output folder it names at the end.

    python experiments/compare_bounds.py
    python experiments/compare_bounds.py --records experiments/records/cifar10-lt-ib100-*
    python experiments/compare_bounds.py --dataset cifar10-lt --data-dir DIR --imbalance 100   # wants a GPU
    python experiments/compare_bounds.py --loss zero-one --theta perturb --radius 0.01 --k 16
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_SCHEDULES = ("ib", "switching", "ib-cb")
DATASETS = ("digits-lt", "cifar10-lt", "cifar100-lt", "image-folder")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compare_bounds.py",
        description=("Train (or load) models under different sampling schedules and compare every term "
                     "of the Switching paper's generalization bounds (Eq. 6 for IB, Eq. 7 for the "
                     "final-stage sampler, and the bound on the balanced test risk) with the test "
                     "risks the models actually reach."),
        epilog=("With no arguments it runs the embedded default: digits-lt (imbalance 20), schedules "
                f"{', '.join(DEFAULT_SCHEDULES)}, 3 seeds, on the CPU in a few minutes."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_argument_group("what to compare")
    src.add_argument("--records", nargs="+", metavar="DIR",
                     help="skip training: read these run records (folders written by python -m ltbound.train)")
    src.add_argument("--allow-incomplete", action="store_true",
                     help="with --records: also compare records that are not complete (status running); "
                          "results.json gives each run's status")
    src.add_argument("--dataset", default="digits-lt", choices=DATASETS,
                     help="data set to train on (cifar*/image-folder want a GPU)")
    src.add_argument("--data-dir", help="folder of the data set (torchvision CIFAR folder or train/test image tree)")
    src.add_argument("--imbalance", type=float, default=None,
                     help="imbalance factor n_max/n_min (default: 20 for digits-lt, 100 otherwise)")
    src.add_argument("--schedules", nargs="+", default=list(DEFAULT_SCHEDULES),
                     help="schedules to train (names of ltbound.train.schedule.SCHEDULES)")
    src.add_argument("--seeds", type=int, default=3, help="number of seeds per schedule (seeds 0..N-1)")
    src.add_argument("--epochs", type=int, default=None, help="override the preset's number of epochs")
    src.add_argument("--device", default="auto", help="auto, cpu or cuda")
    b = p.add_argument_group("how the bounds are evaluated")
    b.add_argument("--loss", default="ce-clipped", choices=("zero-one", "ce-clipped"),
                   help="bounded loss of the bounds: cross-entropy clipped at --cap (M = cap) or the 0-1 loss "
                        "(M = 1; on digits the final-stage models fit the training set, so its objective "
                        "and Rademacher terms are 0 and only the confidence term is left)")
    b.add_argument("--cap", type=float, default=5.0, help="clipping level C of --loss ce-clipped (M = C)")
    b.add_argument("--theta", default="checkpoints", choices=("checkpoints", "perturb"),
                   help="finite parameter set for the Rademacher and Q_n terms: the final-stage epochs' "
                        "models, or K perturbations of the final model within relative radius R")
    b.add_argument("--radius", type=float, default=0.01, help="relative radius R of --theta perturb")
    b.add_argument("--k", type=int, default=16, help="number K of perturbed models of --theta perturb")
    b.add_argument("--delta", type=float, default=0.05, help="failure probability of each bound, in (0, 1)")
    b.add_argument("--num-draws", type=int, default=1000, help="Monte Carlo sign draws of the Rademacher estimate")
    b.add_argument("--mc-delta-fraction", type=float, default=0.5,
                   help="share of --delta charged to the Monte Carlo error of the sign draws; the McDiarmid "
                        "confidence terms get the rest (the header prints the split)")
    o = p.add_argument_group("output")
    o.add_argument("--out", help="output folder (default: out/compare_bounds/<UTC time>)")
    o.add_argument("--quiet", action="store_true", help="no progress bars; print only the table and the folder")
    return p


def check_args(parser: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    """Refuse bad arguments before any work, with a message naming the argument (exit status 2)."""
    if not 0 < a.delta < 1:
        parser.error(f"--delta must lie in (0, 1), got {a.delta}")
    if not a.cap > 0:
        parser.error(f"--cap must be > 0 (the clipping level of the cross-entropy; M = cap), got {a.cap}")
    if a.loss == "zero-one":
        a.cap = None  # the 0-1 loss needs no clipping: M = 1
    if a.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {a.seeds}")
    if a.epochs is not None and a.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {a.epochs}")
    if a.num_draws < 1:
        parser.error(f"--num-draws must be >= 1, got {a.num_draws}")
    if not 0 < a.mc_delta_fraction < 1:
        parser.error(f"--mc-delta-fraction must lie in (0, 1), got {a.mc_delta_fraction}")
    if a.imbalance is not None and a.imbalance < 1:
        parser.error(f"--imbalance must be >= 1 (n_max / n_min), got {a.imbalance}")
    if a.theta == "perturb" and (a.k < 1 or not a.radius >= 0):
        parser.error("--theta perturb needs --k >= 1 and --radius >= 0")
    if a.records:
        for r in a.records:
            if not (Path(r) / "manifest.json").is_file():
                parser.error(f"--records: {r} is not a run record folder (no manifest.json there); "
                             "records are the --out folders of python -m ltbound.train")
    else:
        from ltbound.train.schedule import SCHEDULES
        bad = [s for s in a.schedules if s not in SCHEDULES]
        if bad:
            parser.error(f"--schedules: unknown {bad}; choose from {', '.join(SCHEDULES)}")
        if a.dataset != "digits-lt" and not a.data_dir:
            parser.error(f"--dataset {a.dataset} needs --data-dir (the folder holding the images)")


def train_runs(a: argparse.Namespace, out: Path) -> list[Path]:
    """Train every (schedule, seed) pair into out/runs/<schedule>-seed<k>; returns the record folders."""
    from tqdm import tqdm

    from ltbound.train.trainer import TrainConfig, train

    if a.dataset != "digits-lt":
        import torch
        if not torch.cuda.is_available():
            print(f"warning: training ResNet-32 on {a.dataset} without a GPU takes hours; "
                  "consider --records with runs made on a GPU", file=sys.stderr)
    jobs = [(s, seed) for s in a.schedules for seed in range(a.seeds)]
    paths = []
    bar = tqdm(jobs, desc="training", unit="run", disable=a.quiet)
    for sched, seed in bar:
        bar.set_postfix_str(f"{sched} seed {seed}")
        run_dir = out / "runs" / f"{sched}-seed{seed}"
        cfg = TrainConfig(dataset=a.dataset, data_dir=a.data_dir, imbalance=a.imbalance, schedule=sched,
                          epochs=a.epochs, seed=seed, device=a.device, out=str(run_dir), progress=False, quiet=True,
                          resume=(run_dir / "manifest.json").exists())
        paths.append(Path(train(cfg)))
    return paths


def perturbation_losses(record_dirs: list[Path], a: argparse.Namespace) -> list:
    """(K+1, n) loss matrices: K perturbations of each run's final model, then the model itself last."""
    import numpy as np

    from ltbound.train.theta import record_perturbation_losses

    mats = []
    for i, d in enumerate(record_dirs):
        m = record_perturbation_losses(d, k=a.k, radius=a.radius, seed=1000 + i,
                                       loss=a.loss, cap=a.cap, device=a.device)
        # row 0 is the unperturbed model; the library's convention puts the model last
        mats.append(np.concatenate([m[1:], m[:1]], axis=0))
    return mats


def make_figure(comp, path: Path) -> None:
    """Each bound as a stacked bar of its terms, beside the measured test risk it speaks of."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = comp.labels()
    kinds = (("eq6", "Eq. 6", "test_risk_lt"), ("eq7", "Eq. 7", "test_risk_lt"),
             ("target", "balanced", "test_risk_balanced"))
    term_names = []
    for key, _, _ in kinds:
        for k in comp.summary[labels[0]]:
            if k.startswith(key + "_") and not k.endswith("_total"):
                name = k[len(key) + 1:]
                if name not in term_names:
                    term_names.append(name)
    colors = dict(zip(term_names, plt.cm.tab10.colors))
    fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 4.6), sharey=True, squeeze=False)
    for ax, lb in zip(axes[0], labels):
        s = comp.summary[lb]
        for xi, (key, _, risk) in enumerate(kinds):
            pos, neg = 0.0, 0.0
            for name in term_names:
                stat = s.get(f"{key}_{name}")
                if stat is None or stat["mean"] is None:
                    continue
                v = stat["mean"]
                bottom = pos if v >= 0 else neg
                ax.bar(xi, v, bottom=bottom, color=colors[name], width=0.55)
                if v >= 0:
                    pos += v
                else:
                    neg += v
            ax.plot([xi - 0.3, xi + 0.3], [s[f"{key}_total"]["mean"]] * 2, color="black", lw=1.5)
            ax.bar(xi + 0.36, s[risk]["mean"], width=0.16, color="black", alpha=0.75)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xticks(range(len(kinds)), [k[1] for k in kinds])
        acc = s["balanced_test_accuracy"]["mean"]
        ax.set_title(f"{lb}\nbalanced test acc {acc:.3f}")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[n]) for n in term_names]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="black", alpha=0.75))
    fig.legend(handles, term_names + ["measured test risk"], loc="lower center", ncol=len(handles), frameon=False)
    axes[0][0].set_ylabel(f"{comp.loss} risk (M = {comp.loss_range:g}); black line = bound")
    fig.suptitle(f"Bound terms vs measured test risk (mean over seeds, delta = {comp.delta:g}, Θ̂ = {comp.theta})")
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def environment() -> dict:
    import numpy
    import scipy
    env = {"python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
           "platform": platform.platform()}
    try:
        import torch
        env["torch"] = torch.__version__
        env["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # reading records needs no torch
        env["torch"] = None
    import ltbound
    env["ltbound"] = ltbound.__version__
    return env


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    check_args(parser, a)
    t0 = time.perf_counter()
    out = Path(a.out or Path("out") / "compare_bounds" / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"))
    if (out / "results.json").exists():
        parser.error(f"--out {out} already holds results.json; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)

    from ltbound.comparison import compare
    from ltbound.records import json_default

    try:
        if a.records:
            record_dirs = [Path(r) for r in a.records]
        else:
            record_dirs = train_runs(a, out)
        t_train = time.perf_counter() - t0
        losses = perturbation_losses(record_dirs, a) if a.theta == "perturb" else None
        comp = compare(record_dirs, loss=a.loss, cap=a.cap, theta="given" if losses is not None else "checkpoints",
                       losses=losses, delta=a.delta, num_draws=a.num_draws, seed=0,
                       mc_delta_fraction=a.mc_delta_fraction, allow_incomplete=a.allow_incomplete)
    except ValueError as e:  # RecordError (damaged, incomplete or duplicate records), bad data, other splits, ...
        # one clear line, status 2
        print(f"compare_bounds.py: error: {e}", file=sys.stderr)
        return 2
    t_total = time.perf_counter() - t0
    results = {
        "command": ["python", "experiments/compare_bounds.py", *(argv if argv is not None else sys.argv[1:])],
        "configuration": {k: v for k, v in vars(a).items()},
        "records": [str(p) for p in record_dirs],
        "environment": environment(),
        "timings": {"training_seconds": round(t_train, 2), "total_seconds": round(t_total, 2)},
        "comparison": comp.to_dict(),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=json_default) + "\n")
    make_figure(comp, out / "bounds.png")
    print(comp.table())
    made = "results.json, bounds.png" + ("" if a.records else ", runs/")
    print(f"\nwall time {t_total:.1f} s; results in {out}/ ({made})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
