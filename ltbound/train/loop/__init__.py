"""The training loop: settings, models, the loop itself and the evaluation pass (torch).

- :mod:`~ltbound.train.loop.config`: ``TrainConfig`` and ``plan_run`` (the one boundary check)
- :mod:`~ltbound.train.loop.trainer`: ``train``, the loop that writes a run record
- :mod:`~ltbound.train.loop.evaluation`: the trainer's evaluation pass, per-sample losses
- :mod:`~ltbound.train.loop.models`: CIFAR ResNet-32 and a small digits net
- :mod:`~ltbound.train.loop.environment`, :mod:`~ltbound.train.loop.distributed`: the machine a
  run records, torchrun helpers
- :mod:`~ltbound.train.loop.retrain`: classifier re-training on frozen features (cRT, Tables 8-10)

May import: :mod:`ltbound.train.data`, :mod:`ltbound.train.runs`, :mod:`ltbound.records`,
``ltbound.schedule``, ``ltbound.bounds.sampling`` and the private helpers. Never the consumers of
the records it writes (loss matrices, bounds, comparison).
"""
