"""The trainer: one readable function that trains with a class-sampling schedule and writes a run record.

``train(TrainConfig(out="runs/switching"))`` trains the preset's model on a long-tailed
data set with the schedule's samplers (IB, then CR after the switch for the Switching
algorithm, Algorithm 1 of the paper), and after every epoch writes, through
:class:`ltbound.records.RecordWriter`, the per-sample training cross-entropy and
correctness and the per-sample test correctness and loss. The bound code reads those
records; it never touches torch.

Where the speed comes from (the airbench recipe): the whole data set lives on the device
as one uint8 tensor; a batch is one index gather, one vectorised crop+flip
(:mod:`ltbound.train.augment`) and one normalisation, all on the device; the learning
rate is a host-side float from :func:`~ltbound.train.schedule.lr_at`, so nothing is read
back from the device inside an epoch (the running loss is summed on the device and read
once per epoch); on CUDA the model runs in channels-last memory format under bfloat16
autocast. ``fast=False`` swaps in a reference pipeline (a ``Dataset`` of PIL images,
``DataLoader``, torchvision transforms, float32, no channels-last) that draws the same
sample indices; the benchmark compares the two.

Batches: the epoch's index stream from the sampler is cut into consecutive batches of
``batch_size``; the last, partial batch is **kept** (every drawn sample is trained on
once, as ``DataLoader(drop_last=False)`` does).

Reproducibility: the model is initialised from ``torch.manual_seed(seed)``; the sampler
is seeded with ``seed``; the augmentation generator is re-seeded at the start of every
epoch from (seed, epoch). With the same configuration a CPU run gives bitwise identical
records, and a run resumed from ``state.pt`` gives the same record as an uninterrupted one.
GPU runs use non-deterministic fast kernels and agree only statistically.

Files beside the record (``ltbound.records`` documents the rest): ``checkpoints/epoch_XXXX.pt``
= ``{"model": state_dict, "epoch", "model_name", "num_classes", "in_channels", "config"}``
(read by :mod:`ltbound.train.theta`); ``state.pt`` = model, optimiser, epoch, RNG states and
the epoch's training summary.

Several processes (``torchrun``, see :mod:`ltbound.train.distributed`): rank r trains on
``global_stream[r::W]`` in batches of ``batch_size / W``, so that step k of all ranks
together covers the single process's batch k; evaluation is split over the ranks and
gathered; only rank 0 writes.

Crash safety: after epoch e the trainer saves the checkpoint (if e is a checkpoint
epoch), then the resume state (atomically), then the epoch's record entry. Resuming
finds either both at e (continue at e + 1) or the state one epoch ahead of the record
(re-evaluate the saved model and write epoch e, then continue).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .._validation import check_finite_scalar, check_positive_int
from ..records import RecordWriter
from ..sampling import shot_group_means
from . import distributed as D
from .augment import AUGMENTATIONS, batch_crop_flip, normalize
from .schedule import PRESETS, SCHEDULES, get_schedule, lr_at
from .theta import per_sample_losses

__all__ = ["TrainConfig", "train", "resolve_recipe", "checkpoint_epochs", "AMP_MODES", "cpu_bf16_supported",
           "DEFAULT_EVAL_BATCH", "fork_record"]

#: ``amp`` settings: "auto" = bfloat16 autocast with the fast pipeline on CUDA, and on a CPU
#: whose oneDNN has bfloat16 kernels (AVX-512 BF16 or AMX); "bf16" forces it (CUDA, or a CPU
#: with those kernels); "off" trains and evaluates in float32.
AMP_MODES = ("auto", "bf16", "off")

#: Evaluation batch when ``eval_batch_size`` is None. Measured on a 2-core AVX-512 CPU with
#: ResNet-32 in float32 channels-last: 1,305 img/s at 128 against 514 at 1024 (a large batch's
#: activations leave the cache); on CUDA a large batch keeps the device busy.
DEFAULT_EVAL_BATCH = {"cpu": 128, "cuda": 1024}


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (oneDNN with AVX-512 BF16 or AMX).

    Without native kernels bf16 autocast on CPU is emulated and slower than float32.
    """
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):   # older torch without the probe: stay in float32
        return False

#: Per-class draw counts of every epoch go into the history up to this many classes (the
#: manifest is rewritten each epoch; 8,142 iNaturalist classes x 200 epochs would bloat it).
MAX_CLASSES_FOR_DRAWS = 1000

