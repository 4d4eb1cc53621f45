"""Comparing schedules from trainer run records: bounds per run, verdicts per pair, the table.

- :mod:`~ltbound.comparison.compare_runs`: ``compare`` → ``Comparison``, ``bounds_for_record``:
  records in, loss matrices over a run's Θ̂, bounds and measured risks per run and per schedule
- :mod:`~ltbound.comparison.report`: the text table of a ``Comparison`` (formatting only)

May import: :mod:`ltbound.records`, :mod:`ltbound.bounds`, :mod:`ltbound.statistics`, the loss
vocabulary and the private helpers. Never the trainer or torch.
"""
