"""The trainer's data: long-tailed data sets, the class sampler and the batch pipelines (torch).

- :mod:`~ltbound.train.data.datasets`: ``load_dataset`` (CIFAR-LT protocol, image folders, digits),
  ``LTDataset``, ``ImageSplit``, ``split_hash``, ``DataError``
- :mod:`~ltbound.train.data.sampler`: ``ClassSampler`` (every q of Eq. 1) and ``ScheduleSampler``
- :mod:`~ltbound.train.data.loader`, :mod:`~ltbound.train.data.augment`: the fast pipeline,
  batches gathered, cropped, flipped and normalised on the device
- :mod:`~ltbound.train.data.reference`: the PIL/DataLoader reference pipeline

May import: torch, torchvision, pillow, ``ltbound.bounds.sampling``, ``ltbound.schedule``,
:mod:`ltbound.records` and the private helpers. Nothing else of ``ltbound.train``.
"""
