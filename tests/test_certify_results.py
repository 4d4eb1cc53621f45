"""docs/certificates.md's digits table is what the committed experiments/results/certify-digits run printed."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "certify-digits" / "results.json"
DOC = ROOT / "docs" / "certificates.md"
NAMES = {"IB": "ib", "Switching": "switching", "IB → CB": "ib-cb"}


CIFAR = {imb: ROOT / "experiments" / "results" / f"certify-cifar10-lt-{imb}" / "results.json" for imb in (100, 50)}
SECTIONS = [("Digits", RESULTS)] + [(f"CIFAR-10-LT (imbalance {imb}, CPU)", path) for imb, path in CIFAR.items()]
SECTION_IDS = ["digits", "cifar10-lt-100", "cifar10-lt-50"]


def _section(title: str) -> list[str]:
    """The lines of the docs section whose heading starts with ``title``."""
    text = DOC.read_text().split("\n## ")
    part = next(p for p in text if p.startswith(title))
    return part.splitlines()


def _doc_rows(title: str = "Digits") -> dict[str, list[str]]:
    rows = {}
    for line in _section(title):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in NAMES and len(cells) == 11:
            rows[NAMES[cells[0]]] = cells[1:]
    return rows


@pytest.mark.parametrize("title,path", SECTIONS, ids=SECTION_IDS)
def test_docs_table_matches_the_committed_certify_results(title, path):
    """Each docs table (digits; CIFAR-10-LT(100) and (50) on CPU) is what the committed results say, cell by cell."""
    runs = {r["schedule"]: r for r in json.loads(path.read_text())["runs"]}
    rows = _doc_rows(title)
    assert set(rows) == set(runs)
    assert set(runs) == ({"ib", "switching", "ib-cb"} if title == "Digits" else {"ib", "switching"})
    for name, cells in rows.items():
        r = runs[name]
        best = min(r["certificates"]["zero-one"].values(), key=lambda c: c["bound"])
        bce = min(c["bound"] for c in r["certificates"]["bounded-ce"].values())
        t = r["test"]
        expected = [f"{best['bound']:.4f}", best["method"], f"{best['empirical']:.4f}", f"{best['mc_term']:.4f}",
                    None, f"{r['sigma']:g}", f"{bce:.4f}", f"{t['stochastic_balanced_error']:.3f}",
                    f"{t['deterministic_balanced_error']:.3f}", f"{t['deterministic_certificate']['bound']:.4f}"]
        for i, (got, want) in enumerate(zip(cells, expected)):
            if want is not None:
                assert got == want, (name, i, got, want)
        assert float(cells[4]) == pytest.approx(best["kl"], rel=0.05, abs=5e-5)
        assert best["non_vacuous"] and best["bound"] < 0.9


@pytest.mark.parametrize("title,path", SECTIONS, ids=SECTION_IDS)
def test_certified_differences_are_in_the_docs_with_their_verdicts(title, path):
    """Every certified difference of a committed run (digits, CIFAR-10-LT(100) and (50)) stands in its docs section
    with its interval, the two separate bounds' wider interval and its verdict. Every committed run has one: its
    draws were seeded per schedule (issue 31), so no mixed training-data/test-set ordering line is left."""
    res = json.loads(path.read_text())
    diffs = res["differences"]
    want = {("switching", "ib"), ("ib-cb", "ib")} if title == "Digits" else {("switching", "ib")}
    assert {(d["a"], d["b"]) for d in diffs} >= want
    text = "\n".join(_section(title))
    for d in diffs:
        assert f"[{d['lower']:+.4f}, {d['upper']:+.4f}]" in text, (d["a"], d["b"])
        assert f"[{d['separate'][0]:+.4f}, {d['separate'][1]:+.4f}]" in text, (d["a"], d["b"])
        assert d["separate"][0] < d["lower"] and d["upper"] < d["separate"][1]
        assert d["verdict"] in ("not proved", f"{d['a']} lower", f"{d['b']} lower")
        assert d["verdict"] in text
    assert all(r["config"]["draw_seeds"] == "per-schedule" for r in res["runs"])


def test_readme_quotes_the_committed_cifar_certificates():
    """README's certificate line gives each CIFAR run's certified risks and Switching − IB interval as committed."""
    readme = (ROOT / "README.md").read_text()
    for path in CIFAR.values():
        res = json.loads(path.read_text())
        for r in res["runs"]:
            best = min(r["certificates"]["zero-one"].values(), key=lambda c: c["bound"])
            assert f"{best['bound']:.4f}" in readme, (path.parent.name, r["schedule"])
        d = next(d for d in res["differences"] if (d["a"], d["b"]) == ("switching", "ib"))
        assert f"[{d['lower']:+.4f}, {d['upper']:+.4f}]" in readme, path.parent.name


COMMITTED_FILES = sorted((ROOT / "experiments" / "results").glob("certify-*/certificates.npz"))


def test_the_digits_certificate_file_is_committed():
    assert RESULTS.parent / "certificates.npz" in COMMITTED_FILES


@pytest.mark.parametrize("npz", COMMITTED_FILES, ids=lambda p: p.parent.name)
def test_every_committed_certificate_is_recomputed_from_certificates_npz(npz):
    """certificates.npz alone (numpy/scipy, no network) reproduces every certificate of the results.json
    beside it — each σ, loss and method — and every certified difference, to 1e-12."""
    from ltbound.certificates.certificate_files import read_certificate_file, recompute_certificates

    res = json.loads((npz.parent / "results.json").read_text())
    rec = recompute_certificates(npz)
    assert [r["schedule"] for r in res["runs"]] == list(rec["runs"])
    for r in res["runs"]:
        got = rec["runs"][r["schedule"]]
        assert got["sigma_index"] == r["sigma_index"]
        for k, row in enumerate(r["per_sigma"]):
            assert got["per_sigma"][k]["kl"] == row["kl"]
            for loss in ("zero-one", "bounded-ce"):
                for m in ("union", "pooled-chernoff"):
                    assert got["per_sigma"][k][loss][m] == pytest.approx(row[loss][m], rel=1e-12, abs=1e-12)
        for loss in ("zero-one", "bounded-ce"):
            assert got[loss] == pytest.approx(min(c["bound"] for c in r["certificates"][loss].values()), rel=1e-12)
    assert len(res["differences"]) == len(rec["differences"])
    for want, got in zip(res["differences"], rec["differences"]):
        for key in ("a", "b", "verdict", "index_upper", "index_lower"):
            assert got[key] == want[key]
        for key in ("upper", "lower", "empirical"):
            assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12)
    f = read_certificate_file(npz)
    assert np.intersect1d(f["prior_indices"], f["cert_indices"]).size == 0
    assert f["cert_labels"].size == res["runs"][0]["split"]["n_cert"]
    assert npz.stat().st_size < 2_000_000


STUDY = ROOT / "experiments" / "results" / "prior-split-digits"


def test_prior_split_study_table_is_its_results_and_stands_in_the_docs():
    """table.md is what the study's results.json rows print, every row is in the docs, and the
    recommended (even) split is the one with the lowest certificates of both schedules."""
    mod = load_script(ROOT / "experiments" / "prior_split_study.py", "study")
    res = json.loads((STUDY / "results.json").read_text())
    table = (STUDY / "table.md").read_text().strip()
    assert mod.table(res["rows"]) == table
    doc = DOC.read_text()
    for line in table.splitlines():
        assert line in doc
    best = {s: min(res["rows"], key=lambda r: r[s]["certificate"]) for s in ("ib", "switching")}
    for r in best.values():
        assert (r["prior_fraction"], r["tail_prior_fraction"]) == (0.5, None)
    assert "--prior-fraction 0.5" in doc and all(r["difference"]["verdict"] == "not proved" for r in res["rows"])