#: Config fields that do not change the numbers a run produces; they are left out of the
#: manifest's ``config``, so a resume may change them.
_OPERATIONAL = ("out", "resume", "progress", "quiet", "download", "workers", "fork_from")

#: Environment fields that decide the bits a CPU run produces: a fork (and a bitwise resume)
#: needs them equal.
DETERMINISM_FIELDS = ("device", "torch", "torch_threads", "amp", "channels_last", "pipeline", "world_size",
                      "compile")


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Attributes
    ----------
    out : str or Path
        The run record folder (created; must be new or empty unless ``resume``).
    dataset : str
        A name :func:`ltbound.train.data.load_dataset` knows ("digits-lt", "cifar10-lt", ...).
    data_dir : str, optional
        Where the data set's files are (image-folder tree or archive); None for built-in data.
    imbalance : float >= 1, optional
        n_max / n_min of the long-tailed training set; None = the data set's default
        (20 for digits, 100 for CIFAR).
    max_test_per_class : int, optional
        Keep at most this many test images per class (small smoke-test runs); None = all.
    preset : str, optional
        A recipe of :data:`ltbound.train.schedule.PRESETS`; None = "digits" for digits data,
        "cifar" otherwise.
    schedule : str
        A sampler schedule of :data:`ltbound.train.schedule.SCHEDULES` ("switching", "ib", "cb", ...).
    epochs, batch_size, lr, milestones, warmup_epochs, switch_offset : optional
        Overrides of the preset's values (None keeps the preset's). ``milestones`` are the
        epochs after which the learning rate is multiplied by the preset's gamma;
        ``switch_offset`` is S of Algorithm 1 (the second sampler starts at m_n + S + 1).
    model : str, optional
        Override of the preset's model name (see :func:`ltbound.train.models.build_model`).
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
        and on CPUs with native bf16 kernels (:func:`cpu_bf16_supported`); "bf16" = always
        (fails on a CPU without those kernels); "off" = float32. The manifest's
        ``environment.amp`` says which was used. The per-sample evaluation that fills the
        record always runs in float32, so that a checkpoint re-evaluated by
        :mod:`ltbound.train.theta` gives the recorded losses (under bf16 they differed by up to
        2.4% on digits, which is more than the float16 storage error).
    compile : bool
        ``torch.compile`` the model for training (evaluation uses the eager model).
    cuda_graphs : bool
        Compile with ``mode="reduce-overhead"`` (CUDA graphs; CUDA only).
    eval_batch_size : int, optional
        Batch of the per-sample evaluation; None = :data:`DEFAULT_EVAL_BATCH` for the device.
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
    fork_from : str or Path, optional
        Start from another run's record at its last recorded epoch e instead of from
        scratch (:func:`fork_record`): the new run must agree with it on every setting but the
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
    workers: int = 2
    progress: bool = True
    quiet: bool = False
    download: bool = False
    resume: bool = False
    fork_from: str | os.PathLike | None = None


# ============================================================================ validation
def _is_digits(name: str) -> bool:
    return name.lower().startswith("digits")


#: ``imbalance=None`` in a TrainConfig: the data set's usual imbalance (digits 20, CIFAR 100;
#: an image folder is kept as it is).
DEFAULT_IMBALANCE = {"digits-lt": 20.0, "cifar10-lt": 100.0, "cifar100-lt": 100.0, "image-folder": None}


def _default_imbalance(config: "TrainConfig") -> float | None:
    if config.imbalance is not None:
        return float(config.imbalance)
    return DEFAULT_IMBALANCE.get(config.dataset, 20.0 if _is_digits(config.dataset) else 100.0)


def resolve_recipe(config: TrainConfig):
    """The preset's :class:`~ltbound.train.schedule.Recipe` with the config's overrides applied."""
    preset = config.preset or ("digits" if _is_digits(config.dataset) else "cifar")
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
    return preset, (PRESETS[preset].replace(**over) if over else PRESETS[preset])


def _switch_epochs(schedule) -> list[int]:
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


