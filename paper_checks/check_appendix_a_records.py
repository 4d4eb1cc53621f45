"""Appendix A on real run records: class size vs irregularity (Eq. 8-13) against the paper's −0.6112.

Claim (App. A.2, Table 12): on CIFAR-10-LT (imbalance 50), with learned and forgetting
events averaged over 10 ResNet-32 runs, the Pearson coefficient (Eq. 13) between class
cardinality and irregularity (Eq. 12) is −0.6112: "cardinality and regularity are
significantly negatively correlated".

Two sources, both through :mod:`ltbound.regularity.events`:

* committed CIFAR-10-LT (imbalance 50) IB records under experiments/records/ (GPU runs;
  ``not run`` with the command that makes them when absent);
* a CPU proxy: the digits-lt IB runs of :mod:`paper_checks._digits` (trained here), events
  averaged over seeds as the paper averages over runs, training and test sets.
"""

from __future__ import annotations

import numpy as np

from ltbound.regularity.correlation import cardinality_irregularity_correlation
from ltbound.regularity.events import averaged_events, class_irregularity, regularity_from_record
from ltbound.regularity.paper_table import table12

from paper_checks._check import HOLDS, FAILS, NOT_RUN, Outcome, check

#: Schedules whose whole run is instance-balanced (standard training, as behind Table 12).
IB_SCHEDULES = ("ib", "ib-ib")


def averaged_pearson(records: list) -> tuple[float, np.ndarray]:
    """Eq. 13 between training counts and the irregularity of run-averaged (L, F) events.

    All records must share the training split (the same samples in the same order). Unlike
    :func:`ltbound.regularity.events.regularity_from_record` (one run), the events are averaged over
    runs before Eq. 10-12 (:func:`ltbound.regularity.events.averaged_events`), as the paper averages
    over its 10 runs.
    """
    ref = records[0]
    learned, forgotten = averaged_events(records, "train")                              # Eq. 8, 9
    stats = class_irregularity(learned, forgotten, ref.train_labels, ref.num_classes)   # Eq. 10-12
    return cardinality_irregularity_correlation(stats.irregularity, ref.counts), stats.irregularity


@check("appendix_a_records", claim="App. A: class size vs irregularity Pearson (Eq. 13) on trainer runs vs -0.6112",
       where="App. A.2, Eq. 8-13, Table 12", slow=True)
def appendix_a_records() -> Outcome:
    from paper_checks._digits import SEEDS, command, digits_record
    from paper_checks._records import committed_records, table1_command

    published = table12().pearson
    digits = [digits_record("ib", s) for s in SEEDS]
    d_avg, d_irr = averaged_pearson(digits)
    per_run = [regularity_from_record(r) for r in digits]
    d_train = [r.train_pearson for r in per_run]
    d_test = [r.test_pearson for r in per_run]
    counts = digits[0].counts
    digits_text = (f"digits-lt proxy (IB, {len(digits)} seeds, {digits[0].epochs.size} epochs, counts {counts.tolist()}): "
                   f"Pearson(n_j, I_j) of seed-averaged events = {d_avg:+.4f}; per run train "
                   + ", ".join(f"{p:+.4f}" if p is not None else "undefined" for p in d_train)
                   + ", test (vs training counts) "
                   + ", ".join(f"{p:+.4f}" if p is not None else "undefined" for p in d_test)
                   + f"; published (CIFAR-10-LT(50)) {published}.")
    evidence = {"published": published, "digits_averaged_pearson": d_avg, "digits_irregularity": d_irr,
                "digits_train_pearson": d_train, "digits_test_pearson": d_test, "digits_counts": counts,
                "digits_command": command()}

    from paper_checks.check_table1_orderings import _is_full_recipe, provenance
    cifar = [r for r in committed_records("cifar10-lt", 50)
             if r.label.lower() in IB_SCHEDULES]
    # The paper's recipe (200 epochs) first; events of a 60-epoch run are not averaged with them.
    cifar = [r for r in cifar if _is_full_recipe(r)] or cifar
    if not cifar:
        return Outcome(NOT_RUN, digits_text + " CIFAR-10-LT(50) IB records: none committed.", evidence,
                       condition=table1_command("cifar10-lt", 50, ("ib",)) + " (several seeds)")
    c_avg, c_irr = averaged_pearson(cifar)
    evidence.update({"cifar_runs": [str(r.path) for r in cifar], "cifar_averaged_pearson": c_avg,
                     "cifar_irregularity": c_irr})
    sources = "; ".join(sorted({provenance(r) for r in cifar}))
    summary = (f"CIFAR-10-LT(50), {len(cifar)} committed IB run(s) [{sources}; the paper averages 10 runs]: Pearson(n_j, I_j) of run-averaged events = {c_avg:+.4f} "
               f"(published {published}). " + digits_text)
    status, condition = pearson_verdict(c_avg)
    return Outcome(status, summary, evidence, condition=condition)


def pearson_verdict(c_avg: float) -> tuple[str, str]:
    """The sign claim of App. A on measured runs: negative holds, >= 0 fails."""
    if c_avg < 0:
        return HOLDS, ""
    return FAILS, f"the coefficient on the committed runs is {c_avg:+.4f} >= 0"


if __name__ == "__main__":
    from paper_checks.run_all import main
    raise SystemExit(main(["--only", "appendix_a_records"], modules=["check_appendix_a_records"]))
