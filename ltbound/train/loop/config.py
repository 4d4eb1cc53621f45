"""A training run's settings: :class:`TrainConfig`, and everything checked or resolved from it before any work.

:func:`plan_run` is the trainer's one boundary check: it validates every setting that
can be checked without data and resolves the recipe (preset + overrides), the sampler
schedule, the checkpoint epochs, the device, the precision and the evaluation batch into a
:class:`RunPlan`; :func:`check_data` adds the checks that need the loaded data set. The
training loop (:mod:`ltbound.train.loop.trainer`) then trusts what they return. Messages name
arguments (``batch_size``, ``device``); the command line maps them to its flags.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..._validation import check_finite_scalar, check_positive_int, check_seed
from ...records import LOCK_NAME, foreign_files, probe_lock, read_manifest, refuse_foreign_files
from ...schedule import (DEFAULT_IMBALANCE, PRESETS, SCHEDULES, Recipe, Schedule, default_imbalance, default_preset,
                         get_schedule)
from . import distributed as D
from ..data.augment import AUGMENTATIONS
from .environment import cpu_bf16_supported
from .models import MODELS

__all__ = ["TrainConfig", "RunPlan", "plan_run", "check_data", "resolve_recipe", "checkpoint_epochs",
           "resolve_device", "check_out_dir", "config_dict", "AMP_MODES", "EVAL_PRECISIONS", "DEFAULT_EVAL_BATCH",
           "DEFAULT_IMBALANCE", "OPERATIONAL"]

#: ``amp`` settings: "auto" = bfloat16 autocast with the fast pipeline on CUDA, and on a CPU
#: whose oneDNN has bfloat16 kernels (AVX-512 BF16 or AMX); "bf16" forces it (CUDA, or a CPU
#: with those kernels); "off" trains and evaluates in float32.
AMP_MODES = ("auto", "bf16", "off")

#: ``eval_precision`` settings of the per-sample evaluation that fills the record: "float32"
#: (the default: a checkpoint re-evaluated by :mod:`ltbound.train.loss_matrices.theta` gives the recorded
#: losses bitwise) or "bf16" (bfloat16 autocast, logits and loss in float32; about 2x faster
#: on a CPU with native bf16 kernels; what it changes: ``benchmarks/eval_precision.py``).
EVAL_PRECISIONS = ("float32", "bf16")

#: Evaluation batch when ``eval_batch_size`` is None. Measured on a 2-core AVX-512 CPU with
#: ResNet-32 in float32 channels-last: 1,305 img/s at 128 against 514 at 1024 (a large batch's
#: activations leave the cache); on CUDA a large batch keeps the device busy.
DEFAULT_EVAL_BATCH = {"cpu": 128, "cuda": 1024}

#: Config fields that do not change the numbers a run produces; they are left out of the
#: manifest's ``config``, so a resume may change them. ``eval_precision`` changes the recorded
#: evaluation (not the training): it is left out of ``config`` so that records written before it
#: existed still resume, and is recorded as ``environment["eval_precision"]``, one of the
#: :data:`~ltbound.records.DETERMINISM_FIELDS`, so a resume or fork cannot switch it silently.
OPERATIONAL = ("out", "resume", "progress", "quiet", "download", "workers", "fork_from", "allow_env_change",
               "eval_precision")


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Attributes
    ----------
    out : str or Path
        The run record folder (created; must be new or empty unless ``resume``).
    dataset : str
        A name :func:`ltbound.train.data.datasets.load_dataset` knows ("digits-lt", "cifar10-lt", ...).
    data_dir : str, optional
        Where the data set's files are (image-folder tree or archive); None for built-in data.
    imbalance : float >= 1, optional
        n_max / n_min of the long-tailed training set; None = the data set's default
        (20 for digits, 100 for CIFAR).
    max_test_per_class : int, optional
        Keep at most this many test images per class (small smoke-test runs); None = all.
    preset : str, optional
        A recipe of :data:`ltbound.schedule.PRESETS`; None = "digits" for digits data,
        "cifar" otherwise.
    schedule : str
        A sampler schedule of :data:`ltbound.schedule.SCHEDULES` ("switching", "ib", "cb", ...).
    epochs, batch_size, lr, milestones, warmup_epochs, switch_offset : optional
        Overrides of the preset's values (None keeps the preset's). ``milestones`` are the
        epochs after which the learning rate is multiplied by the preset's gamma;
        ``switch_offset`` is S of Algorithm 1 (the second sampler starts at m_n + S + 1).
    model : str, optional
        Override of the preset's model name (see :func:`ltbound.train.loop.models.build_model`).
    seed : int
        Seeds model initialisation, the sampler and the augmentation.
    split_seed : int
        Seeds the long-tailed subset selection of the data set.
    device : str
        "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    checkpoint_epochs : str or sequence of int
        Epochs whose weights are saved to ``checkpoints/``: a comma list of "switch" (the
        last epoch before each sampler switch), "end", "all", "none" and epoch numbers, or
        a list of ints.
    fast : bool
        The device-resident pipeline (True) or the reference PIL/DataLoader pipeline (False).
    amp : {"auto", "bf16", "off"}
        bfloat16 autocast for the training steps: "auto" = with the fast pipeline, on CUDA
        and on CPUs with native bf16 kernels (:func:`~ltbound.train.loop.environment.cpu_bf16_supported`); "bf16" = always
        (fails on a CPU without those kernels); "off" = float32. The manifest's
        ``environment.amp`` says which was used. The per-sample evaluation that fills the
        record is set apart by ``eval_precision``.
    compile : bool
        ``torch.compile`` the model for training (evaluation uses the eager model).
    cuda_graphs : bool
        Compile with ``mode="reduce-overhead"`` (CUDA graphs; CUDA only).
    eval_batch_size : int, optional
        Batch of the per-sample evaluation; None = :data:`DEFAULT_EVAL_BATCH` for the device.
    eval_precision : {"float32", "bf16"}
        Precision of the per-sample evaluation that fills the record (:data:`EVAL_PRECISIONS`).
        "float32" (default): a checkpoint re-evaluated by :mod:`ltbound.train.loss_matrices.theta` gives the
        recorded losses bitwise. "bf16": the forward pass under bfloat16 autocast, the
        cross-entropy from float32 logits; about half the evaluation time on a CPU with native
        bf16 kernels (or CUDA; refused elsewhere, where it would be slower), at the price of
        per-sample losses that differ from float32 by a few percent (measured by
        ``benchmarks/eval_precision.py``). Recorded as ``environment["eval_precision"]``; a
        resume or fork with another value is refused unless ``allow_env_change``.
    workers : int
        DataLoader workers of the reference pipeline (``fast=False``) only.
    progress : bool
        Show a tqdm bar per epoch.
    quiet : bool
        Print no header and no per-epoch summary line (for callers that show their own progress).
    download : bool
        Let the data loader download missing data (needs the network).
    resume : bool
        Continue the record in ``out`` from its ``state.pt``; a missing or empty ``out``
        starts a new run.
    allow_env_change : bool
        Let a resume continue in an environment whose determinism-relevant fields
        (device, torch_threads, amp, torch version, ...) differ from the record's; the
        change is recorded in the manifest's ``resumes``. Without it such a resume is refused,
        since the continued run would not equal an uninterrupted one.
    fork_from : str or Path, optional
        Start from another run's record at its last recorded epoch e instead of from
        scratch (:func:`~ltbound.train.runs.fork.fork_record`): the new run must agree with it on every setting but the
        schedule and the checkpoint epochs, its schedule must use the same sampler in epochs
        1..e, and the environment (device, threads, amp, torch) must be the same, so the
        result is the record an uninterrupted run would have written (bitwise on CPU;
        tested). Used to branch several second stages off one first stage (Switching off an
        IB run, Tables 5-6). Ignored when ``out`` already holds the forked record (resume).
    """
    out: str | os.PathLike
    dataset: str = "digits-lt"
    data_dir: str | None = None
    imbalance: float | None = None
    max_test_per_class: int | None = None
    preset: str | None = None
    schedule: str = "switching"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    milestones: Sequence[int] | None = None
    warmup_epochs: int | None = None
    switch_offset: int | None = None
    model: str | None = None
    seed: int = 0
    split_seed: int = 0
    device: str = "auto"
    checkpoint_epochs: str | Sequence[int] = "switch,end"
    fast: bool = True
    amp: str = "auto"
    compile: bool = False
    cuda_graphs: bool = False
    eval_batch_size: int | None = None
    eval_precision: str = "float32"
    workers: int = 2
    progress: bool = True
    quiet: bool = False
    download: bool = False
    resume: bool = False
    fork_from: str | os.PathLike | None = None
    allow_env_change: bool = False