def _resolve_device(spec: str, info: D.DistInfo) -> torch.device:
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
            raise ValueError(f"device {spec!r} was asked for but CUDA is not available; use --device cpu")
        if info.enabled:
            dev = torch.device("cuda", info.local_rank)
        elif dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def _check_out_dir(out: Path, resume: bool) -> None:
    """Refuse early (before loading data) a folder the record writer would refuse."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {out} exists and is not a folder")
    if (out / "manifest.json").is_file():
        if not resume:
            raise ValueError(f"output folder {out} already holds a run record; choose another out, "
                             "delete it, or pass resume=True (--resume) to continue it")
        return
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"output folder {out} is not empty and holds no run record; "
                         "choose an empty or new folder")


def _validate(config: TrainConfig, info: D.DistInfo):
    """Check every setting that can be checked without data; return the resolved pieces."""
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
    check_positive_int(config.seed, "seed", minimum=0)
    check_positive_int(config.split_seed, "split_seed", minimum=0)
    if config.eval_batch_size is not None:
        check_positive_int(config.eval_batch_size, "eval_batch_size")
    check_positive_int(config.workers, "workers", minimum=0)
    if config.amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {AMP_MODES}, got {config.amp!r}")
    preset, recipe = resolve_recipe(config)
    schedule = get_schedule(config.schedule, recipe)
    schedule.validate(recipe.epochs)   # raises if a switch falls outside 1..epochs
    ckpts = checkpoint_epochs(config.checkpoint_epochs, recipe.epochs, schedule)
    device = _resolve_device(config.device, info)
    if config.amp == "bf16" and device.type != "cuda" and not cpu_bf16_supported():
        raise ValueError("amp='bf16' needs a CUDA device or a CPU with native bfloat16 kernels "
                         "(AVX-512 BF16 or AMX), which this one lacks; use amp='auto' or 'off'")
    if config.cuda_graphs and device.type != "cuda":
        raise ValueError("cuda_graphs needs a CUDA device (it captures CUDA kernels); drop --cuda-graphs on CPU")
    if recipe.batch_size % info.world_size:
        raise ValueError(f"batch_size {recipe.batch_size} must be divisible by the number of processes "
                         f"({info.world_size}): each rank trains on batch_size / world_size samples")
    out = Path(config.out)
    if info.is_main:
        _check_out_dir(out, config.resume or config.fork_from is not None)
        if config.fork_from is not None and not (Path(config.fork_from) / "manifest.json").is_file():
            raise ValueError(f"fork_from {config.fork_from} is not a run record (no manifest.json)")
    return preset, recipe, schedule, ckpts, device, out


# ============================================================================ fork
def fork_record(source: str | os.PathLike, out: Path, manifest: dict, schedule) -> int:
    """Lay out ``out`` as a run that continues ``source``'s record at its last epoch e.

    Copies the split, epochs 1..e, ``state.pt`` (which must hold epoch e) and the wanted
    checkpoints up to e, and writes a manifest with the new run's fixed part (``manifest``:
    config, dataset, schedule, environment, checkpoint epochs), the source's history of
    epochs 1..e, and ``forked_from`` = {path, epoch, schedule, manifest_sha256}. The trainer
    then continues as on a resume. Returns e.

    Raises ValueError, before copying anything, when the two runs could differ in epochs
    1..e: another setting than schedule / checkpoint epochs, another sampler (q) in any
    epoch up to e, or another determinism-relevant environment (:data:`DETERMINISM_FIELDS`).
    """
    import hashlib
    import shutil
    source = Path(source)
    raw = (source / "manifest.json").read_bytes()
    try:
        src = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"fork_from {source}: manifest.json is not valid JSON ({exc})") from None
    e = int(src.get("epochs_completed", 0))
    if e < 1:
        raise ValueError(f"fork_from {source} has no recorded epoch to start from")
    new_cfg, old_cfg = manifest["config"], src.get("config", {})
    free = {"schedule", "checkpoint_epochs"}
    diff = sorted(k for k in set(new_cfg) | set(old_cfg) if k not in free and new_cfg.get(k) != old_cfg.get(k))
    if diff:
        raise ValueError(f"fork_from {source}: the runs differ in {', '.join(diff)} "
                         f"({', '.join(f'{k} {old_cfg.get(k)!r} vs {new_cfg.get(k)!r}' for k in diff[:3] if k != 'recipe')}); "
                         "only schedule and checkpoint_epochs may differ")
    if e >= int(new_cfg["epochs"]):
        raise ValueError(f"fork_from {source} already holds {e} epochs; the new run has only {new_cfg['epochs']}")
    history = src.get("history", [])[:e]
    for h in history:
        if float(schedule.q_at(int(h["epoch"]))) != float(h["q"]):
            raise ValueError(f"fork_from {source}: epoch {h['epoch']} was trained with sampler {h['sampler']} "
                             f"(q={h['q']}) but schedule {new_cfg['schedule']} uses q={schedule.q_at(int(h['epoch']))}; "
                             f"fork from a record of at most {int(h['epoch']) - 1} epochs")
    env_new, env_old = manifest["environment"], src.get("environment", {})
    env_diff = [k for k in DETERMINISM_FIELDS if env_new.get(k) != env_old.get(k)]
    if env_diff:
        detail = ", ".join(f"{k}: {env_old.get(k)!r} vs {env_new.get(k)!r}" for k in env_diff)
        raise ValueError(f"fork_from {source} ran in another environment ({detail}); "
                         "the fork would not reproduce it")
    state = torch.load(source / "state.pt", map_location="cpu", weights_only=True)
    if int(state["epoch"]) != e:
        raise ValueError(f"fork_from {source}: state.pt holds epoch {state['epoch']} but the record {e}; "
                         "fork from a record whose last epoch was saved completely")
    missing = [c for c in manifest["checkpoint_epochs"] if c <= e and not (source / "checkpoints" / f"epoch_{c:04d}.pt").is_file()]
    if missing:
        raise ValueError(f"fork_from {source} lacks the checkpoints of epochs {missing} that this run keeps")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "split.npz", out / "split.npz")
    (out / "epochs").mkdir(exist_ok=True)
    for h in history:
        name = f"epoch_{int(h['epoch']):04d}.npz"
        shutil.copy2(source / "epochs" / name, out / "epochs" / name)
    for c in manifest["checkpoint_epochs"]:
        if c <= e:
            (out / "checkpoints").mkdir(exist_ok=True)
            shutil.copy2(source / "checkpoints" / f"epoch_{c:04d}.pt", out / "checkpoints" / f"epoch_{c:04d}.pt")
    shutil.copy2(source / "state.pt", out / "state.pt")
    fixed = json.loads(json.dumps(manifest, default=str))
    new = {**{k: v for k, v in src.items() if k not in fixed}, **fixed, "status": "running", "epochs_completed": e,
           "history": history, "timings": {},
           "forked_from": {"path": str(source.resolve()), "epoch": e, "schedule": old_cfg.get("schedule"),
                           "manifest_sha256": hashlib.sha256(raw).hexdigest()}}
    tmp = out / ".manifest.json.fork.tmp"
    tmp.write_text(json.dumps(new, indent=1))
    os.replace(tmp, out / "manifest.json")      # last: a crash before it leaves no record to resume
    return e


# ============================================================================ loaders
class DeviceLoader:
    """Batches of one epoch, gathered, augmented and normalised where the images live.

    Parameters
    ----------
    images : uint8 tensor (N, C, H, W) on the training device
    labels : int64 tensor (N,) on the same device
    indices : int64 tensor (L,), this rank's sample stream for the epoch (may repeat indices)
    batch_size : int
    augment : bool
        Crop (pad 4) + flip, drawn from ``generator``.
    mean, std : float tensors (C,) on the device
    channels_last : bool
    """

    def __init__(self, images, labels, indices, batch_size, *, augment, generator, mean, std,
                 channels_last=False):
        self.images, self.labels = images, labels
        self.indices = indices.to(images.device)
        self.batch_size = batch_size
        self.augment, self.generator = augment, generator
        self.mean, self.std = mean, std
        self.channels_last = channels_last

    def __len__(self) -> int:
        return math.ceil(self.indices.numel() / self.batch_size)   # last partial batch kept

    def __iter__(self):
        for start in range(0, self.indices.numel(), self.batch_size):
            idx = self.indices[start:start + self.batch_size]
            x = self.images.index_select(0, idx)
            if self.augment:
                x = batch_crop_flip(x, self.generator)
            x = normalize(x, self.mean, self.std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels.index_select(0, idx)


class _PILDataset(torch.utils.data.Dataset):
    """The reference pipeline's data set: a PIL image per item, torchvision transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image
        arr = self.images[i]                                     # (C, H, W) uint8
        img = Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))
        return self.transform(img), int(self.labels[i])


