"""Certificates: PAC-Bayes bounds with a data-dependent prior and their test-set case.

- :mod:`~ltbound.certificates.kl_bounds`: the binary kl, its inverses and the PAC-Bayes-kl
  family of bounds (Seeger; Maurer; quad, classic, λ), the Gaussian KL, the Monte Carlo term
- :mod:`~ltbound.certificates.pooled`: the pooled-over-classes limits (exact binomial, Chernoff)
- :mod:`~ltbound.certificates.pacbayes`: ``target_risk_certificate`` → ``PacBayesCertificate``,
  the certified risk under a target class prior
- :mod:`~ltbound.certificates.difference`: ``risk_difference_certificate``, a certified interval
  for the difference of two schedules' risks (split-kl)
- :mod:`~ltbound.certificates.certificate_files`: a certify run's ``certificates.npz``, written,
  read and recomputed

May import: numpy, scipy and ``ltbound._validation``. Never the bounds, the statistics or torch;
:mod:`ltbound.statistics` and :mod:`ltbound.train.stochastic` build on it.
"""
