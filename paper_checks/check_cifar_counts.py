"""Sect. 4.1 / Table 12 / Fig. 1: the class counts of long-tailed CIFAR.

Claim: the paper uses the long-tailed CIFAR of Zhou et al. (2020) with imbalance
β = n_max / n_min in {10, 50, 100}. The exponential profile n_j = int(n_max β^(−j/(C−1)))
(:func:`ltbound.bounds.sampling.long_tailed_counts`) must reproduce the published cardinality
column of Table 12 (CIFAR-10-LT, β = 50), the class sizes of Fig. 1 (class 1: 3237,
class 9: 100) and the standard totals: CIFAR-10-LT 12,406 (β = 100) and 13,996 (β = 50),
CIFAR-100-LT 10,847 (β = 100) and 12,608 (β = 50).

The expected values below are the *published* numbers (paper and the protocol it cites),
not results of this code.
"""

from __future__ import annotations


from ltbound.regularity.paper_table import table12
from ltbound.bounds.sampling import long_tailed_counts, shot_groups

from paper_checks._check import FAILS, HOLDS, Outcome, check

#: CIFAR-10-LT, β = 100, of the protocol the paper cites (Cao et al. 2019; Zhou et al. 2020).
PUBLISHED_C10_100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
#: (dataset, n_max, C, β) -> published total number of training images.
PUBLISHED_TOTALS = {("CIFAR-10-LT", 5000, 10, 100): 12406, ("CIFAR-10-LT", 5000, 10, 50): 13996,
                    ("CIFAR-100-LT", 500, 100, 100): 10847, ("CIFAR-100-LT", 500, 100, 50): 12608}


@check("cifar_counts", claim="CIFAR-LT class counts (exp. profile) match Table 12, Fig. 1 and the standard totals",
       where="Sect. 4.1, Table 12, Fig. 1")
def cifar_counts() -> Outcome:
    mismatches = []
    c10_100 = long_tailed_counts(5000, 10, 100)
    if c10_100.tolist() != PUBLISHED_C10_100:
        mismatches.append(f"CIFAR-10-LT(100) {c10_100.tolist()} != {PUBLISHED_C10_100}")
    c10_50 = long_tailed_counts(5000, 10, 50)
    published_col = table12().cardinality
    if c10_50.tolist() != published_col.tolist():
        mismatches.append(f"CIFAR-10-LT(50) {c10_50.tolist()} != Table 12 {published_col.tolist()}")
    # Fig. 1: "Cls 1 (3237 samples, 5000 -> 3237)", "Cls 9 (100 samples, 5000 -> 100)".
    if (int(c10_50[1]), int(c10_50[9])) != (3237, 100):
        mismatches.append(f"Fig. 1 sizes: got classes 1, 9 = {int(c10_50[1])}, {int(c10_50[9])}, expected 3237, 100")
    totals = {}
    for (name, n_max, c, beta), expected in PUBLISHED_TOTALS.items():
        counts = long_tailed_counts(n_max, c, beta)
        totals[f"{name}({beta})"] = int(counts.sum())
        if int(counts.sum()) != expected:
            mismatches.append(f"{name}({beta}) total {int(counts.sum())} != {expected}")
        if counts[0] / counts[-1] != beta:
            mismatches.append(f"{name}({beta}) n_max/n_min = {counts[0] / counts[-1]:g} != β")
    c100_100 = long_tailed_counts(500, 100, 100)
    groups = {g: int(idx.size) for g, idx in shot_groups(c100_100).items()}
    summary = (f"CIFAR-10-LT(100) = {c10_100.tolist()} (sum {int(c10_100.sum()):,}); CIFAR-10-LT(50) = "
               f"{c10_50.tolist()} (sum {int(c10_50.sum()):,}) = Table 12's column; totals "
               + ", ".join(f"{k} {v:,}" for k, v in totals.items())
               + f"; CIFAR-100-LT(100) shot groups (Table 4): many {groups['many']}, medium {groups['medium']}, "
               f"few {groups['few']} classes.")
    if mismatches:
        return Outcome(FAILS, summary + " Mismatches: " + "; ".join(mismatches),
                       {"mismatches": mismatches, "totals": totals}, condition="; ".join(mismatches))
    return Outcome(HOLDS, summary, {"cifar10_lt_100": c10_100, "cifar10_lt_50": c10_50, "totals": totals,
                                    "cifar100_lt_100_shot_groups": groups})


if __name__ == "__main__":
    from paper_checks.run_all import main
    raise SystemExit(main(["--only", "cifar_counts"], modules=["check_cifar_counts"]))
