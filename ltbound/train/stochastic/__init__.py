"""Stochastic networks and the certified risk of a schedule (PAC-Bayes with a data-dependent prior).

- :mod:`~ltbound.train.stochastic.networks`: ``StochasticNetwork`` (mean-field Gaussian weights),
  the prior split, posterior training, Monte Carlo losses
- :mod:`~ltbound.train.stochastic.certified_run`: ``certify_schedule`` and ``load_certified_run``

May import: the rest of ``ltbound.train``, :mod:`ltbound.certificates`,
:mod:`ltbound.statistics` (the test-set certificate) and :mod:`ltbound.records`.
"""
