"""A run's life beyond one process: checkpoints and resume state, forks, snapshots (torch).

- :mod:`~ltbound.train.runs.state`: atomic checkpoint and resume-state files
- :mod:`~ltbound.train.runs.fork`: branch a run off another run's record; which runs share epochs
- :mod:`~ltbound.train.runs.snapshot`: pack and restore an unfinished run

May import: :mod:`ltbound.records`, ``ltbound.schedule`` and torch. Nothing else of
``ltbound.train``.
"""
