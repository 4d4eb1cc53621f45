"""The companion trainer: long-tailed data, models, the q-family sampler and switching schedules.

This package uses torch; the bound code (:mod:`ltbound`) never imports it. Modules:

- :mod:`ltbound.train.data`: long-tailed data sets (CIFAR-LT protocol, image folders, digits)
- :mod:`ltbound.train.models`: CIFAR ResNet-32 and a small digits net
- :mod:`ltbound.train.sampler`: :class:`ClassSampler`, one sampler for every q of Eq. 1
- :mod:`ltbound.train.schedule`: sampler schedules of Algorithm 1 and Tables 6-7, recipes
"""

from .data import DATASETS, DataError, ImageSplit, LTDataset, load_dataset, long_tailed_indices, split_hash
from .models import MODELS, build_model, count_parameters, digits_net, resnet32
from .sampler import ClassSampler
from .schedule import PRESETS, SCHEDULES, Phase, Recipe, Schedule, get_schedule, lr_at

__all__ = [
    "DATASETS", "DataError", "ImageSplit", "LTDataset", "load_dataset", "long_tailed_indices", "split_hash",
    "MODELS", "build_model", "count_parameters", "digits_net", "resnet32",
    "ClassSampler",
    "PRESETS", "SCHEDULES", "Phase", "Recipe", "Schedule", "get_schedule", "lr_at",
]

# The training loop (helper-4): ltbound.train.trainer, ltbound.train.theta, the CLI in __main__.
from .theta import loss_matrix, perturbation_loss_matrix, perturbed_state_dicts, record_loss_matrix
from .trainer import TrainConfig, train

__all__ += ["TrainConfig", "train", "loss_matrix", "perturbation_loss_matrix", "perturbed_state_dicts",
            "record_loss_matrix"]
