"""The paper's ablation studies (Tables 5-11, Figs. 3-6), one module per table.

``experiments/paper_tables.py`` is their command line. Each ``table<N>.study(setup)`` trains
(or reuses) its runs through the shared run cache (:mod:`.runs`), compares them with the paper's
numbers (:mod:`ltbound.published`) with the shared statistics (:mod:`.stats`) and returns
``{"rows", "table", "verdict", "notes"}`` (and ``"figures"`` for Table 11).

Shortened recipes. ``--epochs E`` scales the preset's milestones and warm-up by E / E_preset
(the last milestone kept at least 3 epochs before the end, so that a switch and Table 7's
middle stage fit). Quantities the paper gives in epochs of its 200-epoch recipe (the switch
offset S of Table 5, the 5-epoch middle stage of Table 7) are scaled by r = (E - m_n) / 100,
the length of the small-learning-rate stage relative to the paper's (epochs 101-200), rounded
up so that a nonzero S stays nonzero. With the digits preset (30 epochs, decay after 20) r = 0.1.

Comparisons are paired by seed: every schedule of seed k starts from the same initialisation.
"""
from __future__ import annotations

from . import table5, table6, table7, table8, table9, table10, table11

STUDIES = ("5", "6", "7", "8", "9", "10", "11")
STUDY_FUNCS = {"5": table5.study, "6": table6.study, "7": table7.study, "8": table8.study, "9": table9.study,
               "10": table10.study, "11": table11.study}
TITLES = {"5": "Table 5: switch offset S", "6": "Table 6: first/second sampler pairs",
          "7": "Table 7: progressive switching", "8": "Table 8: Decouple (frozen backbone, cRT) vs joint training",
          "9": "Table 9: bias² + variance", "10": "Table 10: feature quality (cRT on frozen features)",
          "11": "Table 11 and Figs. 3-6: learning-rate schedules and learning speed"}
