"""Tables 1-6: are the paper's reported accuracy differences larger than its test sets can resolve?

The paper compares methods by single top-1 accuracies (one run each, no interval). Given
only the test-set size N and the two accuracies, two thresholds decide what the numbers can
support at α = 0.05:

* ``unpaired`` — the smallest difference an unpaired two-proportion z-test calls
  significant, z_{1−α/2} sqrt(2 ā(1 − ā)/N), ā the mean of the two accuracies
  (:func:`ltbound.statistics.heldout.detectable_difference`).
* ``paired floor`` — the smallest difference *any* paired test on the same images could
  call significant: the exact McNemar test needs at least 6 discordant pairs all one way
  (2·0.5^6 = 0.031 < 0.05, 2·0.5^5 = 0.063 > 0.05), i.e. a difference >= 6/N. A paired test
  is stronger than the unpaired one but needs the per-image predictions, which the paper
  does not give.

Reported accuracies are rounded to 0.1 points, so a margin is known to ±0.1 points.
Verdict per comparison: ``significant`` (margin − 0.1 > unpaired threshold), ``not
detectable`` (margin + 0.1 <= paired floor, or the margin is <= 0: no test on this test set
could support the claimed direction), ``needs paired data`` (in between). None of this
accounts for seed-to-seed variation, which the paper does not report either: a
significant test-set difference is a statement about the two trained models, not the two
methods.

Test sets (balanced, so top-1 accuracy is balanced accuracy): CIFAR-10/100 10,000 images;
ImageNet-LT 50,000 (50 per class); iNaturalist 2018 24,426 (3 per class, 8,142 classes).
Shot groups of Table 4: CIFAR-100-LT(100) from the exponential profile (35 / 35 / 30
classes, 100 test images each); ImageNet-LT the standard split of Liu et al. (2019),
385 / 479 / 136 classes, 50 test images each.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltbound.statistics.heldout import detectable_difference
from ltbound.published import TABLE1, TABLE1_COLUMNS, TABLE2, TABLE3, TABLE4_FEW, TABLE6
from ltbound.published import TABLE5 as PUBLISHED_TABLE5
from ltbound.bounds.sampling import long_tailed_counts, shot_groups

from paper_checks._check import FAILS, HOLDS, HOLDS_ONLY_IF, Outcome, check

ALPHA = 0.05
ROUNDING = 0.1               # points: each accuracy is printed to 0.1, so a margin is known to ±0.1
MCNEMAR_MIN_DISCORDANT = 6   # smallest k with 2·0.5^k < 0.05

SIGNIFICANT, NOT_DETECTABLE, NEEDS_PAIRED = "significant", "not detectable", "needs paired data"

CIFAR_TEST, IMAGENET_LT_TEST, INAT_TEST = 10_000, 50_000, 24_426
_C100_GROUPS = {g: int(idx.size) * 100 for g, idx in shot_groups(long_tailed_counts(500, 100, 100)).items()}
_IMAGENET_LT_GROUPS = {"many": 385 * 50, "medium": 479 * 50, "few": 136 * 50}


@dataclass(frozen=True)
class Comparison:
    """Two reported accuracies (%) on one test set of ``test_size`` images; ``ours`` claimed better."""
    name: str
    ours: float
    other: float
    test_size: int
    where: str


def assess(c: Comparison, alpha: float = ALPHA) -> dict:
    """The margin, both thresholds (points) and the verdict of one comparison (module docstring)."""
    margin = c.ours - c.other
    mean_acc = (c.ours + c.other) / 200.0
    unpaired = 100.0 * detectable_difference(min(max(mean_acc, 1e-9), 1 - 1e-9), c.test_size, alpha=alpha)
    floor = 100.0 * MCNEMAR_MIN_DISCORDANT / c.test_size
    if margin - ROUNDING > unpaired:
        verdict = SIGNIFICANT
    elif margin <= 0 or margin + ROUNDING <= floor:
        verdict = NOT_DETECTABLE
    else:
        verdict = NEEDS_PAIRED
    return {"name": c.name, "where": c.where, "ours": c.ours, "other": c.other, "margin": round(margin, 3),
            "test_size": c.test_size, "unpaired_threshold": unpaired, "paired_floor": floor, "verdict": verdict}


def _outcome(rows: list[dict], claim_word: str) -> Outcome:
    """holds if every margin is significant; fails if one is not detectable; else holds only if paired."""
    counts = {v: sum(r["verdict"] == v for r in rows) for v in (SIGNIFICANT, NEEDS_PAIRED, NOT_DETECTABLE)}
    summary = "; ".join(f"{r['name']}: {r['ours']:.1f} vs {r['other']:.1f} ({r['margin']:+.1f} pts, N = {r['test_size']:,}; "
                        f"unpaired threshold {r['unpaired_threshold']:.2f}, paired floor {r['paired_floor']:.2f}) "
                        f"-> {r['verdict']}" for r in rows)
    summary += (f". {counts[SIGNIFICANT]} significant, {counts[NEEDS_PAIRED]} need paired data, "
                f"{counts[NOT_DETECTABLE]} not detectable (α = {ALPHA}, one run each, seed variance unknown).")
    evidence = {"comparisons": rows, "alpha": ALPHA, "rounding_points": ROUNDING}
    weak = [r["name"] for r in rows if r["verdict"] == NOT_DETECTABLE]
    paired = [r["name"] for r in rows if r["verdict"] == NEEDS_PAIRED]
    if weak:
        return Outcome(FAILS, summary, evidence, condition=(
            f"{claim_word} not supported by the test set: {', '.join(weak)} (margin within rounding of, or "
            "below, what any test on these images could detect)"))
    if paired:
        return Outcome(HOLDS_ONLY_IF, summary, evidence, condition=(
            f"a paired test on the per-image predictions confirms {', '.join(paired)} (the unpaired margin "
            "is below the significance threshold)"))
    return Outcome(HOLDS, summary, evidence)


def _t1(method: str, column: str) -> float:
    return TABLE1[method][TABLE1_COLUMNS.index(column)]


_C10_COLUMNS = ("CIFAR-10-LT(100)", "CIFAR-10-LT(50)", "CIFAR-10-LT(10)")
_C100_COLUMNS = ("CIFAR-100-LT(100)", "CIFAR-100-LT(50)", "CIFAR-100-LT(10)")

#: Table 1 / Table 6 first block: Cross Entropy* (IB => IB) vs Ours (IB => CR), top-1 %.
TABLE1_IB_VS_SWITCHING = tuple(
    Comparison(col, _t1("Ours (S=1)", col), _t1("Cross Entropy*", col), CIFAR_TEST, "Table 1")
    for col in ("CIFAR-10-LT(100)", "CIFAR-10-LT(50)", "CIFAR-100-LT(100)", "CIFAR-100-LT(50)"))

#: Ours against the best baseline of each column the paper claims to win. CIFAR-10-LT(100) is
#: left out: there BBN's 79.8 is above ours (79.7) and the text claims only "comparable or better".
#: iNaturalist at 90 epochs is compared with BBN (66.3), the best baseline whose budget is printed:
#: LDAM-DRW's 68.0 is above both of ours but Table 2 gives no epoch budget for it, so whether it
#: is a 90-epoch baseline is undecided (check_best_claims reports that reading separately).
BEST_BASELINE = (
    *(Comparison(f"{col} vs BBN", _t1("Ours (S=1)", col), _t1("BBN†", col), CIFAR_TEST, "Table 1")
      for col in ("CIFAR-10-LT(50)", "CIFAR-100-LT(100)", "CIFAR-100-LT(50)")),
    Comparison("iNat 90 ep, S=1 vs BBN", TABLE2["Ours (S=1 / S=1)"][0], TABLE2["BBN†"][0], INAT_TEST, "Table 2"),
    Comparison("iNat 90 ep, S=10 vs BBN", TABLE2["Ours (S=10 / S=40)"][0], TABLE2["BBN†"][0], INAT_TEST, "Table 2"),
    Comparison("iNat 200 ep, S=1 vs BBN", TABLE2["Ours (S=1 / S=1)"][1], TABLE2["BBN†"][1], INAT_TEST, "Table 2"),
    Comparison("ImageNet-LT S=1 vs Decouple-LWS", TABLE3["Ours (S=1)"][0], TABLE3["Decouple-LWS†"][0],
               IMAGENET_LT_TEST, "Table 3"),
    Comparison("ImageNet-LT S=10 vs Decouple-LWS", TABLE3["Ours (S=10)"][0], TABLE3["Decouple-LWS†"][0],
               IMAGENET_LT_TEST, "Table 3"),
    Comparison("CIFAR-100-LT(100) few vs cRT", TABLE4_FEW[("CIFAR-100-LT(100)", "Ours (S=1)")],
               TABLE4_FEW[("CIFAR-100-LT(100)", "Decouple-cRT")], _C100_GROUPS["few"], "Table 4"),
    Comparison("ImageNet-LT few vs LWS", TABLE4_FEW[("ImageNet-LT", "Ours (S=1)")],
               TABLE4_FEW[("ImageNet-LT", "Decouple-LWS")], _IMAGENET_LT_GROUPS["few"], "Table 4"),
)

#: Table 6: IB => CR against the second-best sampler pair (IB => CB in every column).
TABLE6_BEST_PAIR = tuple(
    Comparison(col, TABLE6[(ds, imb)]["ib-cr"], TABLE6[(ds, imb)]["ib-cb"], CIFAR_TEST, "Table 6")
    for ds, cols in (("cifar10-lt", _C10_COLUMNS), ("cifar100-lt", _C100_COLUMNS))
    for col, imb in zip(cols, (100, 50, 10)))

#: Table 5: top-1 % at imbalance 50 for each S (CIFAR-10, CIFAR-100).
TABLE5 = PUBLISHED_TABLE5


@check("significance_table1", claim="Table 1: Switching beats IB (CE*) on CIFAR-10/100-LT at imbalance 100 and 50",
       where="Table 1, Table 6")
def significance_table1() -> Outcome:
    return _outcome([assess(c) for c in TABLE1_IB_VS_SWITCHING], "Switching > IB is")


@check("significance_baselines", claim="Tables 1-4: ours beats the best baseline (margins of 0.2-12.5 points)",
       where="Tables 1-4, Sect. 4.5")
def significance_baselines() -> Outcome:
    return _outcome([assess(c) for c in BEST_BASELINE], "ours > best baseline is")


@check("significance_table6", claim="Table 6: IB => CR is the best sampler pair in every column",
       where="Table 6, Sect. 4.5.2")
def significance_table6() -> Outcome:
    return _outcome([assess(c) for c in TABLE6_BEST_PAIR], "IB => CR > IB => CB is")


def s_sweep(table: dict[int, tuple[float, ...]], names: tuple[str, ...] = ("CIFAR-10", "CIFAR-100"),
            test_size: int = CIFAR_TEST) -> Outcome:
    """'S is not sensitive' (Table 5): no two S values differ by more than the unpaired threshold.

    A claim of *no* difference: it holds (as far as the test set can tell) when every pair of
    S values is within the threshold (+ rounding); fails when some pair differs significantly
    over the whole range; holds only if S stays within the largest prefix of the sweep where
    no pair does.
    """
    s_values = sorted(table)
    rows, prefix_ok = [], {}
    for k, name in enumerate(names):
        acc = {s: table[s][k] for s in s_values}
        for end in range(1, len(s_values) + 1):
            sub = [acc[s] for s in s_values[:end]]
            hi, lo = max(sub), min(sub)
            r = assess(Comparison(name, hi, lo, test_size, "Table 5"))
            if r["verdict"] != SIGNIFICANT:
                prefix_ok[name] = s_values[end - 1]
        hi_s, lo_s = max(acc, key=acc.get), min(acc, key=acc.get)
        r = assess(Comparison(f"{name}: S={hi_s} vs S={lo_s}", acc[hi_s], acc[lo_s], test_size, "Table 5"))
        r["largest_insensitive_s"] = prefix_ok.get(name)
        rows.append(r)
    summary = "; ".join(f"{r['name']}: spread {r['margin']:.1f} pts (unpaired threshold {r['unpaired_threshold']:.2f}) -> "
                        f"{r['verdict']}; no significant spread for S <= {r['largest_insensitive_s']}" for r in rows)
    evidence = {"comparisons": rows, "alpha": ALPHA}
    significant = [r for r in rows if r["verdict"] == SIGNIFICANT]
    if not significant:
        return Outcome(HOLDS, summary + ". The test set cannot tell the S values apart (absence of evidence, "
                       "not proof of equality).", evidence)
    bound = min(r["largest_insensitive_s"] for r in rows)
    if bound is None or bound == s_values[0]:
        return Outcome(FAILS, summary, evidence, condition="accuracy depends on S beyond test-set noise")
    return Outcome(HOLDS_ONLY_IF, summary, evidence, condition=(
        f"S <= {bound}: " + ", ".join(f"{r['name']} differs by {r['margin']:.1f} > {r['unpaired_threshold']:.2f} pts"
                                     for r in significant)))


@check("significance_table5", claim="Table 5: accuracy is not sensitive to S", where="Table 5, Sect. 4.5.1")
def significance_table5() -> Outcome:
    return s_sweep(TABLE5)


if __name__ == "__main__":
    from paper_checks.run_all import main
    raise SystemExit(main(["--only", "significance_table1", "significance_baselines", "significance_table6",
                           "significance_table5"], modules=["check_significance"]))
