"""Learning events and class regularity (Appendix A, Table 12) from a run's per-epoch records.

- :mod:`~ltbound.regularity.events`: forgetting and learned events, ``class_irregularity``,
  ``regularity_from_record``, events averaged over runs, samples matched across runs
- :mod:`~ltbound.regularity.correlation`: Pearson correlation and its permutation test
- :mod:`~ltbound.regularity.plots`: ``plot_events`` (matplotlib, the ``[plots]`` extra)
- :mod:`~ltbound.regularity.paper_table`: the paper's Table 12 (``table12``)

May import: numpy, :mod:`ltbound.records` and the private helpers. Never the bounds, the trainer
or torch.
"""
