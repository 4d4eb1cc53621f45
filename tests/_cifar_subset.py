"""Extract a small per-class subset of the JPEG CIFAR-10 archive for real-data tests."""
from __future__ import annotations

import tarfile
from collections import defaultdict
from pathlib import Path


def extract_subset(archive: Path, dest: Path, *, train_per_class: int, test_per_class: int) -> Path:
    """Extract the first ``train_per_class`` / ``test_per_class`` JPEGs (sorted names) per class.

    Reads the member list once (streaming), so it costs a few seconds, not a full extraction.
    Result layout: dest/train/<class>/*.jpg and dest/test/<class>/*.jpg.
    """
    want = {"train": train_per_class, "test": test_per_class}
    taken: dict[tuple[str, str], int] = defaultdict(int)
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.lower().endswith(".jpg"):
                continue
            parts = Path(member.name).parts
            # .../<split>/<class>/<file>.jpg, with any leading folder
            if len(parts) < 3 or parts[-3] not in want:
                continue
            split, cls = parts[-3], parts[-2]
            if taken[(split, cls)] >= want[split]:
                continue
            taken[(split, cls)] += 1
            target = dest / split / cls / parts[-1]
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src:  # type: ignore[union-attr]
                target.write_bytes(src.read())
    return dest
