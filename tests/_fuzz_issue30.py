"""Issue 30's closing fuzz: invalid inputs to every public function the issue names; a return is 'silent'.

Every input below breaks the function's documented contract (valid look-alikes, such as NaN
p-values for untested pairs or arrays of q, are left out). Run from the repository root:

    PYTHONPATH=. python tests/_fuzz_issue30.py

and it prints how many calls were refused with a ValueError, returned silently, or raised
something else (with RuntimeWarnings as errors). Not collected by pytest (leading underscore);
tests/test_fuzz3_validation.py pins the individual cases.
"""
from pathlib import Path
import warnings
import numpy as np
from ltbound.statistics.verdicts import holm, difference_test
from ltbound.bounds.theorem1 import theorem1_condition
from ltbound.statistics.decomposition import zero_one_decomposition
from ltbound.bounds.rademacher import rademacher_monte_carlo, rademacher_exact
from ltbound.certificates.kl_bounds import gaussian_kl, kl_inverse_upper, kl_inverse_lower, kl_bernoulli
from ltbound.certificates.pacbayes import target_risk_certificate
from ltbound.statistics.heldout import clopper_pearson, compare_over_seeds, certified_risk, accuracy_intervals
from ltbound.bounds.residual import q_residual
from ltbound.comparison.compare_runs import compare

BAD_SCALARS = [np.nan, np.inf, -np.inf, True, "0.1", 1j, np.ma.array(0.1, mask=True), None, [0.1, 0.2], -1.0, 1e400]
def masked(a): return np.ma.array(a, mask=np.zeros(np.shape(a), bool) | (np.arange(np.size(a)).reshape(np.shape(a)) == 0))
def bad_vectors(good):
    g = np.asarray(good, dtype=float)
    out = [masked(g), g.astype(complex), g.astype(str), np.full_like(g, np.nan), np.where(np.arange(g.size) == 0, np.inf, g),
           g[:-1] if g.size > 1 else np.zeros(0), np.stack([g, g])]
    return out

labels = np.arange(20) % 2
correct = np.ones(20, bool); correct[:3] = False
L = np.random.default_rng(0).random((3, 20))
cases = []
for v in [x for i, x in enumerate(bad_vectors([0.01, 0.2, 0.5])) if i not in (3, 5)] + [[-0.5, 0.2], [0.2, 1.5], [0.1, np.inf]]:
    cases.append(("holm", lambda v=v: holm(v)))
good_dt = ([1., 2., 3.], [.1, .1, .1], [0, 1, 2], [1., 2., 4.], [.1, .1, .1], [0, 1, 2])
for i in range(6):
    for v in bad_vectors(good_dt[i]) + ([[0.5, 1.5, 2.5]] if i in (2, 5) else []):
        args = list(good_dt); args[i] = v
        cases.append((f"difference_test[{i}]", lambda a=args: difference_test(*a)))
for v in [x for i, x in enumerate(bad_vectors([0.1, -0.2, 0.3])) if i != 5] + [1.5, "x"]:
    cases.append(("theorem1_condition g", lambda v=v: theorem1_condition(v, 0)))
for t in BAD_SCALARS + [5, -4, 1.0]:
    cases.append(("theorem1_condition theta", lambda t=t: theorem1_condition([0.1, -0.2, 0.3], t)))
for q in BAD_SCALARS:
    if q is None or isinstance(q, float) and np.isfinite(q): continue
    cases.append(("theorem1_condition q", lambda q=q: theorem1_condition([0.1, -0.2, 0.3], 0, q=q)))
for c in BAD_SCALARS + [3.5, 0, 1]:
    if c is None: continue
    cases.append(("zero_one_decomposition num_classes", lambda c=c: zero_one_decomposition([[0, 1], [1, 0]], [0, 1], num_classes=c)))
cases.append(("zero_one_decomposition masked", lambda: zero_one_decomposition(masked(np.array([[0, 1], [1, 0]])), [0, 1])))
for v in bad_vectors(L[0]):
    cases.append(("rademacher_monte_carlo weights", lambda v=v: rademacher_monte_carlo(L, weights=v, num_draws=10)))
for v in bad_vectors(L[0, :8]):
    cases.append(("rademacher_exact weights", lambda v=v: rademacher_exact(L[:, :8], weights=v)))
for w in (np.full(20, 1e300), np.zeros(20)):
    cases.append(("rademacher_monte_carlo weights magnitude", lambda w=w: rademacher_monte_carlo(L, weights=w, num_draws=10)))
cases.append(("rademacher_monte_carlo masked", lambda: rademacher_monte_carlo(masked(L), num_draws=10)))
for i in range(4):
    good = [np.zeros(3), np.ones(3), np.zeros(3), np.ones(3)]
    for v in bad_vectors(good[i])[:5] + [np.array([True, False, True])]:
        a = list(good); a[i] = v
        cases.append((f"gaussian_kl[{i}]", lambda a=a: gaussian_kl(*a)))
cases.append(("gaussian_kl overflow", lambda: gaussian_kl(np.zeros(2), np.full(2, 1e200), 0.0, 1e-200)))
cases.append(("gaussian_kl overflow mu", lambda: gaussian_kl(np.full(2, 1e300), np.ones(2), -1e300, 1e-10)))
for f in (kl_inverse_upper, kl_inverse_lower, kl_bernoulli):
    for q in BAD_SCALARS + [1.5]:
        if q is None or isinstance(q, list): continue     # arrays of q are allowed
        cases.append((f"{f.__name__} q", lambda q=q, f=f: f(q, 0.1)))
for b in [True, "0.1", 1j, np.ma.array(0.1, mask=True), -1.0, np.nan]:
    cases.append(("kl_inverse_upper budget", lambda b=b: kl_inverse_upper(0.1, b)))
for k in BAD_SCALARS:
    if k is None: continue
    cases.append(("target_risk_certificate kl", lambda k=k: target_risk_certificate(np.zeros(20), labels, kl=k)))
cases.append(("target_risk_certificate masked", lambda: target_risk_certificate(masked(np.zeros(20)), labels)))
for v in bad_vectors([1, 2]):
    cases.append(("clopper_pearson", lambda v=v: clopper_pearson(v, [3, 4])))
for v in bad_vectors([0.5, 0.6, 0.7]):
    cases.append(("compare_over_seeds", lambda v=v: compare_over_seeds(v, [0.5, 0.6, 0.7])))
for d in BAD_SCALARS + [0.0, 1.0]:
    if d is None: continue
    cases.append(("certified_risk delta", lambda d=d: certified_risk(correct, labels, delta=d)))
cases.append(("certified_risk masked", lambda: certified_risk(masked(correct), labels)))
cases.append(("accuracy_intervals masked", lambda: accuracy_intervals(masked(correct), labels)))
cases.append(("q_residual masked", lambda: q_residual(masked(L), labels, "CB")))
cases.append(("q_residual masked labels", lambda: q_residual(L, masked(labels), "CB")))
cases.append(("compare delta 1e-320", lambda: compare([Path(__file__).resolve().parents[1] / "experiments" / "records" / "cifar10-lt-50" / "ib-seed0"], delta=1e-320)))

silent, crash, ok = [], [], 0
for name, f in cases:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            r = f(); silent.append(f"{name} -> {str(r)[:80]}")
        except ValueError:
            ok += 1
        except Exception as e:
            crash.append(f"{name}: {type(e).__name__}: {e}"[:160])
print(f"{len(cases)} calls: {ok} refused with ValueError, {len(silent)} silent, {len(crash)} other exceptions")
for s in silent: print("SILENT", s)
for c in crash: print("CRASH", c)
