"""Evaluation precision (issue 33): the opt-in bf16 evaluation, what it records and how far it moves the losses.

No timings here (they are in benchmarks/bench_epoch.py); the size of the differences on real
CIFAR-10-LT checkpoints is measured by benchmarks/eval_precision.py.
"""
import json

import numpy as np
import pytest
import torch

from ltbound.records import load_record
from ltbound.train.loop import distributed as D
from ltbound.train.loop.config import plan_run
from ltbound.train.loop.environment import cpu_bf16_supported
from ltbound.train.loop.evaluation import per_sample_losses
from ltbound.train.loop.trainer import TrainConfig, train

SHORT = dict(epochs=4, milestones=[2], switch_offset=1, warmup_epochs=1, progress=False, quiet=True)
native_bf16 = pytest.mark.skipif(not cpu_bf16_supported(), reason="the trainer's bf16 evaluation needs native "
                                 "bf16 CPU kernels (AVX-512 BF16 / AMX), which this CPU lacks")

#: Stated tolerance of bf16 against float32 evaluation on a small CNN: |Δ loss| <= ABS + REL * loss
#: per sample (bf16 keeps 8 significant bits, a relative rounding of 2^-9 = 0.2% per operation;
#: a few layers of it move a logit by about 1%, and the cross-entropy by about as much).
ABS, REL = 0.02, 0.05


def _small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1, stride=2), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10))


def test_bf16_losses_are_within_the_stated_tolerance_of_float32_on_a_small_cnn():
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (256, 3, 16, 16), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (256,), generator=g)
    net = _small_cnn()
    with torch.no_grad():                     # a less trivial model than the initialisation: scaled logits
        net[-1].weight.mul_(20.0)
    kw = dict(mean=[0.5] * 3, std=[0.25] * 3, batch_size=64)
    l32, c32 = per_sample_losses(net, images, labels, **kw)
    l16, c16 = per_sample_losses(net, images, labels, autocast_dtype=torch.bfloat16, **kw)
    assert l16.dtype == torch.float32 and c16.dtype == torch.bool   # the loss is computed from float32 logits
    diff = (l16 - l32).abs()
    assert float(diff.max()) > 0                                   # it did run in bf16
    assert bool((diff <= ABS + REL * l32).all()), float((diff - REL * l32).max())
    # a flipped correctness bit needs two logits closer than the bf16 error: rare
    assert int((c16 != c32).sum()) <= 256 // 20
    # float32 is reproducible to the bit (the default path the records rely on)
    again, _ = per_sample_losses(net, images, labels, **kw)
    assert torch.equal(again, l32)


def test_eval_precision_is_checked_before_any_work(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="eval_precision must be one of"):
        plan_run(TrainConfig(out=tmp_path / "a", eval_precision="fp16"), D.DistInfo())
    import ltbound.train.loop.config as config
    monkeypatch.setattr(config, "cpu_bf16_supported", lambda: False)
    with pytest.raises(ValueError, match="eval_precision='bf16' needs a CUDA device or a CPU with native"):
        plan_run(TrainConfig(out=tmp_path / "b", device="cpu", eval_precision="bf16"), D.DistInfo())
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    plan = plan_run(TrainConfig(out=tmp_path / "c", device="cpu"), D.DistInfo())
    assert plan.eval_bf16 is False                                  # the default stays float32


@native_bf16
def test_bf16_evaluation_is_recorded_changes_no_training_bit_and_stays_near_float32(tmp_path):
    f32 = load_record(train(TrainConfig(out=tmp_path / "f32", **SHORT)))
    b16 = load_record(train(TrainConfig(out=tmp_path / "b16", eval_precision="bf16", **SHORT)))
    assert f32.manifest["environment"]["eval_precision"] == "float32"
    assert b16.manifest["environment"]["eval_precision"] == "bf16"
    assert "eval_precision" not in b16.manifest["config"]          # records from before the option still resume
    # training is untouched: the same running losses to the bit
    assert [h["running_loss"] for h in b16.history] == [h["running_loss"] for h in f32.history]
    assert not np.array_equal(b16.train_loss, f32.train_loss)      # the evaluation did change
    diff = np.abs(b16.train_loss.astype(np.float64) - f32.train_loss)
    assert bool((diff <= ABS + REL * f32.train_loss).all()), float(diff.max())
    flips = int((b16.test_correct != f32.test_correct).sum())
    assert flips <= b16.test_correct.size // 50


@native_bf16
def test_a_resume_does_not_switch_the_evaluation_precision_silently(tmp_path):
    from ltbound.records import write_manifest
    run = tmp_path / "run"
    train(TrainConfig(out=run, eval_precision="bf16", **SHORT), stop_after=1)
    with pytest.raises(ValueError, match="eval_precision: 'bf16' then 'float32'"):
        train(TrainConfig(out=run, resume=True, **SHORT), stop_after=2)
    train(TrainConfig(out=run, resume=True, eval_precision="bf16", **SHORT), stop_after=2)
    train(TrainConfig(out=run, resume=True, allow_env_change=True, **SHORT), stop_after=3)
    m = load_record(run).manifest
    assert m["resumes"][-1]["environment_changes"] == {"eval_precision": ["bf16", "float32"]}
    assert m["environment"]["eval_precision"] == "float32"
    # a record written before the field was compared (always float32 then) resumes in float32
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["environment"]["eval_precision"]
    write_manifest(run, manifest)
    train(TrainConfig(out=run, resume=True, **SHORT))
    assert load_record(run).manifest["environment"]["eval_precision"] == "float32"


def test_cli_resume_keeps_the_recorded_precision(tmp_path):
    from ltbound.train.__main__ import _config_kwargs, _resume_kwargs, build_parser
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"config": {"seed": 0}, "environment": {"eval_precision": "bf16"}}))
    parser = build_parser()
    args = parser.parse_args(["--out", str(run), "--resume"])
    assert _resume_kwargs(parser, _config_kwargs(args, None), {"out", "resume"})["eval_precision"] == "bf16"
    args = parser.parse_args(["--out", str(run), "--resume", "--eval-precision", "float32"])
    kw = _resume_kwargs(parser, _config_kwargs(args, None), {"out", "resume", "eval_precision"})
    assert kw["eval_precision"] == "float32"     # given: the trainer's environment check then refuses the switch
    assert _config_kwargs(parser.parse_args(["--out", "x"]), None)["eval_precision"] == "float32"
