"""Table 11 and Figs. 3-6: stage-wise vs constant learning rates, and per-class learning speed."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ltbound.published import BASE_LR as PAPER_BASE_LR
from ltbound.published import LR_CONSTANTS as PAPER_LR_CONSTANTS
from ltbound.published import TABLE11 as PAPER_T11

from .runs import Setup, final_accuracy
from .stats import ordering_verdict, row, rows_table


def _lr_constants(st: Setup) -> list[float]:
    """The paper's four constants scaled by base lr / 0.1 (the paper's base lr)."""
    f = st.base()["lr"] / PAPER_BASE_LR
    return [float(f"{c * f:.6g}") for c in PAPER_LR_CONSTANTS]


def study(st: Setup) -> dict:
    """Table 11 and Figs. 3-6: stage-wise vs constant learning rates, per-class learning speed."""
    b = st.base()
    m_n = b["milestones"][-1] if b["milestones"] else 0
    consts = _lr_constants(st)
    rows, run_sets = [], {}
    for proc, sched in (("standard", "ib-ib"), ("switching", "ib-cr")):
        specs = [("stage-wise", "stage-wise", {})]
        for paper_c, c in zip(PAPER_LR_CONSTANTS, consts):
            # constant lr: no warm-up, no milestone; S = m_n + S keeps the switch at the stage-wise run's epoch
            specs.append((f"{c:g}", paper_c, {"lr": c, "milestones": [], "warmup_epochs": 0,
                                              "switch_offset": m_n + b["switch_offset"]}))
        for label, paper_key, over in specs:
            runs = {k: st.run(sched, k, **over) for k in st.seeds}
            run_sets[(proc, label)] = runs
            rows.append(row(f"{proc}, lr {label}", PAPER_T11[(proc, paper_key)],
                            {k: final_accuracy(p) for k, p in runs.items()}, {k: str(p) for k, p in runs.items()},
                            procedure=proc, lr=label))
    table = rows_table(rows, "procedure, learning rate")
    figs = make_figures(st, run_sets, consts)
    notes = [f"Constants: the paper's {list(PAPER_LR_CONSTANTS)} times base lr / 0.1 = {consts}; constant runs have "
             "no warm-up and switch at the stage-wise run's epoch.",
             "Learning speed (Figs. 4-6) = fraction of a class's training samples classified correctly after each "
             "epoch (the records' train_correct; top row) and the class's test accuracy (bottom row), mean over "
             "seeds; 4 classes from head to tail. The paper's text reads as the training proportion correct "
             "(Jiang et al. 2020) but speaks of tail accuracy, so both are drawn."]
    return {"rows": rows, "table": table, "verdict": ordering_verdict(rows), "notes": notes, "figures": figs}


def learning_speed(runs: dict[int, Path], classes: list[int], split: str = "train") -> np.ndarray:
    """(E, len(classes)) fraction of each class's samples classified correctly after each epoch, mean over runs.

    ``split="train"``: the class's training samples (learned, as in Jiang et al. 2020's proportion
    correct); ``"test"``: its test samples (per-class test accuracy).
    """
    from ltbound.records import load_record

    curves = []
    for p in runs.values():
        rec = load_record(p)
        correct, labels = (rec.train_correct, rec.train_labels) if split == "train" else (rec.test_correct, rec.test_labels)
        curves.append(np.stack([correct[:, labels == c].mean(axis=1) for c in classes], axis=1))
    return np.mean(curves, axis=0)


def make_figures(st: Setup, run_sets: dict, consts: list[float]) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ltbound.records import load_record

    out = st.out / "table11"
    out.mkdir(parents=True, exist_ok=True)
    ytr, _ = st.labels()
    c = int(ytr.max()) + 1
    classes = sorted(set(int(round(v)) for v in np.linspace(0, c - 1, 4)))
    counts = np.bincount(ytr, minlength=c)
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for proc, name in (("standard", "IB only"), ("switching", "Switching (IB → CR)")):
        accs = np.mean([load_record(p).balanced_test_accuracy() for p in run_sets[(proc, "stage-wise")].values()], axis=0)
        ax.plot(np.arange(1, accs.size + 1), 100 * accs, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("balanced test accuracy (%)")
    ax.set_title(f"Fig. 3 (proxy): test accuracy per epoch, {st.dataset}; BBN not run")
    ax.legend()
    fig.tight_layout()
    paths.append(_save(fig, out / "fig3_test_accuracy.png"))

    def panel(ax, runs, title, split):
        curves = learning_speed(runs, classes, split)
        for i, cl in enumerate(classes):
            ax.plot(np.arange(1, curves.shape[0] + 1), curves[:, i], label=f"class {cl} (n={counts[cl]})")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)

    for name, keys, title in (
            ("fig4_learning_speed_stagewise.png", [("standard", "stage-wise"), ("switching", "stage-wise")],
             "Fig. 4 (proxy): learning speed, stage-wise lr"),
            ("fig5_learning_speed_constant_standard.png", [("standard", f"{x:g}") for x in consts],
             "Fig. 5 (proxy): learning speed, constant lr, standard training"),
            ("fig6_learning_speed_constant_switching.png", [("switching", f"{x:g}") for x in consts],
             "Fig. 6 (proxy): learning speed, constant lr, switching")):
        # top row: training samples learned; bottom row: the same classes' test accuracy
        fig, axes = plt.subplots(2, len(keys), figsize=(3.6 * len(keys), 6.4), sharey=True, squeeze=False)
        for j, key in enumerate(keys):
            panel(axes[0][j], run_sets[key], f"{key[0]}, lr {key[1]}: train", "train")
            panel(axes[1][j], run_sets[key], f"{key[0]}, lr {key[1]}: test", "test")
        axes[0][0].set_ylabel("fraction of class's training samples correct")
        axes[1][0].set_ylabel("class test accuracy")
        axes[0][-1].legend(fontsize=7, loc="lower right")
        fig.suptitle(title)
        fig.tight_layout()
        paths.append(_save(fig, out / name))
    return paths


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
