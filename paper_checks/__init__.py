"""Every claim of the Switching paper as a runnable check with a verdict.

One module per claim (``check_*.py``); each registers its checks with
:func:`paper_checks._check.check`. Run them all with ``python paper_checks/run_all.py``
(``--fast``, ``--only NAME...``, ``--json``), or one module with
``python -m paper_checks.check_table12``. The checks call the ``ltbound`` library; they
recompute published numbers only from the published tables themselves.
"""
