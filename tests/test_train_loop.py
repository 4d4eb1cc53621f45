"""The trainer end to end: augmentation, a few-epoch digits run and its record, validation, CIFAR subset."""
import json

import numpy as np
import pytest
import torch

from ltbound.records import load_record
from ltbound.bounds.sampling import shot_groups
from ltbound.train.data.augment import batch_crop_flip, normalize
from ltbound.schedule import PRESETS, lr_at
from ltbound.train.loop.trainer import TrainConfig, checkpoint_epochs, train

# A 4-epoch switching run: warm-up 1 epoch, lr x0.1 after epoch 2, S = 1, so IB for
# epochs 1-3 (m_n + S = 3) and CR from epoch 4 (Algorithm 1, line 4).
SHORT = dict(epochs=4, milestones=[2], switch_offset=1, warmup_epochs=1, progress=False)


# ----------------------------------------------------------------------------- augmentation
def _windows(img, pad):
    padded = torch.nn.functional.pad(img, (pad, pad, pad, pad))
    h, w = img.shape[-2:]
    return [padded[:, dy:dy + h, dx:dx + w] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)]


def test_crop_flip_output_is_a_zero_padded_window_possibly_flipped():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8, generator=g)   # no zeros in the image
    out = batch_crop_flip(x, torch.Generator().manual_seed(1), padding=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    flipped = 0
    for i in range(x.shape[0]):
        cands = _windows(x[i], 2)
        plain = any(torch.equal(out[i], c) for c in cands)
        mirror = any(torch.equal(out[i], c.flip(-1)) for c in cands)
        assert plain or mirror, f"image {i} is not a crop of its padded source"
        flipped += int(mirror and not plain)
    assert 10 < flipped < 54          # about half are flipped (64 draws of p = 1/2)


def test_crop_offsets_cover_every_shift_and_pad_with_zeros():
    x = torch.full((2000, 1, 4, 4), 7, dtype=torch.uint8)
    out = batch_crop_flip(x, torch.Generator().manual_seed(0), padding=4, flip=False)
    # zero rows on top = vertical offset below 4; the count of zero rows identifies the shift
    zero_rows = (out[:, 0] == 0).all(dim=2).sum(dim=1)
    assert set(zero_rows.tolist()) == {0, 1, 2, 3, 4}
    assert (out == 0).any() and (out == 7).any() and set(out.unique().tolist()) <= {0, 7}


def test_augmentation_is_reproducible_from_the_generator_seed():
    x = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    a = batch_crop_flip(x, torch.Generator().manual_seed(5))
    b = batch_crop_flip(x, torch.Generator().manual_seed(5))
    c = batch_crop_flip(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_normalize_matches_the_formula():
    x = torch.tensor([[[[0, 255], [51, 102]]]], dtype=torch.uint8)
    out = normalize(x, torch.tensor([0.2]), torch.tensor([0.5]))
    np.testing.assert_allclose(out.numpy().ravel(), (np.array([0, 255, 51, 102]) / 255 - 0.2) / 0.5, rtol=1e-6)


def test_crop_refuses_bad_input():
    with pytest.raises(ValueError, match="images must have shape"):
        batch_crop_flip(torch.zeros(3, 8, 8, dtype=torch.uint8), torch.Generator())
    with pytest.raises(ValueError, match="padding"):
        batch_crop_flip(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.Generator(), padding=-1)


# ----------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits-switching"
    train(TrainConfig(out=out, **SHORT))
    return out


def test_digits_record_has_every_field(digits_run):
    rec = load_record(digits_run)
    m = rec.manifest
    assert rec.complete and m["epochs_completed"] == 4 and rec.epochs.tolist() == [1, 2, 3, 4]
    n, mt = rec.n, rec.test_labels.size
    c = m["dataset"]["num_classes"]
    assert c == 10 and n == sum(m["dataset"]["counts"]) == m["dataset"]["n_train"]
    assert rec.train_loss.shape == (4, n) and rec.train_loss.dtype == np.float32
    assert rec.train_correct.shape == (4, n) and rec.train_correct.dtype == bool
    assert rec.test_correct.shape == (4, mt) and rec.test_loss.shape == (4, mt)
    assert np.all(rec.train_loss >= 0) and np.all(np.isfinite(rec.train_loss))
    np.testing.assert_array_equal(np.bincount(rec.train_labels, minlength=c), m["dataset"]["counts"])
    # schedule and sampler per epoch: IB through epoch m_n + S = 3, CR from 4
    assert m["schedule"] == [{"start_epoch": 1, "sampler": "IB", "q": 1.0},
                             {"start_epoch": 4, "sampler": "CR", "q": -1.0}]
    assert rec.sampler == ["IB", "IB", "IB", "CR"] and rec.q.tolist() == [1.0, 1.0, 1.0, -1.0]
    # learning rate per epoch (the last step's): warm-up ends in epoch 1, x0.1 after epoch 2
    recipe = PRESETS["digits"].replace(epochs=4, milestones=(2,), switch_offset=1, warmup_epochs=1)
    steps = [h["steps"] for h in rec.history]
    assert steps == [int(np.ceil(n / recipe.batch_size))] * 4       # last partial batch kept
    expected_lr = [lr_at(recipe, e, steps[e - 1] - 1, steps[e - 1]) for e in range(1, 5)]
    np.testing.assert_allclose(rec.lr, expected_lr)
    np.testing.assert_allclose(rec.lr, [0.05, 0.05, 0.005, 0.005])
    assert rec.history[0]["lr_start"] == pytest.approx(0.05 / steps[0])
    # history: one entry per epoch with consistent summaries
    assert len(rec.history) == 4 and [h["epoch"] for h in rec.history] == [1, 2, 3, 4]
    counts = np.asarray(m["dataset"]["counts"])
    groups = shot_groups(counts)
    for i, h in enumerate(rec.history):
        assert h["samples"] == n
        for key in ("train_acc", "test_acc", "test_balanced_acc"):
            assert 0.0 <= h[key] <= 1.0
        assert h["test_acc"] == pytest.approx(rec.test_correct[i].mean())
        assert h["train_acc"] == pytest.approx(rec.train_correct[i].mean())
        assert h["mean_train_loss"] == pytest.approx(rec.train_loss[i].mean(), rel=1e-3)
        per = np.asarray(h["test_acc_per_class"], dtype=float)
        assert per.shape == (c,) and np.all((per >= 0) & (per <= 1))
        np.testing.assert_allclose(per, rec.per_class_test_accuracy()[i])
        for g, idx in groups.items():
            want = per[idx].mean() if idx.size else None
            assert (h["test_acc_groups"][g] is None) if want is None else h["test_acc_groups"][g] == pytest.approx(want)
        assert h["seconds"] > 0 and h["eval_seconds"] > 0 and h["running_loss"] > 0
        assert h["cpu_seconds"] > 0 and h["eval_cpu_seconds"] > 0     # process CPU time, load-independent
    # training works: the final model fits most training samples
    assert rec.history[-1]["train_acc"] > 0.6
    # config, environment, timings, checkpoints
    cfg = m["config"]
    assert cfg["schedule"] == "switching" and cfg["preset"] == "digits" and cfg["imbalance"] == 20.0
    assert cfg["milestones"] == [2] and cfg["model"] == "digits_net" and "out" not in cfg
    env = m["environment"]
    assert env["torch"] == torch.__version__ and env["device"] == "cpu" and env["world_size"] == 1
    assert "hostname" not in json.dumps(env).lower()
    assert [t["epoch"] for t in m["timings"]["per_epoch"]] == [1, 2, 3, 4] and m["timings"]["total_seconds"] > 0
    assert m["checkpoint_epochs"] == [3, 4]           # the last IB epoch and the end
    for e in (3, 4):
        ck = torch.load(digits_run / "checkpoints" / f"epoch_{e:04d}.pt", weights_only=True)
        assert ck["epoch"] == e and ck["model_name"] == "digits_net"
    assert not (digits_run / "checkpoints" / "epoch_0002.pt").exists()
    assert (digits_run / "state.pt").is_file()
    assert rec.final_stage_epochs().tolist() == [4]


def test_checkpoint_reproduces_recorded_losses(digits_run):
    """The saved model of the final epoch gives the record's per-sample losses (theta.loss_matrix)."""
    from ltbound.train.data.datasets import load_dataset
    from ltbound.train.loop.models import build_model
    from ltbound.train.loss_matrices.theta import loss_matrix
    rec = load_record(digits_run)
    ds = load_dataset("digits-lt", imbalance=20.0)
    mat = loss_matrix(build_model("digits_net", 10), [digits_run / "checkpoints" / "epoch_0004.pt"],
                      ds.train.images, ds.train.labels, mean=ds.mean, std=ds.std)
    np.testing.assert_allclose(mat[0], rec.train_loss[-1], rtol=2 ** -10, atol=1e-4)


def test_same_seed_same_record_other_seed_other_record(digits_run, tmp_path):
    train(TrainConfig(out=tmp_path / "again", **SHORT))
    train(TrainConfig(out=tmp_path / "seed1", seed=1, **SHORT))
    a, b, c = (load_record(p) for p in (digits_run, tmp_path / "again", tmp_path / "seed1"))
    for field in ("train_loss", "train_correct", "test_correct", "test_loss"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.train_loss, c.train_loss)


@pytest.mark.parametrize("kwargs, match", [
    (dict(imbalance=0.5), "imbalance must be >= 1"),
    (dict(preset="mnist"), "preset must be one of"),
    (dict(schedule="ib-xx"), "unknown schedule"),
    (dict(epochs=3), "switch epoch 4 is beyond the run's 3 epochs"),
    (dict(batch_size=100000), "larger than the training set"),
    (dict(amp="fp8"), "amp must be one of"),
    (dict(checkpoint_epochs="switch,99"), "must be an epoch in 1..4"),
    (dict(checkpoint_epochs="middle"), "checkpoint_epochs must list"),
    (dict(device="tpu"), "device must be"),
    (dict(device="cpu", cuda_graphs=True), "cuda_graphs needs a CUDA device"),
    (dict(seed=-1), "seed must be"),
    (dict(dataset="mnist-lt"), "name must be one of"),
    (dict(lr=0.0), "lr must be > 0"),
])
def test_bad_settings_fail_before_any_work(tmp_path, kwargs, match):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=match):
        train(TrainConfig(out=out, **(SHORT | kwargs)))
    assert not out.exists() or not any(out.iterdir())     # nothing written


def test_cuda_request_without_cuda_is_refused(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here; the refusal is for machines without it")
    with pytest.raises(ValueError, match="CUDA is not available"):
        train(TrainConfig(out=tmp_path / "run", device="cuda", **SHORT))


def test_output_folder_with_another_run_or_other_files_is_refused(digits_run, tmp_path):
    with pytest.raises(ValueError, match="already holds a run record"):
        train(TrainConfig(out=digits_run, **SHORT))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no run record"):
        train(TrainConfig(out=tmp_path / "junk", **SHORT))
    assert sorted(p.name for p in (tmp_path / "junk").iterdir()) == ["notes.txt"]


def test_checkpoint_epoch_spec_parsing():
    from ltbound.schedule import get_schedule
    recipe = PRESETS["cifar"]
    sched = get_schedule("ib-cb5-cr", recipe)            # switches at 102 and 107
    assert checkpoint_epochs("switch,end", 200, sched) == [101, 106, 200]
    assert checkpoint_epochs([5, 50], 200, sched) == [5, 50]
    assert checkpoint_epochs("none", 200, sched) == []
    assert checkpoint_epochs("all", 3, get_schedule("ib", recipe.replace(epochs=3))) == [1, 2, 3]
    assert checkpoint_epochs("switch", 200, get_schedule("ib", recipe)) == []


def test_reference_pipeline_gives_a_record_of_the_same_layout(digits_run, tmp_path):
    """fast=False (DataLoader + PIL transforms) trains on the same sample stream and writes the same layout."""
    out = train(TrainConfig(out=tmp_path / "ref", fast=False, workers=0, **SHORT))
    # The fast pipeline trains under bf16 autocast where the CPU has native kernels; the
    # reference pipeline in float32, so compare with a float32 fast run.
    fast32 = train(TrainConfig(out=tmp_path / "fast32", amp="off", **SHORT))
    a, b = load_record(fast32), load_record(out)
    assert b.train_loss.shape == a.train_loss.shape and b.test_correct.shape == a.test_correct.shape
    assert b.sampler == a.sampler and [h["steps"] for h in b.history] == [h["steps"] for h in a.history]
    assert b.manifest["environment"]["pipeline"] == "reference"
    # digits use no augmentation, so both pipelines see identical batches: same training
    np.testing.assert_allclose(b.train_loss, a.train_loss, rtol=1e-3, atol=1e-3)


def test_amp_auto_follows_the_cpu_and_evaluation_stays_float32(digits_run, tmp_path):
    """amp="auto" trains in bf16 exactly where the CPU has native bf16 kernels; "off" never does."""
    from ltbound.train.loop.trainer import cpu_bf16_supported
    env = load_record(digits_run).manifest["environment"]
    assert env["amp"] == ("bf16" if cpu_bf16_supported() else "off")
    assert env["eval_precision"] == "float32" and env["eval_batch_size"] == 128
    off = load_record(train(TrainConfig(out=tmp_path / "off", amp="off", **SHORT)))
    assert off.manifest["environment"]["amp"] == "off"


@pytest.mark.slow
def test_short_cifar_subset_run(cifar_subset_dir, tmp_path):
    """ResNet-32 on a small CIFAR-10 JPEG subset: crop+flip path, 32x32 RGB, two epochs."""
    out = train(TrainConfig(out=tmp_path / "c10", dataset="cifar10-lt", data_dir=str(cifar_subset_dir),
                            imbalance=10, max_test_per_class=10, epochs=2, milestones=[1], switch_offset=0,
                            warmup_epochs=0, batch_size=64, eval_batch_size=256, progress=False))
    rec = load_record(out)
    m = rec.manifest
    assert m["dataset"]["augment"] == "crop-flip" and m["dataset"]["image_shape"] == [3, 32, 32]
    assert m["config"]["model"] == "resnet32" and m["dataset"]["counts"][0] == 60
    assert rec.train_loss.shape == (2, rec.n) and rec.test_correct.shape == (2, 100)
    assert rec.sampler == ["IB", "CR"] and m["checkpoint_epochs"] == [1, 2]
    assert all(0.0 <= h["test_acc"] <= 1.0 for h in rec.history)
