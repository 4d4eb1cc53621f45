"""The per-class prior-split rule and the per-schedule certification seeds (issue 31)."""
import numpy as np
import pytest

pytest.importorskip("torch")

from ltbound.train.stochastic.certified_run import CertifyConfig  # noqa: E402
from ltbound.train.stochastic.networks import class_prior_fractions, split_prior  # noqa: E402


def test_rule_is_log_linear_in_class_size_and_fixed_by_counts():
    f = class_prior_fractions([400, 100, 20, 20], 0.5, 0.2)
    assert f[0] == pytest.approx(0.5) and f[2] == f[3] == pytest.approx(0.2)
    assert f[1] == pytest.approx(0.2 + 0.3 * np.log(5) / np.log(20))
    assert np.all(class_prior_fractions([400, 100, 20], 0.5) == 0.5)
    assert np.all(class_prior_fractions([30, 30], 0.5, 0.1) == 0.5)           # equal sizes: no tail
    with pytest.raises(ValueError, match="tail_fraction"):
        class_prior_fractions([10, 5], 0.5, 1.0)


def test_tail_fraction_moves_tail_images_to_d_cert_and_none_is_the_old_split():
    labels = np.repeat(np.arange(4), [200, 80, 30, 12])
    old = split_prior(labels, 0.5, seed=1)
    same = split_prior(labels, 0.5, seed=1, tail_fraction=None)
    assert np.array_equal(old.prior, same.prior) and "tail_fraction" not in old.to_dict()
    new = split_prior(labels, 0.5, seed=1, tail_fraction=0.25)
    assert new.prior_counts[0] == old.prior_counts[0] and new.cert_counts[3] == 12 - 3 > old.cert_counts[3]
    assert np.intersect1d(new.prior, new.cert).size == 0 and new.prior.size + new.cert.size == labels.size
    assert new.to_dict()["tail_fraction"] == 0.25
    with pytest.raises(ValueError, match="tail_fraction"):
        split_prior(labels, 0.5, tail_fraction=0.0)


def test_certification_seeds_differ_per_schedule_unless_shared():
    cfg = CertifyConfig()
    seeds = {cfg.certification_seed(s) for s in ("ib", "switching", "ib-cb")}
    assert len(seeds) == 3 and cfg.certification_seed("ib") == CertifyConfig().certification_seed("ib")
    old = CertifyConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "draw_seeds"})
    assert old.draw_seeds == "shared" and old.certification_seed("ib") == old.certification_seed("switching") == 1
    with pytest.raises(ValueError, match="draw_seeds"):
        CertifyConfig(draw_seeds="nope")
    with pytest.raises(ValueError, match="tail_prior_fraction"):
        CertifyConfig(tail_prior_fraction=1.5)