@dataclass(frozen=True)
class RunPlan:
    """What :func:`plan_run` resolved from a :class:`TrainConfig` (checked; the loop trusts it).

    Attributes
    ----------
    preset : str
        Name of the preset the recipe started from.
    recipe : Recipe
        The preset with the config's overrides.
    schedule : Schedule
        The sampler schedule, checked against ``recipe.epochs``.
    checkpoint_epochs : list of int
        Sorted 1-based epochs whose weights are saved.
    device : torch.device
    out : Path
        The run record folder.
    bf16 : bool
        Train under bfloat16 autocast.
    eval_bf16 : bool
        Evaluate (the per-sample record) under bfloat16 autocast; float32 otherwise.
    channels_last : bool
        Model and batches in channels-last memory format (the fast pipeline).
    eval_batch_size : int
        Batch of the per-sample evaluation.
    """
    preset: str
    recipe: Recipe
    schedule: Schedule
    checkpoint_epochs: list[int]
    device: torch.device
    out: Path
    bf16: bool
    channels_last: bool
    eval_batch_size: int
    eval_bf16: bool = False


def resolve_recipe(config: TrainConfig) -> tuple[str, Recipe]:
    """The preset's name and its :class:`~ltbound.schedule.Recipe` with the config's overrides applied."""
    preset = config.preset or default_preset(config.dataset)
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    over: dict[str, Any] = {}
    if config.epochs is not None:
        over["epochs"] = check_positive_int(config.epochs, "epochs")
    if config.batch_size is not None:
        over["batch_size"] = check_positive_int(config.batch_size, "batch_size")
    if config.lr is not None:
        over["lr"] = check_finite_scalar(config.lr, "lr", low=0.0, low_open=True)
    if config.milestones is not None:
        ms = [config.milestones] if isinstance(config.milestones, (int, np.integer)) else list(config.milestones)
        over["milestones"] = tuple(check_positive_int(m, "milestones entry") for m in ms)
    if config.warmup_epochs is not None:
        over["warmup_epochs"] = check_positive_int(config.warmup_epochs, "warmup_epochs", minimum=0)
    if config.switch_offset is not None:
        over["switch_offset"] = check_positive_int(config.switch_offset, "switch_offset", minimum=0)
    if config.model is not None:
        over["model"] = str(config.model)
    recipe = PRESETS[preset].replace(**over) if over else PRESETS[preset]
    if recipe.warmup_epochs > 0 and recipe.warmup_epochs >= recipe.epochs:
        # A warm-up as long as the run keeps the whole run below the learning rate (a 3-epoch
        # CIFAR run with the preset's 5 warm-up epochs peaked at 0.02 instead of 0.1).
        if config.warmup_epochs is not None:
            raise ValueError(f"warmup_epochs {recipe.warmup_epochs} is not below epochs {recipe.epochs}: the "
                             f"learning rate would reach lr {recipe.lr:g} only at the run's last step, if at all; "
                             "lower warmup_epochs or raise epochs")
        capped = recipe.epochs - 1
        warnings.warn(f"the {preset} preset's {recipe.warmup_epochs} warm-up epochs are not below the run's "
                      f"{recipe.epochs} epochs; warm-up capped to {capped} so that the run reaches lr "
                      f"{recipe.lr:g} (set warmup_epochs to choose)", UserWarning, stacklevel=3)
        recipe = recipe.replace(warmup_epochs=capped)
    return preset, recipe


