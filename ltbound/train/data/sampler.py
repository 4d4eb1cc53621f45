"""One sampler for the whole q-family of class-sampling distributions (Eq. 1, Algorithm 1).

Sampling a training example is two steps (Sect. 3.1; Algorithm 1, lines 8-9): draw a
class j with probability p_j(q) = n_j^q / sum_i n_i^q (Eq. 1), then pick an example of
that class uniformly *without replacement*. :class:`ClassSampler` does both for a whole
epoch at once, vectorised over classes, from an explicit ``torch.Generator`` seeded by
(seed, epoch): the same seed and epoch give the same stream on every rank and every run.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
import torch

from ..._validation import check_counts, check_labels, check_positive_int, check_seed
from ...bounds.sampling import parse_sampler, sampling_distribution

#: Multiplier that separates the seeds of different epochs: generator seed = seed * K + epoch.
_EPOCH_STRIDE = 1_000_003


class ClassSampler(torch.utils.data.Sampler[int]):
    """Indices of one epoch of the q-sampler of Eq. 1, sharded over ranks.

    Parameters
    ----------
    labels : array_like or torch.Tensor of int, shape (n,)
        Training labels in [0, C); every class in [0, C) must occur (p_j(q) is undefined
        for an empty class when q < 0).
    q : float or str
        Exponent of Eq. 1, a sampler name ('IB' q=1, 'SQRT' 0.5, 'CB' 0, 'CR' -1) or
        'q=<float>'.
    num_samples : int, optional
        Draws per epoch (default n: an epoch has as many draws as there are examples).
    seed : int >= 0
        With the epoch, seeds the generator: ``seed * 1_000_003 + epoch``.
    rank, world_size : int
        This process's shard of the global stream, ``0 <= rank < world_size``.
    num_classes : int, optional
        C, when the last classes might be absent from ``labels`` (then an error is raised
        instead of silently sampling fewer classes).

    Attributes
    ----------
    q : float
    sampler : str
        "IB", "SQRT", "CB", "CR" or "q=<float>".
    probabilities : ndarray, shape (C,)
        p_j(q) of Eq. 1.
    counts : ndarray of int64, shape (C,)
        n_j.

    Notes
    -----
    - q = 1 (IB; Algorithm 1, line 5) is a uniformly random permutation of all n indices:
      every example exactly once per epoch (concatenated permutations if num_samples > n).
      This differs from the two-step draw with p_j = n_j / n, whose class counts would be
      multinomial instead of exactly n_j.
    - Other q: the class of each of the ``num_samples`` slots is drawn i.i.d. from
      p_j(q) (inverse CDF of float64 uniforms). Within class j, whose k_j slots are filled
      in slot order, the examples come from a pool: ceil(k_j / n_j) independent random
      permutations of the class's examples, concatenated, of which the first k_j are used.
      So no example of a class repeats until all of that class's examples have been
      drawn; then the pool refills. Pools start fresh every epoch (the stream of an epoch
      depends only on seed and epoch, not on earlier epochs).
    - Multi-process: every rank computes the same global stream, pads it by wrapping to a
      multiple of ``world_size`` and takes ``global[rank::world_size]``.
    """

    def __init__(self, labels: Any, q: float | str, *, num_samples: int | None = None, seed: int = 0,
                 rank: int = 0, world_size: int = 1, num_classes: int | None = None):
        if isinstance(labels, torch.Tensor):
            labels = labels.detach().cpu().numpy()
        c = None if num_classes is None else check_positive_int(num_classes, "num_classes")
        y = check_labels(labels, c)
        counts = np.bincount(y, minlength=c or 0).astype(np.int64)
        try:
            check_counts(counts, "class counts of labels")
        except ValueError as exc:
            raise ValueError(f"{exc}; ClassSampler needs every class in [0, {counts.size}) present") from None
        self.q, self.sampler = parse_sampler(q)
        self.labels = y
        self.counts = counts
        self.num_classes = int(counts.size)
        self.n = int(y.size)
        self.probabilities = sampling_distribution(counts, self.q)
        self.num_samples = self.n if num_samples is None else check_positive_int(num_samples, "num_samples")
        self.seed = check_seed(seed)
        self.world_size = check_positive_int(world_size, "world_size")
        if isinstance(rank, (bool, np.bool_)) or not isinstance(rank, (int, np.integer)) \
                or not 0 <= rank < self.world_size:
            raise ValueError(f"rank must be an integer in [0, world_size) = [0, {self.world_size}), got {rank!r}")
        self.rank = int(rank)
        self.epoch = 0
        # Class members in ascending position, grouped by class: members[offsets[j]:offsets[j+1]].
        self._members = torch.from_numpy(np.argsort(y, kind="stable").astype(np.int64))
        self._offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        self._counts_t = torch.from_numpy(counts)
        cdf = np.cumsum(self.probabilities)
        cdf[-1] = 1.0
        self._cdf = torch.from_numpy(cdf)

    # -------------------------------------------------------------------------- epochs
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose stream ``__iter__`` yields (call before each epoch)."""
        self.epoch = check_positive_int(epoch, "epoch", minimum=0)

    def generator(self, epoch: int | None = None) -> torch.Generator:
        """A fresh CPU generator seeded from (seed, epoch); no state carries over between calls."""
        e = self.epoch if epoch is None else check_positive_int(epoch, "epoch", minimum=0)
        g = torch.Generator()
        g.manual_seed((self.seed * _EPOCH_STRIDE + e) % (2**63))
        return g

    def global_indices(self, epoch: int | None = None) -> torch.Tensor:
        """The whole epoch's stream, shape (num_samples,), int64; identical on every rank."""
        g = self.generator(epoch)
        if self.q == 1.0:
            rounds = math.ceil(self.num_samples / self.n)
            perms = [torch.randperm(self.n, generator=g) for _ in range(rounds)]
            return torch.cat(perms)[: self.num_samples]
        # Step 1 (Eq. 1): class of every slot, by inverse CDF.
        u = torch.rand(self.num_samples, generator=g, dtype=torch.float64)
        cls = torch.searchsorted(self._cdf, u, right=True).clamp_(max=self.num_classes - 1)
        return self._fill_slots(cls, g)

    def _fill_slots(self, cls: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Step 2: for each class, examples without replacement (refilled pools), in slot order."""
        c = self.num_classes
        k = torch.bincount(cls, minlength=c)                      # slots per class, k_j
        n = self._counts_t
        rounds = (k + n - 1) // n                                 # ceil(k_j / n_j) permutations
        block_class = torch.repeat_interleave(torch.arange(c), rounds)        # one block per permutation
        block_len = n[block_class]
        total = int(block_len.sum())
        element_block = torch.repeat_interleave(torch.arange(block_class.numel()), block_len)
        block_start = torch.cumsum(block_len, 0) - block_len
        member = torch.arange(total) - block_start[element_block]             # i in [0, n_j)
        values = self._members[self._offsets[block_class[element_block]] + member]
        # A uniform permutation inside every block: order by random keys, then stably by block.
        keys = torch.rand(total, generator=g, dtype=torch.float64)
        by_key = torch.argsort(keys)
        order = by_key[torch.sort(element_block[by_key], stable=True).indices]
        pool = values[order]          # class by class; within a class, its permutations in turn
        # The first k_j entries of each class's pool go to its slots, in slot order.
        class_pool_start = torch.cumsum(rounds * n, 0) - rounds * n
        class_slot_start = torch.cumsum(k, 0) - k
        slot_class = torch.sort(cls, stable=True)
        rank_in_class = torch.arange(cls.numel()) - class_slot_start[slot_class.values]
        out = torch.empty_like(cls)
        out[slot_class.indices] = pool[class_pool_start[slot_class.values] + rank_in_class]
        return out

    # -------------------------------------------------------------------------- Sampler API
    @property
    def total_size(self) -> int:
        """Length of the padded global stream: a multiple of world_size."""
        return math.ceil(self.num_samples / self.world_size) * self.world_size

    def rank_indices(self, epoch: int | None = None) -> torch.Tensor:
        """This rank's slice of the (padded) global stream, shape (len(self),)."""
        stream = self.global_indices(epoch)
        if self.total_size != self.num_samples:
            stream = stream[torch.arange(self.total_size) % self.num_samples]
        return stream[self.rank:: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.rank_indices().tolist())

    def __len__(self) -> int:
        return self.total_size // self.world_size

    def __repr__(self) -> str:
        return (f"ClassSampler(sampler={self.sampler!r}, q={self.q:g}, n={self.n}, C={self.num_classes}, "
                f"num_samples={self.num_samples}, seed={self.seed}, rank={self.rank}/{self.world_size})")


class ScheduleSampler(torch.utils.data.Sampler[int]):
    """Algorithm 1's sampling for a training loop of your own: a sampler schedule as one Sampler.

    The paper's method is a change of sampler, not of model or loss: IB (q = 1) until the switch
    epoch m_n + S + 1, then CR (q = -1) (Algorithm 1, lines 4-9). Give this sampler to a
    ``torch.utils.data.DataLoader`` and call :meth:`set_epoch` before every epoch, as with
    ``torch.utils.data.distributed.DistributedSampler``; it yields the active phase's
    :class:`ClassSampler` stream for that epoch. The stream is the one ``ltbound.train`` trains
    with: the same (labels, schedule, seed, epoch, rank, world_size) give bitwise the same indices.

    Parameters
    ----------
    labels : array_like or torch.Tensor of int, shape (n,)
        Training labels in [0, C), every class present.
    schedule : Schedule or str
        A :class:`ltbound.schedule.Schedule`, or a schedule name of
        :data:`ltbound.schedule.SCHEDULES` ("switching", "ib-cb", "ib-cb5-cr", ...), which then
        needs ``switch_epoch``.
    switch_epoch : int, optional
        First epoch of the second sampler, m_n + S + 1 (e.g. 102 for the paper's CIFAR recipe:
        x0.1 after epoch 100, S = 1). Only with a schedule name.
    seed, rank, world_size, num_classes, num_samples
        As for :class:`ClassSampler` (the same seed for every phase: the stream of an epoch
        depends on seed, epoch and the phase's q only).

    Notes
    -----
    Epochs are 1-based, as in Algorithm 1 and the trainer: call ``set_epoch(1)`` before the
    first epoch. ``set_epoch(0)`` is refused because no phase holds epoch 0.
    """

    def __init__(self, labels: Any, schedule: Any, *, switch_epoch: int | None = None, seed: int = 0,
                 rank: int = 0, world_size: int = 1, num_classes: int | None = None,
                 num_samples: int | None = None):
        from ...schedule import Schedule, get_schedule
        if isinstance(schedule, Schedule):
            if switch_epoch is not None:
                raise ValueError("switch_epoch is only for a schedule given by name; a Schedule already "
                                 "holds its phases' start epochs")
            self.schedule = schedule
        elif isinstance(schedule, str):
            if switch_epoch is None:
                raise ValueError(f"schedule {schedule!r} given by name needs switch_epoch (m_n + S + 1, "
                                 "the first epoch of the second sampler)")
            self.schedule = get_schedule(schedule, switch_epoch)
        else:
            raise ValueError(f"schedule must be a Schedule or a schedule name, got {type(schedule).__name__}")
        # One ClassSampler per distinct q, built now so that bad labels fail here, not mid-run.
        first = ClassSampler(labels, self.schedule.phases[0].q, num_samples=num_samples, seed=seed, rank=rank,
                             world_size=world_size, num_classes=num_classes)
        self._samplers = {first.q: first}
        for phase in self.schedule.phases[1:]:
            if phase.q not in self._samplers:
                self._samplers[phase.q] = ClassSampler(first.labels, phase.q, num_samples=num_samples, seed=seed,
                                                       rank=rank, world_size=world_size,
                                                       num_classes=first.num_classes)
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        """Select the (1-based) epoch whose stream ``__iter__`` yields; call before each epoch."""
        self.epoch = check_positive_int(epoch, "epoch", minimum=1)

    def sampler_at(self, epoch: int | None = None) -> ClassSampler:
        """The :class:`ClassSampler` of the phase in force at ``epoch`` (default: the current one)."""
        e = self.epoch if epoch is None else check_positive_int(epoch, "epoch", minimum=1)
        return self._samplers[float(self.schedule.q_at(e))]

    def rank_indices(self, epoch: int | None = None) -> torch.Tensor:
        """This rank's indices for ``epoch`` (default: the current one), shape (len(self),)."""
        e = self.epoch if epoch is None else check_positive_int(epoch, "epoch", minimum=1)
        return self.sampler_at(e).rank_indices(e)

    def __iter__(self) -> Iterator[int]:
        return iter(self.rank_indices().tolist())

    def __len__(self) -> int:
        return len(next(iter(self._samplers.values())))

    def __repr__(self) -> str:
        phases = ", ".join(f"{p.sampler} from {p.start_epoch}" for p in self.schedule.phases)
        return f"ScheduleSampler({phases}; epoch {self.epoch})"
