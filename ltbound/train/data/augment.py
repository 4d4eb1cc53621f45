"""Batch augmentation and normalisation on the device where the data lives.

The standard CIFAR augmentation (a random 32x32 crop of the image padded by 4 zero pixels on
each side, then a horizontal flip with probability 1/2) is applied to a whole batch of
uint8 images at once, with one seeded ``torch.Generator`` on the batch's device, so that no
image crosses the CPU-GPU boundary and no per-image Python runs (airbench's ``batch_crop`` /
``batch_flip_lr`` idea, written as one gather).

Zero padding of the uint8 image is what ``torchvision.transforms.RandomCrop(32, padding=4)``
does to a PIL image (fill 0, before ``ToTensor``/``Normalize``), so both pipelines see the
same distribution of augmented images.
"""

from __future__ import annotations

import torch

from ..._validation import check_positive_int

__all__ = ["batch_crop_flip", "normalize", "AUGMENTATIONS"]

#: Augmentations the trainer knows, by the name an ``LTDataset.augment`` field carries.
AUGMENTATIONS = ("crop-flip", "none")


def batch_crop_flip(images: torch.Tensor, generator: torch.Generator, *, padding: int = 4,
                    flip: bool = True) -> torch.Tensor:
    """Random crop with zero padding, then random horizontal flip, for a whole batch.

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W), any dtype (uint8 in the trainer)
        The batch, on any device.
    generator : torch.Generator
        On ``images.device``. Draws, in this order, B vertical offsets, B horizontal offsets
        (each uniform on {0, ..., 2*padding}) and B flip bits, so the same generator state
        gives the same augmented batch.
    padding : int
        Pixels of zeros added on each side before cropping back to (H, W); 0 disables cropping.
    flip : bool
        Flip each image left-right with probability 1/2.

    Returns
    -------
    torch.Tensor, shape (B, C, H, W), same dtype and device as ``images``.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    if generator.device.type != images.device.type:
        raise ValueError(f"generator is on {generator.device} but images are on {images.device}; "
                         "create the generator on the images' device")
    pad = check_positive_int(padding, "padding", minimum=0)
    b, c, h, w = images.shape
    dev = images.device
    out = images
    if pad > 0:
        padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))  # zeros, like RandomCrop(fill=0)
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=dev)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=dev)
        rows = dy[:, None] + torch.arange(h, device=dev)                  # (B, H)
        cols = dx[:, None] + torch.arange(w, device=dev)                  # (B, W)
        # One advanced-indexing gather picks every image's own window: (B, C, H, W).
        out = padded[torch.arange(b, device=dev)[:, None, None, None],
                     torch.arange(c, device=dev)[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mask = torch.rand(b, generator=generator, device=dev) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(x / 255 - mean) / std per channel, for uint8 images of shape (B, C, H, W).

    ``mean`` and ``std`` are (C,) tensors in [0, 1] pixel units (as ``ToTensor`` scales),
    on the images' device.
    """
    x = images.to(dtype).div_(255.0)
    return x.sub_(mean.to(dtype)[None, :, None, None]).div_(std.to(dtype)[None, :, None, None])