def imbalance_of(config: TrainConfig) -> float | None:
    """The imbalance to load the data set with: the config's, else the data set's default."""
    return float(config.imbalance) if config.imbalance is not None else default_imbalance(config.dataset)


def _switch_epochs(schedule: Schedule) -> list[int]:
    """The last epoch before each sampler switch (the model a switch starts from).

    ``Schedule.switch_epochs`` gives the first epoch of each new phase; the model saved is
    the one after the epoch before it (with the CIFAR recipe: epoch 101, CR from 102).
    """
    return [int(e) - 1 for e in schedule.switch_epochs if int(e) > 1]


def checkpoint_epochs(spec: str | Sequence[int], epochs: int, schedule) -> list[int]:
    """Parse ``checkpoint_epochs`` into a sorted list of 1-based epochs within the run."""
    if isinstance(spec, str):
        tokens = [t.strip().lower() for t in spec.split(",") if t.strip()]
    else:
        tokens = list(spec)
    chosen: set[int] = set()
    for t in tokens:
        if t == "switch":
            chosen.update(_switch_epochs(schedule))
        elif t == "end":
            chosen.add(epochs)
        elif t == "all":
            chosen.update(range(1, epochs + 1))
        elif t == "none":
            continue
        else:
            try:
                e = int(t)
            except (TypeError, ValueError):
                raise ValueError(f"checkpoint_epochs must list 'switch', 'end', 'all', 'none' or epoch "
                                 f"numbers, got {t!r} in {spec!r}") from None
            if isinstance(t, (bool, float)) or not 1 <= e <= epochs:
                raise ValueError(f"checkpoint_epochs entry {t!r} must be an epoch in 1..{epochs}")
            chosen.add(e)
    return sorted(e for e in chosen if 1 <= e <= epochs)


