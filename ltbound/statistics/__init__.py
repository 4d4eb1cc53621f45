"""Statistics of measured results: test-set intervals, certified test risk, paired comparisons,
multiple-testing control and the bias-variance decomposition of an error.

- :mod:`~ltbound.statistics.heldout`: statistics of a held-out test set (``accuracy_intervals``,
  ``certified_risk``, ``compare_on_test_set``, ``compare_over_seeds``, McNemar, Clopper-Pearson)
- :mod:`~ltbound.statistics.verdicts`: judging a comparison of schedules: bound coverage,
  orderings, difference tests over seeds, Holm's step-down control of a table's pairs
- :mod:`~ltbound.statistics.decomposition`: bias-variance and 0-1 decompositions (Table 9)

May import: numpy, scipy, ``ltbound._validation``, :mod:`ltbound.bounds` and
:mod:`ltbound.certificates`. Never records, comparison, the trainer or torch.
"""
