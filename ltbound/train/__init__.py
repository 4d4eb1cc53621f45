"""The companion trainer: long-tailed data, models, the q-family sampler and switching schedules.

This package uses torch; the bound code (:mod:`ltbound`) never imports it. Names are
imported lazily, so ``import ltbound.train`` (or ``ltbound.schedule``) does not load
torch until a torch-backed name is used. Modules, one idea each:

- :mod:`ltbound.train.loop.config`: :class:`TrainConfig` and its checks, resolved into a run plan
- :mod:`ltbound.train.loop.trainer`: :func:`train`, the training loop that writes a run record
- :mod:`ltbound.train.loop.evaluation`: per-sample evaluation (the trainer's records and :mod:`~ltbound.train.loss_matrices.theta`)
- :mod:`ltbound.train.loss_matrices.theta`: loss matrices over a finite Θ̂ (checkpoints, perturbations)
- :mod:`ltbound.train.stochastic.networks`: mean-field Gaussian networks over these models (PAC-Bayes posteriors)
- :mod:`ltbound.train.stochastic.certified_run`: a schedule's certified balanced risk (data-dependent prior, record-verified)
- :mod:`ltbound.train.data.datasets`: long-tailed data sets (CIFAR-LT protocol, image folders, digits)
- :mod:`ltbound.train.loop.models`: CIFAR ResNet-32 and a small digits net
- :mod:`ltbound.train.data.sampler`: :class:`ClassSampler`, one sampler for every q of Eq. 1, and
  :class:`ScheduleSampler`, a whole schedule (Switching: IB, then CR) for a user's own loop
- :mod:`ltbound.train.data.loader`, :mod:`ltbound.train.data.augment`: the fast, device-resident batches
- :mod:`ltbound.train.data.reference`: the PIL/DataLoader reference pipeline
- :mod:`ltbound.train.runs.state`, :mod:`ltbound.train.runs.fork`: checkpoints, resume state, forks
- :mod:`ltbound.train.loop.environment`: the machine a run records; :mod:`ltbound.train.loop.distributed`: torchrun
- recipes and sampler schedules: the torch-free :mod:`ltbound.schedule` (re-exported here
  and as :mod:`ltbound.schedule`)
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module (relative to ltbound) that defines it
_EXPORTS: dict[str, str] = {
    **{name: "train.data.datasets" for name in ("DATASETS", "DataError", "ImageSplit", "LTDataset", "load_dataset",
                                        "long_tailed_indices", "split_hash")},
    **{name: "train.loop.models" for name in ("MODELS", "build_model", "count_parameters", "digits_net", "resnet32")},
    **{name: "train.data.sampler" for name in ("ClassSampler", "ScheduleSampler")},
    **{name: "schedule" for name in ("PRESETS", "SCHEDULES", "Phase", "Recipe", "Schedule", "get_schedule",
                                      "lr_at", "epoch_lrs")},
    "TrainConfig": "train.loop.config", "train": "train.loop.trainer",
    **{name: "train.loss_matrices.theta" for name in ("loss_matrix", "perturbation_loss_matrix", "perturbed_state_dicts",
                                         "record_loss_matrix")},
    "per_sample_losses": "train.loop.evaluation",
    **{name: "train.stochastic.networks" for name in ("StochasticNetwork", "PosteriorConfig", "PriorSplit", "split_prior",
                                              "train_posterior", "certification_losses")},
    **{name: "train.stochastic.certified_run" for name in ("CertifyConfig", "CertifiedRun", "certify_schedule",
                                           "load_certified_run")},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ltbound.train' has no attribute {name!r}")
    try:
        mod = importlib.import_module(f"ltbound.{module}")
    except ModuleNotFoundError as exc:       # torch & co. come with the [train] extra
        from .._optional import EXTRA_OF
        top = (exc.name or "").split(".")[0]
        if top in EXTRA_OF:
            raise ImportError(f"ltbound.train.{name} needs {top}, which is not installed; install it with "
                              f"pip install 'ltbound[{EXTRA_OF[top]}]' (or pip install -e '.[{EXTRA_OF[top]}]' "
                              "in a checkout)") from exc
        raise
    value = getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