def resolve_device(spec: str, info: D.DistInfo) -> torch.device:
    if not isinstance(spec, str):
        raise ValueError(f"device must be a string ('auto', 'cpu', 'cuda', 'cuda:N'), got {spec!r}")
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {spec!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {spec!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} was asked for but CUDA is not available; use device='cpu'")
        if info.enabled:
            dev = torch.device("cuda", info.local_rank)
        elif dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def check_out_dir(out: Path, resume: bool) -> None:
    """Refuse early (before loading data) a folder the record writer would refuse or cannot write.

    Creates and removes a probe folder in ``out`` (or, if ``out`` does not exist yet, where it
    would be created), so that a path under a file or in a place nobody can write (``/proc``)
    fails here, in one line, and nothing is left behind. A folder
    left by a run killed during its first write, and a record with no completed epoch, are
    accepted (the record writer replaces them) only if they hold nothing else
    (:func:`ltbound.records.foreign_files`): no file this run did not write is ever deleted.
    """
    existing = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        where = "is a file" if existing == out else f"lies under {existing}, which is a file"
        raise ValueError(f"out {out} {where}, not a folder; choose a folder path")
    if (out / "manifest.json").is_file():
        manifest = read_manifest(out)
        if not resume and manifest["epochs_completed"] > 0:
            raise ValueError(f"output folder {out} already holds a run record ({manifest['epochs_completed']} "
                             "epochs); choose another out, delete it, or pass resume=True to continue it")
        found = foreign_files(out) if manifest["epochs_completed"] == 0 and not resume else []
        if found:
            refuse_foreign_files(out, found, manifest=True, resume_hint="resume=True")
    elif out.is_dir() and any(p.name != LOCK_NAME for p in out.iterdir()):
        found = foreign_files(out)
        if found:
            refuse_foreign_files(out, found, manifest=False, resume_hint="resume=True")
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".ltbound-probe-"))
    except OSError as exc:
        raise ValueError(f"cannot write the run record folder {out} ({exc.strerror or exc}); "
                         "choose a writable folder for out") from None
    probe_lock(out)


