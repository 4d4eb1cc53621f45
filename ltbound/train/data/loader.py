"""The fast pipeline's batches: gathered, augmented and normalised where the images live.

The airbench recipe: the whole data set is one uint8 tensor on the training device; a batch
is one index gather, one vectorised crop+flip (:mod:`ltbound.train.data.augment`) and one
normalisation, with nothing read back to the host. The reference pipeline it is compared
with is in :mod:`ltbound.train.data.reference`.
"""

from __future__ import annotations

import math

import torch

from .augment import batch_crop_flip, normalize

__all__ = ["DeviceLoader"]


class DeviceLoader:
    """Batches of one epoch, gathered, augmented and normalised where the images live.

    Parameters
    ----------
    images : uint8 tensor (N, C, H, W) on the training device
    labels : int64 tensor (N,) on the same device
    indices : int64 tensor (L,), this rank's sample stream for the epoch (may repeat indices)
    batch_size : int
    augment : bool
        Crop (pad 4) + flip, drawn from ``generator``.
    mean, std : float tensors (C,) on the device
    channels_last : bool
    """

    def __init__(self, images, labels, indices, batch_size, *, augment, generator, mean, std,
                 channels_last=False):
        self.images, self.labels = images, labels
        self.indices = indices.to(images.device)
        self.batch_size = batch_size
        self.augment, self.generator = augment, generator
        self.mean, self.std = mean, std
        self.channels_last = channels_last

    def __len__(self) -> int:
        return math.ceil(self.indices.numel() / self.batch_size)   # last partial batch kept

    def __iter__(self):
        for start in range(0, self.indices.numel(), self.batch_size):
            idx = self.indices[start:start + self.batch_size]
            x = self.images.index_select(0, idx)
            if self.augment:
                x = batch_crop_flip(x, self.generator)
            x = normalize(x, self.mean, self.std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels.index_select(0, idx)
