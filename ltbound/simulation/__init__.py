"""A simulator with known risks: class-conditional Gaussian data, linear rules, the bounds' coverage.

- :mod:`~ltbound.simulation.problems`: ``SimProblem``, ``make_problem``, ``problem_from_rules``,
  ``draw_training_set``, ``draw_test_set``: problems whose true risks are computed exactly
- :mod:`~ltbound.simulation.coverage`: ``run_coverage`` → ``CoverageResult``: how often each
  bound holds over many drawn training sets; ``certified_risk_coverage``; the presets

May import: numpy, scipy, :mod:`ltbound.bounds`, :mod:`ltbound.statistics` and the private
helpers. Nothing imports it but the command lines and the tests.
"""
