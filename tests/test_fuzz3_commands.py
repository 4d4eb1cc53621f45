"""Issue 30, command lines: no script overwrites an existing output without --overwrite, a flag that
cannot act is refused (exit 2) instead of ignored, and a failed write or a too small --delta ends in
one line naming the flag. Every case is refused before any training or record reading (milliseconds).
"""
import json
from pathlib import Path

import pytest
from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
RECORD = str(ROOT / "experiments" / "records" / "cifar10-lt-50" / "ib-seed0")


def _script(name):
    return load_script(ROOT / "experiments" / f"{name}.py", f"_fuzz3_{name}")


def _exit(capsys, main, *args):
    """(exit status, stderr) of ``main(args)``; argparse's refusals raise SystemExit."""
    try:
        code = main(list(args))
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_compare_bounds_keeps_an_existing_figure(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "bounds.png").write_bytes(b"someone's figure")
    code, err = _exit(capsys, _script("compare_bounds").main, "--records", RECORD, "--out", str(out), "--quiet")
    assert code == 2 and "bounds.png already exists" in err and "--overwrite" in err
    assert (out / "bounds.png").read_bytes() == b"someone's figure"


@pytest.mark.parametrize("flags, named", [
    (["--schedules", "nosuch", "--epochs", "5", "--lr", "7"], "--schedules, --epochs, --lr"),
    (["--dataset", "cifar10-lt"], "--dataset"),
    (["--seeds", "2"], "--seeds"),
    (["--device", "cpu"], "--device"),                       # evaluates --theta perturb only
])
def test_compare_bounds_refuses_training_flags_with_records(tmp_path, capsys, flags, named):
    code, err = _exit(capsys, _script("compare_bounds").main, "--records", RECORD, *flags,
                      "--out", str(tmp_path / "o"))
    assert code == 2 and named in err and "--records trains nothing" in err


def test_compare_bounds_refuses_data_dir_with_digits(tmp_path, capsys):
    code, err = _exit(capsys, _script("compare_bounds").main, "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert code == 2 and "--data-dir" in err and "embedded" in err


def test_compare_bounds_names_delta_not_an_internal_parameter(tmp_path, capsys):
    code, err = _exit(capsys, _script("compare_bounds").main, "--records", RECORD, "--delta", "1e-320",
                      "--out", str(tmp_path / "o"))
    assert code == 2 and "--delta" in err and "level" not in err.replace("the confidence level", "")


def test_compare_names_delta_when_one_minus_delta_rounds_to_one():
    from ltbound.comparison.compare_runs import compare
    with pytest.raises(ValueError, match="delta must be at least"):
        compare([RECORD], delta=1e-320)


def test_train_refuses_data_dir_with_the_embedded_digits(tmp_path, capsys):
    from ltbound.train.__main__ import main
    code, err = _exit(capsys, main, "--dataset", "digits-lt", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r"))
    assert code == 2 and "--data-dir" in err and "digits-lt" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("target", ["existing", "folder", "full"])
def test_table1_summary_json_is_never_overwritten_and_fails_in_one_line(tmp_path, capsys, target):
    main = _script("table1_summary").main
    path = {"existing": tmp_path / "t.json", "folder": tmp_path, "full": Path("/dev/full")}[target]
    if target == "existing":
        path.write_text("{}")
    if target == "full" and not path.exists():
        pytest.skip("no /dev/full here")
    code, err = _exit(capsys, main, "--compacted", RECORD, "--json", str(path))
    assert code == 2 and "--json" in err
    if target == "existing":
        assert "--overwrite" in err and path.read_text() == "{}"
    if target == "full":                            # overwriting asked for: the write fails, in one line
        code, err = _exit(capsys, main, "--compacted", RECORD, "--json", str(path), "--overwrite")
        assert code == 1 and len(err.strip().splitlines()) == 1 and "--json" in err and "No space" in err


def test_table1_summary_overwrite_replaces(tmp_path, capsys):
    path = tmp_path / "t.json"
    path.write_text("{}")
    code, _ = _exit(capsys, _script("table1_summary").main, "--compacted", RECORD, "--json", str(path), "--overwrite")
    assert code == 0 and json.loads(path.read_text())["runs"][0]["schedule"] == "ib"


def test_appendix_a_and_simulate_coverage_keep_existing_outputs(tmp_path, capsys):
    (tmp_path / "appendix_a.json").write_text("mine")
    code, err = _exit(capsys, _script("appendix_a").main, "--records", RECORD, "--out", str(tmp_path))
    assert code == 2 and "appendix_a.json already exists" in err
    (tmp_path / "cov.json").write_text("mine")
    code, err = _exit(capsys, _script("simulate_coverage").main, "--draws", "2", "--out", str(tmp_path / "cov.json"))
    assert code == 2 and "--overwrite" in err
    assert (tmp_path / "appendix_a.json").read_text() == "mine" and (tmp_path / "cov.json").read_text() == "mine"
