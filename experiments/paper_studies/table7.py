"""Table 7: progressive switching IB → CB → CR and IB → CR → CB (middle stage 5 paper epochs, scaled)."""
from __future__ import annotations

import math

from ltbound.published import TABLE7 as PAPER_T7

from .runs import Setup, final_accuracy
from .stats import ordering_verdict, row, rows_table


def study(st: Setup) -> dict:
    """Table 7: progressive switching IB → CB → CR and IB → CR → CB (middle stage 5 paper epochs, scaled)."""
    k_mid = max(1, math.ceil(5 * st.stage_ratio() - 1e-9))
    spec = [("IB → CR", "ib-cr"), ("IB → CB (5 ep.) → CR", f"ib-cb{k_mid}-cr"),
            ("IB → CR (5 ep.) → CB", f"ib-cr{k_mid}-cb")]
    rows = []
    for label, sched in spec:
        runs = {k: st.run(sched, k) for k in st.seeds}
        rows.append(row(label, PAPER_T7[label], {k: final_accuracy(p) for k, p in runs.items()},
                        {k: str(p) for k, p in runs.items()}, schedule=sched))
    table = rows_table(rows, "schedule", (("run", "schedule"),))
    notes = [f"The middle stage lasts 5 epochs in the paper's recipe; here ceil(5 r) = {k_mid} epoch(s)."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes}
