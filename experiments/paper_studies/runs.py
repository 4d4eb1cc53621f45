"""The shared run cache: every study asks :class:`Setup` for a run, which trains it only once.

A run's record folder is ``<out>/runs/<schedule>-seed<k>-<hash>`` with the hash of every
setting that changes its numbers, so the same configuration is never trained twice (a study can
be interrupted and resumed, and studies share runs: Table 6's IB→CR is Table 5's S = 1, Table
9's Switching, ...). Features of a checkpoint are computed once and cached beside the runs
(``<out>/features/``); :func:`crt` re-trains a classifier on them (Tables 8 and 10).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ltbound.published import SMALL_LR_STAGE_EPOCHS as PAPER_SMALL_STAGE

_DATASETS: dict[tuple, Any] = {}


@dataclass
class Setup:
    """Everything a study needs to know about the data and the base recipe."""

    dataset: str
    data_dir: str | None
    imbalance: float
    seeds: tuple[int, ...]
    epochs: int | None
    batch_size: int | None
    max_test_per_class: int | None
    device: str
    out: Path
    quiet: bool
    trained: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    _ds: Any = None
    _features: dict = field(default_factory=dict)

    # ---- the base recipe (the preset with --epochs scaling) ------------------------------------
    def base(self) -> dict[str, Any]:
        from ltbound.train.loop.trainer import TrainConfig, resolve_recipe

        preset, r = resolve_recipe(TrainConfig(out="-", dataset=self.dataset))
        epochs = r.epochs if self.epochs is None else int(self.epochs)
        ms = list(r.milestones)
        warm = r.warmup_epochs
        if self.epochs is not None and epochs != r.epochs:
            f = epochs / r.epochs
            ms = [max(1, min(round(m * f), epochs - 3)) for m in ms]
            ms = sorted(set(ms))
            warm = min(round(r.warmup_epochs * f), ms[0] if ms else epochs)
        return {"preset": preset, "epochs": epochs, "milestones": ms, "warmup_epochs": warm, "lr": r.lr,
                "gamma": r.gamma, "switch_offset": r.switch_offset, "batch_size": self.batch_size or r.batch_size,
                "momentum": r.momentum, "weight_decay": r.weight_decay}

    def stage_ratio(self) -> float:
        """r = (E - m_n) / 100: small-lr stage length relative to the paper's recipe."""
        b = self.base()
        return (b["epochs"] - (b["milestones"][-1] if b["milestones"] else 0)) / PAPER_SMALL_STAGE

    def dataset_obj(self):
        """The data set, loaded once per process (``--table all`` shares it between studies)."""
        if self._ds is None:
            key = (self.dataset, self.data_dir, self.imbalance, self.max_test_per_class)
            if key not in _DATASETS:
                from ltbound.train.data.datasets import load_dataset
                _DATASETS[key] = load_dataset(self.dataset, data_dir=self.data_dir, imbalance=self.imbalance,
                                              max_test_per_class=self.max_test_per_class)
            self._ds = _DATASETS[key]
        return self._ds

    # ---- one run ---------------------------------------------------------------------------------
    def run(self, schedule: str, seed: int, **over: Any) -> Path:
        """The record of ``schedule`` with ``seed`` and recipe overrides; trained only if absent."""
        from ltbound.records import load_record
        from ltbound.train.loop.trainer import TrainConfig, train

        cfg = {**self.base(), **over, "schedule": schedule, "seed": int(seed), "dataset": self.dataset,
               "data_dir": os.path.abspath(self.data_dir) if self.data_dir else None,
               "imbalance": float(self.imbalance), "max_test_per_class": self.max_test_per_class, "split_seed": 0}
        cfg["milestones"] = [int(m) for m in cfg["milestones"]]
        for k in ("momentum", "weight_decay", "gamma"):
            cfg.pop(k)    # preset values, not overrides: they are in the key through "preset"
        key = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:10]
        folder = self.out / "runs" / f"{schedule}-seed{seed}-{key}"
        if (folder / "manifest.json").is_file():
            rec = load_record(folder)
            if rec.complete:
                got = rec.manifest["config"]
                # the folder name is a hash: check the stored configuration really is this one
                differ = [k for k in ("schedule", "seed", "epochs", "lr", "milestones", "warmup_epochs",
                                      "switch_offset", "batch_size", "imbalance", "max_test_per_class", "preset")
                          if got.get(k) != cfg[k]]
                if differ:
                    raise ValueError(f"{folder} holds a run whose {differ} differ from the study's "
                                     f"({[(got.get(k), cfg[k]) for k in differ]}); delete the folder")
                self.reused.append(str(folder))
                return folder
        t0 = time.perf_counter()
        tc = TrainConfig(out=str(folder), dataset=self.dataset, data_dir=self.data_dir, imbalance=self.imbalance,
                         max_test_per_class=self.max_test_per_class, preset=cfg["preset"], schedule=schedule,
                         epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                         milestones=cfg["milestones"], warmup_epochs=cfg["warmup_epochs"],
                         switch_offset=cfg["switch_offset"], seed=int(seed), device=self.device,
                         checkpoint_epochs="switch,end", progress=False, quiet=True,
                         resume=(folder / "manifest.json").is_file())
        train(tc, dataset=self.dataset_obj())
        self.trained.append(str(folder))
        if not self.quiet:
            print(f"  trained {folder.name} ({cfg['epochs']} epochs, {time.perf_counter() - t0:.1f} s)", flush=True)
        return folder

    # ---- features of a checkpoint, computed once ---------------------------------------------------
    def features(self, run: Path, epoch: int) -> dict[str, np.ndarray]:
        """Train/test features and the classifier of ``run``'s checkpoint after ``epoch`` (cached on disk)."""
        key = (str(run), int(epoch))
        if key in self._features:
            return self._features[key]
        cache = self.out / "features" / f"{run.name}-e{epoch:04d}.npz"
        if cache.is_file():
            with np.load(cache) as z:
                got = {k: z[k] for k in z.files}
        else:
            from ltbound.records import checkpoint_path, load_record
            from ltbound.train.loop.models import build_model
            from ltbound.train.loop.retrain import classifier_of, extract_features
            from ltbound.train.loss_matrices.theta import load_state_dict

            ds = self.dataset_obj()
            rec = load_record(run)
            if rec.source["split_hash"] != ds.split_hash:
                raise ValueError(f"{run} was trained on another split than the one loaded; rerun with its settings")
            net = build_model(rec.source["model"], ds.num_classes, in_channels=int(ds.train.images.shape[1]))
            net.load_state_dict(load_state_dict(checkpoint_path(run, epoch)))   # SHA-256 verified
            dev = "cuda" if self.device != "cpu" and _cuda() else "cpu"
            w, b = classifier_of(net)
            got = {"train": extract_features(net, ds.train.images, mean=ds.mean, std=ds.std, device=dev),
                   "test": extract_features(net, ds.test.images, mean=ds.mean, std=ds.std, device=dev),
                   "weight": w, "bias": b}
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, **got)
            os.replace(tmp, cache)
        self._features[key] = got
        return got

    def labels(self) -> tuple[np.ndarray, np.ndarray]:
        ds = self.dataset_obj()
        return ds.train.labels.numpy(), ds.test.labels.numpy()

    def retrain_settings(self) -> dict[str, Any]:
        """cRT schedule: SGD (the recipe's momentum, weight decay, batch and base lr), cosine to 0.

        Epochs: Decouple's 10 on CIFAR (about 220 steps an epoch at imbalance 50); 30 on digits,
        whose 360-image epoch is 12 steps, so that re-training also takes a few hundred steps.
        """
        b = self.base()
        return {"epochs": 30 if self.dataset == "digits-lt" else 10, "batch_size": b["batch_size"], "lr": b["lr"],
                "momentum": b["momentum"], "weight_decay": b["weight_decay"], "lr_schedule": "cosine"}


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def balanced_accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of the per-class accuracy (= accuracy on a balanced test set)."""
    c = int(labels.max()) + 1
    hit = np.bincount(labels, weights=(pred == labels).astype(np.float64), minlength=c)
    return float(np.mean(hit / np.maximum(np.bincount(labels, minlength=c), 1)))


def final_accuracy(run: Path) -> float:
    """Balanced test accuracy (percent) of a record's last epoch."""
    from ltbound.records import load_record
    return 100.0 * float(load_record(run).balanced_test_accuracy()[-1])


def switch_checkpoint(run: Path) -> int:
    """The checkpoint epoch saved just before the record's first sampler switch."""
    from ltbound.records import load_record
    sched = load_record(run).manifest["schedule"]
    return int(sched[1]["start_epoch"]) - 1


def end_epoch(run: Path) -> int:
    from ltbound.records import load_record
    return int(load_record(run).manifest["epochs_completed"])


def crt(st: Setup, feats: dict, q: str, seed: int, **kw: Any) -> float:
    """Balanced test accuracy (percent) of a classifier re-trained on ``feats`` with sampler ``q``."""
    from ltbound.train.loop.retrain import predict_proba, retrain_classifier

    ytr, yte = st.labels()
    settings = {**st.retrain_settings(), **kw}
    w, b = retrain_classifier(feats["train"], ytr, q, num_classes=int(ytr.max()) + 1, seed=seed, **settings)
    return 100.0 * balanced_accuracy(predict_proba(feats["test"], w, b).argmax(1), yte)
