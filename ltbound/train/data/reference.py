"""The reference pipeline (``fast=False``): a torchvision-style Dataset, DataLoader and PIL transforms.

What a typical training script does, kept to measure the fast pipeline against
(``benchmarks/bench_trainer.py``) and to check that both train on the same sample stream:
each item is a PIL image through ``RandomCrop(H, padding=4)``, ``RandomHorizontalFlip``,
``ToTensor`` and ``Normalize``; the ``DataLoader`` reads the epoch's indices in order and
moves each batch to the device. Float32, contiguous (NCHW) memory.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["PILDataset", "reference_transform", "ReferenceLoader"]


class PILDataset(torch.utils.data.Dataset):
    """The reference pipeline's data set: a PIL image per item, torchvision transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image
        arr = self.images[i]                                     # (C, H, W) uint8
        img = Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))
        return self.transform(img), int(self.labels[i])


def reference_transform(height: int, mean, std, augment: bool):
    """RandomCrop(H, padding=4) + RandomHorizontalFlip + ToTensor + Normalize (torchvision)."""
    from torchvision import transforms as T
    steps = [T.RandomCrop(height, padding=4), T.RandomHorizontalFlip()] if augment else []
    return T.Compose(steps + [T.ToTensor(), T.Normalize(list(map(float, mean)), list(map(float, std)))])


class ReferenceLoader:
    """The same epoch stream through ``DataLoader`` + PIL transforms (for comparison)."""

    def __init__(self, dataset: PILDataset, indices: torch.Tensor, batch_size: int, *, workers: int,
                 device: torch.device, seed: int):
        self.loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, sampler=indices.tolist(), num_workers=workers,
            pin_memory=device.type == "cuda", drop_last=False,
            generator=torch.Generator().manual_seed(seed), persistent_workers=False)
        self.device = device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
