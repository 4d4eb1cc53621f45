"""The Switching paper's published numbers, in one place.

Every script, check and test that quotes a cell of the paper imports it from here
(``experiments/table1_summary.py``, ``experiments/paper_tables.py``, ``paper_checks``,
the README tests), so a cell is typed once. Values are as printed: top-1 accuracy in
percent (Table 9: fractions), one run each, no interval.

References
----------
The paper: ``shared/paper/switching-paper.md`` (Tables 1-11). Table 12 (App. A) lives with
its arithmetic in :func:`ltbound.regularity.paper_table.table12`.
"""

from __future__ import annotations

C10, C100 = "CIFAR-10-LT", "CIFAR-100-LT"

#: Table 1 columns: long-tailed CIFAR at imbalance ratio 100 / 50 / 10 (ResNet-32).
TABLE1_COLUMNS = (f"{C10}(100)", f"{C10}(50)", f"{C10}(10)", f"{C100}(100)", f"{C100}(50)", f"{C100}(10)")
#: Table 1 rows, method as labelled (†: copied from another paper, *: reproduced) -> top-1 % per column.
TABLE1 = {
    "Cross Entropy†": (70.4, 74.8, 86.7, 38.3, 43.9, 55.7),
    "Cross Entropy*": (73.1, 77.9, 86.4, 40.7, 44.9, 57.2),
    "Focal†": (70.4, 76.7, 86.7, 38.4, 44.3, 55.8),
    "CE-DRW†": (76.3, 80.0, 87.6, 41.5, 45.3, 58.1),
    "CE-DRS†": (75.6, 79.8, 87.4, 41.6, 45.5, 58.1),
    "CB-Focal†": (74.6, 79.3, 87.1, 39.6, 45.2, 58.0),
    "LDAM-DRW†": (77.0, 81.0, 88.2, 42.0, 46.6, 58.7),
    "Decouple-cRT*": (73.8, 80.7, 86.7, 40.1, 46.4, 57.7),
    "Decouple-LWS*": (73.5, 77.5, 86.1, 40.2, 45.7, 58.1),
    "BBN†": (79.8, 82.2, 88.3, 42.6, 47.0, 59.1),
    "Ours (S=1)": (79.7, 82.9, 88.4, 44.7, 49.5, 59.5),
}
#: The trainer's schedule names of Table 1's rows: "Cross Entropy*" is IB only, "Ours (S=1)" Switching.
TABLE1_SCHEDULES = {"ib": "Cross Entropy*", "switching": "Ours (S=1)"}

INAT90, INAT200 = "iNat2018, 90 epochs", "iNat2018, 200 epochs"
#: Table 2 columns: iNaturalist 2018, ResNet-50, 90 / 200 training epochs.
TABLE2_COLUMNS = (INAT90, INAT200)
#: Table 2 rows -> top-1 %. The rows of :data:`TABLE2_ONE_NUMBER` print one number and no epoch
#: budget; it is stored in both columns.
TABLE2 = {
    "Cross Entropy†": (57.2, 57.2),
    "CE-DRW†": (63.7, 63.7),
    "CE-DRS†": (63.6, 63.6),
    "CB-Focal†": (61.1, 61.1),
    "LDAM-DRW†": (68.0, 68.0),
    "Decouple-NCM†": (58.2, 63.1),
    "Decouple-cRT†": (65.2, 67.6),
    "Decouple-τ-normed†": (65.6, 69.3),
    "Decouple-LWS†": (65.9, 69.5),
    "BBN†": (66.3, 69.6),
    "Ours (S=1 / S=1)": (66.7, 70.4),
    "Ours (S=10 / S=40)": (66.8, 70.0),
}
TABLE2_ONE_NUMBER = frozenset({"Cross Entropy†", "CE-DRW†", "CE-DRS†", "CB-Focal†", "LDAM-DRW†"})

IMNET = "ImageNet-LT"
#: Table 3: ImageNet-LT, ResNet-50, top-1 %.
TABLE3_COLUMNS = (IMNET,)
TABLE3 = {
    "Cross Entropy†": (41.6,),
    "Decouple-NCM†": (44.3,),
    "Decouple-cRT†": (47.3,),
    "Decouple-τ-normed†": (46.7,),
    "Decouple-LWS†": (47.7,),
    "BBN*": (45.9,),
    "Ours (S=1)": (47.9,),
    "Ours (S=10)": (48.2,),
}

#: Table 4 (few-shot split), the cells the checks quote: (data set, method) -> few-shot top-1 %.
TABLE4_FEW = {(f"{C100}(100)", "Ours (S=1)"): 26.5, (f"{C100}(100)", "Decouple-cRT"): 18.0,
              (IMNET, "Ours (S=1)"): 41.8, (IMNET, "Decouple-LWS"): 29.3}

#: Table 5: switch offset S -> top-1 % at imbalance 50 on (CIFAR-10-LT, CIFAR-100-LT).
TABLE5 = {0: (82.6, 49.7), 1: (82.9, 49.5), 5: (82.9, 49.3), 10: (82.8, 49.1), 50: (82.6, 49.1),
          200: (82.2, 48.1), 500: (82.0, 47.5)}
#: Table 5's last row, "CE (IB only)", on (CIFAR-10-LT, CIFAR-100-LT).
TABLE5_IB = (77.9, 44.9)