def reference_transform(height: int, mean, std, augment: bool):
    """RandomCrop(H, padding=4) + RandomHorizontalFlip + ToTensor + Normalize (torchvision)."""
    from torchvision import transforms as T
    steps = [T.RandomCrop(height, padding=4), T.RandomHorizontalFlip()] if augment else []
    return T.Compose(steps + [T.ToTensor(), T.Normalize(list(map(float, mean)), list(map(float, std)))])


class ReferenceLoader:
    """The same epoch stream through ``DataLoader`` + PIL transforms (for comparison)."""

    def __init__(self, dataset: _PILDataset, indices: torch.Tensor, batch_size: int, *, workers: int,
                 device: torch.device, seed: int):
        self.loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, sampler=indices.tolist(), num_workers=workers,
            pin_memory=device.type == "cuda", drop_last=False,
            generator=torch.Generator().manual_seed(seed), persistent_workers=False)
        self.device = device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


# ============================================================================ pieces
def _epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A 63-bit seed for (run seed, epoch, stream) — independent streams per epoch."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


def _atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _environment(device: torch.device, info: D.DistInfo, amp_dtype, channels_last: bool, config) -> dict:
    import torchvision
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "numpy": np.__version__, "cuda": torch.version.cuda, "platform": platform.platform(terse=True),
            "device": str(device), "device_name": name, "world_size": info.world_size,
            "torch_threads": torch.get_num_threads(), "amp": "bf16" if amp_dtype is not None else "off",
            "eval_precision": "float32",
            "eval_batch_size": int(config.eval_batch_size or DEFAULT_EVAL_BATCH[device.type]),
            "channels_last": channels_last, "compile": bool(config.compile), "cuda_graphs": bool(config.cuda_graphs),
            "pipeline": "device" if config.fast else "reference"}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _config_dict(config: TrainConfig, preset: str, recipe, ds) -> dict:
    """The JSON-safe configuration that defines the run's numbers (compared on resume)."""
    d = {k: v for k, v in dataclasses.asdict(config).items() if k not in _OPERATIONAL}
    d["data_dir"] = None if config.data_dir is None else str(config.data_dir)
    r = dataclasses.asdict(recipe) if dataclasses.is_dataclass(recipe) else dict(vars(recipe))
    d.update(dataset=ds.name, imbalance=float(ds.imbalance), preset=preset, epochs=int(recipe.epochs),
             batch_size=int(recipe.batch_size), lr=float(recipe.lr), model=str(recipe.model or ds.default_model),
             milestones=[int(m) for m in (recipe.milestones or [])],
             warmup_epochs=int(recipe.warmup_epochs), switch_offset=int(recipe.switch_offset),
             checkpoint_epochs=(config.checkpoint_epochs if isinstance(config.checkpoint_epochs, str)
                                else [int(e) for e in config.checkpoint_epochs]),
             recipe=json.loads(json.dumps(r, default=lambda o: list(o) if isinstance(o, tuple) else str(o))))
    return d