def plan_run(config: TrainConfig, info: D.DistInfo) -> RunPlan:
    """Check every setting that can be checked without data; return the resolved :class:`RunPlan`.

    Raises ValueError naming the argument, before anything is loaded or written.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    if config.out is None or str(config.out) == "":
        raise ValueError("out (the run record folder) is required")
    if not isinstance(config.dataset, str) or not config.dataset:
        raise ValueError(f"dataset must be a data set name, got {config.dataset!r}")
    if config.imbalance is not None:
        check_finite_scalar(config.imbalance, "imbalance", low=1.0)
    if config.max_test_per_class is not None:
        check_positive_int(config.max_test_per_class, "max_test_per_class")
    if not isinstance(config.schedule, str):
        raise ValueError(f"schedule must be a schedule name (one of {list(SCHEDULES)}), got {config.schedule!r}")
    check_seed(config.seed, "seed")
    check_seed(config.split_seed, "split_seed", maximum=2 ** 32 - 1)     # numpy RandomState
    if config.eval_batch_size is not None:
        check_positive_int(config.eval_batch_size, "eval_batch_size")
    check_positive_int(config.workers, "workers", minimum=0)
    if config.amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {AMP_MODES}, got {config.amp!r}")
    if config.eval_precision not in EVAL_PRECISIONS:
        raise ValueError(f"eval_precision must be one of {EVAL_PRECISIONS}, got {config.eval_precision!r}")
    if not isinstance(config.allow_env_change, bool):
        raise ValueError(f"allow_env_change must be True or False, got {config.allow_env_change!r}")
    preset, recipe = resolve_recipe(config)
    if recipe.model is not None and recipe.model not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {recipe.model!r}")
    schedule = get_schedule(config.schedule, recipe)
    schedule.validate(recipe.epochs)   # raises if a switch falls outside 1..epochs
    ckpts = checkpoint_epochs(config.checkpoint_epochs, recipe.epochs, schedule)
    device = resolve_device(config.device, info)
    native_bf16 = device.type == "cuda" or cpu_bf16_supported()
    if config.amp == "bf16" and not native_bf16:
        raise ValueError("amp='bf16' needs a CUDA device or a CPU with native bfloat16 kernels "
                         "(AVX-512 BF16 or AMX), which this one lacks; use amp='auto' or 'off'")
    if config.eval_precision == "bf16" and not native_bf16:
        # emulated bf16 is slower than float32 there: the option would cost accuracy and time
        raise ValueError("eval_precision='bf16' needs a CUDA device or a CPU with native bfloat16 kernels "
                         "(AVX-512 BF16 or AMX), which this one lacks; use eval_precision='float32'")
    if config.cuda_graphs and device.type != "cuda":
        raise ValueError("cuda_graphs needs a CUDA device (it captures CUDA kernels); set cuda_graphs=False on CPU")
    if recipe.batch_size % info.world_size:
        raise ValueError(f"batch_size {recipe.batch_size} must be divisible by the number of processes "
                         f"({info.world_size}): each rank trains on batch_size / world_size samples")
    out = Path(config.out)
    if info.is_main:
        check_out_dir(out, config.resume or config.fork_from is not None)
        if config.fork_from is not None and not (Path(config.fork_from) / "manifest.json").is_file():
            raise ValueError(f"fork_from {config.fork_from} is not a run record (no manifest.json)")
    # bfloat16 autocast: when asked for, or by default with the fast pipeline where the device
    # has native bf16 kernels (the reference pipeline stays float32 unless amp="bf16", as a
    # typical training script would).
    bf16 = config.amp == "bf16" or (config.amp == "auto" and bool(config.fast) and native_bf16)
    return RunPlan(preset=preset, recipe=recipe, schedule=schedule, checkpoint_epochs=ckpts, device=device,
                   out=out, bf16=bf16, channels_last=bool(config.fast),   # faster on CUDA and, with oneDNN, on CPU
                   eval_batch_size=int(config.eval_batch_size or DEFAULT_EVAL_BATCH[device.type]),
                   eval_bf16=config.eval_precision == "bf16")


def check_data(plan: RunPlan, ds) -> None:
    """The checks that need the loaded data set (an :class:`~ltbound.train.data.datasets.LTDataset`)."""
    n_train = int(ds.train.labels.shape[0])
    if plan.recipe.batch_size > n_train:
        raise ValueError(f"batch_size {plan.recipe.batch_size} is larger than the training set ({n_train} "
                         f"images of {ds.name}); lower batch_size")
    if ds.augment not in AUGMENTATIONS:
        raise ValueError(f"data set {ds.name} asks for augmentation {ds.augment!r}; known: {AUGMENTATIONS}")


def config_dict(config: TrainConfig, preset: str, recipe: Recipe, ds) -> dict:
    """The JSON-safe configuration that defines the run's numbers (compared on resume)."""
    d = {k: v for k, v in dataclasses.asdict(config).items() if k not in OPERATIONAL}
    # absolute: the record is read from other folders (theta, compare_bounds --theta perturb)
    d["data_dir"] = None if config.data_dir is None else str(Path(config.data_dir).expanduser().resolve())
    r = dataclasses.asdict(recipe) if dataclasses.is_dataclass(recipe) else dict(vars(recipe))
    d.update(dataset=ds.name, imbalance=float(ds.imbalance), preset=preset, epochs=int(recipe.epochs),
             batch_size=int(recipe.batch_size), lr=float(recipe.lr), model=str(recipe.model or ds.default_model),
             milestones=[int(m) for m in (recipe.milestones or [])],
             warmup_epochs=int(recipe.warmup_epochs), switch_offset=int(recipe.switch_offset),
             checkpoint_epochs=(config.checkpoint_epochs if isinstance(config.checkpoint_epochs, str)
                                else [int(e) for e in config.checkpoint_epochs]),
             recipe=json.loads(json.dumps(r, default=lambda o: list(o) if isinstance(o, tuple) else str(o))))
    return d
