"""ClassSampler: Eq. 1 class frequencies, without-replacement pools, determinism and sharding."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from ltbound.bounds.sampling import sampling_distribution
from ltbound.train.data.sampler import ClassSampler

# A small long-tailed label vector, classes interleaved (not sorted) as in a real data set.
COUNTS = np.array([200, 90, 40, 15, 6, 3])
LABELS = np.random.default_rng(0).permutation(np.repeat(np.arange(6), COUNTS))


@pytest.mark.parametrize("q", ["SQRT", "CB", "CR", -2.0, 0.3])
def test_class_frequencies_follow_eq1(q):
    """Classes are drawn i.i.d. from p_j(q) = n_j^q / sum_i n_i^q (Eq. 1): chi-square at a fixed seed."""
    s = ClassSampler(LABELS, q, num_samples=20_000, seed=5)
    observed = np.bincount(LABELS[s.global_indices(1).numpy()], minlength=6)
    expected = sampling_distribution(COUNTS, q) * 20_000
    assert np.allclose(s.probabilities, expected / 20_000)
    assert chisquare(observed, expected).pvalue > 1e-3


def test_chi_square_would_catch_the_wrong_distribution():
    """The frequency check can fail: CR draws are far from the CB distribution."""
    s = ClassSampler(LABELS, "CR", num_samples=20_000, seed=5)
    observed = np.bincount(LABELS[s.global_indices(1).numpy()], minlength=6)
    assert chisquare(observed, sampling_distribution(COUNTS, "CB") * 20_000).pvalue < 1e-10


@pytest.mark.parametrize("q", ["CB", "CR", "SQRT"])
def test_no_repeat_within_a_class_until_its_pool_is_exhausted(q):
    """Algorithm 1, line 9: uniform pick without replacement; the pool refills after n_j picks."""
    s = ClassSampler(LABELS, q, num_samples=3000, seed=2)
    stream = s.global_indices(4).numpy()
    refilled = 0
    for j, n_j in enumerate(COUNTS):
        picks = stream[LABELS[stream] == j]
        assert np.all(LABELS[picks] == j)
        for start in range(0, picks.size, n_j):
            block = picks[start:start + n_j]
            assert np.unique(block).size == block.size
            if block.size == n_j:  # a full pool is a permutation of the class
                assert np.array_equal(np.sort(block), np.flatnonzero(LABELS == j))
                refilled += 1
    assert refilled > 10  # tail classes were refilled many times


def test_ib_is_a_permutation_of_all_indices():
    s = ClassSampler(LABELS, "IB", seed=3)
    stream = s.global_indices(7)
    assert stream.dtype == torch.int64 and stream.shape == (LABELS.size,)
    assert torch.equal(torch.sort(stream).values, torch.arange(LABELS.size))
    assert not torch.equal(stream, torch.arange(LABELS.size))
    assert s.sampler == "IB" and s.q == 1.0


def test_ib_with_more_draws_concatenates_permutations():
    s = ClassSampler(LABELS, 1.0, num_samples=2 * LABELS.size + 5, seed=3)
    stream = s.global_indices(0).numpy()
    n = LABELS.size
    for part in (stream[:n], stream[n:2 * n]):
        assert np.array_equal(np.sort(part), np.arange(n))
    assert np.unique(stream[2 * n:]).size == 5


def test_same_seed_and_epoch_same_stream_other_epoch_or_seed_differs():
    a = ClassSampler(LABELS, "CR", seed=11)
    b = ClassSampler(torch.from_numpy(LABELS), "CR", seed=11)
    assert torch.equal(a.global_indices(3), b.global_indices(3))
    assert torch.equal(a.global_indices(3), a.global_indices(3))  # no hidden state
    assert not torch.equal(a.global_indices(3), a.global_indices(4))
    assert not torch.equal(a.global_indices(3), ClassSampler(LABELS, "CR", seed=12).global_indices(3))
    a.set_epoch(3)
    assert list(a) == a.global_indices(3).tolist()


def test_torch_global_rng_is_untouched():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    ClassSampler(LABELS, "CB", seed=1).global_indices(2)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("world_size, num_samples", [(1, 354), (2, 354), (3, 100), (4, 354), (7, 5)])
def test_rank_slices_are_disjoint_and_cover_the_global_stream(world_size, num_samples):
    shards = []
    for rank in range(world_size):
        s = ClassSampler(LABELS, "CR", num_samples=num_samples, seed=9, rank=rank, world_size=world_size)
        s.set_epoch(2)
        shard = list(s)
        assert len(shard) == len(s) == math.ceil(num_samples / world_size)
        shards.append(shard)
    total = len(shards[0]) * world_size
    # reassemble the padded stream: position r + k * world_size came from rank r
    padded = [shards[p % world_size][p // world_size] for p in range(total)]
    stream = ClassSampler(LABELS, "CR", num_samples=num_samples, seed=9).global_indices(2).tolist()
    assert padded[:num_samples] == stream
    assert padded[num_samples:] == stream[: total - num_samples]  # padding wraps around
    # each stream slot goes to exactly one rank
    slots = sorted(p for r in range(world_size) for p in range(r, total, world_size))
    assert slots == list(range(total))


def test_len_defaults_to_n_and_repr():
    s = ClassSampler(LABELS, "SQRT")
    assert len(s) == LABELS.size == s.num_samples
    assert "SQRT" in repr(s)


@pytest.mark.parametrize("q, name", [("cr", "CR"), ("q=0.25", "q=0.25"), (0.0, "CB"), (-3, "q=-3")])
def test_q_forms(q, name):
    s = ClassSampler(LABELS, q)
    assert s.sampler == name


def test_one_class_and_single_example_classes():
    s = ClassSampler(np.zeros(5, dtype=int), "CR", num_samples=12)
    assert sorted(s.global_indices(0).tolist()[:5]) == list(range(5))
    y = np.array([0, 0, 0, 1, 2])
    stream = ClassSampler(y, "CR", num_samples=50, seed=1).global_indices(0).numpy()
    assert set(stream[y[stream] == 1]) == {3} and set(stream[y[stream] == 2]) == {4}


def test_large_inputs_are_fast_enough():
    y = np.random.default_rng(1).integers(0, 1000, 200_000)
    s = ClassSampler(y, "CR", seed=0)
    stream = s.global_indices(1)
    assert stream.shape == (200_000,) and int(stream.max()) < 200_000


@pytest.mark.parametrize("kwargs, match", [
    (dict(labels=LABELS, q=float("nan")), "q must be finite"),
    (dict(labels=LABELS, q="ROS"), "sampler must be one of"),
    (dict(labels=LABELS, q="q=abc"), "q=<float>"),
    (dict(labels=LABELS, q="CR", rank=2, world_size=2), r"rank must be an integer in \[0, world_size\)"),
    (dict(labels=LABELS, q="CR", rank=-1), "rank"),
    (dict(labels=LABELS, q="CR", world_size=0), "world_size"),
    (dict(labels=LABELS, q="CR", num_samples=0), "num_samples"),
    (dict(labels=LABELS, q="CR", seed=-1), "seed must be an integer >= 0"),
    (dict(labels=np.array([0, 2, 2]), q="CR"), r"empty classes \[1\]"),
    (dict(labels=np.array([0, 1, 1]), q="CR", num_classes=3), r"empty classes \[2\]"),
    (dict(labels=np.array([0, -1]), q="CR"), "non-negative"),
    (dict(labels=np.array([]), q="CR"), "non-empty"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassSampler(**kwargs)


def test_bad_epoch_is_refused():
    s = ClassSampler(LABELS, "CR")
    with pytest.raises(ValueError, match="epoch"):
        s.set_epoch(-1)
    with pytest.raises(ValueError, match="epoch"):
        s.global_indices(1.5)


def test_one_reader_of_the_sampler_vocabulary():
    """Schedules, the sampler and the bounds read 'IB'/'cr'/'q=0.5'/numbers with ltbound.bounds.sampling.parse_sampler."""
    from ltbound.bounds.sampling import parse_sampler
    from ltbound.schedule import get_schedule, PRESETS
    assert parse_sampler(" cr ") == (-1.0, "CR") and parse_sampler(0.5) == (0.5, "SQRT")
    assert parse_sampler("q=0.50") == (0.5, "q=0.5") and parse_sampler(-0.25) == (-0.25, "q=-0.25")
    for spec in ("cr", "q=-0.5", 0.0):
        q, name = parse_sampler(spec)
        s = ClassSampler(LABELS, spec)
        assert (s.q, s.sampler) == (q, name)
    np.testing.assert_array_equal(sampling_distribution(COUNTS, "q=0.5"), sampling_distribution(COUNTS, "sqrt"))
    phase = get_schedule("ib-q=-0.5", PRESETS["cifar"]).phases[1]
    assert (phase.q, phase.sampler) == parse_sampler("q=-0.5")
    for bad in ("ROS", "q=abc", "q=nan", float("inf")):
        with pytest.raises(ValueError):
            parse_sampler(bad)


# ----------------------------------------------------------------------------- ScheduleSampler
def test_schedule_sampler_streams_are_the_phase_samplers_streams():
    """Switching at epoch 4: epochs 1-3 are IB's stream, 4-6 CR's, each seeded by (seed, epoch)."""
    from ltbound.train.data.sampler import ScheduleSampler
    s = ScheduleSampler(LABELS, "switching", switch_epoch=4, seed=7, rank=1, world_size=2)
    for epoch in range(1, 7):
        q = 1.0 if epoch < 4 else -1.0
        s.set_epoch(epoch)
        expected = ClassSampler(LABELS, q, seed=7, rank=1, world_size=2).rank_indices(epoch)
        assert torch.equal(torch.tensor(list(s)), expected), epoch
        assert s.sampler_at().q == q and len(s) == expected.numel()


def test_schedule_sampler_three_phases_and_a_schedule_object():
    from ltbound.schedule import PRESETS, get_schedule
    from ltbound.train.data.sampler import ScheduleSampler
    by_name = ScheduleSampler(LABELS, "ib-cb5-cr", switch_epoch=32)
    by_object = ScheduleSampler(LABELS, get_schedule("ib-cb5-cr", PRESETS["cifar-short"]))
    assert [by_name.sampler_at(e).sampler for e in (31, 32, 36, 37)] == ["IB", "CB", "CB", "CR"]
    for e in (1, 31, 32, 36, 37, 60):
        assert torch.equal(by_name.rank_indices(e), by_object.rank_indices(e))


def test_schedule_sampler_drives_a_dataloader():
    from ltbound.train.data.sampler import ScheduleSampler
    data = torch.utils.data.TensorDataset(torch.arange(LABELS.size), torch.from_numpy(LABELS))
    s = ScheduleSampler(LABELS, "switching", switch_epoch=2, seed=0)
    loader = torch.utils.data.DataLoader(data, batch_size=50, sampler=s)
    counts = []
    for epoch in (1, 2):
        s.set_epoch(epoch)
        ys = torch.cat([y for _, y in loader])
        counts.append(torch.bincount(ys, minlength=COUNTS.size).numpy())
    np.testing.assert_array_equal(counts[0], COUNTS)            # IB: every example once
    assert counts[1][-1] > counts[1][0]                          # CR: the tail drawn most


@pytest.mark.parametrize("kwargs, match", [
    (dict(schedule="switching"), "needs switch_epoch"),
    (dict(schedule="switching", switch_epoch=0), "switch epoch"),
    (dict(schedule="nonsense", switch_epoch=3), "unknown schedule"),
    (dict(schedule=3.0), "schedule must be"),
])
def test_schedule_sampler_bad_arguments(kwargs, match):
    from ltbound.train.data.sampler import ScheduleSampler
    with pytest.raises(ValueError, match=match):
        ScheduleSampler(LABELS, **kwargs)
    s = ScheduleSampler(LABELS, "switching", switch_epoch=3)
    with pytest.raises(ValueError, match="epoch"):
        s.set_epoch(0)


def test_schedule_sampler_is_the_trainers_stream_bitwise(tmp_path, monkeypatch):
    """A user's ScheduleSampler built from a name and a switch epoch gives the indices the trainer
    trained with (captured from the trainer's own sampler), epoch by epoch, bitwise."""
    from ltbound.train import TrainConfig, train
    from ltbound.train.data import sampler as sampler_mod
    from ltbound.records import load_record
    seen = {}
    original = sampler_mod.ScheduleSampler.rank_indices

    def capture(self, epoch=None):
        out = original(self, epoch)
        seen[epoch] = out.clone()
        return out
    monkeypatch.setattr(sampler_mod.ScheduleSampler, "rank_indices", capture)
    out = train(TrainConfig(out=tmp_path / "run", dataset="digits-lt", schedule="switching", epochs=4,
                            milestones=[2], warmup_epochs=0, seed=3, quiet=True))
    rec = load_record(out)
    labels = rec.train_labels
    monkeypatch.undo()
    user = sampler_mod.ScheduleSampler(labels, "switching", switch_epoch=4, seed=3)
    assert sorted(seen) == [1, 2, 3, 4]
    for epoch, indices in seen.items():
        user.set_epoch(epoch)
        assert torch.equal(torch.tensor(list(user)), indices), epoch
        # and the class counts the record keeps for that epoch
        assert rec.history[epoch - 1]["class_draws"] == np.bincount(labels[indices.numpy()],
                                                                     minlength=labels.max() + 1).tolist()