def _evaluate(model, ds_dev, info: D.DistInfo, *, mean, std, batch_size, device, amp_dtype, channels_last):
    """Per-sample (loss, correct) on the training and test sets, split over ranks and gathered.

    Returns four CPU numpy arrays: train_loss (n,) float32, train_correct (n,) bool,
    test_loss (m,), test_correct (m,).
    """
    out = []
    for images, labels in ds_dev:
        total = images.shape[0]
        chunk = math.ceil(total / info.world_size)
        lo, hi = min(info.rank * chunk, total), min((info.rank + 1) * chunk, total)
        rows = torch.zeros(2, chunk, dtype=torch.float32, device=device)
        if hi > lo:
            loss, correct = per_sample_losses(model, images[lo:hi], labels[lo:hi], mean=mean, std=std,
                                              batch_size=batch_size, device=device,
                                              autocast_dtype=amp_dtype, channels_last=channels_last)
            rows[0, :hi - lo], rows[1, :hi - lo] = loss, correct.float()
        full = D.gather_rows(info, rows, total).cpu().numpy()
        out += [full[0].astype(np.float32), full[1] > 0.5]
    return out


# ============================================================================ train
def train(config: TrainConfig, *, dataset=None, stop_after: int | None = None,
          on_event: Callable[[str, int], None] | None = None) -> Path:
    """Train one model with a sampler schedule and write its run record.

    Parameters
    ----------
    config : TrainConfig
    dataset : LTDataset, optional
        Use this data set instead of loading ``config.dataset`` (benchmarks and tests with
        synthetic data); its ``name`` is recorded.
    stop_after : int, optional
        Return after this epoch (1-based) is recorded, leaving the record "running" so
        that a later ``resume`` continues it (time-sliced jobs; crash tests).
    on_event : callable(event, epoch), optional
        Called at "trained" (epoch trained, nothing saved yet), "state" (resume state saved,
        record not yet updated) and "recorded"; tests raise from it to simulate a crash.

    Returns
    -------
    Path
        The run record folder (read it with :func:`ltbound.records.load_record`).

    Raises
    ------
    ValueError
        For any invalid setting, before any training (including a :class:`DataError`
        for data that cannot be loaded and a :class:`RecordError` for an output folder
        holding another run).
    """
    t_setup = time.perf_counter()
    info = D.dist_from_env()
    preset, recipe, schedule, ckpt_epochs, device, out = _validate(config, info)
    if stop_after is not None:
        check_positive_int(stop_after, "stop_after")
    D.init_distributed(info, device)
    try:
        return _train(config, info, preset, recipe, schedule, ckpt_epochs, device, out, dataset,
                      stop_after, on_event, t_setup)
    finally:
        D.shutdown(info)


