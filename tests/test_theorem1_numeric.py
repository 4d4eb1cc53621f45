"""Theorem 1's condition has one numeric home, ltbound.bounds.theorem1, importable without sympy.

Before: ``theorem1_gap`` and ``confidence_excess`` lived in ``ltbound.bounds.theory``, which imports
sympy at import time, so the numpy-only functions needed the ``theory`` extra; and the
condition Q̂_n + L^s(θ) − L(θ) was computed in three places (theory, bounds, simulate).
"""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import ltbound.bounds.estimate
import ltbound.simulation.coverage
import ltbound.simulation.problems
import ltbound.bounds.theorem1 as t1
from ltbound.bounds.sampling import sampling_distribution

ROOT = Path(__file__).resolve().parents[1]

BLOCK_SYMPY = textwrap.dedent("""
    import sys
    class _NoSympy:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "sympy":
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None
    sys.meta_path.insert(0, _NoSympy())
""")


def test_numeric_theorem1_functions_work_without_sympy():
    code = BLOCK_SYMPY + textwrap.dedent("""
        import numpy as np
        from ltbound.bounds.theorem1 import confidence_excess, theorem1_condition, theorem1_gap
        y = np.repeat(np.arange(3), [6, 3, 2])
        losses = np.random.default_rng(0).random((4, y.size))
        gap = theorem1_gap(losses, y, [0.2, 0.3, 0.5], theta_index=1)
        assert gap.condition <= 0 and theorem1_gap(losses, y, [0.2, 0.3, 0.5], theta_index=gap.argmin).condition == 0
        assert confidence_excess([6, 3, 2], [6 / 11, 3 / 11, 2 / 11]) < 1e-15
        assert "sympy" not in sys.modules
        try:
            import ltbound.bounds.theory
        except ImportError as e:
            print("theory:", e)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
    # the blocker works: the symbolic module still refuses, naming the extra
    assert "pip install 'ltbound[theory]'" in out.stdout


def test_theory_reexports_the_same_functions():
    import ltbound.bounds.theory as th
    assert th.theorem1_gap is t1.theorem1_gap and th.confidence_excess is t1.confidence_excess


def test_bounds_take_the_condition_from_theorem1_condition(monkeypatch):
    """estimate_bounds' condition is the value of the one function (replaced here by a marker)."""
    y = np.repeat(np.arange(3), [6, 3, 2])
    losses = np.random.default_rng(1).random((5, y.size))
    p = sampling_distribution([6, 3, 2], -1)
    real = ltbound.bounds.estimate.estimate_bounds(losses, y, p, theta_index=2, num_draws=10).condition
    assert real == t1.theorem1_gap(losses, y, p, theta_index=2).condition
    # the checked public function's core (issue 30: the public one validates, callers use the core)
    monkeypatch.setattr(ltbound.bounds.estimate, "_theorem1_condition", lambda g, theta, q=None: 123.0)
    assert ltbound.bounds.estimate.estimate_bounds(losses, y, p, theta_index=2, num_draws=10).condition == 123.0


def test_simulate_takes_the_condition_from_theorem1_condition(monkeypatch):
    prob = ltbound.simulation.problems.make_problem(num_classes=3, n_max=20, imbalance=4.0, num_hypotheses=4,
                                         num_risk_samples=200, seed=0)
    before = ltbound.simulation.coverage.run_coverage(prob, num_draws=3, num_sign_draws=10, samplers=("CR",), seed=1)
    assert before.theorem1["CR"]["max_condition_empirical"] <= 0
    monkeypatch.setattr(ltbound.simulation.coverage, "_theorem1_condition",
                        lambda g, theta, q=None: np.full(g.shape[0], 7.0))
    after = ltbound.simulation.coverage.run_coverage(prob, num_draws=3, num_sign_draws=10, samplers=("CR",), seed=1)
    assert after.theorem1["CR"]["max_condition_empirical"] == 7.0
    assert after.theorem1["CR"]["mean_condition_expected"] == 7.0


def test_condition_is_min_minus_row_and_takes_a_given_residual():
    g = np.array([0.3, -0.2, 0.1])
    assert t1.theorem1_condition(g, 0) == -0.5 and t1.theorem1_condition(g, 1) == 0.0
    assert t1.theorem1_condition(g, 2, q=0.4) == 0.4 - 0.1
    g2 = np.array([[0.3, -0.2], [0.0, 0.5]])
    np.testing.assert_array_equal(t1.theorem1_condition(g2, np.array([0, 1])), [-0.5, -0.5])
    # with a positive expected residual the condition can hold (> 0): the check can come out either way
    assert t1.theorem1_condition(g, 1, q=0.1) > 0
