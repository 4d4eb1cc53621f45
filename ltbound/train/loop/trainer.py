"""The trainer: one readable function that trains with a class-sampling schedule and writes a run record.

``train(TrainConfig(out="runs/switching"))`` trains the preset's model on a long-tailed
data set with the schedule's samplers (IB, then CR after the switch for the Switching
algorithm, Algorithm 1 of the paper), and after every epoch writes, through
:class:`ltbound.records.RecordWriter`, the per-sample training cross-entropy and
correctness and the per-sample test correctness and loss. The bound code reads those
records; it never touches torch.

Where the speed comes from (the airbench recipe): the whole data set lives on the device
as one uint8 tensor; a batch is one index gather, one vectorised crop+flip
(:mod:`ltbound.train.data.augment`) and one normalisation, all on the device; the learning
rate is a host-side float from :func:`~ltbound.schedule.epoch_lrs`, so nothing is read
back from the device inside an epoch (the running loss is summed on the device and read
once per epoch); the model runs in channels-last memory format, trains under bfloat16
autocast on CUDA and on CPUs with native bf16 kernels (``amp="auto"``) and is evaluated in
float32 (or, opted in with ``eval_precision="bf16"``, under bf16 autocast: about half the
evaluation time, recorded in the environment). ``fast=False`` swaps in the reference pipeline (a ``Dataset`` of PIL images,
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

Where the other ideas live: settings and their checks in :mod:`ltbound.train.loop.config`, the
per-sample evaluation in :mod:`ltbound.train.loop.evaluation`, the batches in
:mod:`ltbound.train.data.loader` (fast) and :mod:`ltbound.train.data.reference`, checkpoints and
the resume state in :mod:`ltbound.train.runs.state` (``ltbound.records`` documents the record),
forks in :mod:`ltbound.train.runs.fork`, the environment in :mod:`ltbound.train.loop.environment`.

Several processes (``torchrun``, see :mod:`ltbound.train.loop.distributed`): rank r trains on
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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..._validation import check_positive_int
from ...records import RecordWriter
from ...bounds.sampling import shot_group_means
from ...schedule import epoch_lrs
from . import distributed as D
from .config import (AMP_MODES, DEFAULT_EVAL_BATCH, RunPlan, TrainConfig, check_data, checkpoint_epochs, config_dict,
                     imbalance_of, plan_run, resolve_recipe)
from .environment import cpu_bf16_supported, environment
from .evaluation import evaluate_splits
from ..runs.fork import fork_record
from ..data.loader import DeviceLoader
from ..data.reference import PILDataset, ReferenceLoader, reference_transform
from ..runs.state import load_resume_state, save_checkpoint, save_resume_state

# TrainConfig and the helpers below moved to config / environment / fork; the names stay
# importable from here for existing callers.
__all__ = ["TrainConfig", "train", "resolve_recipe", "checkpoint_epochs", "AMP_MODES", "cpu_bf16_supported",
           "DEFAULT_EVAL_BATCH", "fork_record"]

class TrainingDiverged(ValueError):
    """The training loss (or the model's evaluated losses) became NaN or infinite."""


#: Per-class draw counts of every epoch go into the history up to this many classes (the
#: manifest is rewritten each epoch; 8,142 iNaturalist classes x 200 epochs would bloat it).
MAX_CLASSES_FOR_DRAWS = 1000


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
    plan = plan_run(config, info)
    if stop_after is not None:
        check_positive_int(stop_after, "stop_after")
    D.init_distributed(info, plan.device)
    writers: list[RecordWriter] = []
    try:
        return _train(config, plan, info, dataset, stop_after, on_event, t_setup, writers)
    finally:
        for w in writers:
            w.close()          # releases the record's lock
        D.shutdown(info)


def _train(config: TrainConfig, plan: RunPlan, info: D.DistInfo, dataset, stop_after: int | None,
           on_event, t_setup: float, writers: list) -> Path:
    from ..data.datasets import load_dataset
    from .models import build_model
    from ..data.sampler import ScheduleSampler

    device, recipe, schedule, out = plan.device, plan.recipe, plan.schedule, plan.out
    epochs = int(recipe.epochs)

    # ---- data: loaded, checked -------------------------------------------------------------
    ds = dataset if dataset is not None else load_dataset(
        config.dataset, data_dir=config.data_dir, imbalance=imbalance_of(config), download=config.download,
        split_seed=config.split_seed, max_test_per_class=config.max_test_per_class)
    check_data(plan, ds)
    n_train = int(ds.train.labels.shape[0])
    cfg_dict = config_dict(config, plan.preset, recipe, ds)
    if device.type == "cuda" and config.fast:
        torch.backends.cudnn.benchmark = True

    # ---- the record (rank 0 writes) --------------------------------------------------------
    writer = None
    if info.is_main:
        manifest = {"config": cfg_dict, "dataset": ds.describe(), "schedule": schedule.to_list(),
                    "environment": environment(device, info, bf16=plan.bf16, channels_last=plan.channels_last,
                                               eval_batch_size=plan.eval_batch_size, compile=config.compile,
                                               cuda_graphs=config.cuda_graphs, fast=config.fast,
                                               eval_bf16=plan.eval_bf16),
                    "checkpoint_epochs": plan.checkpoint_epochs}
        forking = config.fork_from is not None and not (out / "manifest.json").is_file()
        if forking:
            fork_record(config.fork_from, out, manifest, schedule)
        writer = RecordWriter(out, manifest=manifest, train_indices=ds.train.indices,
                              train_labels=ds.train.labels.numpy(), test_labels=ds.test.labels.numpy(),
                              resume=config.resume or forking, allow_env_change=config.allow_env_change)
        writers.append(writer)

    # ---- model and optimiser ---------------------------------------------------------------
    torch.manual_seed(config.seed)
    model_name = cfg_dict["model"]
    in_channels = int(ds.train.images.shape[1])
    model = build_model(model_name, ds.num_classes, in_channels=in_channels).to(device)
    if plan.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=bool(recipe.nesterov))

    # ---- resume: the state is at the record's last epoch, or one ahead after a crash -------
    recorded = D.broadcast_object(info, writer.epochs_completed if writer else 0)
    state_path = out / "state.pt"
    state = None
    if (config.resume or config.fork_from is not None) and state_path.is_file():
        state = load_resume_state(state_path, model, optimizer, device)
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
    amp_dtype = torch.bfloat16 if plan.bf16 else None

    # ---- data where it is used -------------------------------------------------------------
    mean = torch.as_tensor(np.asarray(ds.mean, dtype=np.float32), device=device)
    std = torch.as_tensor(np.asarray(ds.std, dtype=np.float32), device=device)
    # Fast pipeline: one uint8 copy of each split on the device, used by training and evaluation.
    # Reference pipeline: images stay on the host (the DataLoader moves each batch).
    home = device if config.fast else torch.device("cpu")
    train_images, train_labels = ds.train.images.to(home), ds.train.labels.to(home)
    eval_splits = [(train_images, train_labels), (ds.test.images.to(home), ds.test.labels.to(home))]
    augment = ds.augment == "crop-flip"
    aug_gen = torch.Generator(device=device)
    ref_dataset = None
    if not config.fast:
        ref_dataset = PILDataset(ds.train.images.numpy(), ds.train.labels.numpy(),
                                 reference_transform(int(ds.train.images.shape[2]), ds.mean, ds.std, augment))
    # The schedule's samplers (Eq. 1), the same object a user's own loop would use.
    sampler = ScheduleSampler(ds.train.labels.numpy(), schedule, seed=config.seed, rank=info.rank,
                              world_size=info.world_size)
    local_batch = recipe.batch_size // info.world_size
    recording = _Recording(writer=writer, splits=eval_splits, info=info, mean=mean, std=std,
                           batch_size=plan.eval_batch_size, device=device, channels_last=plan.channels_last,
                           eval_dtype=torch.bfloat16 if plan.eval_bf16 else None, test_labels=ds.test.labels.numpy(), counts=np.asarray(ds.counts, dtype=np.int64),
                           epochs=epochs, quiet=config.quiet)

    # A crash between the state and the record: the state's model is epoch `trained`; record it.
    if trained == recorded + 1:
        _record_epoch(recording, model, trained, state["train_info"])
    if info.is_main and not config.quiet:
        print(f"ltbound.train: {ds.name} (n={n_train}, C={ds.num_classes}, imbalance {ds.imbalance:g}), "
              f"{model_name}, schedule {config.schedule}, {epochs} epochs, batch {recipe.batch_size}, "
              f"{device}{' x' + str(info.world_size) if info.enabled else ''}"
              f"{', resuming after epoch ' + str(trained) if trained else ''}", flush=True)
    setup_seconds = time.perf_counter() - t_setup

    # ---- the loop --------------------------------------------------------------------------
    for epoch in range(trained + 1, epochs + 1):
        if stop_after is not None and epoch > stop_after:
            return out
        t0, c0 = time.perf_counter(), time.process_time()
        # This rank's sample stream from the active phase's sampler (Eq. 1).
        q, sampler_name = float(schedule.q_at(epoch)), str(schedule.sampler_at(epoch))
        indices = sampler.rank_indices(epoch)
        draws = torch.bincount(ds.train.labels[indices], minlength=ds.num_classes)   # host side, this rank
        aug_gen.manual_seed(_epoch_seed(config.seed, epoch, 1))
        if config.fast:
            loader = DeviceLoader(train_images, train_labels, indices, local_batch, augment=augment,
                                  generator=aug_gen, mean=mean, std=std, channels_last=plan.channels_last)
        else:
            loader = ReferenceLoader(ref_dataset, indices, local_batch, workers=config.workers,
                                     device=device, seed=_epoch_seed(config.seed, epoch, 2))
        lrs = epoch_lrs(recipe, epoch, len(loader))
        bar = tqdm(total=len(loader), desc=f"epoch {epoch}/{epochs} {sampler_name}", leave=False,
                   disable=not (config.progress and info.is_main), dynamic_ncols=True)
        loss_sum, first_bad = _train_epoch(train_model, optimizer, loader, lrs, amp_dtype, device, bar)
        bar.close()
        # The epoch's one device read: summed loss, per-class draw counts and the first step with a
        # non-finite loss (+1; 0 = none), over all ranks.
        totals = torch.cat([loss_sum.reshape(1).double(), draws.to(device, torch.float64),
                            (first_bad + 1).reshape(1).double()])
        totals = D.all_reduce_sum(info, totals).cpu()   # a blocking copy: waits for the epoch's kernels
        if totals[-1] > 0 or not torch.isfinite(totals[0]):
            _diverged(epoch, int(first_bad.item()), lrs, float(recipe.lr), plan.bf16)
        totals = totals[:-1]
        samples = int(totals[1:].sum())
        train_info = {"lr": lrs[-1], "lr_start": lrs[0], "sampler": sampler_name, "q": q,
                      "running_loss": float(totals[0]) / samples, "steps": len(lrs), "samples": samples,
                      "seconds": time.perf_counter() - t0,
                      # the process's CPU seconds (all its threads): unlike wall seconds, not inflated
                      # by other work on a shared machine, so per-epoch cost compares across runs
                      "cpu_seconds": time.process_time() - c0}
        if ds.num_classes <= MAX_CLASSES_FOR_DRAWS:
            train_info["class_draws"] = [int(v) for v in totals[1:]]
        _fire(on_event, "trained", epoch)
        if info.is_main:
            if epoch in plan.checkpoint_epochs:
                save_checkpoint(writer.checkpoint_path(epoch), model, epoch=epoch, model_name=model_name,
                                num_classes=ds.num_classes, in_channels=in_channels, config=cfg_dict)
            save_resume_state(state_path, epoch=epoch, model=model, optimizer=optimizer, device=device,
                              aug_generator=aug_gen, train_info=train_info, config=cfg_dict)
        D.barrier(info)
        _fire(on_event, "state", epoch)
        _record_epoch(recording, model, epoch, train_info)
        _fire(on_event, "recorded", epoch)

    if writer is not None:
        writer.finish(timings=_timings(writer.manifest.get("history", []), setup_seconds))
    D.barrier(info)
    return out


