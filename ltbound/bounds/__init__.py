"""The paper's bounds, term by term: Eq. 1 (sampling), Eq. 3/4 (objectives), Eq. 5 (Rademacher),
Eq. 6/7 (confidence terms and the bounds), Eq. 18 (the residual Q_n), Theorem 1 and the symbolic
derivations of Eq. 21 and Appendix B.2.

- :mod:`~ltbound.bounds.sampling`: the q-family of class-sampling distributions (Eq. 1), the one
  reader of sampler names, long-tailed class counts and shot groups
- :mod:`~ltbound.bounds.objectives`: the standard and the weighted objective (Eq. 3, Eq. 4)
- :mod:`~ltbound.bounds.confidence`: the confidence terms of Eq. 6 and Eq. 7
- :mod:`~ltbound.bounds.rademacher`: the empirical Rademacher complexity of a finite Θ̂ (Eq. 5)
- :mod:`~ltbound.bounds.residual`: the residual Q_n (Eq. 18)
- :mod:`~ltbound.bounds.theorem1`: Theorem 1's condition, the one computation of it
- :mod:`~ltbound.bounds.results`: the result types (``BoundTerm``, ``BoundResult``, ``BoundReport``)
  and their tables
- :mod:`~ltbound.bounds.estimate`: ``ib_bound``, ``sampling_bound``, ``target_bound`` and
  ``estimate_bounds``: the public entry points, one check at the boundary
- :mod:`~ltbound.bounds.theory`, :mod:`~ltbound.bounds.q_family`: sympy derivations (the
  ``[theory]`` extra) and the numeric q-family residual

May import: numpy, scipy (sympy in the theory modules only) and the private helpers
``ltbound._validation``, ``ltbound._table``, ``ltbound._optional``. Nothing else of ltbound:
every other subpackage builds on this one. The public names are re-exported by :mod:`ltbound`.
"""
