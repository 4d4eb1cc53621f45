"""Stochastic networks (ltbound.train.stochastic.networks) and the certified run (ltbound.train.stochastic.certified_run)."""
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ltbound.certificates import kl_bounds  # noqa: E402
from ltbound.records import RecordError, add_file, read_file  # noqa: E402
from ltbound.train.loop.models import digits_net  # noqa: E402
from ltbound.train.stochastic.networks import (DEFAULT_SIGMA_GRID, StochasticNetwork, bounded_cross_entropy,  # noqa: E402
                                      certification_losses, check_disjoint, quad_objective, sample_losses,
                                      split_prior)
from tests._scripts import load_script  # noqa: E402


def _trained_digits_net(seed=0):
    """A digits net whose BatchNorm statistics moved away from their initial values."""
    torch.manual_seed(seed)
    net = digits_net(10)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, 1, 8, 8))
    return net.eval()


def _perturbed(net, sigma=0.02, seed=1):
    snet = StochasticNetwork(net, sigma)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m, r in zip(snet.mu, snet.rho):
            m.add_(0.01 * torch.randn(m.shape, generator=g))
            r.add_(0.3 * torch.randn(r.shape, generator=g))
    return snet


# ----------------------------------------------------------------------------- KL
def test_torch_kl_equals_the_numpy_core():
    """KL(Q‖P) of the torch module equals kl_bounds.gaussian_kl on the same μ, σ, prior (float64)."""
    snet = _perturbed(_trained_digits_net())
    a = snet.to_arrays()
    want = kl_bounds.gaussian_kl(a["mu"], a["sigma"], a["prior_mean"], np.full_like(a["mu"], snet.prior_sigma))
    assert want > 1.0                                   # a real distance, not the trivial 0
    assert float(snet.kl().detach()) == pytest.approx(want, rel=1e-9)
    assert snet.kl_exact() == pytest.approx(want, rel=1e-12)


def test_kl_is_zero_at_the_prior_and_has_gradients():
    snet = StochasticNetwork(_trained_digits_net(), 0.01)
    assert abs(float(snet.kl().detach())) < 1e-6 * snet.num_weights * 1e-3
    kl = _perturbed(_trained_digits_net()).kl()
    kl.backward()


# ----------------------------------------------------------------------------- sampling
def test_reparameterised_samples_have_the_posterior_mean_and_std():
    """w = μ + σ ε: over 2,000 draws, each weight's mean and std match μ and σ within 5 standard errors."""
    lin = torch.nn.Linear(3, 2)
    snet = StochasticNetwork(lin, 0.5)
    with torch.no_grad():
        snet.rho[0].copy_(torch.log(torch.tensor([[0.1, 0.2, 0.4], [0.8, 1.6, 0.05]])))
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([snet.sample(g)["weight"] for _ in range(2000)]).detach()
    mu, sigma = snet.mu[0].detach(), torch.exp(snet.rho[0]).detach()
    assert torch.all((draws.mean(0) - mu).abs() < 5 * sigma / math.sqrt(2000))
    assert torch.all((draws.std(0) / sigma - 1).abs() < 5 / math.sqrt(2 * 2000))
    # differentiable in μ and ρ (the reparameterisation trick): d w / d μ = 1
    w = snet.sample(torch.Generator().manual_seed(1))["weight"].sum()
    w.backward()
    assert torch.all(snet.mu[0].grad == 1) and snet.rho[0].grad is not None


def test_same_seed_same_weights_and_other_seed_other_weights():
    snet = StochasticNetwork(_trained_digits_net(), 0.01)
    a = snet.sample(torch.Generator().manual_seed(5))
    b = snet.sample(torch.Generator().manual_seed(5))
    c = snet.sample(torch.Generator().manual_seed(6))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


