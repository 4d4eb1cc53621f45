"""Per-sample loss matrices over a finite Θ̂, from a run's checkpoints or a user's own model (torch).

- :mod:`~ltbound.train.loss_matrices.theta`: checkpoints and perturbations of a record's model
- :mod:`~ltbound.train.loss_matrices.bridge`: a torch user's models and data in, ``(losses, labels)`` out
- :mod:`~ltbound.train.loss_matrices.user_data`: a user's data read as batches, its mistakes caught

May import: :mod:`ltbound.train.data`, :mod:`ltbound.train.loop` (models, the evaluation pass),
:mod:`ltbound.records`, ``ltbound.losses`` and the private helpers. Never the bounds: they take
these matrices as numpy arrays.
"""
