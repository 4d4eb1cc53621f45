"""The paper's ablation tables (Tables 5-11, Figs. 3-6) as runnable studies.

    python experiments/paper_tables.py --table 6                  # digits-lt proxy, imbalance 50, 3 seeds
    python experiments/paper_tables.py --table all                # every study, sharing runs
    python experiments/paper_tables.py --table 9 --seeds 10
    python experiments/paper_tables.py --table 5 --dataset cifar10-lt --data-dir DIR   # the paper's recipe (GPU)

Each study trains (or reuses) run records with the trainer, prints its table beside the
paper's numbers with a one-line verdict, and writes ``<out>/table<N>/results.json`` (every
run's configuration and results) and, for Table 11, the PNGs of Figs. 3-6.

Runs are keyed by configuration: a run's record folder is ``<out>/runs/<schedule>-seed<k>-<hash>``
with the hash of every setting that changes its numbers, so the same configuration is never
trained twice (a study can be interrupted and resumed, and studies share runs: Table 6's IB→CR
is Table 5's S = 1, Table 9's Switching, ...).

Shortened recipes. ``--epochs E`` scales the preset's milestones and warm-up by E / E_preset
(the last milestone kept at least 3 epochs before the end, so that a switch and Table 7's
middle stage fit). Quantities
the paper gives in epochs of its 200-epoch recipe (the switch offset S of Table 5, the 5-epoch
middle stage of Table 7) are scaled by r = (E - m_n) / 100, the length of the small-learning-rate
stage relative to the paper's (epochs 101-200), rounded up so that a nonzero S stays nonzero.
With the digits preset (30 epochs, decay after 20) r = 0.1.

The digits default is a proxy (an 8x8 digits set made long-tailed, a 24k-parameter net, 30 epochs):
a verdict "not detectable at this size" means the proxy cannot tell, not that the paper is wrong.
Comparisons are paired by seed: every schedule of seed k starts from the same initialisation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

STUDIES = ("5", "6", "7", "8", "9", "10", "11")
DATASETS = ("digits-lt", "cifar10-lt")
SAMPLERS = ("ib", "cb", "cr", "sqrt")

# ------------------------------------------------------------------------------ the paper's numbers
# CIFAR-10-LT, imbalance 50 unless a table gives other columns. Percent top-1 accuracy.
PAPER_T5 = {0: 82.6, 1: 82.9, 5: 82.9, 10: 82.8, 50: 82.6, 200: 82.2, 500: 82.0, "IB": 77.9}
PAPER_T5_C100 = {0: 49.7, 1: 49.5, 5: 49.3, 10: 49.1, 50: 49.1, 200: 48.1, 500: 47.5, "IB": 44.9}
# Table 6, CIFAR-10-LT columns by imbalance (the paper has no SQRT rows).
PAPER_T6 = {
    100: {"ib-ib": 73.1, "ib-cb": 77.1, "ib-cr": 79.7, "cb-ib": 66.5, "cb-cb": 73.0, "cb-cr": 74.8,
          "cr-ib": 63.8, "cr-cb": 64.2, "cr-cr": 68.4},
    50: {"ib-ib": 77.9, "ib-cb": 81.9, "ib-cr": 82.9, "cb-ib": 73.8, "cb-cb": 78.5, "cb-cr": 80.7,
         "cr-ib": 74.8, "cr-cb": 72.7, "cr-cr": 76.3},
    10: {"ib-ib": 86.4, "ib-cb": 87.9, "ib-cr": 88.4, "cb-ib": 86.7, "cb-cb": 87.3, "cb-cr": 87.9,
         "cr-ib": 85.2, "cr-cb": 86.3, "cr-cr": 86.8},
}
PAPER_T7 = {"IB → CR": 82.9, "IB → CB (5 ep.) → CR": 82.7, "IB → CR (5 ep.) → CB": 79.2}
# Table 8: (second sampler, joint training, re-training classifier) -> accuracy.
PAPER_T8 = {("IB", False, False): 76.3, ("IB", True, False): 77.9, ("IB", False, True): 77.7, ("IB", True, True): 78.9,
            ("CB", False, False): 81.9, ("CB", True, False): 81.9, ("CB", False, True): 81.8, ("CB", True, True): 81.9,
            ("CR", False, False): 81.4, ("CR", True, False): 82.9, ("CR", False, True): 81.6, ("CR", True, True): 82.4}
# Table 9 (fractions): accuracy, bias², variance, total. BBN (0.822, 0.032, 0.146, 0.178) is out of scope.
PAPER_T9 = {"IB only": (0.779, 0.049, 0.168, 0.217), "CR only": (0.763, 0.056, 0.183, 0.239),
            "Decouple-cRT": (0.807, 0.037, 0.148, 0.185), "Switching (S = 1)": (0.829, 0.029, 0.142, 0.171)}
PAPER_T10 = {("standard", "IB"): 77.7, ("standard", "CB"): 80.7, ("standard", "CR"): 82.2,
             ("switching", "IB"): 77.0, ("switching", "CB"): 81.4, ("switching", "CR"): 82.6}
# Table 11: the stage-wise schedule and the four constants (0.1, 0.02, 0.01, 0.001) of the paper's.
PAPER_LR_CONSTANTS = (0.1, 0.02, 0.01, 0.001)
PAPER_T11 = {("standard", "stage-wise"): 77.9, ("standard", 0.1): 75.5, ("standard", 0.02): 76.1,
             ("standard", 0.01): 75.0, ("standard", 0.001): 65.9,
             ("switching", "stage-wise"): 82.9, ("switching", 0.1): 77.7, ("switching", 0.02): 78.3,
             ("switching", 0.01): 77.7, ("switching", 0.001): 66.1}
PAPER_BASE_LR = 0.1
PAPER_SMALL_STAGE = 100   # epochs 101-200 of the paper's CIFAR recipe

#: Pairs of rows whose paper values differ by less than this are not treated as a claim of the
#: paper (percent points; 0.01 for Table 9's fractions): a 0.1-point gap on one run is not an ordering.
MIN_PAPER_GAP = 1.0


# ------------------------------------------------------------------------------ statistics
def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN with fewer than 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> dict[str, Any]:
    """Mean of a[s] - b[s] over the seeds both have, with a two-sided paired Student-t interval.

    The one place a study's uncertainty is computed: :func:`ltbound.evaluate.compare_over_seeds`
    (paired by seed) does the statistics. Returns ``diff``, ``low``, ``high``, ``n``,
    ``p_value`` and ``method``; ``low``/``high`` are NaN with fewer than 2 pairs.
    """
    from ltbound.evaluate import compare_over_seeds

    seeds = sorted(set(a) & set(b))
    if not seeds:
        return {"diff": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0,
                "p_value": float("nan"), "method": "paired t"}
    cmp = compare_over_seeds([a[s] for s in seeds], [b[s] for s in seeds], alpha=1.0 - level, paired=True)
    return {"diff": float(cmp.difference), "low": float(cmp.low), "high": float(cmp.high), "n": len(seeds),
            "p_value": float(cmp.p_value), "method": cmp.method}


def ordering_verdict(rows: list[dict], *, value_key: str = "values", paper_key: str = "paper",
                     min_gap: float = MIN_PAPER_GAP,
                     pair_test: Callable[[dict, dict], dict] | None = None) -> dict[str, Any]:
    """Compare every pair of rows the paper orders (paper gap >= ``min_gap``) with ours.

    A pair is *resolved* when the interval of our difference excludes 0; it *agrees* when its
    sign is the paper's. Verdict: "different" if any resolved pair reverses the paper's order,
    else "same ordering" if at least one pair is resolved, else "not detectable at this size".
    """
    test = pair_test or (lambda r1, r2: paired_difference(r1[value_key], r2[value_key]))
    pairs = []
    for i, r1 in enumerate(rows):
        for r2 in rows[i + 1:]:
            p1, p2 = r1.get(paper_key), r2.get(paper_key)
            if p1 is None or p2 is None or abs(p1 - p2) < min_gap - 1e-12:
                continue
            t = test(r1, r2)
            resolved = bool(np.isfinite(t["low"]) and (t["low"] > 0 or t["high"] < 0))
            agrees = bool(resolved and np.sign(t["diff"]) == np.sign(p1 - p2))
            pairs.append({"a": r1["label"], "b": r2["label"], "paper_diff": p1 - p2, **t,
                          "resolved": resolved, "agrees": agrees})
    resolved = [p for p in pairs if p["resolved"]]
    against = [p for p in resolved if not p["agrees"]]
    leaning = sum(1 for p in pairs if not p["resolved"] and np.sign(p["diff"]) == -np.sign(p["paper_diff"]))
    if against:
        verdict = "different"
        why = (f"{len(against)} of {len(resolved)} resolved pairs reverse the paper's order "
               f"(e.g. {against[0]['a']} vs {against[0]['b']})")
    elif resolved:
        verdict = "same ordering"
        why = f"{len(resolved)} of {len(pairs)} pairs the paper orders are resolved, all as the paper"
    else:
        verdict = "not detectable at this size"
        why = f"none of the {len(pairs)} pairs the paper orders is resolved (95% intervals include 0)"
    if leaning:
        why += f"; {leaning} unresolved pair(s) point the other way"
    return {"verdict": verdict, "why": why, "pairs": pairs, "min_paper_gap": min_gap}


# ------------------------------------------------------------------------------ runs as records
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
        from ltbound.train.trainer import TrainConfig, resolve_recipe

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
                from ltbound.train.data import load_dataset
                _DATASETS[key] = load_dataset(self.dataset, data_dir=self.data_dir, imbalance=self.imbalance,
                                              max_test_per_class=self.max_test_per_class)
            self._ds = _DATASETS[key]
        return self._ds

    # ---- one run ---------------------------------------------------------------------------------
    def run(self, schedule: str, seed: int, **over: Any) -> Path:
        """The record of ``schedule`` with ``seed`` and recipe overrides; trained only if absent."""
        from ltbound.records import load_record
        from ltbound.train.trainer import TrainConfig, train

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
            from ltbound.train.models import build_model
            from ltbound.train.retrain import classifier_of, extract_features
            from ltbound.train.theta import load_state_dict

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


def row(label: str, paper: float | None, values: dict[int, float], runs: dict[int, str] | None = None,
        **extra: Any) -> dict[str, Any]:
    m, s = mean_std(list(values.values()))
    return {"label": label, "paper": paper, "values": {int(k): float(v) for k, v in values.items()},
            "mean": m, "std": s, "n": len(values), "runs": runs or {}, **extra}


def fmt_ms(r: dict, digits: int = 1) -> str:
    if r["n"] == 0:
        return "-"
    s = "" if not np.isfinite(r["std"]) else f" ± {r['std']:.{digits}f}"
    return f"{r['mean']:.{digits}f}{s}"


def fmt_table(header: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in lines]
    return "\n".join(out)


def _rows_table(rows: list[dict], first: str = "setting", extra: tuple[tuple[str, str], ...] = ()) -> str:
    header = [first, *[h for h, _ in extra], "paper", "ours (mean ± std, %)", "n"]
    lines = [[r["label"], *[str(r.get(k, "")) for _, k in extra],
              "-" if r["paper"] is None else f"{r['paper']:.1f}", fmt_ms(r), str(r["n"])] for r in rows]
    return fmt_table(header, lines)


# ------------------------------------------------------------------------------ the studies
def study_table5(st: Setup) -> dict:
    """Table 5: switch offset S of Algorithm 1, scaled to the recipe, with the CR phase length fixed."""
    b = st.base()
    m_n = b["milestones"][-1] if b["milestones"] else 0
    phase = b["epochs"] - m_n - b["switch_offset"]          # epochs of CR in the default recipe
    r = st.stage_ratio()
    rows = []
    for s in (0, 1, 5, 10, 50, 200, 500):
        s_ours = math.ceil(s * r - 1e-9)
        epochs = m_n + s_ours + phase
        runs = {k: st.run("ib-cr", k, switch_offset=s_ours, epochs=epochs) for k in st.seeds}
        rows.append(row(f"S = {s}", PAPER_T5[s], {k: final_accuracy(p) for k, p in runs.items()},
                        {k: str(p) for k, p in runs.items()}, S_ours=s_ours, epochs=epochs,
                        cr_from=m_n + s_ours + 1))
    runs = {k: st.run("ib-ib", k) for k in st.seeds}
    rows.append(row("CE (IB only)", PAPER_T5["IB"], {k: final_accuracy(p) for k, p in runs.items()},
                    {k: str(p) for k, p in runs.items()}, S_ours="-", epochs=b["epochs"], cr_from="-"))
    table = _rows_table(rows, "paper S", (("our S", "S_ours"), ("epochs", "epochs"), ("CR from", "cr_from")))
    notes = [f"S scaled by r = (E - m_n) / {PAPER_SMALL_STAGE} = {r:g} and rounded up; the run is extended so "
             f"that the CR phase always lasts {phase} epochs (the paper does not say how its S = 200, 500 runs "
             "end; with its 200-epoch recipe they could not switch at all otherwise).",
             "Same scaled S -> same configuration -> one run (rows may share runs).",
             f"Paper's CIFAR-100-LT column (not run here): {PAPER_T5_C100}."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes}


def study_table6(st: Setup) -> dict:
    """Table 6: every first/second pair of IB, CB, CR, SQRT (switch at m_n + S + 1)."""
    col = int(st.imbalance) if int(st.imbalance) in PAPER_T6 and st.imbalance == int(st.imbalance) else 50
    paper = PAPER_T6[col]
    rows = []
    for a in SAMPLERS:
        for b2 in SAMPLERS:
            name = f"{a}-{b2}"
            runs = {k: st.run(name, k) for k in st.seeds}
            rows.append(row(f"{a.upper()} → {b2.upper()}", paper.get(name),
                            {k: final_accuracy(p) for k, p in runs.items()}, {k: str(p) for k, p in runs.items()},
                            first=a.upper(), second=b2.upper()))
    header = ["first \\ second", *[s.upper() for s in SAMPLERS]]
    lines = []
    for a in SAMPLERS:
        line = [a.upper()]
        for b2 in SAMPLERS:
            r = next(x for x in rows if x["first"] == a.upper() and x["second"] == b2.upper())
            line.append(f"{fmt_ms(r)} ({'-' if r['paper'] is None else format(r['paper'], '.1f')})")
        lines.append(line)
    table = "ours mean ± std over seeds (paper)\n" + fmt_table(header, lines)
    notes = [f"Paper column: CIFAR-10-LT imbalance {col}; the paper has no SQRT rows.",
             "The paper's claims: IB first is best for every second sampler; switching to CR improves every "
             "first sampler (except on CIFAR-100 at high imbalance)."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes}


def study_table7(st: Setup) -> dict:
    """Table 7: progressive switching IB → CB → CR and IB → CR → CB (middle stage 5 paper epochs, scaled)."""
    k_mid = max(1, math.ceil(5 * st.stage_ratio() - 1e-9))
    spec = [("IB → CR", "ib-cr"), ("IB → CB (5 ep.) → CR", f"ib-cb{k_mid}-cr"),
            ("IB → CR (5 ep.) → CB", f"ib-cr{k_mid}-cb")]
    rows = []
    for label, sched in spec:
        runs = {k: st.run(sched, k) for k in st.seeds}
        rows.append(row(label, PAPER_T7[label], {k: final_accuracy(p) for k, p in runs.items()},
                        {k: str(p) for k, p in runs.items()}, schedule=sched))
    table = _rows_table(rows, "schedule", (("run", "schedule"),))
    notes = [f"The middle stage lasts 5 epochs in the paper's recipe; here ceil(5 r) = {k_mid} epoch(s)."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes}


def _crt(st: Setup, feats: dict, q: str, seed: int, **kw: Any) -> float:
    """Balanced test accuracy (percent) of a classifier re-trained on ``feats`` with sampler ``q``."""
    from ltbound.train.retrain import predict_proba, retrain_classifier

    ytr, yte = st.labels()
    settings = {**st.retrain_settings(), **kw}
    w, b = retrain_classifier(feats["train"], ytr, q, num_classes=int(ytr.max()) + 1, seed=seed, **settings)
    return 100.0 * balanced_accuracy(predict_proba(feats["test"], w, b).argmax(1), yte)


def study_table8(st: Setup) -> dict:
    """Table 8: joint training vs a frozen backbone with a fine-tuned or re-trained (cRT) classifier."""
    b = st.base()
    small_lr = b["lr"] * (b["gamma"] ** len(b["milestones"]))
    rows = []
    for x in ("IB", "CB", "CR"):
        runs = {k: st.run(f"ib-{x.lower()}", k) for k in st.seeds}
        vals: dict[tuple[bool, bool], dict[int, float]] = {(j, r): {} for j in (False, True) for r in (False, True)}
        for k, p in runs.items():
            sw, end = switch_checkpoint(p), end_epoch(p)
            f_sw = st.features(p, sw)
            # neither: backbone frozen at the switch, the existing classifier fine-tuned with x for the
            # epochs joint training would run, at the small learning rate (constant)
            vals[(False, False)][k] = _crt(st, f_sw, x, k, epochs=end - sw, lr=small_lr, lr_schedule="constant",
                                           init=(f_sw["weight"], f_sw["bias"]))
            vals[(True, False)][k] = final_accuracy(p)
            vals[(False, True)][k] = _crt(st, f_sw, x, k)
            vals[(True, True)][k] = _crt(st, st.features(p, end), x, k)
        for (j, r), v in vals.items():
            label = f"IB → {x}, joint {'yes' if j else 'no'}, re-train {'yes' if r else 'no'}"
            rows.append(row(label, PAPER_T8[(x, j, r)], v, {k: str(p) for k, p in runs.items()},
                            second=x, joint=j, retrain=r))
    table = _rows_table(rows, "second sampler / paradigm")
    notes = ["joint no / re-train no: backbone frozen at the switch checkpoint, its classifier fine-tuned with the "
             f"second sampler for the remaining epochs at the small lr {small_lr:g} (constant).",
             "joint yes / re-train no: the trainer's run itself (IB, then the second sampler), from its record.",
             "re-train yes: a fresh linear classifier (cRT) trained with the second sampler on features of the "
             "switch checkpoint (joint no) or of the final model (joint yes); schedule "
             f"{st.retrain_settings()}; features computed once without augmentation.",
             "Our reading of the paper's check marks; the paper does not spell out the rows without joint training."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes}


def study_table10(st: Setup) -> dict:
    """Table 10: feature quality: cRT with IB/CB/CR on the standard (IB) and the Switching backbone."""
    rows = []
    for feat, sched in (("standard", "ib-ib"), ("switching", "ib-cr")):
        runs = {k: st.run(sched, k) for k in st.seeds}
        for x in ("IB", "CB", "CR"):
            v = {k: _crt(st, st.features(p, end_epoch(p)), x, k) for k, p in runs.items()}
            rows.append(row(f"{feat} features, cRT {x}", PAPER_T10[(feat, x)], v, {k: str(p) for k, p in runs.items()},
                            feature=feat, retrain=x))
    table = _rows_table(rows, "feature / re-training")
    notes = [f"cRT schedule {st.retrain_settings()} on features of the final model, computed once without augmentation."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes}


def study_table9(st: Setup) -> dict:
    """Table 9: bias² + variance over the seeds, squared error of the softmax outputs and 0-1 loss."""
    from ltbound import bias_variance
    from ltbound.decomposition import zero_one_decomposition
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
    rows, brier, zero_one = [], {}, {}
    onehot = np.eye(c)[yte]
    for label, ps in probs.items():
        bv = bias_variance(np.stack(ps), yte)
        pred = np.stack(ps).argmax(axis=2)                               # (K, m) class predictions
        zo = zero_one_decomposition(pred, yte, num_classes=c)
        # total = mean over models and samples of the squared error (K, m): resampling both is clean
        brier[label] = ((np.stack(ps) - onehot) ** 2).sum(axis=2)
        zero_one[label] = (pred != yte).astype(np.float64)               # (K, m) 0-1 losses
        acc, b2, var, tot = PAPER_T9[label]
        rows.append({"label": label, "paper": tot, "paper_accuracy": acc, "paper_bias2": b2, "paper_variance": var,
                     "accuracy": bv.accuracy, "bias2": bv.bias2, "variance": bv.variance, "total": bv.total,
                     "kw_bias2": zo.kw_bias2, "kw_variance": zo.kw_variance, "zero_one_total": zo.loss,
                     "zero_one": zo.to_dict(), "num_models": bv.num_models, "runs": runs_of[label]})

    # Paired two-way bootstrap of the difference in total error: resample the seeds (the same
    # seeds for both methods: models of seed k share their initialisation) and the test samples.
    rng = np.random.default_rng(0)
    m, k_models = yte.size, len(st.seeds)
    boot_models = rng.integers(0, k_models, size=(2000, k_models))
    boot_samples = rng.integers(0, m, size=(2000, m))

    def pair_test_of(losses: dict[str, np.ndarray]) -> Callable[[dict, dict], dict]:
        def pair_test(r1: dict, r2: dict) -> dict:
            d = losses[r1["label"]] - losses[r2["label"]]                     # (K, m)
            per_model = np.stack([d[:, idx].mean(axis=1) for idx in boot_samples])   # (B, K)
            reps = np.take_along_axis(per_model, boot_models, axis=1).mean(axis=1)
            return {"diff": float(d.mean()), "low": float(np.quantile(reps, 0.025)),
                    "high": float(np.quantile(reps, 0.975)), "n": int(m),
                    "method": "paired bootstrap over seeds and test samples"}
        return pair_test

    header = ["method", "acc (paper)", "bias² (paper)", "variance (paper)", "total (paper)"]
    lines = [[r["label"], f"{r['accuracy']:.3f} ({r['paper_accuracy']:.3f})", f"{r['bias2']:.3f} ({r['paper_bias2']:.3f})",
              f"{r['variance']:.3f} ({r['paper_variance']:.3f})", f"{r['total']:.3f} ({r['paper']:.3f})"] for r in rows]
    zo_lines = [[r["label"], f"{r['accuracy']:.3f} ({r['paper_accuracy']:.3f})",
                 f"{r['kw_bias2']:.3f} ({r['paper_bias2']:.3f})", f"{r['kw_variance']:.3f} ({r['paper_variance']:.3f})",
                 f"{r['zero_one_total']:.3f} ({r['paper']:.3f})",
                 f"{100 * r['kw_variance'] / r['zero_one_total']:.0f}% ({100 * r['paper_variance'] / r['paper']:.0f}%)"]
                for r in rows]
    table = (f"K = {len(st.seeds)} models per method; squared error of the softmax outputs\n" + fmt_table(header, lines)
             + "\n0-1 loss, Kohavi-Wolpert (total = 1 - accuracy, the form the paper's totals are consistent "
               "with: python paper_checks/run_all.py --only table9_decomposition)\n"
             + fmt_table(header + ["variance share (paper)"], zo_lines))
    verdict = ordering_verdict(rows, min_gap=0.01, pair_test=pair_test_of(brier))
    verdict["why"] += " (total error; 95% intervals: paired bootstrap over seeds and test samples)"
    verdict_zero_one = ordering_verdict(rows, min_gap=0.01, pair_test=pair_test_of(zero_one))
    verdict_zero_one["why"] += " (0-1 total = 1 - accuracy; same bootstrap)"
    ours_share = [r["kw_variance"] / r["zero_one_total"] for r in rows if r["zero_one_total"] > 0]
    paper_share = [r["paper_variance"] / r["paper"] for r in rows]
    notes = ["Decompositions: the squared error of the softmax vector over K seeds (Geman et al. 1992) and, beside "
             "it, the 0-1 loss of the K models' predictions (Kohavi & Wolpert 1996; Domingos 2000: "
             "ltbound.decomposition.zero_one_decomposition). The paper's totals equal 1 - accuracy to within "
             "0.008 on all five rows (exactly for BBN and Ours): a 0-1 decomposition, so its magnitudes compare "
             "with ours under 0-1 loss, not under squared error.",
             "Magnitudes under 0-1 loss: variance is "
             + (f"{100 * min(ours_share):.0f}-{100 * max(ours_share):.0f}%" if ours_share else "undefined (no errors)")
             + f" of our totals, {100 * min(paper_share):.0f}-{100 * max(paper_share):.0f}% of the paper's; "
             f"0-1 verdict on the totals: {verdict_zero_one['verdict']} ({verdict_zero_one['why']}).",
             "Decouple-cRT: the IB-only backbone with a classifier re-trained by CB sampling "
             f"({st.retrain_settings()}).",
             "BBN is out of scope (a two-branch network this project does not implement)."]
    return {"rows": rows, "table": table, "verdict": verdict, "verdict_zero_one": verdict_zero_one, "notes": notes}


def _lr_constants(st: Setup) -> list[float]:
    """The paper's four constants scaled by base lr / 0.1 (the paper's base lr)."""
    f = st.base()["lr"] / PAPER_BASE_LR
    return [float(f"{c * f:.6g}") for c in PAPER_LR_CONSTANTS]


def study_table11(st: Setup) -> dict:
    """Table 11 and Figs. 3-6: stage-wise vs constant learning rates, per-class learning speed."""
    b = st.base()
    m_n = b["milestones"][-1] if b["milestones"] else 0
    consts = _lr_constants(st)
    rows, run_sets = [], {}
    for proc, sched in (("standard", "ib-ib"), ("switching", "ib-cr")):
        specs = [("stage-wise", "stage-wise", {})]
        for paper_c, c in zip(PAPER_LR_CONSTANTS, consts):
            # constant lr: no warm-up, no milestone; S = m_n + S keeps the switch at the stage-wise run's epoch
            specs.append((f"{c:g}", paper_c, {"lr": c, "milestones": [], "warmup_epochs": 0,
                                              "switch_offset": m_n + b["switch_offset"]}))
        for label, paper_key, over in specs:
            runs = {k: st.run(sched, k, **over) for k in st.seeds}
            run_sets[(proc, label)] = runs
            rows.append(row(f"{proc}, lr {label}", PAPER_T11[(proc, paper_key)],
                            {k: final_accuracy(p) for k, p in runs.items()}, {k: str(p) for k, p in runs.items()},
                            procedure=proc, lr=label))
    table = _rows_table(rows, "procedure, learning rate")
    figs = make_figures(st, run_sets, consts)
    notes = [f"Constants: the paper's {list(PAPER_LR_CONSTANTS)} times base lr / 0.1 = {consts}; constant runs have "
             "no warm-up and switch at the stage-wise run's epoch.",
             "Learning speed (Figs. 4-6) = fraction of a class's training samples classified correctly after each "
             "epoch (the records' train_correct; top row) and the class's test accuracy (bottom row), mean over "
             "seeds; 4 classes from head to tail. The paper's text reads as the training proportion correct "
             "(Jiang et al. 2020) but speaks of tail accuracy, so both are drawn."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes, "figures": figs}


def learning_speed(runs: dict[int, Path], classes: list[int], split: str = "train") -> np.ndarray:
    """(E, len(classes)) fraction of each class's samples classified correctly after each epoch, mean over runs.

    ``split="train"``: the class's training samples (learned, as in Jiang et al. 2020's proportion
    correct); ``"test"``: its test samples (per-class test accuracy).
    """
    from ltbound.records import load_record

    curves = []
    for p in runs.values():
        rec = load_record(p)
        correct, labels = (rec.train_correct, rec.train_labels) if split == "train" else (rec.test_correct, rec.test_labels)
        curves.append(np.stack([correct[:, labels == c].mean(axis=1) for c in classes], axis=1))
    return np.mean(curves, axis=0)


def make_figures(st: Setup, run_sets: dict, consts: list[float]) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ltbound.records import load_record

    out = st.out / "table11"
    out.mkdir(parents=True, exist_ok=True)
    ytr, _ = st.labels()
    c = int(ytr.max()) + 1
    classes = sorted(set(int(round(v)) for v in np.linspace(0, c - 1, 4)))
    counts = np.bincount(ytr, minlength=c)
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for proc, name in (("standard", "IB only"), ("switching", "Switching (IB → CR)")):
        accs = np.mean([load_record(p).balanced_test_accuracy() for p in run_sets[(proc, "stage-wise")].values()], axis=0)
        ax.plot(np.arange(1, accs.size + 1), 100 * accs, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("balanced test accuracy (%)")
    ax.set_title(f"Fig. 3 (proxy): test accuracy per epoch, {st.dataset}; BBN not run")
    ax.legend()
    fig.tight_layout()
    paths.append(_save(fig, out / "fig3_test_accuracy.png"))

    def panel(ax, runs, title, split):
        curves = learning_speed(runs, classes, split)
        for i, cl in enumerate(classes):
            ax.plot(np.arange(1, curves.shape[0] + 1), curves[:, i], label=f"class {cl} (n={counts[cl]})")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)

    for name, keys, title in (
            ("fig4_learning_speed_stagewise.png", [("standard", "stage-wise"), ("switching", "stage-wise")],
             "Fig. 4 (proxy): learning speed, stage-wise lr"),
            ("fig5_learning_speed_constant_standard.png", [("standard", f"{x:g}") for x in consts],
             "Fig. 5 (proxy): learning speed, constant lr, standard training"),
            ("fig6_learning_speed_constant_switching.png", [("switching", f"{x:g}") for x in consts],
             "Fig. 6 (proxy): learning speed, constant lr, switching")):
        # top row: training samples learned; bottom row: the same classes' test accuracy
        fig, axes = plt.subplots(2, len(keys), figsize=(3.6 * len(keys), 6.4), sharey=True, squeeze=False)
        for j, key in enumerate(keys):
            panel(axes[0][j], run_sets[key], f"{key[0]}, lr {key[1]}: train", "train")
            panel(axes[1][j], run_sets[key], f"{key[0]}, lr {key[1]}: test", "test")
        axes[0][0].set_ylabel("fraction of class's training samples correct")
        axes[1][0].set_ylabel("class test accuracy")
        axes[0][-1].legend(fontsize=7, loc="lower right")
        fig.suptitle(title)
        fig.tight_layout()
        paths.append(_save(fig, out / name))
    return paths


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


STUDY_FUNCS = {"5": study_table5, "6": study_table6, "7": study_table7, "8": study_table8, "9": study_table9,
               "10": study_table10, "11": study_table11}
TITLES = {"5": "Table 5: switch offset S", "6": "Table 6: first/second sampler pairs",
          "7": "Table 7: progressive switching", "8": "Table 8: Decouple (frozen backbone, cRT) vs joint training",
          "9": "Table 9: bias² + variance", "10": "Table 10: feature quality (cRT on frozen features)",
          "11": "Table 11 and Figs. 3-6: learning-rate schedules and learning speed"}


# ------------------------------------------------------------------------------ command line
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="paper_tables.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run the Switching paper's ablation tables (5-11, Figs. 3-6) as studies; print each beside "
                    "the paper's numbers with a verdict, write results.json (and PNGs for Table 11).")
    p.add_argument("--table", required=True, choices=(*STUDIES, "all"), help="which study ('all': every one)")
    p.add_argument("--dataset", default="digits-lt", choices=DATASETS,
                   help="digits-lt: the CPU proxy; cifar10-lt: the paper's setting (wants a GPU)")
    p.add_argument("--data-dir", help="CIFAR-10 source (torchvision folder, image tree or the JPEG archive)")
    p.add_argument("--imbalance", type=float, default=50.0, help="n_max / n_min of the training set")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..K-1 per setting (default 3; Table 9: 5)")
    p.add_argument("--epochs", type=int, default=None,
                   help="shorten the preset's recipe to E epochs (milestones, warm-up and S scale with it)")
    p.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size")
    p.add_argument("--max-test-per-class", type=int, default=None, help="keep at most this many test images per class")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default 1 for digits-lt: its tiny batches run fastest on one thread)")
    p.add_argument("--out", default="out/paper_tables", help="folder for runs/, features/ and table<N>/")
    p.add_argument("--quiet", action="store_true", help="print only the tables")
    return p


def check_args(parser: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    if a.seeds is not None and a.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {a.seeds}")
    if a.table in ("9", "all") and a.seeds is not None and a.seeds < 2:
        parser.error(f"--table {a.table} includes Table 9, whose variance needs --seeds >= 2 independently "
                     f"trained models, got {a.seeds} (its default is 5)")
    if a.epochs is not None and a.epochs < 4:
        parser.error(f"--epochs must be >= 4 (a decay, a switch and Table 7's middle stage need room), got {a.epochs}")
    if not a.imbalance >= 1:
        parser.error(f"--imbalance must be >= 1, got {a.imbalance}")
    if a.dataset != "digits-lt" and not a.data_dir:
        parser.error(f"--dataset {a.dataset} needs --data-dir (e.g. ../shared/data/cifar10-jpeg.tar.xz)")
    if a.max_test_per_class is not None and a.max_test_per_class < 1:
        parser.error(f"--max-test-per-class must be >= 1, got {a.max_test_per_class}")
    if a.batch_size is not None and a.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {a.batch_size}")


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, float)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    return o


def run_study(n: str, a: argparse.Namespace) -> dict:
    from ltbound.records import load_record

    seeds = a.seeds if a.seeds is not None else (5 if n == "9" else 3)
    st = Setup(dataset=a.dataset, data_dir=a.data_dir, imbalance=a.imbalance, seeds=tuple(range(seeds)),
               epochs=a.epochs, batch_size=a.batch_size, max_test_per_class=a.max_test_per_class, device=a.device,
               out=Path(a.out), quiet=a.quiet)
    t0 = time.perf_counter()
    res = STUDY_FUNCS[n](st)
    seconds = time.perf_counter() - t0
    used = sorted({str(p) for r in res["rows"] for p in r.get("runs", {}).values()})
    runs = []
    for path in used:
        rec = load_record(path)
        runs.append({"path": path, "config": rec.manifest["config"], "schedule": rec.manifest["schedule"],
                     "final_balanced_test_accuracy": float(rec.balanced_test_accuracy()[-1]),
                     "final_test_accuracy": float(rec.test_accuracy()[-1]), "epochs": int(rec.epochs[-1]),
                     "train_seconds": rec.manifest.get("timings", {}).get("total_seconds")})
    doc = {"study": f"table{n}", "title": TITLES[n], "command": [sys.argv[0], *sys.argv[1:]],
           "setup": {"dataset": st.dataset, "data_dir": st.data_dir, "imbalance": st.imbalance, "seeds": list(st.seeds),
                     "base_recipe": st.base(), "stage_ratio": st.stage_ratio(), "epochs_override": st.epochs,
                     "max_test_per_class": st.max_test_per_class, "retrain": st.retrain_settings()},
           "proxy": st.dataset == "digits-lt", "rows": res["rows"], "verdict": res["verdict"], "notes": res["notes"],
           **{k: v for k, v in res.items() if k.startswith("verdict_")},      # e.g. Table 9's 0-1 verdict
           "figures": res.get("figures", []), "runs": runs, "trained_runs": len(st.trained),
           "reused_runs": len(st.reused), "seconds": seconds,
           "environment": {"python": platform.python_version(), "numpy": np.__version__}}
    out = Path(a.out) / f"table{n}"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(_jsonable(doc), indent=1))
    os.replace(tmp, out / "results.json")
    v = res["verdict"]
    proxy = " (digits proxy)" if st.dataset == "digits-lt" else ""
    print(f"\n== {TITLES[n]}{proxy}, {st.dataset} imbalance {st.imbalance:g}, seeds {len(st.seeds)} ==")
    print(res["table"])
    print(f"verdict: {v['verdict']}: {v['why']}")
    for note in res["notes"]:
        print(f"  note: {note}")
    for f in res.get("figures", []):
        print(f"  figure: {f}")
    print(f"  {len(st.trained)} runs trained, {len(st.reused)} reused, {seconds:.1f} s -> {out / 'results.json'}",
          flush=True)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    check_args(parser, a)
    import torch
    threads = a.threads if a.threads is not None else (1 if a.dataset == "digits-lt" else None)
    if threads is not None:
        torch.set_num_threads(threads)
    if a.dataset != "digits-lt" and a.device != "cpu" and not torch.cuda.is_available():
        print(f"warning: {a.dataset} without a GPU takes hours per run at the paper's recipe; use --epochs and a "
              "small --data-dir subset for a dry run", file=sys.stderr)
    for n in (STUDIES if a.table == "all" else (a.table,)):
        run_study(n, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
