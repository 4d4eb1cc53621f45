"""Packaging: the bound core needs numpy and scipy only; the rest are extras.

The torch-free check runs a fresh interpreter whose imports of torch, torchvision, sympy,
matplotlib, scikit-learn, tqdm and PIL fail (a ``sys.meta_path`` hook, as if they were not
installed). That is cheaper and steadier than building a second environment in CI (no
install, no package index), and it catches any import of them, direct or indirect; it does
not check pip's resolution of pyproject.toml, which test_core_dependencies_are_numpy_and_scipy
reads instead.
"""
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("torch", "torchvision", "sympy", "matplotlib", "sklearn", "tqdm", "PIL")

BLOCKER = textwrap.dedent(f"""
    import sys
    class _Missing:
        blocked = {BLOCKED!r}
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
            return None
    sys.meta_path.insert(0, _Missing())
""")


def _run_without_extras(body: str) -> subprocess.CompletedProcess:
    code = BLOCKER + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_bound_core_works_without_torch_sympy_or_matplotlib(tmp_path):
    out = _run_without_extras(f"""
        import numpy as np
        import ltbound
        from ltbound.records import RecordWriter
        labels = np.repeat(np.arange(3), [6, 3, 2])
        losses = np.random.default_rng(0).random((4, labels.size))
        report = ltbound.estimate_bounds(losses, labels, "CR", loss_range=1.0, num_draws=20, num_bootstrap=0,
                                         theta_index=0)
        assert np.isfinite(report.sampling.total)
        with RecordWriter({str(tmp_path / 'run')!r}, manifest={{"config": {{"schedule": "ib", "seed": 0}},
                          "dataset": {{"num_classes": 3}}}}, train_indices=np.arange(labels.size),
                          train_labels=labels, test_labels=[0, 1, 2]) as w:
            w.write_epoch(1, train_loss=losses[0], train_correct=losses[0] < 0.5, test_correct=[1, 0, 1],
                          summary={{"sampler": "IB", "q": 1.0}})
            w.finish()
        comp = ltbound.compare([{str(tmp_path / 'run')!r}], loss="zero-one", cap=None, num_draws=20,
                               num_bootstrap=0)
        assert len(comp.runs) == 1
        from ltbound.certificates import kl_bounds, pacbayes   # the PAC-Bayes bound core is torch-free too
        draws = (np.random.default_rng(1).random((20, labels.size)) < 0.2).astype(float)
        for method in ("union", "pooled", "pooled-chernoff"):
            cert = pacbayes.target_risk_certificate(draws, labels, kl=3.0, method=method)
            assert 0 < cert.bound <= 1
        assert kl_bounds.gaussian_kl(np.zeros(3), np.ones(3), 0.0, 2.0) > 0
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
        assert not loaded, loaded
        try:
            import ltbound.bounds.theory  # noqa: F401 - sympy-backed: must say which extra to install
        except ImportError as e:
            print("theory:", e)
        print("ok")
    """)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
    assert "pip install 'ltbound[theory]'" in out.stdout


def test_trainer_without_torch_names_the_extra():
    out = _run_without_extras("""
        import ltbound.train
        ltbound.train.SCHEDULES                  # torch-free parts of the trainer package still work
        try:
            ltbound.train.train
        except ImportError as e:
            print(e)
    """)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ltbound.train.train needs torch" in out.stdout and "pip install 'ltbound[train]'" in out.stdout


def test_core_dependencies_are_numpy_and_scipy_and_dev_installs_everything():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = lambda reqs: {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in reqs}  # noqa: E731
    assert names(project["dependencies"]) == {"numpy", "scipy"}
    extras = project["optional-dependencies"]
    assert names(extras["train"]) == {"torch", "torchvision", "tqdm", "pillow", "scikit-learn"}
    assert names(extras["plots"]) == {"matplotlib"} and names(extras["theory"]) == {"sympy"}
    assert extras["all"] == ["ltbound[train,plots,theory]"]
    assert "ltbound[all]" in extras["dev"] and names(extras["dev"]) >= {"pytest", "hypothesis"}
