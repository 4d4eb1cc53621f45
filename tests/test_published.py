"""ltbound.published is the one home of the paper's cells: the scripts and checks take them from it,
no other file types them again, and the cells the paper prints twice agree."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ltbound import published as pub
from tests._scripts import load_script

REPO = Path(__file__).resolve().parents[1]


def _script(name):
    return load_script(REPO / "experiments" / f"{name}.py", name)


def test_table1_summary_quotes_table1():
    mod = _script("table1_summary")
    assert mod.PAPER_TABLE1[("cifar10-lt", 100, "switching")] == pub.TABLE1["Ours (S=1)"][0] == 79.7
    for (ds, imb, sch), acc in mod.PAPER_TABLE1.items():
        assert acc == pub.table1_accuracy(ds, imb, sch)


def test_paper_checks_quote_the_published_tables():
    sys.path.insert(0, str(REPO))
    try:
        from paper_checks import check_best_claims, check_significance, check_table1_orderings
    finally:
        sys.path.remove(str(REPO))
    assert check_table1_orderings.PUBLISHED[("cifar10-lt", 100)] == {"IB=>IB": 73.1, "IB=>CB": 77.1, "IB=>CR": 79.7}
    assert {r.method: r.cells for r in check_best_claims.TABLE1.rows} == pub.TABLE1
    assert {r.method for r in check_best_claims.TABLE2.rows if r.one_number} == pub.TABLE2_ONE_NUMBER
    first = check_significance.TABLE1_IB_VS_SWITCHING[0]
    assert (first.name, first.ours, first.other) == ("CIFAR-10-LT(100)", 79.7, 73.1)
    assert check_significance.TABLE5 is pub.TABLE5


@pytest.mark.parametrize("column, imbalance", [(0, 100), (1, 50), (2, 10)])
@pytest.mark.parametrize("dataset, offset", [("cifar10-lt", 0), ("cifar100-lt", 3)])
def test_cells_the_paper_prints_twice_agree(dataset, offset, column, imbalance):
    """Table 1's Cross Entropy* and Ours rows are Table 6's IB => IB and IB => CR rows."""
    t6 = pub.TABLE6[(dataset, imbalance)]
    assert pub.TABLE1["Cross Entropy*"][offset + column] == t6["ib-ib"]
    assert pub.TABLE1["Ours (S=1)"][offset + column] == t6["ib-cr"]
    if imbalance == 50:     # Table 5 (imbalance 50): S = 1 is Switching, its last row IB only
        k = 0 if dataset == "cifar10-lt" else 1
        assert pub.TABLE5[1][k] == t6["ib-cr"] and pub.TABLE5_IB[k] == t6["ib-ib"]


def test_no_other_file_types_a_published_row():
    """A row of Table 1 (its three CIFAR-10-LT cells in a row) or of Table 9 appears in no source file but
    ltbound/published.py."""
    rows = ([", ".join(f"{v:.1f}" for v in cells[:3]) for cells in pub.TABLE1.values()]
            + [", ".join(f"{v:.3f}" for v in cells) for cells in pub.TABLE9.values()])
    hits = []
    for folder in ("ltbound", "experiments", "paper_checks", "benchmarks", "tests"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name in ("published.py", Path(__file__).name):
                continue
            text = path.read_text(encoding="utf-8")
            hits += [(str(path.relative_to(REPO)), r) for r in rows if r in text]
    assert not hits, hits


def test_table1_accuracy_has_no_cell_for_what_the_table_lacks():
    assert pub.table1_accuracy("cifar10-lt", 100, "ib-cb") is None
    assert pub.table1_accuracy("cifar10-lt", 20, "ib") is None
    assert pub.table1_accuracy("digits-lt", 100, "ib") is None
    assert pub.table1_accuracy("cifar100-lt", 10, "switching") == 59.5
