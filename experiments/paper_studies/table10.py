"""Table 10: feature quality: cRT with IB / CB / CR on the standard (IB) and the Switching backbone."""
from __future__ import annotations

from ltbound.published import TABLE10 as PAPER_T10

from .runs import Setup, crt, end_epoch
from .stats import ordering_verdict, row, rows_table


def study(st: Setup) -> dict:
    """Table 10: feature quality: cRT with IB/CB/CR on the standard (IB) and the Switching backbone."""
    rows = []
    for feat, sched in (("standard", "ib-ib"), ("switching", "ib-cr")):
        runs = {k: st.run(sched, k) for k in st.seeds}
        for x in ("IB", "CB", "CR"):
            v = {k: crt(st, st.features(p, end_epoch(p)), x, k) for k, p in runs.items()}
            rows.append(row(f"{feat} features, cRT {x}", PAPER_T10[(feat, x)], v, {k: str(p) for k, p in runs.items()},
                            feature=feat, retrain=x))
    table = rows_table(rows, "feature / re-training")
    notes = [f"cRT schedule {st.retrain_settings()} on features of the final model, computed once without augmentation."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes}