# ----------------------------------------------------------------------------- BatchNorm
def test_certification_pass_changes_no_buffer_and_uses_the_prior_statistics():
    """Frozen BN: a certification pass (even with the wrapper in train mode) leaves every buffer as it was.

    And the mean network's output equals the prior network in eval mode (the prior's running
    statistics, not statistics of the certification batch).
    """
    net = _trained_digits_net()
    snet = StochasticNetwork(net, 0.01)
    snet.train()
    before_model = {k: v.clone() for k, v in net.state_dict().items()}
    before_snet = {k: v.clone() for k, v in snet.state_dict().items()}
    images = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8)
    labels = torch.arange(40) % 10
    mean, std = torch.tensor([0.3]), torch.tensor([0.4])
    certification_losses(snet, images, labels, cert_indices=np.arange(20, 40), prior_indices=np.arange(20),
                         num_samples=3, seed=0, mean=mean, std=std)
    snet(torch.randn(8, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    for k, v in net.state_dict().items():
        assert torch.equal(v, before_model[k]), k
    for k, v in snet.state_dict().items():
        assert torch.equal(v, before_snet[k]), k
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(snet(x, weights=snet.sample(None)), net.eval()(x), atol=1e-6)
        # batch statistics would differ: the same image alone or in a batch gives the same logits
        assert torch.allclose(snet(x[:1], weights=snet.sample(None)), snet(x, weights=snet.sample(None))[:1],
                              atol=1e-6)


# ----------------------------------------------------------------------------- split and overlap
def test_split_prior_is_per_class_disjoint_covering_and_seeded():
    labels = np.repeat(np.arange(4), [40, 9, 3, 2])
    s = split_prior(labels, 0.5, seed=3)
    assert np.intersect1d(s.prior, s.cert).size == 0
    assert np.array_equal(np.union1d(s.prior, s.cert), np.arange(labels.size))
    assert s.prior_counts.tolist() == [20, 4, 1, 1] and s.cert_counts.tolist() == [20, 5, 2, 1]
    assert np.array_equal(split_prior(labels, 0.5, seed=3).prior, s.prior)
    assert not np.array_equal(split_prior(labels, 0.5, seed=4).prior, s.prior)
    assert split_prior(labels, 0.99).cert_counts.min() == 1           # a class always left for certification
    with pytest.raises(ValueError, match="class 1.*>= 2 per class"):
        split_prior(np.array([0, 0, 1, 2, 2]))
    with pytest.raises(ValueError, match="fraction"):
        split_prior(labels, 1.0)


def test_a_certification_set_overlapping_the_prior_data_is_refused():
    snet = StochasticNetwork(_trained_digits_net(), 0.01)
    images = torch.randint(0, 256, (30, 1, 8, 8), dtype=torch.uint8)
    labels = torch.arange(30) % 10
    with pytest.raises(ValueError, match="cert_indices overlaps prior_indices at 2 position"):
        certification_losses(snet, images, labels, cert_indices=np.arange(8, 30), prior_indices=np.arange(10),
                             num_samples=1, seed=0, mean=torch.tensor([0.3]), std=torch.tensor([0.4]))
    check_disjoint(np.arange(10), np.arange(10, 30))   # disjoint: accepted


# ----------------------------------------------------------------------------- objective
def test_quad_objective_equals_the_core_and_bounded_ce_is_clipped_ce():
    for risk, kl, m, delta in ((0.1, 3.0, 200, 0.025), (0.0, 0.0, 10, 0.5), (0.7, 40.0, 5000, 1e-3)):
        got = float(quad_objective(torch.tensor(risk, dtype=torch.float64), torch.tensor(kl, dtype=torch.float64),
                                   m, delta))
        assert got == pytest.approx(kl_bounds.bound_quad(risk, kl, m, delta), rel=1e-12)
    logits = torch.tensor([[10.0, -10.0], [-10.0, 10.0], [0.0, 0.0]])
    y = torch.tensor([0, 0, 0])
    got = bounded_cross_entropy(logits, y, 1e-4)
    cap = math.log(1e4)
    want = torch.nn.functional.cross_entropy(logits, y, reduction="none").clamp(max=cap) / cap
    assert torch.allclose(got, want) and float(got[1]) == 1.0 and 0 < float(got[2]) < 1


def test_sample_losses_reproducible_by_seed():
    snet = _perturbed(_trained_digits_net())
    x = torch.randint(0, 256, (12, 1, 8, 8), dtype=torch.uint8)
    y = torch.arange(12) % 10
    kw = dict(num_samples=4, mean=torch.tensor([0.3]), std=torch.tensor([0.4]))
    a = sample_losses(snet, x, y, seed=7, **kw)
    b = sample_losses(snet, x, y, seed=7, **kw)
    c = sample_losses(snet, x, y, seed=8, **kw)
    assert np.array_equal(a[1], b[1]) and not np.array_equal(a[1], c[1])
    assert a[0].shape == (4, 12) and set(np.unique(a[0])) <= {0, 1} and a[1].min() >= 0 and a[1].max() <= 1


# ----------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Two identical tiny certified runs on digits (2 prior epochs, 1 posterior epoch, 8 weight samples)."""
    from ltbound.train.stochastic.certified_run import CertifyConfig, certify_schedule
    from ltbound.train.loop.config import TrainConfig
    from ltbound.train.data.datasets import load_dataset
    from ltbound.train.stochastic.networks import PosteriorConfig

    ds = load_dataset("digits-lt", imbalance=20, max_test_per_class=5)
    cfg = CertifyConfig(sigma_grid=(0.01, 0.03), posterior=PosteriorConfig(epochs=1, lr=10.0), num_samples=8,
                        test_samples=2)
    root = tmp_path_factory.mktemp("cert")
    runs = [certify_schedule(TrainConfig(out=str(root / name), schedule="switching", epochs=3, milestones=[1],
                                         warmup_epochs=0, device="cpu", quiet=True, progress=False), ds, cfg)
            for name in ("a", "b")]
    return runs


@pytest.mark.slow
def test_tiny_certificate_is_a_valid_number_and_reproducible(tiny_runs):
    a, b = tiny_runs
    for loss in ("zero-one", "bounded-ce"):
        best = a.best(loss)
        assert 0.0 <= best["empirical"] <= best["bound"] <= 1.0
        assert best["kl"] >= 0 and best["num_samples"] == 8
    assert a.certificates == b.certificates and a.per_sigma[0]["kl"] == b.per_sigma[0]["kl"]
    assert a.test == b.test
    assert a.split["n_prior"] + a.split["n_cert"] == 438 and min(a.split["cert_counts"]) >= 1


@pytest.mark.slow
def test_certified_run_is_verified_on_load_and_a_changed_result_is_refused(tiny_runs):
    from ltbound.train.stochastic.certified_run import load_certified_run

    run = tiny_runs[0]
    back = load_certified_run(run.record)
    assert back.certificates == json.loads(json.dumps(run.certificates, default=float))
    res = json.loads(str(read_file(run.record, "pacbayes/result.npz")["result"]))
    res["per_sigma"][0]["zero-one"]["union"] *= 0.5          # a smaller, false certificate
    # rewrite it *with* a valid hash: only recomputing from the stored losses can catch it
    (run.record / "pacbayes" / "result.npz").unlink()
    manifest = json.loads((run.record / "manifest.json").read_text())
    del manifest["files"]["pacbayes/result.npz"]
    from ltbound.records import write_manifest
    write_manifest(run.record, manifest)
    add_file(run.record, "pacbayes/result.npz", result=np.asarray(json.dumps(res)))
    with pytest.raises(RecordError, match="zero-one union certificate recomputed"):
        load_certified_run(run.record)


def test_default_sigma_grid_matches_the_experiment():
    from pathlib import Path

    exp = load_script(Path(__file__).resolve().parents[1] / "experiments" / "certify.py", "certify_script")
    assert tuple(float(s) for s in exp.DEFAULT_SIGMA_GRID.split(",")) == DEFAULT_SIGMA_GRID


def test_gibbs_lower_bound_is_below_the_measured_error_and_moves_with_it():
    """The test-set lower confidence bound of a stochastic predictor's balanced error (used to judge orderings)."""
    from ltbound.train.stochastic.certified_run import gibbs_lower_bound

    labels = np.repeat(np.arange(4), 50)
    rng = np.random.default_rng(0)
    for n in (60, 30):        # one sample per image (N >= m_j), and the two-step bound (N < m_j)
        low = (rng.random((n, 200)) < 0.1).astype(np.uint8)
        high = (rng.random((n, 200)) < 0.6).astype(np.uint8)
        lb_low, lb_high = gibbs_lower_bound(low, labels, 0.05), gibbs_lower_bound(high, labels, 0.05)
        assert 0.0 <= lb_low < low.mean() and lb_low < lb_high < high.mean()
        assert gibbs_lower_bound(np.zeros((n, 200), np.uint8), labels, 0.05) == 0.0
    assert lb_high > 0.1                                 # the two-step bound still sees a 0.6 error
    one_step = gibbs_lower_bound((rng.random((60, 200)) < 0.6).astype(np.uint8), labels, 0.05)
    assert one_step > lb_high + 0.15                     # one fresh sample per image: one step, tighter


def test_bad_settings_are_refused_naming_the_argument():
    from ltbound.train.stochastic.certified_run import CertifyConfig
    from ltbound.train.stochastic.networks import PosteriorConfig

    for kwargs, word in (({"sigma_grid": (0.01, 0.01)}, "sigma_grid"), ({"sigma_grid": (0.0,)}, "sigma_grid"),
                         ({"num_samples": 0}, "num_samples"), ({"delta": 1.0}, "delta"),
                         ({"mc_bound": "hoeffding"}, "mc_bound"), ({"target_prior": "uniform"}, "target_prior")):
        with pytest.raises(ValueError, match=word):
            CertifyConfig(**kwargs)
    with pytest.raises(ValueError, match="lr"):
        PosteriorConfig(lr=0.0)
    with pytest.raises(ValueError, match="prior_sigma"):
        StochasticNetwork(torch.nn.Linear(2, 2), 0.0)
    snet = StochasticNetwork(torch.nn.Conv2d(1, 10, 8), 0.01)
    x = torch.zeros(5, 1, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="cert_indices must be non-empty positions in"):
        certification_losses(snet, x, torch.arange(5), cert_indices=[3, 9], prior_indices=[0], num_samples=1,
                             seed=0, mean=torch.tensor([0.3]), std=torch.tensor([0.4]))


def test_per_sample_forward_draws_one_network_per_image():
    """forward_per_sample: image r is scored by the weights μ + σ ⊙ ε_r of its own draw. The same
    image repeated gets different logits per row (independent draws); each row equals the
    ordinary forward with the weights that row drew (same generator stream, drawn in the same
    order); the same seed gives the same logits."""
    snet = _perturbed(_trained_digits_net())
    x = torch.randn(1, 1, 8, 8).repeat(5, 1, 1, 1)
    with torch.no_grad():
        out = snet.forward_per_sample(x, torch.Generator().manual_seed(4))
        again = snet.forward_per_sample(x, torch.Generator().manual_seed(4))
        assert torch.equal(out, again)
        assert float((out[0] - out[1]).abs().max()) > 1e-3
        g = torch.Generator().manual_seed(4)
        eps = [torch.randn((5, *m.shape), generator=g) for m in snet.mu]
        for r in (0, 3):
            w = {n: m + s * e[r] for n, m, s, e in zip(snet.names, snet.mu, snet.sigmas(), eps)}
            assert torch.allclose(out[r], snet(x[r:r + 1], weights=w)[0], atol=1e-4)


def test_per_sample_losses_are_reproducible_and_validated():
    snet = _perturbed(_trained_digits_net())
    x = torch.randint(0, 256, (30, 1, 8, 8), dtype=torch.uint8)
    y = torch.randint(0, 10, (30,))
    mean, std = torch.zeros(1), torch.full((1,), 255.0)
    a = sample_losses(snet, x, y, num_samples=3, seed=2, mean=mean, std=std, draws="per-sample", per_sample_batch=7)
    b = sample_losses(snet, x, y, num_samples=3, seed=2, mean=mean, std=std, draws="per-sample", per_sample_batch=7)
    assert all(np.array_equal(p, q) for p, q in zip(a, b)) and a[0].shape == (3, 30)
    with pytest.raises(ValueError, match="draws"):
        sample_losses(snet, x, y, num_samples=3, seed=2, mean=mean, std=std, draws="each")


def test_per_sample_gibbs_lower_bound_covers_and_is_one_step():
    """per_sample=True: images of unequal difficulty (u_r ~ U(0, 1)), each scored N = 3 times with
    its own draws (θ ~ Beta, error when u_r < θ): the lower bound stays below the true balanced
    Gibbs risk in >= 1 − δ of 1,000 test sets, and is far tighter than the two-step bound for
    shared draws at N = 3 (which pays ln(2C/δ)/N)."""
    from scipy import stats

    from ltbound.train.stochastic.certified_run import gibbs_lower_bound

    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(2), 80)
    mean_err, delta, reps = np.array([0.2, 0.5]), 0.2, 1000
    a, b = 0.5 * mean_err, 0.5 * (1 - mean_err)
    true = float(np.mean(mean_err))                      # P(u < θ) = E θ = the class's mean error
    ok, ours, two_step = [], [], []
    for _ in range(reps):
        u = rng.random(labels.size)
        theta = rng.beta(a[labels], b[labels], size=(3, labels.size))
        zo = (u < theta).astype(np.uint8)
        lb = gibbs_lower_bound(zo, labels, delta, per_sample=True)
        ok.append(lb <= true)
        ours.append(lb)
        two_step.append(gibbs_lower_bound(zo, labels, delta))
    assert np.mean(ok) >= 1 - delta - 3 * math.sqrt(delta * (1 - delta) / reps)
    assert np.mean(ours) > np.mean(two_step) + 0.1
    assert stats.beta(a[0], b[0]).mean() == pytest.approx(mean_err[0])


# ----------------------------------------------------------------------------- issue 30: recompute on load
def _replace_pacbayes_file(record, rel, **arrays):
    """Swap a pacbayes/ file for another *with a valid hash* (as anyone can): only recomputing catches it."""
    from ltbound.records import write_manifest
    (record / rel).unlink()
    manifest = json.loads((record / "manifest.json").read_text())
    del manifest["files"][rel]
    write_manifest(record, manifest)
    add_file(record, rel, **arrays)


@pytest.fixture
def certified_copy(tiny_runs, tmp_path):
    import shutil
    dst = tmp_path / "run"
    shutil.copytree(tiny_runs[1].record, dst)     # run 0 is edited in place by the test above
    return dst


@pytest.mark.slow
@pytest.mark.parametrize("edit, message", [
    (lambda r: r["certificates"]["zero-one"]["union"].update(bound=0.05), "stored zero-one union certificate"),
    (lambda r: r.update(sigma_index=1 - r["sigma_index"]), "sigma_index is"),
    (lambda r: r["test"].update(deterministic_balanced_error=0.01), "test numbers contradict"),
    (lambda r: r["test"].update(stochastic_lower_bound=0.99), "test numbers contradict"),
])
def test_every_reported_number_is_recomputed_on_load(certified_copy, edit, message):
    from ltbound.train.stochastic.certified_run import load_certified_run

    res = json.loads(str(read_file(certified_copy, "pacbayes/result.npz")["result"]))
    edit(res)
    _replace_pacbayes_file(certified_copy, "pacbayes/result.npz", result=np.asarray(json.dumps(res)))
    with pytest.raises(RecordError, match=message):
        load_certified_run(certified_copy, check_kl=False)


@pytest.mark.slow
def test_repeated_certification_indices_are_refused_on_load(certified_copy):
    from ltbound.train.stochastic.certified_run import load_certified_run

    sp = read_file(certified_copy, "pacbayes/split.npz")
    _replace_pacbayes_file(certified_copy, "pacbayes/split.npz", **{**sp, "cert": np.tile(sp["cert"], 4)})
    with pytest.raises(RecordError, match="cert_indices repeats"):
        load_certified_run(certified_copy, check_kl=False)


def test_check_disjoint_refuses_repeated_positions():
    from ltbound.train.stochastic.networks import check_disjoint
    with pytest.raises(ValueError, match="cert_indices repeats 2 position"):
        check_disjoint([0, 1], [2, 3, 2, 3, 4])
    with pytest.raises(ValueError, match="prior_indices repeats"):
        check_disjoint([0, 0, 1], [2, 3])
    check_disjoint([0, 1], [2, 3])
