"""A record names the image format it was trained on (issue 29: lossy and lossless copies of one data
set give other numbers), and table1_summary files PNG-trained records beside, never over, JPEG ones."""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def _tree(root: Path, suffixes: dict[str, str]) -> Path:
    """train/test trees of 2 classes x 4 (train) / 2 (test) random 8x8 RGB images, one suffix per split."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("test", 2)):
        for cls in ("a", "b"):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(d / f"{i:04d}{suffixes[split]}")
    return root


@pytest.mark.parametrize("suffixes, expected", [({"train": ".png", "test": ".png"}, "png"),
                                                ({"train": ".jpg", "test": ".jpg"}, "jpeg"),
                                                ({"train": ".png", "test": ".jpg"}, "jpeg+png")])
def test_image_tree_datasets_name_their_image_format(tmp_path, suffixes, expected):
    from ltbound.train import load_dataset
    ds = load_dataset("image-folder", data_dir=_tree(tmp_path / "data", suffixes), imbalance=2.0)
    assert ds.image_format == expected and ds.describe()["image_format"] == expected


def test_digits_records_carry_no_image_format():
    from ltbound.train import load_dataset
    ds = load_dataset("digits-lt", imbalance=10.0)
    assert ds.image_format is None and "image_format" not in ds.describe()


def _table1_summary():
    return load_script(ROOT / "experiments" / "table1_summary.py", "table1_summary")


@pytest.mark.parametrize("fmt, folder", [("png", "cifar10-lt-100-full-png"), ("jpeg", "cifar10-lt-100-full"),
                                         (None, "cifar10-lt-100-full")])
def test_png_trained_records_are_filed_apart_from_jpeg_ones(fmt, folder):
    ds = {"image_format": fmt} if fmt else {}
    rec = SimpleNamespace(source={"dataset": "cifar10-lt", "imbalance": 100.0}, preset="cifar", label="ib", seed=0,
                          manifest={"dataset": ds})
    assert _table1_summary().record_name(rec) == Path(folder) / "ib-seed0"
