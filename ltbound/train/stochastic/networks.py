"""Stochastic networks with a data-dependent Gaussian prior: a PAC-Bayes certificate of the balanced risk.

A trained network of the companion trainer becomes a *stochastic* network Q: every weight
w_i is drawn independently from N(μ_i, σ_i²) (mean field), and the certificate bounds
L_π(Q) = E_{w~Q} Σ_j π_j L_j(w), the Gibbs risk under a target class prior π (balanced by
default) from the training data alone, with :func:`ltbound.certificates.pacbayes.target_risk_certificate`.

The recipe (Dziugaite & Roy 2018; Dziugaite et al. 2021; Pérez-Ortiz et al. 2021)
---------------------------------------------------------------------------------
1. **Split** the long-tailed training set D per class (:func:`split_prior`): a seeded fraction
   of each class (default 0.5) forms D_prior, the rest D_cert = D \\ D_prior; each class
   keeps at least one image on either side (the certificate needs every class, and the
   prior's class sampler of Eq. 1 needs every class too).
2. **Prior.** The trainer (:func:`ltbound.train.loop.trainer.train`, unchanged) trains a
   deterministic network on D_prior alone with the chosen sampler schedule (IB, Switching,
   IB → CB, ...). The prior is P_σ = N(w_prior, σ² I), σ from a grid fixed before any data
   are seen (:data:`DEFAULT_SIGMA_GRID`); the certificate pays a union bound over the grid
   (``prior_grid_size``). Everything P depends on (w_prior, the BatchNorm statistics, the
   input normalisation, σ) is a function of D_prior and the seeds only, so P is independent
   of D_cert, which is what the PAC-Bayes theorem asks.
3. **Posterior.** Q starts at P (μ = w_prior, σ_i = σ, so KL(Q‖P) = 0) and is trained on all
   of D (PAC-Bayes lets Q depend on the sample) by minimising the f-quad objective of
   Pérez-Ortiz et al. (2021, their f_quad) for the target-prior risk (:func:`quad_objective`), with
   one weight sample per mini-batch (reparameterisation trick, Kingma & Welling 2014;
   Blundell et al. 2015) and the bounded cross-entropy (:func:`bounded_cross_entropy`).
4. **Certificate** on D_cert only (:func:`certification_losses` refuses a set that overlaps
   D_prior): N weight samples, the 0-1 loss and the bounded cross-entropy of each on every
   certification image, then :func:`ltbound.certificates.pacbayes.target_risk_certificate`.

BatchNorm (why the bound stays valid)
-------------------------------------
The stochastic network runs its model **in eval mode, always**: BatchNorm normalises with
the running statistics of the prior network (accumulated while training on D_prior), held as
frozen buffers, and never recomputes them, neither while the posterior trains nor on the
certification set (tested: a certification pass changes no buffer). The affine BatchNorm
parameters (scale and shift) are ordinary weights and are stochastic like every other
parameter. So a weight vector w maps to one fixed predictor f_w(x) that treats each image
on its own (no batch statistics), chosen with D_prior only; Q and P are distributions over
the same w, and KL(Q‖P) is the KL of the two Gaussians. Had the statistics been recomputed
on a certification batch, each prediction would depend on the other certification images,
the losses would no longer be independent given w, and the bound would not hold. The input
normalisation (per-channel mean and std) is likewise computed on D_prior's images.

Sampler of the posterior training
---------------------------------
Class-balanced (CB, q = 0 of Eq. 1, :class:`~ltbound.train.data.sampler.ClassSampler`) for every
schedule, with per-sample weights π_y / p_y(0) = C π_y (1 for the balanced target): a batch
mean is then an unbiased estimate of the π-weighted empirical risk Σ_j π_j L̂_j on D, the
quantity the certificate bounds, and every class is drawn equally often (an IB draw with
weights π_j n / n_j would be unbiased too, but its tail-class weights, up to n / (C n_min),
make the gradient noisy). The schedules therefore differ only in the prior they train on
D_prior, and the posterior's training is the same for all of them.

References
----------
Blundell, Cornebise, Kavukcuoglu & Wierstra (2015), "Weight uncertainty in neural networks", ICML.
Dziugaite & Roy (2017), "Computing nonvacuous generalization bounds for deep (stochastic) neural
networks ...", UAI; (2018), "Data-dependent PAC-Bayes priors via differential privacy", NeurIPS.
Dziugaite, Hsu, Gharbieh, Arpino & Roy (2021), "On the role of data in PAC-Bayes bounds", AISTATS.
Kingma & Welling (2014), "Auto-encoding variational Bayes", ICLR.
Langford & Caruana (2002), "(Not) bounding the true error", NeurIPS.
Pérez-Ortiz, Rivasplata, Shawe-Taylor & Szepesvári (2021), "Tighter risk certificates for neural
networks", JMLR 22(227).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..._validation import check_delta, check_finite_scalar, check_labels, check_positive_int, check_seed

__all__ = ["DEFAULT_SIGMA_GRID", "DEFAULT_P_MIN", "PriorSplit", "split_prior", "class_prior_fractions",
           "check_disjoint", "StochasticNetwork", "bounded_cross_entropy", "quad_objective", "PosteriorConfig",
           "effective_size", "train_posterior", "certification_losses", "sample_losses"]

#: Prior standard deviations σ of P = N(w_prior, σ² I), fixed before seeing data; a certificate
#: that chooses among them pays ln(len(grid)) (``prior_grid_size``).
DEFAULT_SIGMA_GRID = (0.003, 0.01, 0.03)
#: p_min of the bounded cross-entropy (Pérez-Ortiz et al. 2021 use 1e-5..1e-4): the loss is
#: min(CE, ln(1/p_min)) / ln(1/p_min) in [0, 1].
DEFAULT_P_MIN = 1e-4


# ----------------------------------------------------------------------------- the split
@dataclass(frozen=True)
class PriorSplit:
    """A per-class split of the training set into D_prior and D_cert.

    Attributes
    ----------
    prior : ndarray of int64, shape (n_prior,)
        Positions (into the training split) of D_prior, ascending.
    cert : ndarray of int64, shape (n_cert,)
        Positions of D_cert = D \\ D_prior, ascending.
    fraction : float
        The requested share of every class that goes to D_prior.
    seed : int
        Seed of the per-class shuffles.
    prior_counts, cert_counts : ndarray of int64, shape (C,)
        Images per class on each side.
    tail_fraction : float or None
        The smallest class's share when the per-class rule of :func:`split_prior` was used.
    """

    prior: np.ndarray
    cert: np.ndarray
    fraction: float
    seed: int
    prior_counts: np.ndarray
    cert_counts: np.ndarray
    tail_fraction: float | None = None

    def to_dict(self) -> dict:
        d = {"fraction": self.fraction, "seed": self.seed, "n_prior": int(self.prior.size),
             "n_cert": int(self.cert.size), "prior_counts": [int(v) for v in self.prior_counts],
             "cert_counts": [int(v) for v in self.cert_counts]}
        if self.tail_fraction is not None:
            d["tail_fraction"] = self.tail_fraction
        return d


def class_prior_fractions(counts: Any, fraction: float, tail_fraction: float | None = None) -> np.ndarray:
    """The per-class share of D_prior: a rule of the class sizes only, fixed before any training.

    f_j = f_tail + (f − f_tail) · ln(n_j / n_min) / ln(n_max / n_min): ``fraction`` f for the
    largest class, ``tail_fraction`` f_tail for the smallest, log-linear in between (a long tail
    is geometric in the class index, so this is linear in the index for an exponential profile).
    ``tail_fraction=None`` (or equal class sizes) gives f for every class.

    Parameters
    ----------
    counts : array_like of int, shape (C,)
        n_j, training images per class (all >= 1).
    fraction, tail_fraction : float in (0, 1)

    Returns
    -------
    ndarray of float64, shape (C,)
    """
    n = np.asarray(counts, dtype=np.float64)
    f = check_finite_scalar(fraction, "fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    if tail_fraction is None or n.max() == n.min():
        return np.full(n.shape, f)
    t = check_finite_scalar(tail_fraction, "tail_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    return t + (f - t) * np.log(n / n.min()) / math.log(n.max() / n.min())


def split_prior(labels: Any, fraction: float = 0.5, *, seed: int = 0, num_classes: int | None = None,
                tail_fraction: float | None = None) -> PriorSplit:
    """Split a training set per class into D_prior (a seeded fraction) and D_cert (the rest).

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Training labels in [0, C).
    fraction : float in (0, 1)
        Share of each class put in D_prior: ``floor(fraction * n_j)`` images, clipped to
        [1, n_j − 1] so that each side holds every class.
    tail_fraction : float in (0, 1), optional
        The per-class rule of :func:`class_prior_fractions`: the largest class gets
        ``fraction``, the smallest ``tail_fraction`` (e.g. 0.25: more of the tail certifies).
        None: ``fraction`` for every class (the split of records before the rule existed).
    seed : int >= 0
        Seeds one ``numpy.random.Generator`` (PCG64) that shuffles the classes in label order.
    num_classes : int, optional
        C, when the last classes might be absent (then an error is raised).

    Returns
    -------
    PriorSplit

    Raises
    ------
    ValueError
        A class with fewer than 2 images (it cannot appear on both sides), a fraction
        outside (0, 1), a bad seed.
    """
    frac = check_finite_scalar(fraction, "fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    if tail_fraction is not None:
        tail_fraction = check_finite_scalar(tail_fraction, "tail_fraction", low=0.0, high=1.0, low_open=True,
                                            high_open=True)
    seed = check_seed(seed)
    c = None if num_classes is None else check_positive_int(num_classes, "num_classes")
    y = check_labels(labels, c)
    counts = np.bincount(y, minlength=c or 0)
    small = np.flatnonzero(counts < 2)
    if small.size:
        j = int(small[0])
        raise ValueError(f"labels hold {int(counts[j])} image(s) of class {j}; split_prior needs >= 2 per class "
                         "(one for D_prior, whose class sampler needs every class, one for D_cert)")
    rng = np.random.default_rng(seed)
    fracs = class_prior_fractions(counts, frac, tail_fraction)
    prior, cert = [], []
    for j in range(counts.size):
        idx = np.flatnonzero(y == j)
        rng.shuffle(idx)
        k = min(max(int(math.floor(fracs[j] * idx.size)), 1), idx.size - 1)
        prior.append(idx[:k])
        cert.append(idx[k:])
    p, q = np.sort(np.concatenate(prior)), np.sort(np.concatenate(cert))
    return PriorSplit(prior=p.astype(np.int64), cert=q.astype(np.int64), fraction=frac, seed=seed,
                      prior_counts=np.bincount(y[p], minlength=counts.size).astype(np.int64),
                      cert_counts=np.bincount(y[q], minlength=counts.size).astype(np.int64),
                      tail_fraction=tail_fraction)


def check_disjoint(prior_indices: Any, cert_indices: Any) -> None:
    """Refuse a certification set that shares an image with D_prior (the prior must not have seen it),
    or that holds an image twice (either set).

    Raises
    ------
    ValueError
        Naming ``cert_indices`` (or ``prior_indices``) and the first repeated or shared positions.
    """
    for name, idx in (("cert_indices", cert_indices), ("prior_indices", prior_indices)):
        flat = np.asarray(idx).reshape(-1)
        if np.unique(flat).size != flat.size:
            # an image counted twice is no sample of the distribution: repeating D_cert (tiled 4x) shrank the
            # certificate 0.3917 -> 0.2561 without one new observation
            values, counts = np.unique(flat, return_counts=True)
            raise ValueError(f"{name} repeats {int((counts > 1).sum())} position(s) (first: {values[counts > 1][:5].tolist()}): "
                             "a certificate counts each image once; pass each position once (np.unique)")
    shared = np.intersect1d(np.asarray(prior_indices).reshape(-1), np.asarray(cert_indices).reshape(-1))
    if shared.size:
        raise ValueError(f"cert_indices overlaps prior_indices at {shared.size} position(s) (first: "
                         f"{shared[:5].tolist()}): the prior was trained on those images, so a certificate "
                         "on them is not a bound; certify on D \\ D_prior only (PriorSplit.cert)")


# ----------------------------------------------------------------------------- the network
class StochasticNetwork(nn.Module):
    """A mean-field Gaussian posterior Q over the weights of a model, with its Gaussian prior P.

    Q = Π_i N(μ_i, σ_i²), σ_i = exp(ρ_i); P = Π_i N(p_i, σ_P²), p = the model's weights.
    With ρ = ln σ the KL's curvature in ρ is 2σ²/σ_P², about 2 near the prior whatever σ_P
    is, so one learning rate serves every σ of the grid (with softplus it grows like 1/σ_P²
    for small σ_P); :func:`train_posterior` preconditions μ likewise.
    Every parameter of the model (convolutions, linear layer, BatchNorm scale and shift) is
    stochastic; the model's buffers (BatchNorm running statistics) are copied, frozen, and
    the model always runs in eval mode (module docstring, "BatchNorm").

    Parameters
    ----------
    model : torch.nn.Module
        The prior network (its weights are the prior's mean). It is used as a structure
        only: :func:`torch.func.functional_call` runs it with the sampled weights, so the
        model classes of :mod:`ltbound.train.loop.models` are reused unchanged.
    prior_sigma : float > 0
        σ_P; the posterior starts at μ = p and σ_i = σ_P (KL = 0).

    Notes
    -----
    A weight sample is w = μ + σ ⊙ ε with ε ~ N(0, I) drawn from an explicit
    ``torch.Generator`` (the reparameterisation trick: w is differentiable in μ and ρ).
    """

    def __init__(self, model: nn.Module, prior_sigma: float):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.prior_sigma = check_finite_scalar(prior_sigma, "prior_sigma", low=0.0, low_open=True)
        object.__setattr__(self, "_model", model.eval())     # not a submodule: its own weights are unused
        named = [(n, p) for n, p in model.named_parameters()]
        if not named:
            raise ValueError("model has no parameters to make stochastic")
        self.names = [n for n, _ in named]
        rho0 = math.log(self.prior_sigma)
        self.mu = nn.ParameterList([nn.Parameter(p.detach().clone().float()) for _, p in named])
        self.rho = nn.ParameterList([nn.Parameter(torch.full_like(p.detach().float(), rho0)) for _, p in named])
        for i, (_, p) in enumerate(named):
            self.register_buffer(f"prior_mean_{i}", p.detach().clone().float())
        self.buffer_names = [n for n, _ in model.named_buffers()]
        for i, (_, b) in enumerate(model.named_buffers()):
            self.register_buffer(f"frozen_{i}", b.detach().clone())

    # ---------------------------------------------------------------- parameters
    def prior_means(self) -> list[torch.Tensor]:
        return [getattr(self, f"prior_mean_{i}") for i in range(len(self.names))]

    def frozen_buffers(self) -> dict[str, torch.Tensor]:
        """The model's buffers (BatchNorm statistics of the prior network), as passed to every forward."""
        return {n: getattr(self, f"frozen_{i}") for i, n in enumerate(self.buffer_names)}

    def sigmas(self) -> list[torch.Tensor]:
        return [torch.exp(r) for r in self.rho]

    @property
    def num_weights(self) -> int:
        return int(sum(m.numel() for m in self.mu))

    def sample(self, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """One weight vector: μ + σ ⊙ ε, ε ~ N(0, I) from ``generator``; the mean μ when it is None."""
        if generator is None:
            return dict(zip(self.names, self.mu))
        return {n: m + s * torch.randn(m.shape, generator=generator, device=m.device, dtype=m.dtype)
                for n, m, s in zip(self.names, self.mu, self.sigmas())}

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None,
                weights: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Logits of one weight sample (drawn from ``generator``), of given ``weights``, or of the mean.

        The model runs in eval mode with the frozen buffers (no statistic is updated).
        """
        w = weights if weights is not None else self.sample(generator)
        self._model.eval()
        return functional_call(self._model, {**w, **self.frozen_buffers()}, (x,), strict=True)

    def forward_per_sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Logits of a batch where every image is scored with its own independent weight draw.

        Draws B = len(x) weight vectors μ + σ ⊙ ε at once (B copies of the weights in memory)
        and runs them with :func:`torch.func.vmap` (a batched convolution is a grouped one), so
        a pass over a data set costs about what one shared draw costs; the Monte Carlo term
        of :func:`ltbound.certificates.pacbayes.target_risk_certificate` with ``mc_draws="per-sample"``
        needs exactly this independence.
        """
        from torch.func import vmap

        b = int(x.shape[0])
        ws = {n: m.unsqueeze(0) + s.unsqueeze(0) * torch.randn((b, *m.shape), generator=generator, device=m.device,
                                                               dtype=m.dtype)
              for n, m, s in zip(self.names, self.mu, self.sigmas())}
        buffers = self.frozen_buffers()
        self._model.eval()

        def one(w, xi):
            return functional_call(self._model, {**w, **buffers}, (xi.unsqueeze(0),), strict=True)[0]

        return vmap(one)(ws, x)

    def kl(self) -> torch.Tensor:
        """KL(Q‖P) of the diagonal Gaussians, summed over the weights, as a differentiable tensor.

        Σ_i [ln(σ_P/σ_i) + (σ_i² + (μ_i − p_i)²) / (2σ_P²) − 1/2], the KL of two normal
        distributions summed over independent coordinates; equals
        :func:`ltbound.certificates.kl_bounds.gaussian_kl` (tested).
        """
        sp2 = self.prior_sigma ** 2
        total = torch.zeros((), dtype=torch.float64, device=self.mu[0].device)
        for m, r, p in zip(self.mu, self.rho, self.prior_means()):
            r = r.double()
            gap2 = (m.double() - p.double()) ** 2
            term = math.log(self.prior_sigma) - r + (torch.exp(2 * r) + gap2) / (2 * sp2) - 0.5
            total = total + term.sum()
        return total

    def kl_exact(self) -> float:
        """KL(Q‖P) from the torch-free bound core (:func:`ltbound.certificates.kl_bounds.gaussian_kl`), float64."""
        from ...certificates.kl_bounds import gaussian_kl

        a = self.to_arrays()
        return float(gaussian_kl(a["mu"], a["sigma"], a["prior_mean"], np.full_like(a["mu"], self.prior_sigma)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """μ, σ and the prior mean flattened in parameter order (float64), for records and the core."""
        with torch.no_grad():
            flat = lambda ts: np.concatenate([t.detach().double().cpu().reshape(-1).numpy() for t in ts])  # noqa: E731
            return {"mu": flat(self.mu), "sigma": flat(self.sigmas()), "prior_mean": flat(self.prior_means())}

    def load_arrays(self, mu: np.ndarray, rho: np.ndarray) -> None:
        """Set μ and ρ from flat arrays (as :meth:`flat_state` gives them)."""
        sizes = [m.numel() for m in self.mu]
        if np.asarray(mu).size != sum(sizes) or np.asarray(rho).size != sum(sizes):
            raise ValueError(f"mu and rho must hold {sum(sizes)} values each, got {np.asarray(mu).size} and "
                             f"{np.asarray(rho).size}")
        off = 0
        with torch.no_grad():
            for m, r, k in zip(self.mu, self.rho, sizes):
                m.copy_(torch.as_tensor(np.asarray(mu)[off:off + k]).reshape(m.shape))
                r.copy_(torch.as_tensor(np.asarray(rho)[off:off + k]).reshape(r.shape))
                off += k

    def flat_state(self) -> dict[str, np.ndarray]:
        """μ and ρ as flat float32 arrays (exactly what :meth:`load_arrays` restores)."""
        with torch.no_grad():
            return {"mu": np.concatenate([m.detach().cpu().reshape(-1).numpy() for m in self.mu]),
                    "rho": np.concatenate([r.detach().cpu().reshape(-1).numpy() for r in self.rho])}


# ----------------------------------------------------------------------------- objective
def bounded_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, p_min: float = DEFAULT_P_MIN) -> torch.Tensor:
    """Per-sample cross-entropy bounded to [0, 1]: −ln max(p_y, p_min) / ln(1/p_min).

    Dziugaite & Roy (2018); Pérez-Ortiz et al. (2021): the predicted probability of
    the true class is floored at p_min, so the loss is the project's clipped cross-entropy
    (``"ce-clipped"`` with cap ln(1/p_min)) divided by its cap, a [0, 1] loss the bounds take.

    Parameters
    ----------
    logits : tensor (n, C); labels : int64 tensor (n,); p_min : float in (0, 1)

    Returns
    -------
    tensor (n,), values in [0, 1]
    """
    cap = math.log(1.0 / p_min)
    return F.cross_entropy(logits.float(), labels, reduction="none").clamp(max=cap) / cap


def quad_objective(risk: torch.Tensor, kl: torch.Tensor, m: float, delta: float) -> torch.Tensor:
    """The f-quad training objective (f_quad of Pérez-Ortiz et al. 2021), differentiable.

    f_quad = (sqrt(L̂ + B) + sqrt(B))², B = (KL + ln(2√m/δ)) / (2m), an upper bound on the
    risk that follows from the PAC-Bayes-kl bound (Seeger 2002; Maurer 2004) and is a
    smooth function of L̂ and KL. Equals :func:`ltbound.certificates.kl_bounds.bound_quad` (tested).

    Parameters
    ----------
    risk : scalar tensor in [0, 1]
        Empirical (π-weighted) risk of the bounded loss.
    kl : scalar tensor >= 0
    m : float
        Sample size of the bound (:func:`train_posterior` passes the effective size of the
        π-weighted mean on D_cert).
    delta : float in (0, 1)
    """
    b = (kl + math.log(2.0 * math.sqrt(m) / delta)) / (2.0 * m)
    return (torch.sqrt(risk + b) + torch.sqrt(b)) ** 2


# ----------------------------------------------------------------------------- posterior training
@dataclass(frozen=True)
class PosteriorConfig:
    """Settings of the posterior's training (:func:`train_posterior`).

    Attributes
    ----------
    epochs : int
        Passes over D (each draws n samples with the class-balanced sampler).
    batch_size : int
    lr, momentum : float
        SGD with momentum on ρ = ln σ at ``lr`` and on μ at ``lr · σ_P²`` (preconditioned by
        the prior covariance: plain SGD on (μ − p)/σ_P), as Pérez-Ortiz et al. (2021) train
        with SGD and momentum 0.95.
    p_min : float
        Of the bounded cross-entropy.
    delta : float
        δ inside the objective (the certificate uses its own).
    seed : int
        Seeds the sampler, the augmentation and the weight noise.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.95
    p_min: float = DEFAULT_P_MIN
    delta: float = 0.025
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size")
        check_finite_scalar(self.lr, "lr", low=0.0, low_open=True)
        check_finite_scalar(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        check_finite_scalar(self.p_min, "p_min", low=0.0, high=1.0, low_open=True, high_open=True)
        check_delta(self.delta)
        check_seed(self.seed)


def effective_size(target_prior: np.ndarray, counts: np.ndarray) -> float:
    """1 / Σ_j π_j² / m_j: the sample size whose plain mean has the π-weighted mean's variance scale."""
    return float(1.0 / np.sum(np.asarray(target_prior, float) ** 2 / np.asarray(counts, float)))


def train_posterior(net: StochasticNetwork, images: torch.Tensor, labels: torch.Tensor, *, mean: torch.Tensor,
                    std: torch.Tensor, target_prior: np.ndarray, bound_m: float, config: PosteriorConfig,
                    augment: bool = False) -> list[dict]:
    """Train the posterior's μ and ρ on all of D by minimising f-quad of the π-weighted bounded CE.

    Parameters
    ----------
    net : StochasticNetwork
        Updated in place (μ, ρ); its frozen buffers are never touched.
    images : uint8 tensor (n, C, H, W); labels : int64 tensor (n,)
        All of D (D_prior and D_cert), on the training device.
    mean, std : float tensors (C,)
        D_prior's normalisation (part of the prior's predictor).
    target_prior : ndarray (C,)
        π of the risk to certify.
    bound_m : float
        The objective's sample size (the effective size of D_cert, :func:`effective_size`).
    config : PosteriorConfig
    augment : bool
        The data set's crop + flip (CIFAR), drawn from a seeded generator.

    Returns
    -------
    list of dict
        One entry per epoch: objective, empirical risk (bounded CE, π-weighted), KL, seconds.
    """
    import time

    from ..data.loader import DeviceLoader
    from ..data.sampler import ClassSampler

    device = net.mu[0].device
    sampler = ClassSampler(labels.cpu(), "CB", seed=config.seed, num_classes=len(target_prior))
    weights = torch.as_tensor(np.asarray(target_prior) / sampler.probabilities, dtype=torch.float32, device=device)
    # SGD preconditioned by the prior covariance: μ's step is lr·σ_P² times its gradient, which is
    # plain SGD on v = (μ − p)/σ_P (the KL's curvature in μ is ∝ 1/σ_P²: an unscaled step that suits
    # σ_P = 0.03 diverges at σ_P = 0.003), and the natural-gradient scaling of a Gaussian's mean.
    opt = torch.optim.SGD([{"params": list(net.mu), "lr": config.lr * net.prior_sigma ** 2},
                           {"params": list(net.rho), "lr": config.lr}], lr=config.lr, momentum=config.momentum)
    noise = torch.Generator(device=device)
    aug = torch.Generator(device=device)
    history = []
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        noise.manual_seed(_seed(config.seed, epoch, 1))
        aug.manual_seed(_seed(config.seed, epoch, 2))
        loader = DeviceLoader(images, labels, sampler.global_indices(epoch).to(device), config.batch_size,
                              augment=augment, generator=aug, mean=mean, std=std)
        sums = torch.zeros(3, dtype=torch.float64, device=device)
        steps = 0
        for x, y in loader:
            logits = net(x, generator=noise)
            risk = (weights[y] * bounded_cross_entropy(logits, y, config.p_min)).mean()
            kl = net.kl()
            obj = quad_objective(risk.double(), kl, bound_m, config.delta)
            opt.zero_grad(set_to_none=True)
            obj.backward()
            opt.step()
            sums += torch.stack([obj.detach(), risk.detach().double(), kl.detach()])
            steps += 1
        s = (sums / max(steps, 1)).cpu().tolist()
        if not all(math.isfinite(v) for v in s):
            raise ValueError(f"posterior training diverged in epoch {epoch} (objective {s[0]}); lower lr "
                             f"(now {config.lr:g})")
        history.append({"epoch": epoch, "objective": s[0], "risk_bce": s[1], "kl": float(net.kl().detach()),
                        "seconds": time.perf_counter() - t0})
    return history


def _seed(seed: int, epoch: int, stream: int) -> int:
    """A 63-bit seed for (seed, epoch, stream): independent streams per epoch."""
    return int(np.random.SeedSequence([seed, epoch, stream, 20]).generate_state(2, dtype=np.uint64)[0]
               >> np.uint64(1))


# ----------------------------------------------------------------------------- losses of weight samples
@torch.no_grad()
def sample_losses(net: StochasticNetwork, images: torch.Tensor, labels: torch.Tensor, *, num_samples: int,
                  seed: int, mean: torch.Tensor, std: torch.Tensor, p_min: float = DEFAULT_P_MIN,
                  batch_size: int = 1024, draws: str = "shared",
                  per_sample_batch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """0-1 loss and bounded cross-entropy of ``num_samples`` weight samples on every image.

    Parameters
    ----------
    net : StochasticNetwork
    images : uint8 tensor (m, C, H, W); labels : int64 tensor (m,)
        Un-augmented, on the network's device.
    num_samples : int
        N; sample k is drawn from a generator seeded with (seed, k), so any one sample can be
        redrawn alone and the same seed gives the same matrices.
    seed : int
    mean, std : float tensors (C,)
    p_min : float
    batch_size : int
    draws : {"shared", "per-sample"}
        "shared": row k is one weight draw scored on every image. "per-sample": row k is a
        pass in which every image gets its own independent draw
        (:meth:`StochasticNetwork.forward_per_sample`, chunks of ``per_sample_batch`` images,
        chunk c of pass k seeded with (seed, k, c)); certify it with
        ``target_risk_certificate(..., mc_draws="per-sample")``.
    per_sample_batch : int, optional
        Images (= weight copies in memory) per chunk for ``draws="per-sample"``; default: as
        many as fit in 2^25 weights (128 MiB of float32), e.g. 72 for ResNet-32.

    Returns
    -------
    zero_one : ndarray of uint8, shape (N, m), 1 = misclassified
    bce : ndarray of float32, shape (N, m), in [0, 1]
    """
    from ..data.augment import normalize

    n = check_positive_int(num_samples, "num_samples")
    if draws not in ("shared", "per-sample"):
        raise ValueError(f"draws must be 'shared' or 'per-sample', got {draws!r}")
    device = net.mu[0].device
    m = int(labels.shape[0])
    chunk = (max(1, min(m, 2 ** 25 // net.num_weights)) if per_sample_batch is None
             else check_positive_int(per_sample_batch, "per_sample_batch"))
    zo = torch.empty(n, m, dtype=torch.uint8)
    bce = torch.empty(n, m, dtype=torch.float32)
    g = torch.Generator(device=device)
    xs = [normalize(images[i:i + batch_size], mean, std) for i in range(0, m, batch_size)]
    ys = [labels[i:i + batch_size] for i in range(0, m, batch_size)]
    if draws == "per-sample":
        for k in range(n):
            for c, start in enumerate(range(0, m, chunk)):
                g.manual_seed(_seed(seed, k, 1000 + c))
                stop = min(start + chunk, m)
                y = labels[start:stop]
                logits = net.forward_per_sample(normalize(images[start:stop], mean, std), g).float()
                zo[k, start:stop] = (logits.argmax(1) != y).to(torch.uint8).cpu()
                bce[k, start:stop] = bounded_cross_entropy(logits, y, p_min).cpu()
        return zo.numpy(), bce.numpy()
    for k in range(n):
        g.manual_seed(_seed(seed, k, 3))
        w = net.sample(g)
        start = 0
        for x, y in zip(xs, ys):
            logits = net(x, weights=w).float()
            stop = start + y.shape[0]
            zo[k, start:stop] = (logits.argmax(1) != y).to(torch.uint8).cpu()
            bce[k, start:stop] = bounded_cross_entropy(logits, y, p_min).cpu()
            start = stop
    return zo.numpy(), bce.numpy()


def certification_losses(net: StochasticNetwork, images: torch.Tensor, labels: torch.Tensor, *,
                         cert_indices: Any, prior_indices: Any, num_samples: int, seed: int, mean: torch.Tensor,
                         std: torch.Tensor, p_min: float = DEFAULT_P_MIN, batch_size: int = 1024,
                         draws: str = "shared") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`sample_losses` on D_cert = ``images[cert_indices]``, refusing any overlap with D_prior.

    Returns ``(zero_one (N, m), bce (N, m), labels (m,))`` for :func:`ltbound.certificates.pacbayes.target_risk_certificate`.

    Raises
    ------
    ValueError
        ``cert_indices`` shares a position with ``prior_indices`` (:func:`check_disjoint`), or
        holds positions outside the images.
    """
    cert = np.asarray(cert_indices, dtype=np.int64).reshape(-1)
    check_disjoint(prior_indices, cert)
    n = int(labels.shape[0])
    if cert.size == 0 or cert.min() < 0 or cert.max() >= n:
        raise ValueError(f"cert_indices must be non-empty positions in [0, {n}), got {cert.size} positions "
                         f"in [{cert.min() if cert.size else None}, {cert.max() if cert.size else None}]")
    if np.unique(cert).size != cert.size:
        raise ValueError("cert_indices repeats a position; each certification image must count once")
    idx = torch.as_tensor(cert, device=images.device)
    zo, bce = sample_losses(net, images.index_select(0, idx), labels.index_select(0, idx.to(labels.device)),
                            num_samples=num_samples, seed=seed, mean=mean, std=std, p_min=p_min,
                            batch_size=batch_size, draws=draws)
    return zo, bce, labels.cpu().numpy()[cert]
