"""Training recipes, learning-rate schedule and sampler schedules (Algorithm 1, Tables 6-7).

Pure Python and numpy (no torch), so the bound side reads a run's schedule with the same
objects the trainer used: :mod:`ltbound.records` finds the final stage with
:meth:`Schedule.final_stage_start`, and ``experiments/compare_bounds.py`` takes its data set
and schedule names from here. ``ltbound.schedule`` re-exports every name.

Epochs are counted from 1 throughout.

Switching (Algorithm 1)
-----------------------
With learning-rate milestones m_1 < ... < m_n and switch offset S, Algorithm 1 samples IB
while ``t <= m_n + S`` and CR from ``t = m_n + S + 1`` on (line 4). With the CIFAR recipe
(m_n = 100, S = 1) epoch 101 is still IB and CR starts at epoch 102. Sect. 4.2 says "we
switch ... at the 101st epoch"; that agrees with Algorithm 1 if the text counts epochs
from 0 (epoch index 101 is the 102nd epoch). We follow Algorithm 1.

Learning rate
-------------
Linear warm-up (Goyal et al. 2017) per step over the first ``warmup_epochs`` epochs, reaching
``lr`` at the last step of warm-up, then step decay: ``lr * gamma ** #{m : epoch > m}``. So
"decayed at the 100th epoch" means epochs 1..100 run at ``lr`` and epoch 101 is the first
small-lr epoch (as in the reference code, ``if epoch > 100``). With S = 1, epoch 101 is the
first small-lr epoch and still IB, and CR (from 102) runs entirely in the small-lr stage,
as the paper intends (Sect. 3.1: switch "in the small learning rate stage").
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_finite_scalar, check_positive_int
from .bounds.sampling import SAMPLER_Q, parse_sampler

__all__ = ["Phase", "Schedule", "Recipe", "PRESETS", "SCHEDULES", "get_schedule", "lr_at", "epoch_lrs",
           "DATASETS", "DEFAULT_IMBALANCE", "default_preset", "default_imbalance"]

_NAMED = ("ib", "cb", "cr", "sqrt")


@dataclass(frozen=True)
class Phase:
    """One stage of a sampler schedule.

    Attributes
    ----------
    start_epoch : int
        First epoch of the phase, 1-based, inclusive.
    sampler : str
        "IB" | "CB" | "CR" | "SQRT", or "q=<float>" for any other member of Eq. 1.
    q : float
        Exponent of Eq. 1 for this phase.
    """

    start_epoch: int
    sampler: str
    q: float

    def __post_init__(self) -> None:
        check_positive_int(self.start_epoch, "start_epoch", minimum=1)
        q = check_finite_scalar(self.q, "q")
        # Records keep the canonical spelling: an upper-case name or 'q=<float>'.
        if not isinstance(self.sampler, str) or not (self.sampler in SAMPLER_Q or self.sampler.startswith("q=")):
            raise ValueError(f"sampler must be one of {sorted(SAMPLER_Q)} or 'q=<float>', got {self.sampler!r}")
        try:
            named = parse_sampler(self.sampler)[0]
        except ValueError:
            named = math.nan
        if named != q:
            if self.sampler in SAMPLER_Q:
                raise ValueError(f"sampler {self.sampler!r} has q = {named}, got q = {q}")
            raise ValueError(f"sampler {self.sampler!r} does not match q = {q}")

    def to_dict(self) -> dict[str, Any]:
        return {"start_epoch": int(self.start_epoch), "sampler": self.sampler, "q": float(self.q)}


@dataclass(frozen=True)
class Schedule:
    """Which sampler each epoch uses: phases sorted by start epoch, the first starting at 1."""

    name: str
    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        phases = tuple(self.phases)
        object.__setattr__(self, "phases", phases)
        if not phases or not all(isinstance(p, Phase) for p in phases):
            raise ValueError(f"phases must be a non-empty sequence of Phase, got {self.phases!r}")
        if phases[0].start_epoch != 1:
            raise ValueError(f"the first phase must start at epoch 1, got {phases[0].start_epoch}")
        starts = [p.start_epoch for p in phases]
        if any(b <= a for a, b in zip(starts, starts[1:])):
            raise ValueError(f"phase start epochs must be strictly increasing, got {starts}")

    def phase_at(self, epoch: int) -> Phase:
        """The phase in force at ``epoch`` (1-based)."""
        e = check_positive_int(epoch, "epoch", minimum=1)
        current = self.phases[0]
        for p in self.phases[1:]:
            if p.start_epoch > e:
                break
            current = p
        return current

    def q_at(self, epoch: int) -> float:
        return self.phase_at(epoch).q

    def sampler_at(self, epoch: int) -> str:
        return self.phase_at(epoch).sampler

    @property
    def switch_epochs(self) -> tuple[int, ...]:
        """First epochs of phases 2, 3, ... (empty for a single-sampler schedule)."""
        return tuple(p.start_epoch for p in self.phases[1:])

    def validate(self, epochs: int) -> None:
        """Raise ValueError if a phase would start after the run's last epoch."""
        t = check_positive_int(epochs, "epochs", minimum=1)
        for s in self.switch_epochs:
            if s > t:
                raise ValueError(f"switch epoch {s} is beyond the run's {t} epochs; train for at least {s} "
                                 f"epochs, or lower the last milestone or the switch offset S "
                                 f"(schedule {self.name!r} switches at epochs {list(self.switch_epochs)})")

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-safe phases, the run record's ``schedule`` field."""
        return [p.to_dict() for p in self.phases]

    @classmethod
    def from_list(cls, phases: list[dict[str, Any]], name: str = "") -> "Schedule":
        """The schedule a run record's ``schedule`` field describes (the inverse of :meth:`to_list`)."""
        return cls(name=name, phases=tuple(Phase(int(p["start_epoch"]), str(p["sampler"]), float(p["q"]))
                                           for p in phases))

    def final_stage_start(self, milestones: Any = ()) -> int:
        """First epoch of the run's final stage, the models Θ̂ is taken from by default.

        The last phase's first epoch when the schedule switches samplers; for a single
        sampler, the first epoch after the last learning-rate milestone (1 without milestones).
        """
        if len(self.phases) > 1:
            return int(self.phases[-1].start_epoch)
        ms = [int(m) for m in milestones]
        return max(ms) + 1 if ms else 1