#: Table 6: (data set, imbalance) -> first-then-second sampler (the trainer's schedule names) -> top-1 %.
TABLE6 = {
    ("cifar10-lt", 100): {"ib-ib": 73.1, "ib-cb": 77.1, "ib-cr": 79.7, "cb-ib": 66.5, "cb-cb": 73.0, "cb-cr": 74.8,
                          "cr-ib": 63.8, "cr-cb": 64.2, "cr-cr": 68.4},
    ("cifar10-lt", 50): {"ib-ib": 77.9, "ib-cb": 81.9, "ib-cr": 82.9, "cb-ib": 73.8, "cb-cb": 78.5, "cb-cr": 80.7,
                         "cr-ib": 74.8, "cr-cb": 72.7, "cr-cr": 76.3},
    ("cifar10-lt", 10): {"ib-ib": 86.4, "ib-cb": 87.9, "ib-cr": 88.4, "cb-ib": 86.7, "cb-cb": 87.3, "cb-cr": 87.9,
                         "cr-ib": 85.2, "cr-cb": 86.3, "cr-cr": 86.8},
    ("cifar100-lt", 100): {"ib-ib": 40.7, "ib-cb": 44.2, "ib-cr": 44.7, "cb-ib": 33.3, "cb-cb": 36.2, "cb-cr": 38.6,
                           "cr-ib": 24.7, "cr-cb": 24.7, "cr-cr": 22.9},
    ("cifar100-lt", 50): {"ib-ib": 44.9, "ib-cb": 48.7, "ib-cr": 49.5, "cb-ib": 37.1, "cb-cb": 40.3, "cb-cr": 42.4,
                          "cr-ib": 28.7, "cr-cb": 29.2, "cr-cr": 28.0},
    ("cifar100-lt", 10): {"ib-ib": 57.2, "ib-cb": 59.2, "ib-cr": 59.5, "cb-ib": 55.0, "cb-cb": 56.9, "cb-cr": 57.8,
                          "cr-ib": 51.3, "cr-cb": 52.5, "cr-cr": 53.2},
}

#: Table 7 (CIFAR-10-LT, imbalance 50): progressive switching -> top-1 %.
TABLE7 = {"IB → CR": 82.9, "IB → CB (5 ep.) → CR": 82.7, "IB → CR (5 ep.) → CB": 79.2}
#: Table 8: (second sampler, joint training, re-training classifier) -> top-1 %.
TABLE8 = {("IB", False, False): 76.3, ("IB", True, False): 77.9, ("IB", False, True): 77.7, ("IB", True, True): 78.9,
          ("CB", False, False): 81.9, ("CB", True, False): 81.9, ("CB", False, True): 81.8, ("CB", True, True): 81.9,
          ("CR", False, False): 81.4, ("CR", True, False): 82.9, ("CR", False, True): 81.6, ("CR", True, True): 82.4}
#: Table 9 (fractions), rows as printed: method -> (accuracy, bias², variance, total error).
#: BBN is a method this project does not implement; its row is quoted by the paper checks.
TABLE9 = {"Cross Entropy (IB only)": (0.779, 0.049, 0.168, 0.217),
          "Cross Entropy (CR only)": (0.763, 0.056, 0.183, 0.239),
          "Decouple-cRT": (0.807, 0.037, 0.148, 0.185),
          "BBN": (0.822, 0.032, 0.146, 0.178),
          "Ours (S = 1)": (0.829, 0.029, 0.142, 0.171)}
#: Table 10: (features from, re-training sampler) -> top-1 %.
TABLE10 = {("standard", "IB"): 77.7, ("standard", "CB"): 80.7, ("standard", "CR"): 82.2,
           ("switching", "IB"): 77.0, ("switching", "CB"): 81.4, ("switching", "CR"): 82.6}
#: Table 11: the constant learning rates the paper tries beside its stage-wise schedule.
LR_CONSTANTS = (0.1, 0.02, 0.01, 0.001)
#: Table 11: (procedure, "stage-wise" or a constant of :data:`LR_CONSTANTS`) -> top-1 %.
TABLE11 = {("standard", "stage-wise"): 77.9, ("standard", 0.1): 75.5, ("standard", 0.02): 76.1,
           ("standard", 0.01): 75.0, ("standard", 0.001): 65.9,
           ("switching", "stage-wise"): 82.9, ("switching", 0.1): 77.7, ("switching", 0.02): 78.3,
           ("switching", 0.01): 77.7, ("switching", 0.001): 66.1}

#: The paper's CIFAR recipe: base learning rate, and epochs of its small-learning-rate stage (101-200).
BASE_LR = 0.1
SMALL_LR_STAGE_EPOCHS = 100


def table1_accuracy(dataset: str, imbalance: int, schedule: str) -> float | None:
    """Table 1's top-1 % for the trainer's ``schedule`` ("ib" or "switching") on ``dataset``
    ("cifar10-lt" / "cifar100-lt") at ``imbalance`` (100, 50, 10); None where the table has no cell."""
    name = {"cifar10-lt": C10, "cifar100-lt": C100}.get(dataset)
    column = f"{name}({imbalance:g})" if name else None
    if schedule not in TABLE1_SCHEDULES or column not in TABLE1_COLUMNS:
        return None
    return TABLE1[TABLE1_SCHEDULES[schedule]][TABLE1_COLUMNS.index(column)]
