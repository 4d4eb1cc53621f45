"""Table 8: joint training vs a frozen backbone with a fine-tuned or re-trained (cRT) classifier."""
from __future__ import annotations

from ltbound.published import TABLE8 as PAPER_T8

from .runs import Setup, crt, end_epoch, final_accuracy, switch_checkpoint
from .stats import ordering_verdict, row, rows_table


def study(st: Setup) -> dict:
    """Table 8: joint training vs a frozen backbone with a fine-tuned or re-trained (cRT) classifier."""
    b = st.base()
    small_lr = b["lr"] * (b["gamma"] ** len(b["milestones"]))
    rows = []
    for x in ("IB", "CB", "CR"):
        runs = {k: st.run(f"ib-{x.lower()}", k) for k in st.seeds}
        vals: dict[tuple[bool, bool], dict[int, float]] = {(j, r): {} for j in (False, True) for r in (False, True)}
        for k, p in runs.items():
            sw, end = switch_checkpoint(p), end_epoch(p)
            f_sw = st.features(p, sw)
            # neither: backbone frozen at the switch, the existing classifier fine-tuned with x for the
            # epochs joint training would run, at the small learning rate (constant)
            vals[(False, False)][k] = crt(st, f_sw, x, k, epochs=end - sw, lr=small_lr, lr_schedule="constant",
                                           init=(f_sw["weight"], f_sw["bias"]))
            vals[(True, False)][k] = final_accuracy(p)
            vals[(False, True)][k] = crt(st, f_sw, x, k)
            vals[(True, True)][k] = crt(st, st.features(p, end), x, k)
        for (j, r), v in vals.items():
            label = f"IB → {x}, joint {'yes' if j else 'no'}, re-train {'yes' if r else 'no'}"
            rows.append(row(label, PAPER_T8[(x, j, r)], v, {k: str(p) for k, p in runs.items()},
                            second=x, joint=j, retrain=r))
    table = rows_table(rows, "second sampler / paradigm")
    notes = ["joint no / re-train no: backbone frozen at the switch checkpoint, its classifier fine-tuned with the "
             f"second sampler for the remaining epochs at the small lr {small_lr:g} (constant).",
             "joint yes / re-train no: the trainer's run itself (IB, then the second sampler), from its record.",
             "re-train yes: a fresh linear classifier (cRT) trained with the second sampler on features of the "
             "switch checkpoint (joint no) or of the final model (joint yes); schedule "
             f"{st.retrain_settings()}; features computed once without augmentation.",
             "Our reading of the paper's check marks; the paper does not spell out the rows without joint training."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes}
