"""Shared by the own-model tests: the digits set and a fresh digits net, and its images in the pixel forms."""
import torch

from ltbound.train import digits_net, load_dataset


def digits_and_net():
    """digits-lt at imbalance 20 and an untrained digits net (seeded)."""
    ds = load_dataset("digits-lt", imbalance=20)
    torch.manual_seed(0)
    return ds, digits_net(10)


def unit(ds):
    """The training images as floats in [0, 1] (ToTensor's form)."""
    return ds.train.images.float() / 255.0


def normalized(ds):
    """The training images normalised with the data set's per-channel mean and std."""
    mean, std = torch.tensor(ds.mean), torch.tensor(ds.std)
    return (unit(ds) - mean[:, None, None]) / std[:, None, None]
