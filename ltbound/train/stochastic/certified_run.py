"""A certified balanced risk for a sampler schedule, from its training data: prior, posterior, certificate, record.

:func:`certify_schedule` runs the recipe of :mod:`ltbound.train.stochastic.networks` end to end for
one schedule: the prior network is trained by the trainer on D_prior (its run record is the
folder ``config.out``), the posterior for every σ of the grid on all of D, and the
certificates on D_cert; everything is stored in the prior's run record with
:func:`ltbound.records.add_file` (SHA-256 in the manifest) and read back, verified, by
:func:`load_certified_run`.

δ accounting (one loss)
-----------------------
For each loss (0-1 and bounded cross-entropy) the printed certificate is the smallest of
2 × k candidates: two ways to combine the classes (``"union"``: per-class bounds with a union
over classes; ``"pooled-chernoff"``: one Chernoff bound on the π-weighted loss) times the k
prior σ of the grid. Each candidate is computed by
:func:`ltbound.certificates.pacbayes.target_risk_certificate` at δ/2 with ``prior_grid_size = k`` (the
core splits its δ over the k priors), so all 2k hold together with probability >= 1 − δ
and the smallest is a valid certificate at δ. The σ chosen is the one whose 0-1 certificate
is smallest; the bounded-CE certificate is then reported for the same posterior (also valid:
all k hold at once). The 0-1 and bounded-CE certificates are two statements, each at δ.

Record files (all under ``pacbayes/`` in the prior's run record)
-----------------------------------------------------------------
``split.npz``
    ``prior``, ``cert`` (positions into the training split), ``train_indices`` (the full
    training split's source positions; ``train_indices[prior]`` equals the record's own
    training indices), ``train_labels``, ``sigma_grid``, ``config`` (JSON string).
``sigma_K.npz`` for grid index K
    ``mu``, ``rho`` (flat float32, parameter order), ``zero_one`` (N × m packed bits, little
    bit order), ``bce`` (N × m float16), ``cert_labels`` (m,), ``history`` (JSON string).
``result.npz``
    ``result``: the JSON of :meth:`CertifiedRun.to_dict`.

:func:`load_certified_run` checks every hash, that D_prior is exactly what the prior was
trained on and disjoint from D_cert, recomputes KL(Q‖P) from the stored posterior and the
prior's checkpoint, and recomputes every certificate from the stored losses; any difference
is a :class:`~ltbound.records.RecordError` naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..._validation import check_delta, check_finite_scalar, check_positive_int, check_seed
from ...records import RecordError, add_file, json_default, load_record, read_file
from .networks import (DEFAULT_SIGMA_GRID, PosteriorConfig, PriorSplit, StochasticNetwork, certification_losses,
                       check_disjoint, effective_size, sample_losses, split_prior, train_posterior)

__all__ = ["CertifyConfig", "CertifiedRun", "certify_schedule", "load_certified_run", "prior_dataset",
           "CERT_LOSSES", "CERT_METHODS"]

#: Losses certified, in the order printed: the 0-1 loss and the bounded cross-entropy.
CERT_LOSSES = ("zero-one", "bounded-ce")
#: Class-combination methods of :func:`ltbound.certificates.pacbayes.target_risk_certificate`.
CERT_METHODS = ("union", "pooled-chernoff")
#: How the certification draws are seeded across schedules (:class:`CertifyConfig`).
DRAW_SEEDS = ("per-schedule", "shared")
_DIR = "pacbayes"


@dataclass(frozen=True)
class CertifyConfig:
    """The certificate's settings besides the prior's training (which a :class:`TrainConfig` holds).

    Attributes
    ----------
    prior_fraction : float in (0, 1)
        Share of every class in D_prior (:func:`~ltbound.train.stochastic.networks.split_prior`).
    prior_split_seed : int
        Seed of that split.
    sigma_grid : tuple of float
        Prior σ values, fixed in advance; the certificate pays for choosing among them.
    posterior : PosteriorConfig
    num_samples : int
        N passes of weight draws over D_cert (the certificate's Monte Carlo estimate).
    test_samples : int
        Weight samples of the stochastic predictor's measured test error.
    delta : float in (0, 1)
        Failure probability of each loss's certificate (all its candidates together).
    mc_delta_fraction : float in (0, 1)
        Share of each candidate's δ spent on the Monte Carlo term (passed to the core).
    mc_bound : {"kl", "bernstein", "best"}
        The Monte Carlo bound of the core: Langford & Caruana's kl form, Maurer & Pontil's
        empirical Bernstein (the weight draws' risks vary little), or the smaller of both at
        half the Monte Carlo δ each (used with ``mc_draws="shared"``).
    target_prior : "balanced"
        π of the certified risk.
    mc_draws : {"per-sample", "shared"}
        "per-sample" (default): in each of the N passes every D_cert image is scored with its
        own independent weight draw, and the Monte Carlo term is a Chernoff bound on N·m_j
        losses per class (:mod:`ltbound.certificates.pacbayes`); "shared": pass k is one draw scored on every
        image (N i.i.d. draws; the term shrinks like 1/sqrt(N) only). Records written before
        this setting existed used "shared" and read back as such.
    tail_prior_fraction : float in (0, 1) or None
        The per-class prior-split rule (:func:`~ltbound.train.stochastic.networks.class_prior_fractions`):
        the largest class puts ``prior_fraction`` in D_prior, the smallest this share,
        log-linear in between. None: ``prior_fraction`` for every class.
    draw_seeds : {"per-schedule", "shared"}
        Seeds of the certification weight draws. "per-schedule" (default): derived from the
        posterior seed and the schedule's name, so two schedules' draws are independent and
        their loss matrices pair into draws of Q_A ⊗ Q_B (what the certified difference of
        :mod:`ltbound.certificates.difference` needs); "shared": ``posterior.seed + 1`` for every
        schedule (records before issue 31; equal architectures then get the same noise, a
        coupling that the difference does not cover).
    """

    prior_fraction: float = 0.5
    prior_split_seed: int = 0
    sigma_grid: tuple = DEFAULT_SIGMA_GRID
    posterior: PosteriorConfig = PosteriorConfig()
    num_samples: int = 100
    test_samples: int = 100
    delta: float = 0.05
    mc_delta_fraction: float = 0.1
    mc_bound: str = "best"
    target_prior: str = "balanced"
    mc_draws: str = "per-sample"
    tail_prior_fraction: float | None = None
    draw_seeds: str = "per-schedule"

    def __post_init__(self) -> None:
        check_finite_scalar(self.prior_fraction, "prior_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
        check_seed(self.prior_split_seed, "prior_split_seed")
        grid = tuple(float(check_finite_scalar(s, "sigma_grid entry", low=0.0, low_open=True))
                     for s in (self.sigma_grid if isinstance(self.sigma_grid, (tuple, list)) else [self.sigma_grid]))
        if not grid or len(set(grid)) != len(grid):
            raise ValueError(f"sigma_grid must hold distinct positive values, got {self.sigma_grid!r}")
        object.__setattr__(self, "sigma_grid", grid)
        if not isinstance(self.posterior, PosteriorConfig):
            raise ValueError(f"posterior must be a PosteriorConfig, got {type(self.posterior).__name__}")
        check_positive_int(self.num_samples, "num_samples")
        check_positive_int(self.test_samples, "test_samples")
        check_delta(self.delta)
        check_finite_scalar(self.mc_delta_fraction, "mc_delta_fraction", low=0.0, high=1.0, low_open=True,
                            high_open=True)
        from ...certificates.pacbayes import MC_BOUNDS
        if self.mc_bound not in MC_BOUNDS:
            raise ValueError(f"mc_bound must be one of {MC_BOUNDS}, got {self.mc_bound!r}")
        from ...certificates.pacbayes import MC_DRAWS
        if self.mc_draws not in MC_DRAWS:
            raise ValueError(f"mc_draws must be one of {MC_DRAWS}, got {self.mc_draws!r}")
        if self.target_prior != "balanced":
            raise ValueError(f"target_prior must be 'balanced' (the paper's metric), got {self.target_prior!r}")
        if self.tail_prior_fraction is not None:
            check_finite_scalar(self.tail_prior_fraction, "tail_prior_fraction", low=0.0, high=1.0, low_open=True,
                                high_open=True)
        if self.draw_seeds not in DRAW_SEEDS:
            raise ValueError(f"draw_seeds must be one of {DRAW_SEEDS}, got {self.draw_seeds!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sigma_grid"] = list(self.sigma_grid)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CertifyConfig":
        d = dict(d)
        d["posterior"] = PosteriorConfig(**d["posterior"])
        d["sigma_grid"] = tuple(d["sigma_grid"])
        d.setdefault("mc_draws", "shared")        # records from before the setting existed
        d.setdefault("draw_seeds", "shared")      # records from before issue 31
        return cls(**d)

    def certification_seed(self, schedule: str) -> int:
        """Seed of the certification weight draws of ``schedule`` (see ``draw_seeds``)."""
        if self.draw_seeds == "shared":
            return int(self.posterior.seed) + 1
        tag = zlib.crc32(str(schedule).encode())
        return int(np.random.SeedSequence([int(self.posterior.seed), 31, tag]).generate_state(1, dtype=np.uint32)[0])


@dataclass
class CertifiedRun:
    """One schedule's certificate and the measurements beside it.

    Attributes
    ----------
    record : Path
        The prior's run record, which also holds the ``pacbayes/`` files.
    schedule : str
        The prior's sampler schedule.
    split : dict
        :meth:`PriorSplit.to_dict`.
    config : dict
        :meth:`CertifyConfig.to_dict`.
    sigma_index : int
        Grid index of the σ whose 0-1 certificate is smallest.
    certificates : dict
        loss -> method -> :meth:`PacBayesCertificate.to_dict` for the chosen σ.
    per_sigma : list of dict
        For every σ: KL, and loss -> method -> bound.
    test : dict
        Measured on the test set: ``stochastic_balanced_error`` (Gibbs, mean over
        ``test_samples`` weight samples) and its standard error, ``stochastic_lower_bound``
        (a lower confidence bound of the stochastic predictor's balanced risk, at δ),
        ``deterministic_balanced_error`` (the posterior mean's) with standard error,
        ``deterministic_certificate`` (:func:`ltbound.statistics.heldout.certified_risk` of the
        posterior mean at δ) and the prior network's ``prior_balanced_error``.
    timings : dict
        Seconds spent on the prior, the posteriors and the certificates.
    """

    record: Path
    schedule: str
    split: dict
    config: dict
    sigma_index: int
    certificates: dict
    per_sigma: list
    test: dict
    timings: dict = field(default_factory=dict)

    @property
    def sigma(self) -> float:
        return float(self.config["sigma_grid"][self.sigma_index])

    def best(self, loss: str = "zero-one") -> dict:
        """The smaller of the two methods' certificates for ``loss`` (the δ/2 each makes it valid at δ)."""
        certs = self.certificates[loss]
        return min((certs[m] for m in CERT_METHODS), key=lambda c: c["bound"])

    def to_dict(self) -> dict:
        return {"record": str(self.record), "schedule": self.schedule, "split": self.split, "config": self.config,
                "sigma_index": self.sigma_index, "sigma": self.sigma, "certificates": self.certificates,
                "per_sigma": self.per_sigma, "test": self.test, "timings": self.timings}


# ----------------------------------------------------------------------------- data
def prior_dataset(ds, split: PriorSplit):
    """The :class:`~ltbound.train.data.datasets.LTDataset` of D_prior: the training split restricted to ``split.prior``.

    Its normalisation (mean, std) is computed on D_prior's images (part of the prior, so
    independent of D_cert) and its split hash fingerprints D_prior's source positions; the
    test split is the data set's. ``subset`` marks it as a certification prior (its record
    continues through ``experiments/certify.py --resume``, not the trainer's CLI) and
    ``image_format`` is the data set's.
    """
    from ..data.datasets import ImageSplit, LTDataset, _channel_stats, split_hash

    pos = torch.as_tensor(split.prior)
    images = ds.train.images.index_select(0, pos).contiguous()
    labels = ds.train.labels.index_select(0, pos)
    indices = np.asarray(ds.train.indices)[split.prior].astype(np.int64)
    counts = np.bincount(labels.numpy(), minlength=ds.num_classes).astype(np.int64)
    mean, std = _channel_stats(images)
    return LTDataset(name=ds.name, num_classes=ds.num_classes, class_names=list(ds.class_names),
                     train=ImageSplit(images, labels, indices), test=ds.test, counts=counts,
                     imbalance=float(counts.max() / counts.min()), split_hash=split_hash(indices), mean=mean, std=std,
                     augment=ds.augment, default_model=ds.default_model, image_format=ds.image_format,
                     subset={"role": "certification prior", "of_split_hash": ds.split_hash,
                             "of_n_train": int(len(ds.train)), "n_prior": int(len(indices))})


# ----------------------------------------------------------------------------- certificates
def _certificates(zo: np.ndarray, bce: np.ndarray, labels: np.ndarray, kl: float, cfg: CertifyConfig,
                  num_classes: int) -> dict:
    """loss -> method -> PacBayesCertificate, each at δ/2 with the grid's union bound (module docstring)."""
    from ...certificates.pacbayes import target_risk_certificate

    out: dict = {}
    for loss, values in (("zero-one", zo), ("bounded-ce", bce)):
        out[loss] = {m: target_risk_certificate(values.astype(np.float64), labels, kl=kl, target_prior=cfg.target_prior,
                                                delta=cfg.delta / len(CERT_METHODS), num_classes=num_classes,
                                                method=m, mc_delta_fraction=cfg.mc_delta_fraction,
                                                prior_grid_size=len(cfg.sigma_grid), mc_bound=cfg.mc_bound,
                                                mc_draws=cfg.mc_draws, fixed_before_sample=False)
                     for m in CERT_METHODS}
    return out


def _balanced(per_sample: np.ndarray, labels: np.ndarray, pi: np.ndarray) -> tuple[float, float]:
    """Σ_j π_j mean_j of a [0, 1] per-image value and its standard error sqrt(Σ π_j² var_j / m_j)."""
    c = pi.size
    m = np.bincount(labels, minlength=c).astype(float)
    means = np.bincount(labels, weights=per_sample, minlength=c) / m
    sq = np.bincount(labels, weights=per_sample ** 2, minlength=c) / m
    var = np.maximum(sq - means ** 2, 0.0) * m / np.maximum(m - 1, 1)
    return float(pi @ means), float(math.sqrt(np.sum(pi ** 2 * var / m)))


def gibbs_lower_bound(zero_one: np.ndarray, labels: np.ndarray, delta: float, *, per_sample: bool = False) -> float:
    """A lower confidence bound (level 1 − δ) of a stochastic predictor's balanced 0-1 risk, from a test set.

    Per class j at δ/C (union bound over the classes), with the one-sided Chernoff-kl bound
    P(mean <= kl⁻¹_lower(mean, ln(1/δ')/m)) <= δ' for m i.i.d. [0, 1] variables (Hoeffding
    1963: the Bernoulli has the largest moment generating function), lower kl inverse
    :func:`ltbound.certificates.kl_bounds.kl_inverse_lower`:

    * when the N weight samples are at least the class's m_j test images, image r of the
      class is scored with its own sample r: the m_j losses ℓ(w_r, x_r) are i.i.d.
      Bernoulli(L_j(Q)) (fresh w and x each), one step with budget ln(C/δ)/m_j;
    * otherwise two steps at δ/(2C) each: the N per-sample class errors are i.i.d. in [0, 1]
      with mean the class's empirical Gibbs error (budget ln(2C/δ)/N), whose m_j per-image
      Gibbs losses are i.i.d. in [0, 1] with mean L_j(Q) (budget ln(2C/δ)/m_j).

    * ``per_sample=True`` (every loss drew its own weights, as
      ``sample_losses(..., draws="per-sample")`` does): image r's average over its N draws is a
      function of (x_r, its own draws), so the m_j averages are i.i.d. in [0, 1] with mean
      L_j(Q): one step with budget ln(C/δ)/m_j, whatever N is.

    Parameters
    ----------
    zero_one : ndarray (N, m) of 0/1; labels : ndarray (m,) of int; delta : float in (0, 1)
    per_sample : bool
        The draws were independent per image (else shared by all images of a row).
    """
    from ...certificates.kl_bounds import kl_inverse_lower

    n = zero_one.shape[0]
    c = int(labels.max()) + 1
    lows = []
    for j in range(c):
        cols = np.flatnonzero(labels == j)
        if per_sample:
            per_image = zero_one[:, cols].mean(axis=0, dtype=np.float64)
            lows.append(float(kl_inverse_lower(float(per_image.mean()), math.log(c / delta) / cols.size)))
        elif n >= cols.size:
            diagonal = zero_one[np.arange(cols.size), cols].astype(np.float64)
            lows.append(float(kl_inverse_lower(diagonal.mean(), math.log(c / delta) / cols.size)))
        else:
            e_emp = float(kl_inverse_lower(float(zero_one[:, cols].mean()), math.log(2 * c / delta) / n))
            lows.append(float(kl_inverse_lower(e_emp, math.log(2 * c / delta) / cols.size)))
    return float(np.mean(lows))


@torch.no_grad()
def _wrong(forward, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
           batch: int) -> np.ndarray:
    """Per-image misclassification (bool, (n,)) of a deterministic forward, in batches."""
    from ..data.augment import normalize

    out = [(forward(normalize(images[i:i + batch], mean, std)).argmax(1) != labels[i:i + batch]).cpu()
           for i in range(0, int(labels.shape[0]), batch)]
    return torch.cat(out).numpy()


# ----------------------------------------------------------------------------- the run
def certify_schedule(train_config, dataset, config: CertifyConfig = CertifyConfig(), *,
                     progress: bool = False, resume: bool = False) -> CertifiedRun:
    """Train the prior with a schedule on D_prior, the posteriors on D, and certify on D_cert.

    Parameters
    ----------
    train_config : TrainConfig
        The prior network's training (schedule, recipe overrides, seed, device, ``out`` = the
        record folder). ``checkpoint_epochs`` is set to "end" (the prior's mean is the final
        network).
    dataset : LTDataset
        The whole long-tailed training set D and the test set.
    config : CertifyConfig
    progress : bool
        Print one line per σ.
    resume : bool
        Continue an interrupted run in ``train_config.out``: the prior's training resumes
        (``TrainConfig.resume``; a complete one is reused), and every σ whose posterior and
        losses are already stored is read back (its certificates recomputed) instead of trained
        again. The stored split and certificate settings must equal this call's.

    Returns
    -------
    CertifiedRun
        Also stored in the record (:func:`load_certified_run` reads and verifies it).
    """
    from ...statistics.heldout import certified_risk
    from ..loop.config import DEFAULT_EVAL_BATCH, TrainConfig, resolve_device, resolve_recipe
    from ..loop import distributed as D
    from ..loop.models import build_model
    from ..loss_matrices.theta import load_state_dict
    from ..loop.trainer import train

    if not isinstance(config, CertifyConfig):
        raise ValueError(f"config must be a CertifyConfig, got {type(config).__name__}")
    if not isinstance(train_config, TrainConfig):
        raise ValueError(f"train_config must be a TrainConfig, got {type(train_config).__name__}")
    ds = dataset
    c = int(ds.num_classes)
    split = split_prior(ds.train.labels.numpy(), config.prior_fraction, seed=config.prior_split_seed, num_classes=c,
                        tail_fraction=config.tail_prior_fraction)
    pds = prior_dataset(ds, split)
    tcfg = dataclasses.replace(train_config, checkpoint_epochs="end", dataset=ds.name)
    tcfg = dataclasses.replace(tcfg, resume=bool(resume and (Path(tcfg.out) / "manifest.json").is_file()))
    t0 = time.perf_counter()
    record = Path(train(tcfg, dataset=pds))
    t_prior = time.perf_counter() - t0

    epochs = int(resolve_recipe(tcfg)[1].epochs)
    device = resolve_device(tcfg.device, D.dist_from_env())
    rec = load_record(record)
    model = build_model(rec.manifest["config"]["model"], c, in_channels=int(ds.train.images.shape[1]))
    model.load_state_dict(load_state_dict(record / "checkpoints" / f"epoch_{epochs:04d}.pt"))
    model = model.to(device).eval()
    mean = torch.as_tensor(np.asarray(pds.mean, np.float32), device=device)
    std = torch.as_tensor(np.asarray(pds.std, np.float32), device=device)
    images, labels = ds.train.images.to(device), ds.train.labels.to(device)
    test_x, test_y = ds.test.images.to(device), ds.test.labels.to(device)
    test_labels = ds.test.labels.numpy()
    pi = np.full(c, 1.0 / c)
    bound_m = effective_size(pi, split.cert_counts)
    augment = ds.augment == "crop-flip"
    eval_batch = int(train_config.eval_batch_size or DEFAULT_EVAL_BATCH[device.type])

    config_json = json.dumps(config.to_dict(), sort_keys=True)
    stored = rec.manifest.get("files", {})
    if resume and f"{_DIR}/split.npz" in stored:
        old = read_file(record, f"{_DIR}/split.npz")
        if str(old["config"]) != config_json or not np.array_equal(old["cert"], split.cert):
            raise ValueError(f"cannot resume {record}: its stored certificate settings or D_cert differ from these "
                             f"({str(old['config'])} against {config_json}); use a new output folder")
    add_file(record, f"{_DIR}/split.npz", prior=split.prior, cert=split.cert,
             train_indices=np.asarray(ds.train.indices, np.int64), train_labels=ds.train.labels.numpy(),
             sigma_grid=np.asarray(config.sigma_grid, np.float64),
             config=np.asarray(config_json))
    per_sigma, all_certs, nets = [], [], []
    t_post = t_cert = 0.0
    for k, sigma in enumerate(config.sigma_grid):
        t1 = time.perf_counter()
        net = StochasticNetwork(model, sigma).to(device)
        rel = f"{_DIR}/sigma_{k}.npz"
        done = resume and rel in stored
        if done:                               # stored by an interrupted run with the same settings
            f = read_file(record, rel)
            net.load_arrays(f["mu"], f["rho"])
            history = json.loads(str(f["history"]))
            cert_labels = f["cert_labels"]
            zo = np.unpackbits(f["zero_one"], axis=1, count=cert_labels.size, bitorder="little")
            bce = f["bce"]
            t2 = time.perf_counter()
        else:
            history = train_posterior(net, images, labels, mean=mean, std=std, target_prior=pi, bound_m=bound_m,
                                      config=config.posterior, augment=augment)
            t2 = time.perf_counter()
            zo, bce, cert_labels = certification_losses(
                net, images, labels, cert_indices=split.cert, prior_indices=split.prior,
                num_samples=config.num_samples, seed=config.certification_seed(train_config.schedule), mean=mean,
                std=std, p_min=config.posterior.p_min, batch_size=eval_batch, draws=config.mc_draws)
            bce = bce.astype(np.float16)       # stored as float16: certify exactly what is stored
        kl = net.kl_exact()
        certs = _certificates(zo, bce, cert_labels, kl, config, c)
        t_post += t2 - t1
        t_cert += time.perf_counter() - t2
        if not done:
            add_file(record, rel, **net.flat_state(),
                     zero_one=np.packbits(zo.astype(bool), axis=1, bitorder="little"), bce=bce,
                     cert_labels=cert_labels, history=np.asarray(json.dumps(history)))
        per_sigma.append({"sigma": sigma, "kl": kl, "history": history,
                          **{loss: {m: certs[loss][m].bound for m in CERT_METHODS} for loss in CERT_LOSSES}})
        all_certs.append(certs)
        nets.append(net)
        if progress:
            print(f"  sigma {sigma:g}: KL {kl:.2f}, 0-1 certificate union {certs['zero-one']['union'].bound:.4f} "
                  f"pooled-chernoff {certs['zero-one']['pooled-chernoff'].bound:.4f} "
                  + ("(read back from the record)" if done else
                     f"({t2 - t1:.1f}s train, {time.perf_counter() - t2:.1f}s certify)"), flush=True)

    best = int(np.argmin([min(p["zero-one"].values()) for p in per_sigma]))
    net = nets[best]
    t3 = time.perf_counter()
    zo_test, _ = sample_losses(net, test_x, test_y, num_samples=config.test_samples, seed=config.posterior.seed + 2,
                               mean=mean, std=std, p_min=config.posterior.p_min, batch_size=eval_batch,
                               draws=config.mc_draws)
    mean_weights = net.sample(None)
    det_wrong = _wrong(lambda x: net(x, weights=mean_weights), test_x, test_y, mean, std, eval_batch)
    prior_wrong = _wrong(model, test_x, test_y, mean, std, eval_batch)
    sto, sto_se = _balanced(zo_test.mean(axis=0).astype(np.float64), test_labels, pi)
    det, det_se = _balanced(det_wrong.astype(np.float64), test_labels, pi)
    test = {"stochastic_balanced_error": sto, "stochastic_se": sto_se,
            "stochastic_lower_bound": gibbs_lower_bound(zo_test, test_labels, config.delta,
                                                        per_sample=config.mc_draws == "per-sample"),
            "deterministic_balanced_error": det, "deterministic_se": det_se,
            "deterministic_certificate": certified_risk(~det_wrong.astype(bool), test_labels, "balanced",
                                                        delta=config.delta, num_classes=c).to_dict(),
            "prior_balanced_error": _balanced(prior_wrong.astype(np.float64), test_labels, pi)[0],
            "test_counts": [int(v) for v in np.bincount(test_labels, minlength=c)]}
    result = CertifiedRun(record=record, schedule=str(train_config.schedule), split=split.to_dict(),
                          config=config.to_dict(), sigma_index=best,
                          certificates={loss: {m: all_certs[best][loss][m].to_dict() for m in CERT_METHODS}
                                        for loss in CERT_LOSSES},
                          per_sigma=per_sigma, test=test,
                          timings={"prior_seconds": t_prior, "posterior_seconds": t_post,
                                   "certificate_seconds": t_cert, "test_seconds": time.perf_counter() - t3})
    add_file(record, f"{_DIR}/result.npz",
             result=np.asarray(json.dumps(result.to_dict(), default=json_default, sort_keys=True)))
    return result


# ----------------------------------------------------------------------------- reading back
def load_certified_run(record_dir: Any, *, check_kl: bool = True) -> CertifiedRun:
    """Read a certified run from its prior's record and verify it (module docstring).

    Raises
    ------
    RecordError
        A missing or altered file, a D_prior that is not what the prior trained on or that
        overlaps D_cert, or a stored KL or certificate that its stored inputs do not reproduce.
    """
    from ..loop.models import build_model
    from ..loss_matrices.theta import load_state_dict

    path = Path(record_dir)
    rec = load_record(path)                       # every listed file's SHA-256, the record's own checks
    sp = read_file(path, f"{_DIR}/split.npz")
    res = json.loads(str(read_file(path, f"{_DIR}/result.npz")["result"]))
    cfg = CertifyConfig.from_dict(json.loads(str(sp["config"])))
    prior, cert = sp["prior"], sp["cert"]
    try:
        check_disjoint(prior, cert)
    except ValueError as e:
        raise RecordError(f"{path / _DIR / 'split.npz'}: {e}") from None
    if not np.array_equal(sp["train_indices"][prior], rec.train_indices):
        raise RecordError(f"{path / _DIR / 'split.npz'}: D_prior is not the set the prior network was trained on "
                          "(its source positions differ from the record's training split)")
    if np.union1d(prior, cert).size != sp["train_labels"].size:
        raise RecordError(f"{path / _DIR / 'split.npz'}: D_prior and D_cert do not cover the training set")
    c = rec.num_classes
    all_certs = []
    model = None
    if check_kl:
        in_channels = int(rec.manifest["dataset"]["image_shape"][0])
        model = build_model(rec.manifest["config"]["model"], c, in_channels=in_channels)
        last = int(rec.manifest["epochs_completed"])
        model.load_state_dict(load_state_dict(path / "checkpoints" / f"epoch_{last:04d}.pt"))
    for k, sigma in enumerate(cfg.sigma_grid):
        rel = f"{_DIR}/sigma_{k}.npz"
        f = read_file(path, rel)
        labels = f["cert_labels"]
        if not np.array_equal(labels, sp["train_labels"][cert]):
            raise RecordError(f"{path / rel}: cert_labels are not D_cert's labels")
        zo = np.unpackbits(f["zero_one"], axis=1, count=labels.size, bitorder="little")
        kl = float(res["per_sigma"][k]["kl"])
        if model is not None:
            net = StochasticNetwork(model, sigma)
            net.load_arrays(f["mu"], f["rho"])
            if not math.isclose(net.kl_exact(), kl, rel_tol=1e-9, abs_tol=1e-9):
                raise RecordError(f"{path / rel}: the stored posterior's KL is {net.kl_exact()!r}, "
                                  f"the result says {kl!r}")
        certs = _certificates(zo, f["bce"], labels, kl, cfg, c)
        all_certs.append(certs)
        for loss in CERT_LOSSES:
            for m in CERT_METHODS:
                want = res["per_sigma"][k][loss][m]
                if not math.isclose(certs[loss][m].bound, want, rel_tol=1e-12, abs_tol=1e-12):
                    raise RecordError(f"{path / rel}: the {loss} {m} certificate recomputed from the stored losses "
                                      f"is {certs[loss][m].bound!r}, the result says {want!r}")
    # the reported numbers come from what was recomputed above, never from the stored summary: the chosen σ
    # (smallest 0-1 certificate) and its certificates; a stored summary that differs was edited
    best = int(np.argmin([min(cs["zero-one"][m].bound for m in CERT_METHODS) for cs in all_certs]))
    certificates = {loss: {m: all_certs[best][loss][m].to_dict() for m in CERT_METHODS} for loss in CERT_LOSSES}
    where = path / _DIR / "result.npz"
    if int(res["sigma_index"]) != best:
        raise RecordError(f"{where}: sigma_index is {res['sigma_index']} but the smallest recomputed 0-1 certificate "
                          f"is at {best}: the result was edited — restore it, or certify again")
    for loss in CERT_LOSSES:
        for m in CERT_METHODS:
            got = (res["certificates"].get(loss) or {}).get(m) or {}
            want = certificates[loss][m]
            if any(not _same_number(got.get(key), want[key]) for key in ("bound", "empirical", "kl")):
                raise RecordError(f"{where}: the stored {loss} {m} certificate {got.get('bound')!r} (empirical "
                                  f"{got.get('empirical')!r}) is not the one its stored losses give ({want['bound']!r}, "
                                  f"empirical {want['empirical']!r}): the result was edited — restore it")
    _check_test_numbers(where, res["test"], rec.test_labels, c, cfg.delta)
    return CertifiedRun(record=path, schedule=res["schedule"], split=res["split"], config=res["config"],
                        sigma_index=best, certificates=certificates,
                        per_sigma=res["per_sigma"], test=res["test"], timings=res["timings"])


def _same_number(a: Any, b: Any) -> bool:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None or (isinstance(a, float) and math.isnan(a))
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def _check_test_numbers(where: Path, test: dict, test_labels: np.ndarray, num_classes: int, delta: float) -> None:
    """The stored test-set measurements against one another and the certificate arithmetic.

    The per-image test results are not stored (only their summaries), so what can be recomputed
    is: the test class counts from the record's labels, the deterministic certificate from its
    error count where it is the pooled binomial limit (a function of the total errors alone),
    and the orderings every honest result satisfies (a lower bound below its estimate, a
    certificate above its empirical risk, every error in [0, 1]).
    """
    counts = [int(v) for v in np.bincount(test_labels, minlength=num_classes)]
    det = test.get("deterministic_certificate") or {}

    def bad(what: str) -> RecordError:
        return RecordError(f"{where}: the stored test numbers contradict each other ({what}): the result was edited "
                           "— restore it, or certify again")

    if test.get("test_counts") != counts or det.get("test_counts") != counts:
        raise bad(f"test counts {test.get('test_counts')} / {det.get('test_counts')} vs the record's {counts}")
    for key in ("stochastic_balanced_error", "stochastic_lower_bound", "deterministic_balanced_error",
                "prior_balanced_error"):
        v = test.get(key)
        if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
            raise bad(f"{key} = {v!r} is no error rate")
    if test["stochastic_lower_bound"] > test["stochastic_balanced_error"] + 1e-12:
        raise bad(f"the stochastic lower bound {test['stochastic_lower_bound']!r} exceeds the measured error "
                  f"{test['stochastic_balanced_error']!r}")
    if not _same_number(det.get("empirical"), test["deterministic_balanced_error"]) or det.get("delta") != delta:
        raise bad(f"deterministic certificate empirical {det.get('empirical')!r} at delta {det.get('delta')!r} vs "
                  f"the measured error {test['deterministic_balanced_error']!r} at delta {delta!r}")
    bound = det.get("bound")
    if not (isinstance(bound, (int, float)) and det["empirical"] - 1e-12 <= bound <= 1.0):
        raise bad(f"deterministic certificate {bound!r} below its empirical risk {det['empirical']!r}")
    if det.get("method") == "pooled-binomial":
        from ...statistics.heldout import certified_risk
        n = int(sum(counts))
        errors = int(round(det["empirical"] * n))          # balanced π on equal counts: L = errors / n
        correct = np.ones(n, bool)
        correct[:errors] = False
        want = certified_risk(correct, np.sort(test_labels), "balanced", delta=delta, num_classes=num_classes,
                              method="pooled-binomial").bound
        if not _same_number(bound, want):
            raise bad(f"deterministic certificate {bound!r}, but {errors} errors in {n} images give {want!r}")
