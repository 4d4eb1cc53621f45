"""The command line `python -m ltbound.train`: help, a short run, and exit code 2 with one clear line for bad input."""
import subprocess
import sys

import numpy as np
import pytest

from ltbound.records import load_record
from ltbound.train.__main__ import main

SHORT = ["--epochs", "4", "--milestones", "2", "--switch-offset", "1", "--warmup-epochs", "1", "--no-progress"]


def test_help_explains_usage_with_examples():
    proc = subprocess.run([sys.executable, "-m", "ltbound.train", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for needle in ("--dataset", "--schedule", "--out", "--resume", "--imbalance", "--preset", "--data-dir",
                   "--device", "--compile", "--cuda-graphs", "--download", "--no-progress", "examples:",
                   "switching", "digits-lt", "cifar10-lt", "torchrun", "Exit status"):
        assert needle in text, needle


def test_bad_value_exits_2_with_one_line_and_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "ltbound.train", "--imbalance", "0.5", "--out", "unused-dir"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "imbalance must be >= 1" in lines[0] and "Traceback" not in proc.stderr


def test_short_run_writes_a_record(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--dataset", "digits-lt", "--schedule", "switching", "--out", str(out), *SHORT]) == 0
    assert f"run record: {out}" in capsys.readouterr().out
    rec = load_record(out)
    assert rec.complete and rec.sampler == ["IB", "IB", "IB", "CR"]
    # the same command again is refused (the folder holds a run) ...
    assert main(["--out", str(out), *SHORT]) == 2
    err = capsys.readouterr().err
    assert "already holds a run record" in err
    assert "--resume" in err and "resume=True" not in err       # the CLI names its flag (issue 24)
    # ... and with --resume it is a no-op on a finished run
    assert main(["--out", str(out), "--resume", *SHORT]) == 0


@pytest.mark.parametrize("args, message", [
    (["--imbalance", "0.9"], "imbalance must be >= 1"),
    (["--schedule", "ib-zz"], "unknown schedule"),
    (["--preset", "mnist"], "preset must be one of"),
    (["--epochs", "3"], "switch epoch 4 is beyond the run's 3 epochs"),
    (["--batch-size", "5000"], "larger than the training set"),
    (["--dataset", "cifar10-lt", "--data-dir", "/nonexistent/place"], "data_dir /nonexistent/place does not exist"),
    (["--checkpoint-epochs", "end,77"], "must be an epoch in 1..4"),
    (["--device", "cpu", "--cuda-graphs"], "cuda_graphs needs a CUDA device"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, args, message):
    code = main(["--out", str(tmp_path / "run"), *SHORT, *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("ltbound.train: error: ") and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--epochs", "many", "--out", "x"], ["--bogus", "--out", "x"], []])
def test_malformed_arguments_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_malformed_milestones_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--out", "x", "--milestones", "ten"])
    assert exc.value.code == 2 and "--milestones must be a comma list" in capsys.readouterr().err


def test_library_messages_name_arguments_and_the_cli_adds_their_flags(tmp_path, capsys):
    """TrainConfig errors speak of arguments (batch_size); the command line adds the flag (--batch-size)."""
    from ltbound.train.__main__ import flags_for
    assert flags_for("lower batch_size") == "lower batch_size (flags: batch_size = --batch-size)"
    assert flags_for("out x exists") == "out x exists"                       # --out: nothing to add
    assert flags_for("fast and eval_batch_size") == \
        "fast and eval_batch_size (flags: fast = --reference-pipeline, eval_batch_size = --eval-batch-size)"
    assert main(["--out", str(tmp_path / "run"), *SHORT, "--batch-size", "5000"]) == 2
    err = capsys.readouterr().err
    assert "lower batch_size (flags: batch_size = --batch-size)" in err and len(err.strip().splitlines()) == 1


def test_resume_with_only_out_continues_the_recorded_run(tmp_path, capsys):
    """--out RUN --resume alone takes every setting from RUN's manifest; flags given that differ are named."""
    out = tmp_path / "run"
    args = ["--dataset", "digits-lt", "--schedule", "ib-cb", "--seed", "3", "--out", str(out), *SHORT]
    from ltbound.train.loop.config import TrainConfig
    from ltbound.train.loop.trainer import train
    # stop after epoch 2 (a killed run), through the library with the same settings as the CLI would
    main_cfg = dict(dataset="digits-lt", schedule="ib-cb", seed=3, out=out, epochs=4, milestones=[2],
                    switch_offset=1, warmup_epochs=1, amp="off", progress=False, quiet=True)
    train(TrainConfig(**main_cfg), stop_after=2)
    assert load_record(out).epochs.tolist() == [1, 2]
    # a flag that differs from the record is refused, naming it and the recorded value
    with pytest.raises(SystemExit) as refused:
        main(["--out", str(out), "--resume", "--seed", "4"])
    err = capsys.readouterr().err
    assert refused.value.code == 2
    assert "--seed 4 (recorded: 3)" in err and "--out and --resume alone suffice" in err
    # --out and --resume alone: the recorded schedule, seed and recipe, to the end
    assert main(["--out", str(out), "--resume", "--no-progress"]) == 0
    rec = load_record(out)
    assert rec.complete and rec.epochs.tolist() == [1, 2, 3, 4] and rec.sampler == ["IB", "IB", "IB", "CB"]
    straight = tmp_path / "straight"
    train(TrainConfig(**(main_cfg | dict(out=straight))))
    np.testing.assert_array_equal(load_record(straight).train_loss, rec.train_loss)   # the same run (CPU, float32)
    # flags that agree with the record are accepted (a finished run: nothing left to do)
    assert main(args + ["--resume"]) == 0


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_resume_of_a_missing_or_empty_folder_is_refused(tmp_path, capsys, make):
    """Issue 24: --resume on a mistyped or empty --out silently started a fresh run."""
    out = tmp_path / "run"
    if make == "empty":
        out.mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(out), "--resume", *SHORT])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "holds no run to continue" in err and "drop --resume" in err
    assert (not out.exists()) if make == "missing" else not any(out.iterdir())


def test_library_switches_in_messages_become_flags():
    from ltbound.train.__main__ import flags_for
    assert flags_for("pass resume=True to continue it") == "pass --resume to continue it"
    assert flags_for("or pass allow_env_change=True to continue") == "or pass --allow-env-change to continue"
    assert flags_for("dry=True stays") == "dry=True stays"          # not a TrainConfig switch