def _train(config, info, preset, recipe, schedule, ckpt_epochs, device, out, dataset, stop_after,
           on_event, t_setup) -> Path:
    from .data import load_dataset
    from .models import build_model
    from .sampler import ClassSampler

    # ---- data: validated, then on the device as uint8 -------------------------------------
    ds = dataset if dataset is not None else load_dataset(
        config.dataset, data_dir=config.data_dir, imbalance=_default_imbalance(config), download=config.download,
        split_seed=config.split_seed, max_test_per_class=config.max_test_per_class)
    n_train = int(ds.train.labels.shape[0])
    if recipe.batch_size > n_train:
        raise ValueError(f"batch_size {recipe.batch_size} is larger than the training set ({n_train} "
                         f"images of {ds.name}); lower --batch-size")
    if ds.augment not in AUGMENTATIONS:
        raise ValueError(f"data set {ds.name} asks for augmentation {ds.augment!r}; known: {AUGMENTATIONS}")
    counts = np.asarray(ds.counts, dtype=np.int64)
    cfg_dict = _config_dict(config, preset, recipe, ds)
    epochs = int(recipe.epochs)

    # bfloat16 autocast: when asked for, or by default with the fast pipeline where the device
    # has native bf16 kernels (the reference pipeline stays float32 unless amp="bf16", as a
    # typical training script would).
    native_bf16 = device.type == "cuda" or cpu_bf16_supported()
    use_bf16 = config.amp == "bf16" or (config.amp == "auto" and config.fast and native_bf16)
    amp_dtype = torch.bfloat16 if use_bf16 else None
    eval_batch = config.eval_batch_size or DEFAULT_EVAL_BATCH[device.type]
    fast_cuda = device.type == "cuda" and config.fast
    channels_last = bool(config.fast)   # faster on CUDA and, with oneDNN, on CPU too
    if fast_cuda:
        torch.backends.cudnn.benchmark = True

    writer = None
    if info.is_main:
        manifest = {"config": cfg_dict, "dataset": ds.describe(), "schedule": schedule.to_list(),
                    "environment": _environment(device, info, amp_dtype, channels_last, config),
                    "checkpoint_epochs": ckpt_epochs}
        forking = config.fork_from is not None and not (out / "manifest.json").is_file()
        if forking:
            fork_record(config.fork_from, out, manifest, schedule)
        writer = RecordWriter(out, manifest=manifest, train_indices=ds.train.indices,
                              train_labels=ds.train.labels.numpy(), test_labels=ds.test.labels.numpy(),
                              resume=config.resume or forking)

    # ---- model and optimiser ---------------------------------------------------------------
    torch.manual_seed(config.seed)
    model_name = cfg_dict["model"]
    in_channels = int(ds.train.images.shape[1])
    model = build_model(model_name, ds.num_classes, in_channels=in_channels).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=bool(recipe.nesterov))

    # ---- resume ----------------------------------------------------------------------------
    recorded = D.broadcast_object(info, writer.epochs_completed if writer else 0)
    state_path = out / "state.pt"
    state = None
    if (config.resume or config.fork_from is not None) and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
    trained = int(state["epoch"]) if state is not None else 0
    if trained not in (recorded, recorded + 1):
        raise ValueError(f"cannot resume {out}: the record has {recorded} epochs but state.pt holds epoch "
                         f"{trained}; the folder was modified by hand — start a new run")

    train_model = model
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP
        train_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile or config.cuda_graphs:
        train_model = torch.compile(train_model, mode="reduce-overhead" if config.cuda_graphs else None)

    # ---- data on the device ----------------------------------------------------------------
    mean = torch.as_tensor(np.asarray(ds.mean, dtype=np.float32), device=device)
    std = torch.as_tensor(np.asarray(ds.std, dtype=np.float32), device=device)
    # Fast pipeline: one uint8 copy of each split on the device, used by training and evaluation.
    # Reference pipeline: images stay on the host (the DataLoader moves each batch).
    home = device if config.fast else torch.device("cpu")
    train_images, train_labels = ds.train.images.to(home), ds.train.labels.to(home)
    eval_sets = [(train_images, train_labels), (ds.test.images.to(home), ds.test.labels.to(home))]
    augment = ds.augment == "crop-flip"
    aug_gen = torch.Generator(device=device)
    ref_dataset = None
    if not config.fast:
        ref_dataset = _PILDataset(ds.train.images.numpy(), ds.train.labels.numpy(),
                                  reference_transform(int(ds.train.images.shape[2]), ds.mean, ds.std, augment))
    samplers: dict[float, Any] = {}
    labels_np = ds.train.labels.numpy()
    test_y = ds.test.labels.numpy()                                     # constant for the run
    test_per_class = np.bincount(test_y, minlength=ds.num_classes)
    local_batch = recipe.batch_size // info.world_size

    def epoch_indices(epoch: int) -> tuple[torch.Tensor, str, float]:
        """This rank's sample stream for ``epoch`` from the active phase's sampler (Eq. 1)."""
        q = float(schedule.q_at(epoch))
        if q not in samplers:
            samplers[q] = ClassSampler(labels_np, q, seed=config.seed, rank=info.rank,
                                       world_size=info.world_size)
        return samplers[q].rank_indices(epoch), str(schedule.sampler_at(epoch)), q

    def evaluate_and_record(epoch: int, train_info: dict) -> None:
        """Evaluate the current model on every sample and append epoch ``epoch`` to the record."""
        t0 = time.perf_counter()
        D.broadcast_module_buffers(info, model)
        tr_loss, tr_correct, te_loss, te_correct = _evaluate(
            model, eval_sets, info, mean=ds.mean, std=ds.std, batch_size=eval_batch,
            device=device, amp_dtype=None, channels_last=channels_last)
        eval_seconds = time.perf_counter() - t0
        if writer is None:
            return
        hits = np.bincount(test_y, weights=te_correct.astype(np.float64), minlength=ds.num_classes)
        per_class = np.where(test_per_class > 0, hits / np.maximum(test_per_class, 1), np.nan)
        summary = {**train_info,
                   "mean_train_loss": float(tr_loss.mean()), "train_acc": float(tr_correct.mean()),
                   "test_acc": float(te_correct.mean()),
                   "test_balanced_acc": float(np.nanmean(per_class)),
                   "test_acc_per_class": [None if not np.isfinite(v) else float(v) for v in per_class],
                   "test_acc_groups": shot_group_means(per_class, counts),
                   "eval_seconds": eval_seconds}
        writer.write_epoch(epoch, train_loss=tr_loss, train_correct=tr_correct, test_correct=te_correct,
                           test_loss=te_loss, summary=summary)
        g = summary["test_acc_groups"]
        if config.quiet:
            return
        fmt = lambda v: "  -  " if v is None else f"{v:.3f}"   # noqa: E731
        print(f"epoch {epoch:>3}/{epochs} {summary['sampler']:>4} lr {summary['lr']:.4g} "
              f"loss {summary['running_loss']:.4f} train {summary['train_acc']:.3f} "
              f"test {summary['test_acc']:.3f} (many {fmt(g['many'])} med {fmt(g['medium'])} "
              f"few {fmt(g['few'])}) {summary['seconds']:.1f}s+{eval_seconds:.1f}s", flush=True)

    def save_state(epoch: int, train_info: dict) -> None:
        if epoch in ckpt_epochs:
            _atomic_torch_save({"model": model.state_dict(), "epoch": epoch, "model_name": model_name,
                                "num_classes": ds.num_classes, "in_channels": in_channels,
                                "config": cfg_dict}, writer.checkpoint_path(epoch))
        _atomic_torch_save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "torch_rng": torch.get_rng_state(),
                            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                            "aug_generator": aug_gen.get_state(), "train_info": train_info,
                            "config": cfg_dict}, state_path)

    # A crash between the state and the record: the state's model is epoch `trained`; record it.
    if trained == recorded + 1:
        evaluate_and_record(trained, state["train_info"])
    if info.is_main and not config.quiet:
        print(f"ltbound.train: {ds.name} (n={n_train}, C={ds.num_classes}, imbalance {ds.imbalance:g}), "
              f"{model_name}, schedule {config.schedule}, {epochs} epochs, batch {recipe.batch_size}, "
              f"{device}{' x' + str(info.world_size) if info.enabled else ''}"
              f"{', resuming after epoch ' + str(trained) if trained else ''}", flush=True)
    setup_seconds = time.perf_counter() - t_setup

    def autocast():
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    # ---- the loop --------------------------------------------------------------------------
    for epoch in range(trained + 1, epochs + 1):
        if stop_after is not None and epoch > stop_after:
            return out
        t0 = time.perf_counter()
        indices, sampler_name, q = epoch_indices(epoch)
        draws = torch.bincount(ds.train.labels[indices], minlength=ds.num_classes)   # host side, this rank
        aug_gen.manual_seed(_epoch_seed(config.seed, epoch, 1))
        if config.fast:
            loader = DeviceLoader(train_images, train_labels, indices, local_batch, augment=augment,
                                  generator=aug_gen, mean=mean, std=std, channels_last=channels_last)
        else:
            loader = ReferenceLoader(ref_dataset, indices, local_batch, workers=config.workers,
                                     device=device, seed=_epoch_seed(config.seed, epoch, 2))
        steps = len(loader)
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float32, device=device)   # summed on device, read once
        bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs} {sampler_name}", leave=False,
                   disable=not (config.progress and info.is_main), dynamic_ncols=True)
        for step, (x, y) in enumerate(loader):
            lr = lr_at(recipe, epoch, step, steps)
            for group in optimizer.param_groups:
                group["lr"] = lr           # a host float: nothing is read from the device
            with autocast():
                logits = train_model(x)
            loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * y.shape[0]
            bar.update(1)
        bar.close()
        # The epoch's one device read: summed loss and the per-class draw counts, over all ranks.
        totals = torch.cat([loss_sum.reshape(1).double(), draws.to(device, torch.float64)])
        totals = D.all_reduce_sum(info, totals).cpu()   # a blocking copy: waits for the epoch's kernels
        samples = int(totals[1:].sum())
        train_info = {"lr": lr_at(recipe, epoch, steps - 1, steps),
                      "lr_start": lr_at(recipe, epoch, 0, steps), "sampler": sampler_name, "q": q,
                      "running_loss": float(totals[0]) / samples, "steps": steps, "samples": samples,
                      "seconds": time.perf_counter() - t0}
        if ds.num_classes <= MAX_CLASSES_FOR_DRAWS:
            train_info["class_draws"] = [int(v) for v in totals[1:]]
        _fire(on_event, "trained", epoch)
        if info.is_main:
            save_state(epoch, train_info)
        D.barrier(info)
        _fire(on_event, "state", epoch)
        evaluate_and_record(epoch, train_info)
        _fire(on_event, "recorded", epoch)

    if writer is not None:
        writer.finish(timings=_timings(writer.manifest.get("history", []), setup_seconds))
    D.barrier(info)
    return out


def _fire(hook, event: str, epoch: int) -> None:
    if hook is not None:
        hook(event, epoch)


def _timings(history: list[dict], setup_seconds: float) -> dict:
    train_s = [float(h.get("seconds", 0.0)) for h in history]
    eval_s = [float(h.get("eval_seconds", 0.0)) for h in history]
    samples = sum(int(h.get("samples", 0)) for h in history)
    return {"train_seconds": sum(train_s), "eval_seconds": sum(eval_s),
            "total_seconds": sum(train_s) + sum(eval_s) + setup_seconds,
            "setup_seconds_last_call": setup_seconds,
            "train_images_per_second": samples / sum(train_s) if sum(train_s) > 0 else None,
            "per_epoch": [{"epoch": int(h["epoch"]), "seconds": t, "eval_seconds": e}
                          for h, t, e in zip(history, train_s, eval_s)]}
