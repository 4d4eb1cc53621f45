"""Does a bound lie above the risk the model reaches on the test set?  ``ltbound.compare``
puts each bound total beside the measured test risk with its standard error, and the
verdict ("above" / "BELOW" / "within error") must be able to come out each way."""
import math

import numpy as np
import pytest

import ltbound
from ltbound.comparison.compare_runs import _test_risks, bound_coverage
from ltbound.records import RecordWriter, load_record


def _record(path, *, n=200, m=400, train_correct=1.0, test_correct=0.0, seed=0):
    """Two classes (3:1 in training, balanced test); fixed fractions of correct samples per epoch."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], [3 * n // 4, n - 3 * n // 4])
    test = np.repeat([0, 1], m // 2)
    with RecordWriter(path, manifest={"config": {"schedule": "ib", "seed": seed}, "dataset": {"num_classes": 2},
                                      "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                      train_indices=np.arange(n), train_labels=labels, test_labels=test) as w:
        for e in (1, 2):
            tc = rng.random(n) < train_correct
            sc = rng.random(m) < test_correct
            w.write_epoch(e, train_loss=np.where(tc, 0.05, 3.0), train_correct=tc, test_correct=sc,
                          test_loss=np.where(sc, 0.05, 3.0), summary={"sampler": "IB", "q": 1.0})
        w.finish()
    return path


def test_standard_error_is_the_per_class_formula(tmp_path):
    rec = load_record(_record(tmp_path / "r", m=40, test_correct=0.6))
    lt, bal, se_lt, se_bal = _test_risks(rec, "zero-one", None)
    err = 1.0 - rec.test_correct[-1].astype(float)
    w = rec.counts / rec.counts.sum()
    per = [err[rec.test_labels == j] for j in range(2)]
    assert lt == pytest.approx(sum(w[j] * per[j].mean() for j in range(2)))
    assert bal == pytest.approx(np.mean([p.mean() for p in per]))
    assert se_lt == pytest.approx(math.sqrt(sum(w[j] ** 2 * per[j].var(ddof=1) / per[j].size for j in range(2))))
    assert se_bal == pytest.approx(math.sqrt(sum(0.25 * per[j].var(ddof=1) / per[j].size for j in range(2))))


@pytest.mark.parametrize("train_correct, test_correct, m, verdict", [
    (1.0, 0.0, 400, "BELOW"),         # fits training, fails every test sample: the estimate misses the gap
    (0.0, 1.0, 400, "above"),         # the reverse: the bound (>= 1) sits far above a zero test risk
    (0.5, 0.5, 4, "within error"),    # four test samples: the test risk is too uncertain to say
])
def test_verdict_comes_out_each_way(tmp_path, train_correct, test_correct, m, verdict):
    comp = ltbound.compare([_record(tmp_path / "r", train_correct=train_correct, test_correct=test_correct, m=m)],
                           loss="zero-one", num_draws=200, num_bootstrap=50)
    run = comp.runs[0]
    for key, cov in bound_coverage(run, comp.delta).items():
        assert cov["slack"] == pytest.approx(cov["total"] - cov["measured"])
        if key != "eq7":     # one sampler (IB): Eq. 7 is Eq. 6
            assert cov["verdict"] == verdict, (key, cov)
    entry = comp.coverage["ib"]["eq6"]
    assert entry[verdict] == 1 and len(entry["runs"]) == 1
    assert comp.summary["ib"]["slack_eq6"]["mean"] == pytest.approx(entry["runs"][0]["slack"])
    text = comp.table()
    assert f"{verdict} 1/1" in text
    assert ("Bound below the measured test risk" in text) == (verdict == "BELOW")
    assert comp.to_dict()["coverage"]["ib"]["target"]["runs"][0]["verdict"] in ("above", "BELOW", "within error")


def _two_class_record(path, schedule, train_err, test_right):
    """Training prior 3:1, balanced test set of 400; ``test_right`` = fraction right per class."""
    n, m = 400, 400
    labels = np.repeat([0, 1], [300, 100])
    test = np.repeat([0, 1], m // 2)
    train_ok = np.arange(n) % 100 >= 100 * train_err
    test_ok = np.concatenate([np.arange(m // 2) < test_right[j] * (m // 2) for j in (0, 1)])
    with RecordWriter(path, manifest={"config": {"schedule": schedule, "seed": 0}, "dataset": {"num_classes": 2},
                                      "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                      train_indices=np.arange(n), train_labels=labels, test_labels=test) as w:
        for e in (1, 2):
            w.write_epoch(e, train_loss=np.where(train_ok, 0.05, 3.0), train_correct=train_ok, test_correct=test_ok,
                          summary={"sampler": "IB", "q": 1.0})
        w.finish()
    return path


def test_bound_ordering_is_also_judged_against_the_risk_it_bounds(tmp_path):
    """A is better on the balanced test set, B on the long-tailed risk Eq. 6 bounds (3:1 prior):
    Eq. 6 ranks B first, so it DISAGREES with balanced accuracy and agrees with its own risk."""
    a = _two_class_record(tmp_path / "a", "a", train_err=0.30, test_right=(0.70, 0.90))   # bal 0.80, LT risk 0.25
    b = _two_class_record(tmp_path / "b", "b", train_err=0.05, test_right=(0.95, 0.45))   # bal 0.70, LT risk 0.175
    comp = ltbound.compare([a, b], loss="zero-one", num_draws=200, num_bootstrap=50)
    o = comp.orderings
    assert o["accuracy_pairs"]["a vs b"]["verdict"] == "better"
    assert o["eq6_total"]["verdict"] == "DISAGREES"
    own = o["eq6_total"]["versus_own_risk"]
    assert own["risk"] == "test_risk_lt" and own["verdict"] == "agrees" and own["by_risk"] == ["b", "a"]
    assert o["eq6_total"]["pairs"]["a vs b"]["risk"]["relation"] == -1      # a's long-tailed risk is higher
    assert o["target_total"]["versus_own_risk"]["risk"] == "test_risk_balanced"
    assert "against the long-tailed test risk it bounds" in comp.table()


def test_own_risk_verdict_can_disagree(tmp_path):
    """Training errors swapped: Eq. 6 now ranks A first, against A's higher long-tailed test risk."""
    a = _two_class_record(tmp_path / "a", "a", train_err=0.05, test_right=(0.70, 0.90))
    b = _two_class_record(tmp_path / "b", "b", train_err=0.30, test_right=(0.95, 0.45))
    o = ltbound.compare([a, b], loss="zero-one", num_draws=200, num_bootstrap=50).orderings
    assert o["eq6_total"]["verdict"] == "agrees"
    assert o["eq6_total"]["versus_own_risk"]["verdict"] == "DISAGREES"


