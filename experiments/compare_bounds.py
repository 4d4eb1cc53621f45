"""Compare the paper's bounds for IB and Switching on real per-sample losses.

With no arguments: trains, on scikit-learn's 8x8 digits made long-tailed by the standard
protocol (imbalance 20), IB only, Switching (IB -> CR, the paper's method) and IB -> CB,
three seeds each, with the paper's schedule shape scaled to the data set; then puts every
term of Eq. 6, Eq. 7 and the balanced-risk bound (cross-entropy clipped at 5, M = 5, by
default) beside the measured test risks. Writes
``results.json``, ``bounds.png`` and the run records into an output folder it names at the end.

    python experiments/compare_bounds.py
    python experiments/compare_bounds.py --records experiments/records/cifar10-lt-100/*     # committed CPU runs
    python experiments/compare_bounds.py --dataset cifar10-lt --data-dir DIR --imbalance 100   # wants a GPU
    python experiments/compare_bounds.py --loss zero-one --theta perturb --radius 0.01 --k 16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

from ltbound._outputs import OutputError, add_overwrite_flag, refuse_existing, write_output
from ltbound.schedule import DATASETS, SCHEDULES   # torch-free: the trainer's own names

DEFAULT_SCHEDULES = ("ib", "switching", "ib-cb")
DATA_DIR_ENV = "LTBOUND_DATA_DIR"     # as ltbound.train.data.datasets.DATA_DIR_ENV (not imported: torch)
DEFAULT_CAP = 5.0                     # --cap of --loss ce-clipped (M = 5), as ltbound.comparison.compare_runs.DEFAULT_CAP
DEFAULT_K, DEFAULT_RADIUS = 16, 0.01  # --k and --radius of --theta perturb
#: --mc-error: the Monte Carlo standard error wanted of each 2·R̂, below the third decimal the
#: README prints (with 1,000 fixed draws it reached 0.0007-0.0015 on the CIFAR-10-LT records).
DEFAULT_MC_ERROR = 0.0005


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compare_bounds.py",
        description=("Train (or load) models under different sampling schedules and compare every term "
                     "of the Switching paper's generalization bounds (Eq. 6 for IB, Eq. 7 for the "
                     "final-stage sampler, and the bound on the balanced test risk) with the test "
                     "risks the models actually reach. Every setting is checked before any training."),
        epilog=("With no arguments it runs the embedded default: digits-lt (imbalance 20), schedules "
                f"{', '.join(DEFAULT_SCHEDULES)}, 3 seeds, on the CPU in under a minute. Real data, e.g.: "
                "--dataset cifar10-lt --data-dir cifar10-jpeg.tar.xz --preset cifar-short --seeds 1"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_argument_group("what to compare")
    src.add_argument("--records", nargs="+", metavar="DIR",
                     help="skip training: read these run records (folders written by python -m ltbound.train)")
    src.add_argument("--allow-incomplete", action="store_true",
                     help="with --records: also compare records that are not complete (status running); "
                          "results.json gives each run's status")
    src.add_argument("--dataset", default="digits-lt", choices=DATASETS,
                     help="data set to train on (cifar*/image-folder want a GPU for the full recipe)")
    src.add_argument("--data-dir", default=None,
                     help="the data: a folder (torchvision CIFAR, or train/<class>/*.jpg + test/<class>/*.jpg) or "
                          f"a .tar/.tar.gz/.tar.xz of such a tree; default ${DATA_DIR_ENV}. With --records "
                          "--theta perturb it replaces the path stored in the records (split hash checked)")
    src.add_argument("--imbalance", type=float, default=None,
                     help="imbalance factor n_max/n_min (default: 20 for digits-lt, 100 otherwise)")
    src.add_argument("--split-seed", type=int, default=0, help="seed of the long-tailed subset")
    src.add_argument("--max-test-per-class", type=int, default=None, metavar="K",
                     help="keep only K test images per class (quicker evaluation after each epoch)")
    src.add_argument("--schedules", nargs="+", default=list(DEFAULT_SCHEDULES),
                     help="schedules to train (names of ltbound.schedule.SCHEDULES)")
    src.add_argument("--seeds", type=int, default=3, help="number of seeds per schedule (seeds 0..N-1)")
    src.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    src.add_argument("--threads", type=int, default=None,
                     help="CPU threads of torch while training (default: 1 for digits-lt, whose trained models, "
                          "hence every printed number, depend on the thread count, and which one thread trains as "
                          "fast; torch's own default otherwise)")
    r = p.add_argument_group("recipe (default: the preset's; the trainer's overrides)")
    r.add_argument("--preset", default=None,
                   help="training recipe (default: digits for digits-lt, else cifar; cifar-short = 60 epochs)")
    r.add_argument("--epochs", type=int, default=None, help="override the preset's number of epochs")
    r.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size")
    r.add_argument("--lr", type=float, default=None, help="override the preset's initial learning rate")
    r.add_argument("--milestones", default=None, metavar="LIST",
                   help="override the learning-rate milestones: comma list of epochs (e.g. 30 or 60,80)")
    r.add_argument("--warmup-epochs", type=int, default=None,
                   help="override the linear warm-up epochs (a preset's warm-up that is not below --epochs "
                        "is capped to --epochs - 1, with a note)")
    r.add_argument("--switch-offset", type=int, default=None, metavar="S",
                   help="override S of Algorithm 1: the second sampler starts at epoch m_n + S + 1")
    r.add_argument("--model", default=None, help="override the preset's model (resnet32, digits_net, ...)")
    r.add_argument("--amp", default="auto", choices=("auto", "bf16", "off"), help="bfloat16 autocast in training")
    r.add_argument("--eval-batch-size", type=int, default=None,
                   help="batch of the per-epoch evaluation and of the --theta perturb losses "
                        "(default: 128 on CPU, 1024 on CUDA)")
    b = p.add_argument_group("how the bounds are evaluated")
    b.add_argument("--loss", default="ce-clipped", choices=("zero-one", "ce-clipped"),
                   help="bounded loss of the bounds: cross-entropy clipped at --cap (M = cap) or the 0-1 loss "
                        "(M = 1; on digits the final-stage models fit the training set, so its objective "
                        "and Rademacher terms are 0 and only the confidence term is left)")
    b.add_argument("--cap", type=float, default=None,
                   help=f"clipping level C of --loss ce-clipped (M = C; default {DEFAULT_CAP:g}); not used by --loss zero-one")
    b.add_argument("--theta", default="checkpoints", choices=("checkpoints", "perturb"),
                   help="finite parameter set for the Rademacher and Q_n terms: the final-stage epochs' "
                        "models, or K perturbations of the final model within relative radius R")
    b.add_argument("--radius", type=float, default=None,
                   help=f"relative radius R of --theta perturb (default {DEFAULT_RADIUS:g}); only with --theta perturb")
    b.add_argument("--k", type=int, default=None,
                   help=f"number K of perturbed models of --theta perturb (default {DEFAULT_K}); only with --theta perturb")
    b.add_argument("--delta", type=float, default=0.05, help="failure probability of each bound, in (0, 1)")
    b.add_argument("--mc-error", type=float, default=None,
                   help=f"wanted Monte Carlo standard error of every 2·R̂ (default {DEFAULT_MC_ERROR:g}): each Rademacher "
                        "estimate takes the sign draws that guarantee it for its losses, at least 1000 (the header "
                        "prints the draws and the largest standard error); not with --num-draws")
    b.add_argument("--num-draws", type=int, default=None,
                   help="a fixed number of Monte Carlo sign draws for every Rademacher estimate, instead of --mc-error")
    b.add_argument("--mc-delta-fraction", type=float, default=0.5,
                   help="share of --delta charged to the Monte Carlo error of the sign draws; the McDiarmid "
                        "confidence terms get the rest (the header prints the split)")
    o = p.add_argument_group("output")
    o.add_argument("--out", help="output folder (default: out/compare_bounds/<UTC time>)")
    o.add_argument("--quiet", action="store_true",
                   help="no per-epoch lines or progress bars; print only the table and the folder")
    add_overwrite_flag(o)
    return p


#: Flags that only act when this script trains (they are refused with --records, which trains nothing);
#: --data-dir, --device and --eval-batch-size also serve --records --theta perturb.
TRAINING_FLAGS = ("dataset", "imbalance", "split_seed", "max_test_per_class", "schedules", "seeds", "threads",
                  "preset", "epochs", "batch_size", "lr", "milestones", "warmup_epochs", "switch_offset", "model",
                  "amp")


def given_options(argv: list[str] | None) -> set[str]:
    """The dests of the options typed on the command line (not those left at their defaults)."""
    shadow = build_parser()
    for action in shadow._actions:              # noqa: SLF001 - argparse keeps its actions here
        action.default = argparse.SUPPRESS
    return set(vars(shadow.parse_args(argv)))


def _data_dir(a: argparse.Namespace) -> str | None:
    """--data-dir, else $LTBOUND_DATA_DIR, as an absolute path (records must work from any folder)."""
    raw = a.data_dir or os.environ.get(DATA_DIR_ENV) or None
    return None if raw is None else str(Path(raw).expanduser().resolve())


def check_args(parser: argparse.ArgumentParser, a: argparse.Namespace, typed: set[str] | None = None) -> None:
    """Refuse bad arguments before any work, with a message naming the flag (exit status 2).

    Everything that can refuse a run without its data is checked here, for every schedule:
    recipe overrides, switch epochs within the run, warm-up below the run, checkpoints, the
    device, and that the data path exists. So a run that would be refused is refused at once,
    not after the first schedule has trained. ``typed`` (the dests typed on the command line,
    :func:`given_options`) lets flags that would be ignored be refused, as --k without perturb is.
    """
    typed = set() if typed is None else typed
    if not 0 < a.delta < 1:
        parser.error(f"--delta must lie in (0, 1), got {a.delta}")
    if not 1.0 - a.delta < 1.0:   # the (1 - δ) intervals beside the bounds need a level below 1 in float64
        parser.error(f"--delta {a.delta:g} is too small: 1 - delta rounds to 1 in float64 (the confidence level of "
                     "the test-accuracy intervals); use --delta >= 1.2e-16")
    if a.records:
        # --data-dir, --device and --eval-batch-size serve --records only to evaluate --theta perturb's models
        perturb_only = () if a.theta == "perturb" else ("data_dir", "device", "eval_batch_size")
        ignored = [f"--{d.replace('_', '-')}" for d in (*TRAINING_FLAGS, *perturb_only) if d in typed]
        if ignored:
            one = len(ignored) == 1
            parser.error(f"{', '.join(ignored)} {'sets' if one else 'set'} how runs are trained (or, for --data-dir, "
                         "--device and --eval-batch-size, how --theta perturb evaluates them), but --records trains "
                         f"nothing (the records' own settings are used): drop {'it' if one else 'them'}, or drop "
                         "--records to train")

    if a.loss == "zero-one" and a.cap is not None:
        parser.error(f"--cap {a.cap:g} applies only to --loss ce-clipped (the clipping level of the cross-entropy); "
                     "--loss zero-one has M = 1 and no cap: drop --cap, or use --loss ce-clipped")
    if a.loss == "ce-clipped":
        a.cap = DEFAULT_CAP if a.cap is None else a.cap
        if not a.cap > 0:
            parser.error(f"--cap must be > 0 (the clipping level of the cross-entropy; M = cap), got {a.cap}")
    if a.theta != "perturb":
        given = [flag for flag, v in (("--k", a.k), ("--radius", a.radius)) if v is not None]
        if given:
            one = len(given) == 1
            parser.error(f"{' and '.join(given)} {'applies' if one else 'apply'} only to --theta perturb (K perturbations "
                         f"of the final model within relative radius R); with --theta {a.theta} {'it' if one else 'they'} "
                         f"would be ignored: add --theta perturb, or drop {' and '.join(given)}")
    else:
        a.k = DEFAULT_K if a.k is None else a.k
        a.radius = DEFAULT_RADIUS if a.radius is None else a.radius
    for flag, value, low in (("--seeds", a.seeds, 1), ("--epochs", a.epochs, 1), ("--num-draws", a.num_draws, 1),
                             ("--batch-size", a.batch_size, 1), ("--warmup-epochs", a.warmup_epochs, 0),
                             ("--switch-offset", a.switch_offset, 0), ("--split-seed", a.split_seed, 0),
                             ("--max-test-per-class", a.max_test_per_class, 1),
                             ("--eval-batch-size", a.eval_batch_size, 1), ("--threads", a.threads, 1)):
        if value is not None and value < low:
            parser.error(f"{flag} must be >= {low}, got {value}")
    if a.lr is not None and not a.lr > 0:
        parser.error(f"--lr must be > 0, got {a.lr}")
    if a.num_draws is not None and a.mc_error is not None:
        parser.error(f"--num-draws {a.num_draws} and --mc-error {a.mc_error:g} both choose the number of sign draws: "
                     "give one of them")
    if a.num_draws is None:
        a.mc_error = DEFAULT_MC_ERROR if a.mc_error is None else a.mc_error
        if not a.mc_error > 0:
            parser.error(f"--mc-error must be > 0 (a standard error of 2·R̂, loss units), got {a.mc_error}")
    if not 0 < a.mc_delta_fraction < 1:
        parser.error(f"--mc-delta-fraction must lie in (0, 1), got {a.mc_delta_fraction}")
    if a.imbalance is not None and a.imbalance < 1:
        parser.error(f"--imbalance must be >= 1 (n_max / n_min), got {a.imbalance}")
    if a.theta == "perturb" and (a.k < 1 or not a.radius >= 0):
        parser.error(f"--theta perturb needs --k >= 1 and --radius >= 0, got --k {a.k} --radius {a.radius:g}")
    if a.milestones is not None:
        try:
            a.milestones = [int(m) for m in a.milestones.split(",") if m.strip()]
        except ValueError:
            parser.error(f"--milestones must be a comma list of epochs (e.g. 30 or 60,80), got {a.milestones!r}")
    source = "--data-dir" if a.data_dir else f"${DATA_DIR_ENV}"
    a.data_dir = _data_dir(a)
    if a.data_dir is not None and not Path(a.data_dir).exists():
        parser.error(f"{source}: {a.data_dir} does not exist; point it at the data set's folder or archive "
                     "(e.g. the CIFAR-10 JPEG archive cifar10-jpeg.tar.xz)")
    if not a.records and "data_dir" in typed and a.dataset == "digits-lt":
        parser.error(f"--data-dir {a.data_dir} would be ignored: --dataset digits-lt is embedded (no files to read); "
                     "drop --data-dir, or choose a --dataset that reads it")
    if a.device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            parser.error(f"--device {a.device}: CUDA is not available on this machine; use --device cpu or auto")
    if a.out is None:
        a.out = str(Path("out") / "compare_bounds" / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"))
    check_out(parser, Path(a.out), a.overwrite)
    if a.records:
        for r in a.records:
            if not (Path(r) / "manifest.json").is_file():
                parser.error(f"--records: {r} is not a run record folder (no manifest.json there); "
                             "records are the --out folders of python -m ltbound.train")
        return
    bad = [s for s in a.schedules if s not in SCHEDULES]
    if bad:
        parser.error(f"--schedules: unknown {bad}; choose from {', '.join(SCHEDULES)}")
    if a.dataset != "digits-lt" and a.data_dir is None:
        parser.error(f"--dataset {a.dataset} needs --data-dir (the folder or archive holding the images) "
                     f"or ${DATA_DIR_ENV}")
    for sched in a.schedules:
        try:
            plan_run(a, sched, seed=0, out=Path(a.out) / "runs" / f"{sched}-seed0")
        except ValueError as e:
            parser.error(f"--schedules {sched}: {e}{_flag_hint(str(e))}")


def check_out(parser: argparse.ArgumentParser, out: Path, overwrite: bool = False) -> None:
    """Refuse an --out that cannot hold the results, before any work and without creating it.

    A path under a file, or in a place where no file can be written (``/proc``, a read-only
    mount), is found by writing and removing a probe file in ``out`` or, if ``out`` does not
    exist yet, in its nearest existing parent; so the refusal comes before training, not as
    a traceback when results.json is written. Existing outputs (``results.json``, ``bounds.png``)
    are refused unless ``overwrite`` (``--overwrite``).
    """
    refuse_existing(parser, "--out", [out / "results.json", out / "bounds.png"], overwrite)
    existing = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        where = "is a file" if existing == out else f"lies under {existing}, which is a file"
        parser.error(f"--out {out} {where}, not a folder; choose a folder path")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".compare-bounds-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        parser.error(f"--out {out}: cannot write there ({exc.strerror or exc}); choose a folder you can write")


#: Words of library messages -> the flags of this script that set them.
_FLAG_WORDS = (("switch epoch", ("--epochs", "--milestones", "--switch-offset")),
               ("warmup_epochs", ("--warmup-epochs", "--epochs")), ("milestones", ("--milestones",)),
               ("batch_size", ("--batch-size",)), ("preset", ("--preset",)), ("model", ("--model",)),
               ("lr must", ("--lr",)), ("amp", ("--amp",)), ("device", ("--device",)),
               ("checkpoint_epochs", ("--epochs",)), ("eval_batch_size", ("--eval-batch-size",)))


def _flag_hint(message: str) -> str:
    flags = [f for word, fl in _FLAG_WORDS if word in message for f in fl]
    return f" [flags: {', '.join(dict.fromkeys(flags))}]" if flags else ""


def plan_run(a: argparse.Namespace, sched: str, *, seed: int, out: Path, checkpoints: list[int] | None = None,
             fork_from: Path | None = None, check: bool = True):
    """The TrainConfig of one (schedule, seed) run, checked by the trainer's own boundary check.

    :func:`ltbound.train.loop.config.plan_run` checks everything that needs no data (recipe,
    schedule within the run, checkpoints, device, output folder). A preset's warm-up that is
    not below the run's epochs is capped by the trainer with a warning; here the warning
    becomes a note and the capped value is set on ``a`` (so every run and results.json carry it).
    ``checkpoints`` (default: the trainer's "switch,end") and ``fork_from`` come from
    :func:`fork_plan`; ``check=False`` only builds the config.
    """
    from ltbound.train.loop import distributed
    from ltbound.train.loop.config import TrainConfig, plan_run as check_run

    cfg = TrainConfig(dataset=a.dataset, data_dir=a.data_dir, imbalance=a.imbalance, schedule=sched,
                      preset=a.preset, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, milestones=a.milestones,
                      warmup_epochs=a.warmup_epochs, switch_offset=a.switch_offset, model=a.model,
                      max_test_per_class=a.max_test_per_class, split_seed=a.split_seed, amp=a.amp,
                      eval_batch_size=a.eval_batch_size, seed=seed, device=a.device, out=str(out),
                      progress=False, quiet=a.quiet, resume=(out / "manifest.json").exists(),
                      fork_from=None if fork_from is None else str(fork_from),
                      **({} if checkpoints is None else {"checkpoint_epochs": list(checkpoints)}))
    if not check:
        return cfg
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = check_run(cfg, distributed.dist_from_env())
    if a.warmup_epochs is None and any("warm-up capped" in str(w.message) for w in caught):
        a.warmup_epochs = plan.recipe.warmup_epochs
        if not a.quiet:
            print(f"note: {caught[0].message} [flag: --warmup-epochs]", file=sys.stderr)
        return plan_run(a, sched, seed=seed, out=out, checkpoints=checkpoints, fork_from=fork_from)
    return cfg


def load_data(a: argparse.Namespace):
    """The data set every run trains on, loaded once (decoding CIFAR JPEGs takes a while)."""
    from ltbound.schedule import default_imbalance
    from ltbound.train.data.datasets import load_dataset

    imbalance = a.imbalance if a.imbalance is not None else default_imbalance(a.dataset)
    return load_dataset(a.dataset, data_dir=a.data_dir, imbalance=imbalance, split_seed=a.split_seed,
                        max_test_per_class=a.max_test_per_class)


def fork_plan(a: argparse.Namespace) -> tuple[dict[str, tuple[str, int]], dict[str, list[int]]]:
    """Which runs continue another run's first epochs instead of training them again.

    Two schedules that use the same sampler in epochs 1..e train bitwise the same model up
    to epoch e (same seed, recipe, data and environment): Switching and IB -> CB repeat the IB
    run until their switch. Each schedule that shares e >= 1 leading epochs with an earlier
    one in ``a.schedules`` is *forked* off it at epoch e (the earlier one with the longest
    shared prefix; :func:`ltbound.train.runs.fork.fork_record` copies the record and checks that
    the settings, samplers and environment agree), so each seed trains a shared prefix once.

    Returns
    -------
    parents : dict
        schedule -> (schedule it is forked from, last shared epoch e), for the forked ones.
    checkpoints : dict
        schedule -> checkpointed epochs: the trainer's default ("switch,end") plus the epochs
        <= e that a run forked off it keeps (the fork copies them, so the source must have them).
    """
    from ltbound.schedule import get_schedule
    from ltbound.train.loop.config import checkpoint_epochs, resolve_recipe
    from ltbound.train.runs.fork import fork_parents

    qs, own = {}, {}
    for sched in a.schedules:
        cfg = plan_run(a, sched, seed=0, out=Path(a.out) / "runs" / f"{sched}-seed0", check=False)
        recipe = resolve_recipe(cfg)[1]
        schedule = get_schedule(sched, recipe)
        qs[sched] = [float(schedule.q_at(e)) for e in range(1, recipe.epochs + 1)]
        own[sched] = checkpoint_epochs(cfg.checkpoint_epochs, recipe.epochs, schedule)
    parents = fork_parents(qs)
    ckpts = {s: set(own[s]) for s in a.schedules}
    for sched in reversed(a.schedules):        # a source comes before the runs forked off it
        if sched in parents:
            src, e = parents[sched]
            ckpts[src] |= {c for c in ckpts[sched] if c <= e}
    return parents, {s: sorted(c) for s, c in ckpts.items()}


def train_runs(a: argparse.Namespace, out: Path, ds) -> list[Path]:
    """Train every (schedule, seed) pair into out/runs/<schedule>-seed<k>; returns the record folders.

    Runs that share their first epochs with another schedule are forked off it (:func:`fork_plan`):
    per seed, the source trains up to the fork epoch, the forked runs continue from a copy of
    its record, and the source then goes on. Every record is the one a run trained from epoch 1
    would have written (bitwise on CPU: the trainer's resume and fork tests). Unless --quiet, a
    line names each run and the trainer prints one line per epoch (learning rate, loss, train
    and test accuracy, seconds).
    """
    from ltbound.train.loop.trainer import train

    if a.dataset != "digits-lt":
        import torch
        if not torch.cuda.is_available():
            print(f"warning: training ResNet-32 on {a.dataset} without a GPU takes minutes per epoch"
                  + ("" if a.preset == "cifar-short" or a.epochs else "; consider --preset cifar-short or --epochs")
                  + " (or --records with runs made on a GPU)", file=sys.stderr)
    if ds.train.labels.numel() < (a.batch_size or 1):
        raise ValueError(f"--batch-size {a.batch_size} is larger than the training set ({ds.train.labels.numel()} images)")
    parents, ckpts = fork_plan(a)
    children: dict[str, list[str]] = {}
    for sched, (src, _) in parents.items():
        children.setdefault(src, []).append(sched)
    total = len(a.schedules) * a.seeds
    started: list[str] = []

    def run_dir(sched: str, seed: int) -> Path:
        return out / "runs" / f"{sched}-seed{seed}"

    def step(sched: str, seed: int, until: int | None) -> None:
        """Train (or continue) one run, up to epoch ``until`` (None: to its end)."""
        key = f"{sched}-seed{seed}"
        src = parents.get(sched)
        if not a.quiet:
            if key not in started:
                how = f" (forked from {src[0]}-seed{seed} after epoch {src[1]})" if src else ""
                print(f"[run {len(started) + 1}/{total}] {sched} seed {seed} -> {run_dir(sched, seed)}{how}", flush=True)
            else:
                print(f"[run {started.index(key) + 1}/{total}] {sched} seed {seed} continues", flush=True)
        if key not in started:
            started.append(key)
        cfg = plan_run(a, sched, seed=seed, out=run_dir(sched, seed), checkpoints=ckpts[sched],
                       fork_from=run_dir(src[0], seed) if src else None)
        train(cfg, dataset=ds, stop_after=until)

    def grow(sched: str, seed: int) -> None:
        """Train ``sched``, pausing at each epoch where runs fork off it to grow them first."""
        for e in sorted({parents[c][1] for c in children.get(sched, [])}):
            step(sched, seed, until=e)
            for c in children[sched]:
                if parents[c][1] == e:
                    grow(c, seed)
        step(sched, seed, until=None)

    for seed in range(a.seeds):
        for sched in a.schedules:
            if sched not in parents:
                grow(sched, seed)
    return [run_dir(s, seed) for s in a.schedules for seed in range(a.seeds)]


def perturbation_losses(record_dirs: list[Path], a: argparse.Namespace, ds=None) -> list:
    """(K+1, n) loss matrices on each run's training split: row 0 its final model, rows 1..K perturbations.

    ``ds`` is the data set the runs were trained on here (else each record's is rebuilt from
    its manifest, from --data-dir / $LTBOUND_DATA_DIR when given, with the split hash checked).
    """
    import numpy as np

    from ltbound.train.loss_matrices.bridge import model_loss_matrix
    from ltbound.train.loss_matrices.bridge import record_model

    mats = []
    for i, d in enumerate(record_dirs):
        net, data = record_model(d, data_dir=a.data_dir, dataset=ds)
        m, labels = model_loss_matrix(
            net, (data.train.images, data.train.labels), k=a.k, radius=a.radius, seed=1000 + i, pixels="uint8",
            mean=data.mean, std=data.std, loss=a.loss, cap=a.cap, batch_size=a.eval_batch_size or 256,
            device=a.device, progress=not a.quiet)
        assert np.array_equal(labels, data.train.labels.numpy())   # the pair is read in order
        mats.append(m)
    return mats


def theta_label(a: argparse.Namespace) -> str:
    """Θ̂ in words for the header and the figure ("given" alone says nothing of how it was formed)."""
    if a.theta == "perturb":
        return f"final model + {a.k} perturbations (relative radius {a.radius:g})"
    return "final-stage checkpoints"


#: Legend labels of the bound terms (as the table's columns: the Rademacher term is 2·R̂).
_FIGURE_LABELS = {"rademacher": "2·R̂ (Rademacher)", "monte_carlo": "2·(R̂⁺−R̂) (Monte Carlo)",
                  "residual": "−Q̂_n (residual)"}


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
    # The legend gets its own rows below the panels, as many columns as the width holds, so it
    # fits however many schedules (panels) there are; one panel still gets a readable width.
    width = max(4.2 * len(labels), 7.0)
    n_entries = len(term_names) + 1
    ncol = min(n_entries, max(2, int(width // 2.0)))
    legend_rows = math.ceil(n_entries / ncol)
    fig, axes = plt.subplots(1, len(labels), figsize=(width, 4.6 + 0.3 * legend_rows), sharey=True, squeeze=False)
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
    names = [_FIGURE_LABELS.get(n, n) for n in term_names] + ["measured test risk"]
    fig.legend(handles, names, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0))
    axes[0][0].set_ylabel(f"{comp.loss} risk (M = {comp.loss_range:g}); black line = bound")
    fig.suptitle(f"Bound terms vs measured test risk\n(mean over seeds, delta = {comp.delta:g}, Θ̂ = {comp.theta_words})")
    legend_height = (0.35 * legend_rows + 0.1) / (4.6 + 0.3 * legend_rows)   # figure fraction
    fig.tight_layout(rect=(0, legend_height, 1, 0.93))
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
        from ltbound.train.loop.environment import cpu_environment
        env.update(cpu_environment())          # the trained numbers' last digits follow the CPU's kernels
    except ImportError:  # reading records needs no torch
        env["torch"] = None
    import ltbound
    env["ltbound"] = ltbound.__version__
    return env


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    check_args(parser, a, given_options(argv))
    t0 = time.perf_counter()
    out = Path(a.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:         # e.g. made unwritable since check_out
        parser.error(f"--out {out}: cannot create the folder ({exc.strerror or exc}); choose a folder you can write")

    from ltbound.comparison.compare_runs import compare
    from ltbound.records import json_default

    try:
        ds = None
        if a.records:
            record_dirs = [Path(r).resolve() for r in a.records]
        else:
            threads = a.threads if a.threads is not None else (1 if a.dataset == "digits-lt" else None)
            if threads is not None:
                import torch
                torch.set_num_threads(threads)
            ds = load_data(a)
            record_dirs = train_runs(a, out, ds)
        t_train = time.perf_counter() - t0
        losses = perturbation_losses(record_dirs, a, ds) if a.theta == "perturb" else None
        comp = compare(record_dirs, loss=a.loss, cap=a.cap, theta="given" if losses is not None else "checkpoints",
                       losses=losses, theta_index=0 if losses is not None else None, delta=a.delta,
                       num_draws=a.num_draws, mc_std_error=a.mc_error, seed=0,
                       mc_delta_fraction=a.mc_delta_fraction, allow_incomplete=a.allow_incomplete,
                       theta_label=theta_label(a))
    except ValueError as e:  # RecordError (damaged, incomplete or duplicate records), bad data, other splits, ...
        # one clear line, status 2; the library names arguments, this CLI names its flags
        msg = str(e)
        for arg, flag in (("allow_incomplete=True", "--allow-incomplete"), ("mc_delta_fraction", "--mc-delta-fraction"),
                          ("mc_std_error", "--mc-error"), ("num_draws", "--num-draws")):
            msg = msg.replace(arg, flag)
        print(f"compare_bounds.py: error: {msg}", file=sys.stderr)
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
    try:
        write_output(out / "results.json", json.dumps(results, indent=1, default=json_default) + "\n", "--out")
        make_figure(comp, out / "bounds.png")
    except OSError as e:           # a full disk: one line, as the trainer says it (status 1)
        print(f"compare_bounds.py: error: {e if isinstance(e, OutputError) else f'--out: cannot write bounds.png ({e.strerror or e})'}",
              file=sys.stderr)
        return 1
    print(comp.table())
    made = "results.json, bounds.png" + ("" if a.records else ", runs/")
    print(f"\nwall time {t_total:.1f} s; results in {out}/ ({made})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
