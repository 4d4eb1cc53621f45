"""Certify each sampler schedule's balanced risk from its training data (PAC-Bayes, data-dependent prior).

With no arguments: on scikit-learn's 8x8 digits made long-tailed (imbalance 20), for the
schedules IB, Switching (IB -> CR) and IB -> CB, splits the training set per class into
D_prior (half) and D_cert, trains the prior network on D_prior with the schedule, trains a
Gaussian posterior on all of D for each prior σ of a fixed grid, and certifies the balanced
0-1 risk (and the bounded cross-entropy) of the stochastic network on D_cert
(:mod:`ltbound.train.stochastic.certified_run`). Prints, per schedule, the certificate and its terms beside
the measured balanced test errors and the test-set certificate of the posterior mean, and for
every pair of schedules the certified interval of their balanced-risk difference from D_cert
(:mod:`ltbound.certificates.difference`) with its verdict: proved lower, or not proved. Writes
``results.json``, ``certify.png``, ``certificates.npz`` (the per-image certification losses,
D_prior/D_cert indices, KL per σ and δ budget, from which
:func:`ltbound.certificates.certificate_files.recompute_certificates` recomputes every certificate and
difference) and the run records under ``runs/`` into a folder it names at the end.

    python experiments/certify.py
    python experiments/certify.py --dataset cifar10-lt --data-dir ../shared/data/cifar10-jpeg.tar.xz \\
        --preset cifar-short --num-samples 10 --threads 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from ltbound.schedule import DATASETS, SCHEDULES   # torch-free: the trainer's own names

DEFAULT_SCHEDULES = ("ib", "switching", "ib-cb")
DATA_DIR_ENV = "LTBOUND_DATA_DIR"     # as ltbound.train.data.datasets.DATA_DIR_ENV (not imported: torch)
DEFAULT_SIGMA_GRID = "0.003,0.01,0.03"   # as ltbound.train.stochastic.networks.DEFAULT_SIGMA_GRID (tested equal)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="certify.py",
        description=("Certify, from the training data alone, the balanced risk of a stochastic network "
                     "trained with each sampler schedule (PAC-Bayes with a data-dependent prior), beside the "
                     "measured test errors. Every setting is checked before any training."),
        epilog=("With no arguments: digits-lt (imbalance 20), schedules " + ", ".join(DEFAULT_SCHEDULES)
                + ", on the CPU. CIFAR-10-LT: --dataset cifar10-lt --data-dir cifar10-jpeg.tar.xz "
                  "--preset cifar-short (hours on a CPU)"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = p.add_argument_group("data and prior training (the trainer's settings)")
    d.add_argument("--dataset", default="digits-lt", choices=DATASETS)
    d.add_argument("--data-dir", default=None,
                   help=f"folder or .tar/.tar.gz/.tar.xz of the images; default ${DATA_DIR_ENV}")
    d.add_argument("--imbalance", type=float, default=None,
                   help="imbalance n_max/n_min (default: 20 for digits-lt, 100 otherwise)")
    d.add_argument("--split-seed", type=int, default=0, help="seed of the long-tailed subset")
    d.add_argument("--max-test-per-class", type=int, default=None, metavar="K",
                   help="keep only K test images per class")
    d.add_argument("--schedules", nargs="+", default=list(DEFAULT_SCHEDULES),
                   help="sampler schedules of the prior network (ltbound.schedule.SCHEDULES)")
    d.add_argument("--seed", type=int, default=0, help="seed of the prior's training and of the posterior")
    d.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    d.add_argument("--preset", default=None, help="training recipe (default: digits / cifar; cifar-short = 60 epochs)")
    d.add_argument("--epochs", type=int, default=None, help="override the preset's epochs (prior network)")
    d.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size (prior network)")
    d.add_argument("--lr", type=float, default=None, help="override the preset's learning rate (prior network)")
    d.add_argument("--milestones", default=None, metavar="LIST", help="override the milestones: comma list")
    d.add_argument("--warmup-epochs", type=int, default=None, help="override the warm-up epochs")
    d.add_argument("--switch-offset", type=int, default=None, metavar="S", help="override S of Algorithm 1")
    d.add_argument("--model", default=None, help="override the preset's model")
    d.add_argument("--amp", default="auto", choices=("auto", "bf16", "off"), help="bfloat16 autocast (prior training)")
    c = p.add_argument_group("certificate")
    c.add_argument("--prior-fraction", type=float, default=0.5, help="share of every class in D_prior")
    c.add_argument("--tail-prior-fraction", type=float, default=None, metavar="F",
                   help="per-class prior-split rule: the smallest class puts F in D_prior, the largest "
                        "--prior-fraction, log-linear in the class size between (fixed before training); default: "
                        "--prior-fraction for every class")
    c.add_argument("--prior-seed", type=int, default=0, help="seed of the D_prior / D_cert split")
    c.add_argument("--sigma-grid", default=DEFAULT_SIGMA_GRID,
                   help="prior standard deviations, comma list fixed in advance (union bound paid)")
    c.add_argument("--posterior-epochs", type=int, default=5, help="epochs of the posterior's training on D")
    c.add_argument("--posterior-lr", type=float, default=10.0,
                   help="posterior SGD learning rate (on ln σ; on μ times σ_P², see ltbound.train.stochastic.networks)")
    c.add_argument("--posterior-batch-size", type=int, default=64)
    c.add_argument("--p-min", type=float, default=1e-4, help="probability floor of the bounded cross-entropy")
    c.add_argument("--num-samples", type=int, default=100,
                   help="N passes of weight draws over D_cert (the certificate's Monte Carlo estimate)")
    c.add_argument("--mc-draws", default="per-sample", choices=("per-sample", "shared"),
                   help="per-sample: every D_cert image gets its own weight draw in each pass (Monte Carlo term "
                        "on N·m_j losses per class); shared: one draw per pass scored on every image")
    c.add_argument("--test-samples", type=int, default=50, help="weight samples of the stochastic test error")
    c.add_argument("--mc-bound", default="best", choices=("kl", "bernstein", "best"),
                   help="Monte Carlo bound: kl (Langford & Caruana), empirical Bernstein (Maurer & Pontil), "
                        "or the smaller of both at half the Monte Carlo δ each")
    c.add_argument("--delta", type=float, default=0.05, help="failure probability of each loss's certificate")
    c.add_argument("--mc-delta-fraction", type=float, default=0.1,
                   help="share of each candidate's δ spent on the Monte Carlo term")
    c.add_argument("--threads", type=int, default=None,
                   help="CPU threads of torch (default: 1 for digits-lt, torch's default otherwise); a resumed run "
                        "needs the thread count it started with")
    o = p.add_argument_group("output")
    o.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --out: priors resume, stored posteriors are read back")
    o.add_argument("--out", help="output folder (default: out/certify/<UTC time>)")
    o.add_argument("--quiet", action="store_true", help="print only the table and the folder")
    o.add_argument("--report", action="store_true",
                   help="train nothing: read the schedules already certified in --out (each verified: hashes, KL and "
                        "every certificate recomputed), print their table and write report.json and report.png; "
                        "schedules not certified yet are listed as pending")
    o.add_argument("--dry-run", action="store_true", help="check every setting and print the plan; train nothing")
    return p


def check_args(parser: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    """Refuse bad arguments before any work, naming the flag (exit status 2)."""
    if not 0 < a.delta < 1:
        parser.error(f"--delta must lie in (0, 1), got {a.delta}")
    if not 0 < a.prior_fraction < 1:
        parser.error(f"--prior-fraction must lie in (0, 1), got {a.prior_fraction}")
    if a.tail_prior_fraction is not None and not 0 < a.tail_prior_fraction < 1:
        parser.error(f"--tail-prior-fraction must lie in (0, 1), got {a.tail_prior_fraction}")
    if not 0 < a.mc_delta_fraction < 1:
        parser.error(f"--mc-delta-fraction must lie in (0, 1), got {a.mc_delta_fraction}")
    if not 0 < a.p_min < 1:
        parser.error(f"--p-min must lie in (0, 1), got {a.p_min}")
    for flag, value, low in (("--num-samples", a.num_samples, 1), ("--test-samples", a.test_samples, 1),
                             ("--posterior-epochs", a.posterior_epochs, 0), ("--seed", a.seed, 0),
                             ("--posterior-batch-size", a.posterior_batch_size, 1), ("--prior-seed", a.prior_seed, 0),
                             ("--epochs", a.epochs, 1), ("--batch-size", a.batch_size, 1),
                             ("--split-seed", a.split_seed, 0), ("--max-test-per-class", a.max_test_per_class, 1),
                             ("--threads", a.threads, 1)):
        if value is not None and value < low:
            parser.error(f"{flag} must be >= {low}, got {value}")
    if not a.posterior_lr > 0:
        parser.error(f"--posterior-lr must be > 0, got {a.posterior_lr}")
    try:
        a.sigma_grid = tuple(float(s) for s in a.sigma_grid.split(",") if s.strip())
    except ValueError:
        parser.error(f"--sigma-grid must be a comma list of numbers, got {a.sigma_grid!r}")
    if not a.sigma_grid or any(not s > 0 or not math.isfinite(s) for s in a.sigma_grid) \
            or len(set(a.sigma_grid)) != len(a.sigma_grid):
        parser.error(f"--sigma-grid must hold distinct positive numbers, got {a.sigma_grid}")
    if a.milestones is not None:
        try:
            a.milestones = [int(m) for m in a.milestones.split(",") if m.strip()]
        except ValueError:
            parser.error(f"--milestones must be a comma list of epochs, got {a.milestones!r}")
    bad = [s for s in a.schedules if s not in SCHEDULES]
    if bad:
        parser.error(f"--schedules: unknown {bad}; choose from {', '.join(SCHEDULES)}")
    if len(set(a.schedules)) != len(a.schedules):
        parser.error(f"--schedules lists a schedule twice: {a.schedules}")
    raw = a.data_dir or os.environ.get(DATA_DIR_ENV) or None
    a.data_dir = None if raw is None else str(Path(raw).expanduser().resolve())
    if a.data_dir is not None and not Path(a.data_dir).exists():
        parser.error(f"--data-dir: {a.data_dir} does not exist; point it at the data set's folder or archive")
    if a.dataset != "digits-lt" and a.data_dir is None:
        parser.error(f"--dataset {a.dataset} needs --data-dir (or ${DATA_DIR_ENV})")
    if a.report:
        if a.out is None:
            parser.error("--report reads a certification folder: give it with --out")
        return
    for sched in a.schedules:
        try:
            train_config(a, sched, Path(a.out or "out") / "runs" / sched, check=True)
        except ValueError as e:
            parser.error(f"--schedules {sched}: {e}")


def train_config(a: argparse.Namespace, sched: str, out: Path, *, check: bool = False, fork_from: Path | None = None):
    """The prior network's TrainConfig for one schedule (checked by the trainer's own plan_run when ``check``)."""
    from ltbound.train.loop import distributed
    from ltbound.train.loop.config import TrainConfig, plan_run

    cfg = TrainConfig(out=str(out), dataset=a.dataset, data_dir=a.data_dir, imbalance=a.imbalance, schedule=sched,
                      preset=a.preset, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, milestones=a.milestones,
                      warmup_epochs=a.warmup_epochs, switch_offset=a.switch_offset, model=a.model,
                      max_test_per_class=a.max_test_per_class, split_seed=a.split_seed, amp=a.amp, seed=a.seed,
                      device=a.device, checkpoint_epochs="end", progress=False, quiet=a.quiet,
                      fork_from=None if fork_from is None else str(fork_from),
                      resume=bool(getattr(a, "resume", False)) and (Path(out) / "manifest.json").is_file())
    if check:
        plan_run(cfg, distributed.dist_from_env())
    return cfg


def prior_forks(a: argparse.Namespace) -> dict[str, tuple[str, int]]:
    """Priors that repeat another prior's first epochs: schedule -> (source schedule, last shared epoch e).

    Switching and IB -> CB use IB's sampler up to their switch, so with the same seed, recipe
    and D_prior their priors equal IB's up to epoch e; they are forked off IB's record there
    (:func:`ltbound.train.runs.fork.fork_record` checks settings, samplers and environment) instead
    of training those epochs again. Sources are schedules that are not forked themselves.
    """
    from ltbound.schedule import get_schedule
    from ltbound.train.loop.config import resolve_recipe
    from ltbound.train.runs.fork import fork_parents

    qs = {}
    for sched in a.schedules:
        recipe = resolve_recipe(train_config(a, sched, Path("unused")))[1]
        schedule = get_schedule(sched, recipe)
        qs[sched] = [float(schedule.q_at(e)) for e in range(1, recipe.epochs + 1)]
    return fork_parents(qs, chains=False)


def stage_priors(a: argparse.Namespace, out: Path, ds, cfg, parents: dict) -> None:
    """Train each source prior up to its fork epochs and lay out the forked priors there (copies).

    Afterwards :func:`ltbound.train.stochastic.certified_run.certify_schedule` (with ``resume``) continues every
    prior to its end; a prior already past its fork epoch is left as it is (its forks exist).
    """
    import dataclasses

    from ltbound.train.stochastic.certified_run import prior_dataset
    from ltbound.train.stochastic.networks import split_prior
    from ltbound.train.loop.trainer import train

    if not parents:
        return
    split = split_prior(ds.train.labels.numpy(), cfg.prior_fraction, seed=cfg.prior_split_seed,
                        num_classes=ds.num_classes, tail_fraction=cfg.tail_prior_fraction)
    pds = prior_dataset(ds, split)

    def tcfg(sched, **kw):
        return dataclasses.replace(train_config(a, sched, out / "runs" / sched, **kw), checkpoint_epochs="end",
                                   dataset=ds.name)

    for src in dict.fromkeys(p[0] for p in parents.values()):
        for e in sorted({p[1] for p in parents.values() if p[0] == src}):
            kids = [c for c, p in parents.items() if p == (src, e) and not (out / "runs" / c / "manifest.json").is_file()]
            if not kids:
                continue
            src_dir = out / "runs" / src
            if not a.quiet:
                print(f"prior {src}: epochs 1-{e}, then {', '.join(kids)} forked off it there", flush=True)
            train(dataclasses.replace(tcfg(src), resume=(src_dir / "manifest.json").is_file()), dataset=pds,
                  stop_after=e)
            for c in kids:
                train(tcfg(c, fork_from=src_dir), dataset=pds, stop_after=e)


def certify_config(a: argparse.Namespace):
    from ltbound.train.stochastic.certified_run import CertifyConfig
    from ltbound.train.stochastic.networks import PosteriorConfig

    post = PosteriorConfig(epochs=a.posterior_epochs, batch_size=a.posterior_batch_size, lr=a.posterior_lr,
                           p_min=a.p_min, seed=a.seed)
    return CertifyConfig(prior_fraction=a.prior_fraction, prior_split_seed=a.prior_seed, sigma_grid=a.sigma_grid,
                         posterior=post, num_samples=a.num_samples, test_samples=a.test_samples, delta=a.delta,
                         mc_delta_fraction=a.mc_delta_fraction, mc_bound=a.mc_bound, mc_draws=a.mc_draws,
                         tail_prior_fraction=a.tail_prior_fraction)


# ----------------------------------------------------------------------------- what is printed
def pairs(schedules: list[str]) -> list[tuple[str, str]]:
    """(A, B) for every two schedules, B the one run first (IB, the baseline, when run): Δ = risk(A) − risk(B)."""
    return [(b, a) for a, b in itertools.combinations(schedules, 2)]


def certificate_file(runs: list, out: Path, delta: float, name: str = "certificates.npz") -> Path:
    """Write the recomputable certificate file (``ltbound.certificates.certificate_files``) from the runs' verified records.

    The difference of each pair (:func:`pairs`) is certified at ``delta`` (two-sided, pooled-chernoff,
    for the σ each schedule's certificate chose, every pair of σ paid for); it needs independent weight draws of the schedules (``draw_seeds``
    "per-schedule"), so records with shared draw seeds get no difference.
    """
    import json as _json

    import numpy as np

    from ltbound.certificates.certificate_files import write_certificate_file
    from ltbound.records import load_record, read_file

    splits = [read_file(r.record, "pacbayes/split.npz") for r in runs]
    for r, sp in zip(runs[1:], splits[1:]):
        if not (np.array_equal(sp["cert"], splits[0]["cert"]) and np.array_equal(sp["prior"], splits[0]["prior"])):
            raise ValueError(f"{r.schedule}: D_prior / D_cert differ from {runs[0].schedule}'s; a difference needs one "
                             "certification set")
    cfg = _json.loads(str(splits[0]["config"]))
    zo, bce, kls = {}, {}, {}
    labels = None
    for r in runs:
        zo[r.schedule], bce[r.schedule] = [], []
        for k in range(len(r.config["sigma_grid"])):
            f = read_file(r.record, f"pacbayes/sigma_{k}.npz")
            labels = f["cert_labels"]
            zo[r.schedule].append(np.unpackbits(f["zero_one"], axis=1, count=labels.size, bitorder="little"))
            bce[r.schedule].append(f["bce"])
        kls[r.schedule] = [p["kl"] for p in r.per_sigma]
    independent = all(r.config.get("draw_seeds", "shared") == "per-schedule" for r in runs)
    from ltbound.train.stochastic.certified_run import CERT_METHODS
    budget = {"delta": cfg["delta"], "methods": list(CERT_METHODS), "mc_delta_fraction": cfg["mc_delta_fraction"],
              "mc_bound": cfg["mc_bound"], "mc_draws": cfg.get("mc_draws", "shared"),
              "target_prior": cfg["target_prior"], "draw_seeds": cfg.get("draw_seeds", "shared"),
              "difference": {"delta": delta, "method": "pooled-chernoff", "sides": "two-sided", "loss": "zero-one",
                             "pair_rule": "reported",
                             "pairs": [list(p) for p in pairs([r.schedule for r in runs])] if independent else []}}
    return write_certificate_file(out / name, schedules=[r.schedule for r in runs], sigma_grid=cfg["sigma_grid"],
                                  prior_indices=splits[0]["prior"], cert_indices=splits[0]["cert"],
                                  train_indices=splits[0]["train_indices"], cert_labels=labels,
                                  num_classes=load_record(runs[0].record).num_classes, zero_one=zo, bce=bce,
                                  kls=kls, budget=budget)


def differences(runs: list, path: Path) -> list[dict]:
    """Recompute every certificate from the certificate file (they must equal the runs'), and return
    each pair's certified difference with its verdict text."""
    from ltbound.certificates.certificate_files import recompute_certificates

    rec = recompute_certificates(path)
    for r in runs:
        got = rec["runs"][r.schedule]
        for k, row in enumerate(r.per_sigma):
            for loss in ("zero-one", "bounded-ce"):
                for m, bound in got["per_sigma"][k][loss].items():
                    if not math.isclose(bound, row[loss][m], rel_tol=1e-12, abs_tol=1e-12):
                        raise ValueError(f"{path}: {r.schedule} σ index {k} {loss} {m} recomputes to {bound!r}, the "
                                         f"run says {row[loss][m]!r}")
    out = []
    for d in rec["differences"]:
        a, b = d["a"], d["b"]
        lo, hi = d["lower"], d["upper"]
        head = (f"risk({a}) − risk({b}): certified interval [{lo:+.4f}, {hi:+.4f}] with probability >= "
                f"{1 - d['delta']:g}, from D_cert alone (empirical {d['empirical']:+.4f}; the two differ on "
                f"{d['disagreement']:.3f} of the π-weighted D_cert images): ")
        sep = d.get("separate")
        if sep is not None and sep[0] is not None:
            head += (f"[two separate bounds at the same δ, ignoring the shared images: "
                     f"[{sep[0]:+.4f}, {sep[1]:+.4f}]] ")
        if d["verdict"] == f"{a} lower":
            text = head + f"PROVED LOWER: {a}'s balanced risk is below {b}'s."
        elif d["verdict"] == f"{b} lower":
            text = head + f"PROVED HIGHER: {a}'s balanced risk is above {b}'s."
        else:
            text = head + "NOT PROVED (the interval contains 0)."
        out.append({**{k: v for k, v in d.items() if k != "parts"}, "text": text})
    return out


def table(runs: list, num_classes: int) -> str:
    guess = 1 - 1 / num_classes
    head = (f"{'schedule':<10} {'cert 0-1':>8} {'method':<15} {'emp':>6} {'MC':>6} {'KL':>7} {'σ_P':>6} "
            f"{'cert bCE':>8} {'stoch test':>13} {'det test':>13} {'det test-cert':>13} non-vacuous")
    lines = [head, "-" * len(head)]
    for r in runs:
        b, bce = r.best("zero-one"), r.best("bounded-ce")
        t = r.test
        lines.append(f"{r.schedule:<10} {b['bound']:>8.4f} {b['method']:<15} {b['empirical']:>6.4f} "
                     f"{b['mc_term']:>6.4f} "
                     f"{b['kl']:>7.3g} {r.sigma:>6g} {bce['bound']:>8.4f} "
                     f"{t['stochastic_balanced_error']:>6.4f}±{t['stochastic_se']:.4f} "
                     f"{t['deterministic_balanced_error']:>6.4f}±{t['deterministic_se']:.4f} "
                     f"{t['deterministic_certificate']['bound']:>13.4f} "
                     f"{'yes' if b['bound'] < guess else 'NO'} (< {guess:.2f})")
    return "\n".join(lines)


def details(r) -> str:
    """Each method's certificate and δ split for one schedule."""
    lines = [f"{r.schedule}: D_prior {r.split['n_prior']} / D_cert {r.split['n_cert']} images, D_cert per class "
             f"{r.split['cert_counts']}; σ_P = {r.sigma:g} chosen from {r.config['sigma_grid']}"]
    from ltbound.train.stochastic.certified_run import CERT_LOSSES, CERT_METHODS

    for loss in CERT_LOSSES:                  # a fixed order: read-back dicts come back key-sorted
        for m in CERT_METHODS:
            c = r.certificates[loss][m]
            ds = c["delta_split"]
            lines.append(f"  {loss:<10} {m:<15} {c['bound']:.4f} = bound on (empirical {c['empirical']:.4f} + MC "
                         f"{c['mc_term']:.4f}, KL {c['kl']:.4g}); δ {ds['delta']:g} → /{ds['prior_grid_size']} σ "
                         f"grid → MC {ds['monte_carlo']:.3g}, PAC-Bayes {ds.get('pac_bayes', ds.get('test_set')):.3g}"
                         + (f" ({ds['per_class']:.3g} per class)" if "per_class" in ds else "")
                         + (f" ({ds['per_lambda']:.3g} per λ)" if "per_lambda" in ds else ""))
    return "\n".join(lines)


def print_runs(runs: list, comps: list, num_classes: int, *, legend: bool = False, details_too: bool = True) -> None:
    """The certificate table, optionally its legend and each schedule's details, then the certified differences."""
    print(table(runs, num_classes))
    if legend:
        print("cert = min over {union, pooled-chernoff} x σ grid, each at δ/2 and δ/|grid| (valid at δ); emp, MC, KL: "
              "its terms; test errors: mean ± standard error on the balanced test set; det test-cert: "
              "ltbound.statistics.heldout.certified_risk of the posterior mean on the test set")
    if details_too:
        for r in runs:
            print(details(r))
    if not comps and len(runs) > 1:
        print("no certified difference: these records drew the schedules' weights with one seed (a coupling, "
              "not independent draws); rerun with the current certify.py")
    for c in comps:
        print(c["text"])


def make_figure(runs: list, num_classes: int, path: Path, diffs: Sequence[dict] = ()) -> None:
    """Per schedule: the 0-1 certificate as stacked terms beside the measured test errors; with ``diffs``
    (the certified differences), a second panel: each pair's certified interval, the wider interval of two
    separate bounds, and the empirical difference on D_cert, against 0."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = max(6.0, 2.2 * len(runs))
    if diffs:
        fig, (ax, dx) = plt.subplots(1, 2, figsize=(width + 4.5, 4.5), gridspec_kw={"width_ratios": [width, 4.5]})
    else:
        fig, ax = plt.subplots(figsize=(width, 4.5))
    for i, r in enumerate(runs):
        b = r.best("zero-one")
        emp, mc = b["empirical"], b["mc_term"]
        ax.bar(i - 0.2, emp, width=0.35, color="tab:blue", label="empirical on D_cert" if i == 0 else None)
        ax.bar(i - 0.2, mc, bottom=emp, width=0.35, color="tab:orange", label="Monte Carlo term" if i == 0 else None)
        ax.bar(i - 0.2, b["bound"] - emp - mc, bottom=emp + mc, width=0.35, color="tab:green",
               label="PAC-Bayes (KL, m_j, δ)" if i == 0 else None)
        t = r.test
        ax.errorbar(i + 0.12, t["stochastic_balanced_error"], yerr=t["stochastic_se"], fmt="o", color="black",
                    label="stochastic test error" if i == 0 else None)
        ax.errorbar(i + 0.24, t["deterministic_balanced_error"], yerr=t["deterministic_se"], fmt="s", color="grey",
                    label="posterior-mean test error" if i == 0 else None)
        ax.plot(i + 0.36, t["deterministic_certificate"]["bound"], "v", color="tab:red",
                label="test-set certificate (posterior mean)" if i == 0 else None)
    ax.axhline(1 - 1 / num_classes, color="grey", ls="--", lw=1, label="guessing (1 − 1/C)")
    ax.set_xticks(range(len(runs)), [r.schedule for r in runs])
    ax.set_ylabel("balanced 0-1 risk")
    ax.set_ylim(0, 1)
    ax.set_title("Certified balanced risk (PAC-Bayes, data-dependent prior)\nbeside the measured test errors", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    for i, d in enumerate(diffs):
        y = len(diffs) - 1 - i
        sep = d.get("separate") or [None, None]
        if sep[0] is not None:
            dx.plot(sep, [y, y], color="lightgrey", lw=7, solid_capstyle="butt",
                    label="two separate bounds" if i == 0 else None)
        dx.plot([d["lower"], d["upper"]], [y, y], color="tab:green", lw=3, solid_capstyle="butt",
                label="certified difference" if i == 0 else None)
        dx.plot(d["empirical"], y, "o", color="black", label="empirical on D_cert" if i == 0 else None)
        dx.annotate(d["verdict"], (d["upper"], y), xytext=(4, 6), textcoords="offset points", fontsize=7)
    if diffs:
        dx.axvline(0, color="grey", lw=1)
        dx.set_yticks(range(len(diffs)), [f"{d['a']} − {d['b']}" for d in reversed(diffs)], fontsize=8)
        dx.set_ylim(-0.7, len(diffs) - 0.3)
        dx.set_xlabel("balanced 0-1 risk difference")
        dx.set_title(f"Certified difference (probability ≥ {1 - diffs[0]['delta']:g})", fontsize=10)
        dx.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def environment() -> dict:
    import platform

    import numpy
    import torch

    import ltbound
    from ltbound.train.loop.environment import cpu_environment
    return {"python": platform.python_version(), "numpy": numpy.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "cpus": sorted(os.sched_getaffinity(0)),
            "ltbound": ltbound.__version__, "platform": platform.platform(), **cpu_environment()}


def report(a: argparse.Namespace, out: Path, argv: list[str] | None) -> int:
    """--report: the table of the schedules certified so far in ``out``, read back and verified."""
    from ltbound.records import RecordError, json_default, load_record
    from ltbound.train.stochastic.certified_run import load_certified_run

    runs, pending = [], []
    try:
        for sched in a.schedules:
            rec = out / "runs" / sched
            if (rec / "pacbayes" / "result.npz").is_file():
                runs.append(load_certified_run(rec))
            else:
                pending.append(sched)
    except RecordError as e:
        print(f"certify.py: error: {e}", file=sys.stderr)
        return 2
    if not runs:
        print(f"certify.py: error: --out {out}: no schedule of {a.schedules} is certified there yet "
              "(no runs/<schedule>/pacbayes/result.npz)", file=sys.stderr)
        return 2
    num_classes = load_record(runs[0].record).num_classes
    try:
        comps = differences(runs, certificate_file(runs, out, a.delta, "report-certificates.npz"))
    except ValueError as e:
        print(f"certify.py: error: {e}", file=sys.stderr)
        return 2
    doc = {"command": ["python", "experiments/certify.py", *(argv if argv is not None else sys.argv[1:])],
           "complete": not pending, "pending": pending, "environment": environment(),
           "runs": [r.to_dict() for r in runs], "differences": comps}
    (out / "report.json").write_text(json.dumps(doc, indent=1, default=json_default) + "\n")
    make_figure(runs, num_classes, out / "report.png", comps)
    print(f"Certified so far in {out} (read back and verified)" + (f"; pending: {', '.join(pending)}" if pending else ""))
    print_runs(runs, comps, num_classes)
    print(f"\nreport in {out}/ (report.json, report.png, report-certificates.npz)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    check_args(parser, a)
    t0, cpu0 = time.perf_counter(), time.process_time()
    out = Path(a.out or Path("out") / "certify" / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"))
    if a.report:
        return report(a, out, argv)
    if (out / "results.json").exists():
        parser.error(f"--out {out} already holds results.json; choose a new folder")
    if (out / "runs").exists() and not a.resume:
        parser.error(f"--out {out} holds runs of an interrupted certification; continue it with --resume "
                     "(and the same settings) or choose a new folder")
    cfg = certify_config(a)
    if a.dry_run:
        print(f"dry run: {a.dataset}, schedules {', '.join(a.schedules)}; certificate settings "
              f"{json.dumps(cfg.to_dict())}; would write {out}/results.json, certify.png, runs/")
        return 0
    out.mkdir(parents=True, exist_ok=True)

    from ltbound.records import json_default
    from ltbound.schedule import default_imbalance
    from ltbound.train.stochastic.certified_run import certify_schedule
    from ltbound.train.data.datasets import load_dataset

    import torch
    threads = a.threads if a.threads is not None else (1 if a.dataset == "digits-lt" else None)
    threads_before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        imbalance = a.imbalance if a.imbalance is not None else default_imbalance(a.dataset)
        ds = load_dataset(a.dataset, data_dir=a.data_dir, imbalance=imbalance, split_seed=a.split_seed,
                          max_test_per_class=a.max_test_per_class)
        parents = prior_forks(a)
        stage_priors(a, out, ds, cfg, parents)
        runs = []
        for i, sched in enumerate(a.schedules, 1):
            if not a.quiet:
                how = f" (forked off {parents[sched][0]} after epoch {parents[sched][1]})" if sched in parents else ""
                print(f"[{i}/{len(a.schedules)}] {sched}: prior on D_prior{how}, posteriors, certificate", flush=True)
            src = out / "runs" / parents[sched][0] if sched in parents else None
            runs.append(certify_schedule(train_config(a, sched, out / "runs" / sched, fork_from=src), ds, cfg,
                                         progress=not a.quiet, resume=True))
    except ValueError as e:
        print(f"certify.py: error: {e}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads_before)      # main() may run inside another program (tests)
    comps = differences(runs, certificate_file(runs, out, a.delta))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    results = {
        "command": ["python", "experiments/certify.py", *(argv if argv is not None else sys.argv[1:])],
        "configuration": {**vars(a), "certify": cfg.to_dict()},
        "dataset": {"name": ds.name, "num_classes": ds.num_classes, "counts": [int(v) for v in ds.counts],
                    "imbalance": float(ds.imbalance), "n_test": len(ds.test)},
        "environment": environment(),
        "timings": {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                    "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
        "runs": [r.to_dict() for r in runs],
        "differences": comps,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=json_default) + "\n")
    make_figure(runs, ds.num_classes, out / "certify.png", comps)
    print(f"\nCertified balanced risk of the stochastic network, δ = {a.delta:g} per loss "
          f"({ds.name}, imbalance {ds.imbalance:g}, C = {ds.num_classes})")
    print_runs(runs, comps, ds.num_classes, legend=True, details_too=not a.quiet)
    print(f"\nwall time {wall:.1f} s (CPU {cpu:.1f} s); results in {out}/ (results.json, certify.png, "
          "certificates.npz: every certificate recomputable with ltbound.certificates.certificate_files, runs/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