@dataclass(frozen=True)
class Recipe:
    """Optimisation hyper-parameters of a run (Sect. 4.2).

    ``milestones`` are epochs after which the learning rate is multiplied by ``gamma``
    (see :func:`lr_at`); ``switch_offset`` is S of Algorithm 1; ``model`` is a
    :func:`ltbound.train.loop.models.build_model` name.
    """

    name: str
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    warmup_epochs: int
    milestones: tuple[int, ...]
    gamma: float
    switch_offset: int
    model: str
    nesterov: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs", minimum=1)
        check_positive_int(self.batch_size, "batch_size", minimum=1)
        check_finite_scalar(self.lr, "lr", low=0.0, low_open=True)
        check_finite_scalar(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        check_finite_scalar(self.weight_decay, "weight_decay", low=0.0)
        check_positive_int(self.warmup_epochs, "warmup_epochs", minimum=0)
        check_finite_scalar(self.gamma, "gamma", low=0.0, high=1.0, low_open=True)
        check_positive_int(self.switch_offset, "switch_offset", minimum=0)
        ms = tuple(self.milestones)
        for m in ms:
            check_positive_int(m, "milestones entry", minimum=1)
        if any(b <= a for a, b in zip(ms, ms[1:])):
            raise ValueError(f"milestones must be strictly increasing epochs, got {list(ms)}")
        object.__setattr__(self, "milestones", tuple(int(m) for m in ms))
        if not isinstance(self.nesterov, (bool, np.bool_)):
            raise ValueError(f"nesterov must be True or False, got {self.nesterov!r}")

    def replace(self, **kw: Any) -> "Recipe":
        """A copy with some fields changed (validated again)."""
        unknown = sorted(set(kw) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"Recipe has no field(s) {unknown}; fields are "
                             f"{[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **kw)

    @property
    def last_milestone(self) -> int:
        """m_n of Algorithm 1 (0 when there is no milestone)."""
        return self.milestones[-1] if self.milestones else 0

    @property
    def switch_epoch(self) -> int:
        """First epoch of the second sampler: m_n + S + 1 (Algorithm 1, line 4)."""
        return self.last_milestone + self.switch_offset + 1

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d


PRESETS: dict[str, Recipe] = {
    "cifar": Recipe(
        name="cifar", epochs=200, batch_size=64, lr=0.1, momentum=0.9, weight_decay=2e-4,
        warmup_epochs=5, milestones=(100,), gamma=0.1, switch_offset=1, model="resnet32",
        note="Sect. 4.2: ResNet-32, SGD momentum 0.9, wd 2e-4, batch 64, lr 0.1 with 5 linear "
             "warm-up epochs, x0.1 at epoch 100, 200 epochs, S = 1"),
    "cifar-short": Recipe(
        name="cifar-short", epochs=60, batch_size=64, lr=0.1, momentum=0.9, weight_decay=2e-4,
        warmup_epochs=2, milestones=(30,), gamma=0.1, switch_offset=1, model="resnet32",
        note="Not in the paper: the 'cifar' recipe shortened to 60 epochs for CPU runs (a CIFAR-10-LT "
             "epoch with its evaluation takes about 40 s on 2 threads with bf16, 75-85 s on one, so a run "
             "takes 40-90 minutes on a quiet machine). "
             "It keeps the paper's shape: linear warm-up (2 epochs), one x0.1 decay after epoch "
             "30, so the small-learning-rate stage is half the run as in the 200-epoch recipe, "
             "and S = 1 (IB through epoch 31, the second sampler from epoch 32). Accuracies are "
             "expected a few points below the 200-epoch recipe's"),
    "imagenet-lt": Recipe(
        name="imagenet-lt", epochs=90, batch_size=256, lr=0.2, momentum=0.9, weight_decay=5e-4,
        warmup_epochs=0, milestones=(60, 80), gamma=0.1, switch_offset=1, model="resnet50",
        note="Sect. 4.2: ResNet-50, lr 0.2, x0.1 at 60 and 80, 90 epochs, batch 256, S = 1. Not stated "
             "in the paper: weight decay, momentum and warm-up; 5e-4, 0.9 and none are our choices"),
    "inaturalist": Recipe(
        name="inaturalist", epochs=90, batch_size=512, lr=0.05, momentum=0.9, weight_decay=1e-4,
        warmup_epochs=0, milestones=(60, 80), gamma=0.1, switch_offset=1, model="resnet50",
        note="Sect. 4.2: ResNet-50, batch 512, lr 0.05, x0.1 at 60 and 80, 90 epochs, S = 1. Not stated "
             "in the paper: weight decay, momentum and warm-up; 1e-4 (as BBN), 0.9 and none are our choices"),
    "inaturalist-200": Recipe(
        name="inaturalist-200", epochs=200, batch_size=512, lr=0.05, momentum=0.9, weight_decay=1e-4,
        warmup_epochs=0, milestones=(120, 160), gamma=0.1, switch_offset=1, model="resnet50",
        note="Sect. 4.2: as 'inaturalist' for 200 epochs, x0.1 at 120 and 160. Not stated in the paper: "
             "weight decay, momentum and warm-up; 1e-4, 0.9 and none are our choices"),
    "digits": Recipe(
        name="digits", epochs=30, batch_size=32, lr=0.05, momentum=0.9, weight_decay=5e-4,
        warmup_epochs=2, milestones=(20,), gamma=0.1, switch_offset=1, model="digits_net",
        note="Not in the paper: the CIFAR schedule's shape (linear warm-up, one x0.1 decay, then the "
             "small-lr stage with the switch at S = 1) scaled to the 8x8 digits set: about 1.3 s on one "
             "CPU thread, IB balanced test accuracy about 0.93-0.95 at imbalance 20"),
}

#: Schedule names that :func:`get_schedule` accepts (besides the q=<float> forms it documents).
SCHEDULES: tuple[str, ...] = (
    ("ib", "cb", "cr", "sqrt", "switching")
    + tuple(f"{a}-{b}" for a in _NAMED for b in _NAMED)
    + ("ib-cb5-cr", "ib-cr5-cb")
)

_Q_TOKEN = r"q=[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?"
_TOKEN = rf"(?:ib|cb|cr|sqrt|{_Q_TOKEN})"
_GRAMMAR = re.compile(rf"^({_TOKEN})(?:-({_TOKEN})(?:(\d+)-({_TOKEN}))?)?$")


def _phase(token: str, start: int) -> Phase:
    q, canonical = parse_sampler(token)
    return Phase(start, canonical, q)


def get_schedule(name: str, recipe: Recipe | int) -> Schedule:
    """The sampler schedule ``name`` for ``recipe`` (Algorithm 1; Tables 6 and 7).

    Parameters
    ----------
    name : str
        One of :data:`SCHEDULES` (case-insensitive):

        - ``"ib"``, ``"cb"``, ``"cr"``, ``"sqrt"``: one sampler for the whole run;
        - ``"switching"``: Algorithm 1, IB then CR from epoch m_n + S + 1 (same as ``"ib-cr"``);
        - ``"<first>-<second>"`` for first, second in {ib, cb, cr, sqrt} (Table 6): the
          second sampler from epoch m_n + S + 1;
        - ``"ib-cb5-cr"``, ``"ib-cr5-cb"`` (Table 7): the middle sampler for 5 epochs from
          m_n + S + 1, then the third.

        Any sampler token may also be ``q=<float>`` (e.g. ``"ib-q=-0.5"``), and the middle
        duration any number of epochs (``"ib-cb3-cr"``).
    recipe : Recipe or int
        Supplies m_n (last milestone; 0 if none) and S (``switch_offset``); or, for a training
        loop of the user's own, the switch epoch m_n + S + 1 itself (an int >= 1).

    Returns
    -------
    Schedule
        Not yet checked against the run length: call ``Schedule.validate(epochs)``.
    """
    if isinstance(recipe, Recipe):
        switch = recipe.switch_epoch
    elif isinstance(recipe, (int, np.integer)) and not isinstance(recipe, (bool, np.bool_)):
        switch = check_positive_int(recipe, "switch epoch (recipe given as an int)", minimum=1)
    else:
        raise ValueError(f"recipe must be a Recipe or the switch epoch (int >= 1), got {type(recipe).__name__}")
    key = name.strip().lower() if isinstance(name, str) else None
    if key == "switching":
        key_phases = ("ib", "cr", None, None)
    else:
        m = _GRAMMAR.match(key) if key else None
        if m is None or (m.group(3) is not None and int(m.group(3)) < 1):
            raise ValueError(f"unknown schedule {name!r}; choose one of {list(SCHEDULES)}, or "
                             "'<a>', '<a>-<b>', '<a>-<b><K>-<c>' with samplers in {ib, cb, cr, sqrt, q=<float>}")
        key_phases = m.groups()
    first, second, middle_len, third = key_phases
    phases = [_phase(first, 1)]
    if second is not None:
        phases.append(_phase(second, switch))
    if third is not None:
        phases.append(_phase(third, switch + int(middle_len)))
    return Schedule(name=key, phases=tuple(phases))


def lr_at(recipe: Recipe, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Learning rate of step ``step`` (0-based) of epoch ``epoch`` (1-based).

    ``lr * gamma ** #{m in milestones : epoch > m}``, times the warm-up factor
    ``(s + 1) / (warmup_epochs * steps_per_epoch)`` for global step
    ``s = (epoch - 1) * steps_per_epoch + step`` inside the warm-up. The warm-up factor is 1
    at the last warm-up step, and equals the reference code's per-epoch ``lr * epoch / 5``
    at the last step of each warm-up epoch. The trainer asks :func:`epoch_lrs` once per
    epoch instead (checked once, not at every step).
    """
    if not isinstance(recipe, Recipe):
        raise ValueError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    e = check_positive_int(epoch, "epoch", minimum=1)
    spe = check_positive_int(steps_per_epoch, "steps_per_epoch", minimum=1)
    s = check_positive_int(step, "step", minimum=0)
    if s >= spe:
        raise ValueError(f"step must lie in [0, steps_per_epoch) = [0, {spe}), got {s}")
    return _lr(recipe, e, s, spe)


def epoch_lrs(recipe: Recipe, epoch: int, steps_per_epoch: int) -> list[float]:
    """The learning rate of every step of epoch ``epoch``: ``[lr_at(recipe, epoch, s, steps) for s]``.

    Returns a list of ``steps_per_epoch`` host floats (setting one on the optimiser reads
    nothing from the device).
    """
    if not isinstance(recipe, Recipe):
        raise ValueError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    e = check_positive_int(epoch, "epoch", minimum=1)
    spe = check_positive_int(steps_per_epoch, "steps_per_epoch", minimum=1)
    return [_lr(recipe, e, s, spe) for s in range(spe)]


def _lr(recipe: Recipe, epoch: int, step: int, steps_per_epoch: int) -> float:
    """:func:`lr_at` on checked arguments."""
    lr = recipe.lr * recipe.gamma ** sum(1 for m in recipe.milestones if epoch > m)
    warm_steps = recipe.warmup_epochs * steps_per_epoch
    global_step = (epoch - 1) * steps_per_epoch + step
    if global_step < warm_steps:
        lr *= (global_step + 1) / warm_steps
    return float(lr)


# ----------------------------------------------------------------------------- data set defaults
#: Data set names the trainer knows (:func:`ltbound.train.data.datasets.load_dataset`).
DATASETS: tuple[str, ...] = ("digits-lt", "cifar10-lt", "cifar100-lt", "image-folder")

#: ``imbalance=None`` in a training run: the data set's usual imbalance (digits 20, CIFAR 100;
#: an image folder is kept as it is).
DEFAULT_IMBALANCE: dict[str, float | None] = {"digits-lt": 20.0, "cifar10-lt": 100.0, "cifar100-lt": 100.0,
                                              "image-folder": None}


def _is_digits(dataset: str) -> bool:
    return dataset.lower().startswith("digits")


def default_preset(dataset: str) -> str:
    """The recipe of :data:`PRESETS` a data set trains with unless told otherwise: 'digits' or 'cifar'."""
    return "digits" if _is_digits(dataset) else "cifar"


def default_imbalance(dataset: str) -> float | None:
    """The imbalance n_max / n_min a data set is made long-tailed with unless told otherwise."""
    return DEFAULT_IMBALANCE.get(dataset, 20.0 if _is_digits(dataset) else 100.0)