@pytest.mark.parametrize("train_correct, test_correct, exceeded", [
    (1.0, 0.0, "all"),      # fits training, fails the test set: every member's gap is far above the deviation
    (0.0, 1.0, "none"),     # the reverse: every gap is negative
])
@pytest.mark.parametrize("loss", ["zero-one", "ce-clipped"])
def test_uniform_gaps_over_theta_come_out_each_way(tmp_path, train_correct, test_correct, exceeded, loss):
    """Eq. 6 and the target bound hold for every θ in Θ at once; with the test losses of each member of
    Θ̂ the check is made member by member, and each gap is the test risk minus the objective."""
    rec = load_record(_record(tmp_path / "r", train_correct=train_correct, test_correct=test_correct))
    comp = ltbound.compare([rec], loss=loss, num_draws=200, num_bootstrap=50)
    run = comp.runs[0]
    gaps = run.theta_gaps
    assert set(gaps) == {"eq6", "target"}
    cap = 5.0 if loss == "ce-clipped" else None
    for key, res, w in (("eq6", run.report.ib, rec.counts / rec.counts.sum()), ("target", run.report.target,
                                                                                np.full(2, 0.5))):
        g = gaps[key]
        assert g["epochs"] == list(run.theta_epochs) and g["members"] == len(run.theta_epochs)
        assert g["deviation"] == pytest.approx(res.total - res.terms[0].value)
        for i, e in enumerate(g["epochs"]):
            train = rec.loss_matrix([e], loss=loss, cap=cap)[0]
            test = rec.test_loss_matrix([e], loss=loss, cap=cap)[0]
            test_risk = sum(w[j] * test[rec.test_labels == j].mean() for j in range(2))
            objective = train.mean() if key == "eq6" else np.mean([train[rec.train_labels == j].mean()
                                                                  for j in range(2)])
            assert g["gap"][i] == pytest.approx(test_risk - objective)
        assert g["exceeded"] == (g["members"] if exceeded == "all" else 0)
    assert ("Uniform over Θ̂" in comp.table()) and comp.to_dict()["runs"][0]["theta_gaps"] == gaps


def test_uniform_gaps_need_test_losses_of_the_members(tmp_path):
    """Perturbations of the final model have no test losses: no member is checked, and a record
    asked for the test losses of an epoch it does not hold says which epochs it has."""
    rec = load_record(_record(tmp_path / "r"))
    losses = [rec.loss_matrix(loss="zero-one")[-1:]]
    comp = ltbound.compare([rec], loss="zero-one", theta="given", losses=losses, theta_index=0, num_draws=200,
                           num_bootstrap=50)
    assert comp.runs[0].theta_gaps == {} and "Uniform over Θ̂" not in comp.table()
    with pytest.raises(ValueError, match="not among this record's epochs"):
        rec.test_loss_matrix([7], loss="zero-one")
