"""Data-parallel training: ranks draw disjoint slices of one global stream; the record matches a single process's.

The multi-process test runs the real entry point under ``torchrun`` with two CPU processes
and the gloo backend.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ltbound.records import load_record
from ltbound.train.data.datasets import load_dataset
from ltbound.train.data.sampler import ClassSampler
from ltbound.train.loop.trainer import TrainConfig, train

SHORT_ARGS = ["--epochs", "4", "--milestones", "2", "--switch-offset", "1", "--warmup-epochs", "1", "--no-progress"]
SHORT = dict(epochs=4, milestones=[2], switch_offset=1, warmup_epochs=1, progress=False)
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("q", [1.0, -1.0])
def test_rank_slices_are_disjoint_and_their_batches_tile_the_global_batches(q):
    """Rank r trains on global[r::W]; its k-th batch of B/W samples and the other ranks' k-th
    batches are together exactly the k-th global batch of B (so W processes see the single
    process's batches, split)."""
    labels = load_dataset("digits-lt", imbalance=20.0).train.labels
    world, batch, epoch = 2, 32, 3
    glob = ClassSampler(labels, q, seed=7).global_indices(epoch)
    shards = [ClassSampler(labels, q, seed=7, rank=r, world_size=world).rank_indices(epoch) for r in range(world)]
    positions = [np.arange(len(glob))[r::world] for r in range(world)]
    assert not set(positions[0]) & set(positions[1])
    assert sorted(np.concatenate(positions).tolist()) == list(range(len(glob)))     # n even: no padding
    for r in range(world):
        assert torch.equal(shards[r], glob[r::world])
    local = batch // world
    for k in range(int(np.ceil(len(glob) / batch))):
        parts = [s[k * local:(k + 1) * local] for s in shards]
        assert sorted(torch.cat(parts).tolist()) == sorted(glob[k * batch:(k + 1) * batch].tolist())


def test_batch_size_must_divide_over_ranks(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        train(TrainConfig(out=tmp_path / "run", **SHORT))          # digits batch 32, 3 ranks
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(ValueError, match="RANK=5 and WORLD_SIZE=3"):
        train(TrainConfig(out=tmp_path / "run", **SHORT))


@pytest.mark.slow
def test_two_process_gloo_run_matches_a_single_process_record(tmp_path):
    out_ddp = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "ltbound.train", "--device", "cpu", "--out", str(out_ddp), *SHORT_ARGS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    single = train(TrainConfig(out=tmp_path / "single", device="cpu", **SHORT))
    a, b = load_record(single), load_record(out_ddp)
    assert b.complete and b.manifest["environment"]["world_size"] == 2
    assert b.epochs.tolist() == a.epochs.tolist() == [1, 2, 3, 4]
    assert b.train_loss.shape == a.train_loss.shape and b.test_correct.shape == a.test_correct.shape
    np.testing.assert_array_equal(b.train_labels, a.train_labels)
    np.testing.assert_array_equal(b.test_labels, a.test_labels)
    assert b.sampler == a.sampler and b.lr.tolist() == a.lr.tolist()
    for ha, hb in zip(a.history, b.history):
        # the two ranks together drew exactly the single process's stream, class by class
        assert hb["class_draws"] == ha["class_draws"] and hb["samples"] == ha["samples"]
        assert hb["steps"] == ha["steps"]
        assert 0.0 <= hb["test_acc"] <= 1.0
    # only rank 0 wrote: one record, checkpoints at the last IB epoch and the end
    assert sorted(p.name for p in (out_ddp / "checkpoints").iterdir()) == ["epoch_0003.pt", "epoch_0004.pt"]
    # gradient averaging over the two halves of each batch trains as well as one process
    assert b.history[-1]["train_acc"] > 0.6