def _train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader, lrs: list[float],
                 amp_dtype: torch.dtype | None, device: torch.device, bar) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over ``loader``, step k at learning rate ``lrs[k]``.

    Returns the summed loss and the first step whose loss was not finite (-1 if none), both
    on the device (nothing is read back inside the epoch).
    """
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float32, device=device)   # summed on device, read once
    first_bad = torch.full((), -1, dtype=torch.int64, device=device)
    for step, (lr, (x, y)) in enumerate(zip(lrs, loader)):
        for group in optimizer.param_groups:
            group["lr"] = lr           # a host float: nothing is read from the device
        with (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * y.shape[0]
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()),
                                torch.full_like(first_bad, step), first_bad)
        bar.update(1)
    return loss_sum, first_bad


def _diverged(epoch: int, step: int, lrs: list[float], base_lr: float, amp: bool) -> None:
    """Raise TrainingDiverged saying where, and what to change (the record keeps the epochs before)."""
    where = (f"step {step + 1} of {len(lrs)} (learning rate {lrs[step]:.4g})" if step >= 0
             else f"one of its {len(lrs)} steps on another rank")
    raise TrainingDiverged(
        f"training diverged: the loss became NaN or infinite in epoch {epoch}, {where}; the record keeps "
        f"epochs 1..{epoch - 1}. Start a new run with a lower lr (this one: {base_lr:g}) or more warmup_epochs"
        + (", or with amp='off'" if amp else ""))


@dataclass
class _Recording:
    """What recording an epoch needs besides the model: the evaluation splits and the record's bookkeeping."""
    writer: RecordWriter | None          # None on ranks other than 0
    splits: list                         # [(train images, labels), (test images, labels)] where evaluated
    info: D.DistInfo
    mean: torch.Tensor
    std: torch.Tensor
    batch_size: int
    device: torch.device
    channels_last: bool
    eval_dtype: torch.dtype | None       # autocast dtype of the evaluation; None = float32
    test_labels: np.ndarray              # (m,), constant for the run
    counts: np.ndarray                   # (C,) training examples per class
    epochs: int
    quiet: bool


