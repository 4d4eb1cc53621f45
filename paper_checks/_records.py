"""Committed run records (GPU runs) under experiments/records/, and the command that makes them.

The checks that need CIFAR-LT runs (Table 1 / Table 6 orderings, Appendix A on CIFAR, Theorem
1 on real records) read only what is committed there; when nothing is, they say ``not run``
and print :func:`table1_command`. Any folder below experiments/records/ holding a
``manifest.json`` of the run record format (:mod:`ltbound.records`, either layout) counts.
"""

from __future__ import annotations

from pathlib import Path

from ltbound.records import RunRecord, load_record

#: The repository root (this file is paper_checks/_records.py).
REPO_ROOT = Path(__file__).resolve().parents[1]
RECORDS_DIR = REPO_ROOT / "experiments" / "records"
GPU_SCRIPT = REPO_ROOT / "scripts" / "gpu_table1.sh"


def committed_records(dataset: str | None = None, imbalance: float | None = None) -> list[RunRecord]:
    """Loaded run records under experiments/records/, optionally of one data set and imbalance.

    Parameters
    ----------
    dataset : str, optional
        The manifest's dataset name, e.g. "cifar10-lt" (case-insensitive).
    imbalance : float, optional
        The manifest's imbalance (n_max / n_min).

    Returns
    -------
    list of RunRecord
        Sorted by path; empty when the folder is absent or holds no record.
    """
    if not RECORDS_DIR.is_dir():
        return []
    out = []
    for manifest in sorted(RECORDS_DIR.rglob("manifest.json")):
        rec = load_record(manifest.parent)
        src = rec.source
        if dataset is not None and str(src.get("dataset") or "").lower() != dataset.lower():
            continue
        if imbalance is not None and src.get("imbalance") is not None and float(src["imbalance"]) != float(imbalance):
            continue
        out.append(rec)
    return out


def table1_command(dataset: str = "cifar10-lt", imbalance: int = 100,
                   schedules: tuple[str, ...] = ("ib", "ib-cb", "switching")) -> str:
    """The command that produces the GPU records the CIFAR checks need (short, for a table cell)."""
    if len(schedules) == 1:
        loop = (f"python -m ltbound.train --dataset {dataset} --data-dir DIR --imbalance {imbalance} --schedule "
                f"{schedules[0]} --out experiments/records/{dataset}-{imbalance}/{schedules[0]}-seed0 (GPU), then "
                "compact and commit the record")
    else:
        loop = (f"for s in {' '.join(schedules)}; do python -m ltbound.train --dataset {dataset} --data-dir DIR "
                f"--imbalance {imbalance} --schedule $s --out experiments/records/{dataset}-{imbalance}/$s-seed0; done "
                "(GPU), then compact and commit the records")
    if GPU_SCRIPT.exists():
        return f"bash {GPU_SCRIPT.relative_to(REPO_ROOT).as_posix()} (GPU), or {loop}"
    return loop