def _record_epoch(rec: _Recording, model: torch.nn.Module, epoch: int, train_info: dict) -> None:
    """Evaluate the model on every sample (float32, or bf16 autocast if asked) and append epoch ``epoch`` to the record."""
    t0, c0 = time.perf_counter(), time.process_time()
    D.broadcast_module_buffers(rec.info, model)
    tr_loss, tr_correct, te_loss, te_correct = evaluate_splits(
        model, rec.splits, rec.info, mean=rec.mean, std=rec.std, batch_size=rec.batch_size, device=rec.device,
        channels_last=rec.channels_last, autocast_dtype=rec.eval_dtype)
    eval_seconds = time.perf_counter() - t0
    eval_cpu_seconds = time.process_time() - c0
    if rec.writer is None:
        return
    for name, values in (("training", tr_loss), ("test", te_loss)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise TrainingDiverged(
                f"training diverged: after epoch {epoch} the model's {name} loss is NaN or infinite on "
                f"{int(bad.sum())} of {values.size} samples; the record keeps epochs 1..{epoch - 1}. Start a new "
                "run with a lower lr or more warmup_epochs")
    summary = _epoch_summary(train_info, tr_loss, tr_correct, te_correct, rec.test_labels, rec.counts, eval_seconds)
    summary["eval_cpu_seconds"] = eval_cpu_seconds
    rec.writer.write_epoch(epoch, train_loss=tr_loss, train_correct=tr_correct, test_correct=te_correct,
                           test_loss=te_loss, summary=summary)
    if not rec.quiet:
        _print_epoch(epoch, rec.epochs, summary)


def _epoch_summary(train_info: dict, tr_loss: np.ndarray, tr_correct: np.ndarray, te_correct: np.ndarray,
                   test_labels: np.ndarray, counts: np.ndarray, eval_seconds: float) -> dict:
    """The history entry of an epoch: training summary, accuracies overall, per class and per shot group."""
    num_classes = counts.size
    test_per_class = np.bincount(test_labels, minlength=num_classes)
    hits = np.bincount(test_labels, weights=te_correct.astype(np.float64), minlength=num_classes)
    per_class = np.where(test_per_class > 0, hits / np.maximum(test_per_class, 1), np.nan)
    return {**train_info,
            "mean_train_loss": float(tr_loss.mean()), "train_acc": float(tr_correct.mean()),
            "test_acc": float(te_correct.mean()),
            "test_balanced_acc": float(np.nanmean(per_class)),
            "test_acc_per_class": [None if not np.isfinite(v) else float(v) for v in per_class],
            "test_acc_groups": shot_group_means(per_class, counts),
            "eval_seconds": eval_seconds}


def _print_epoch(epoch: int, epochs: int, s: dict) -> None:
    g = s["test_acc_groups"]
    fmt = lambda v: "  -  " if v is None else f"{v:.3f}"   # noqa: E731
    print(f"epoch {epoch:>3}/{epochs} {s['sampler']:>4} lr {s['lr']:.4g} "
          f"loss {s['running_loss']:.4f} train {s['train_acc']:.3f} "
          f"test {s['test_acc']:.3f} (many {fmt(g['many'])} med {fmt(g['medium'])} "
          f"few {fmt(g['few'])}) {s['seconds']:.1f}s+{s['eval_seconds']:.1f}s", flush=True)


def _epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A 63-bit seed for (run seed, epoch, stream) — independent streams per epoch."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


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
