"""Shared test configuration.

Hypothesis runs with a deterministic profile in CI (CI=true): derandomized, so that a
failure there reproduces exactly, and no deadline, since CI machines have noisy timing.
"""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

#: The JPEG CIFAR-10 archive shipped beside the project (see ../shared/data/README.md);
#: LTBOUND_CIFAR_ARCHIVE points elsewhere (a checkout that is not beside ../shared, e.g. a worktree).
SHARED_CIFAR = Path(os.environ.get("LTBOUND_CIFAR_ARCHIVE", "")
                    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg.tar.xz")


@pytest.fixture(scope="session")
def cifar_subset_dir(tmp_path_factory):
    """A small image-folder tree (train/test/<class>/*.jpg) extracted from the shared archive.

    Extracts only the first images of each class (a few hundred files) into a temporary
    folder. Skips, saying why, when ../shared/data is absent.
    """
    if not SHARED_CIFAR.exists():
        pytest.skip(f"real-data test: {SHARED_CIFAR} is absent (it ships beside the project as ../shared/data)")
    from tests._cifar_subset import extract_subset
    root = tmp_path_factory.mktemp("cifar10_subset")
    extract_subset(SHARED_CIFAR, root, train_per_class=60, test_per_class=20)
    return root


@pytest.fixture(scope="session")
def main_job_default_run(tmp_path_factory):
    """The main job as a user runs it: ``python experiments/compare_bounds.py`` with no setting
    but --out and --quiet (3 seeds x 3 schedules on digits, about 20 s of one core). Shared by
    tests/test_compare_bounds.py and tests/test_main_job_results.py, which compares it with the
    committed results. Returns (output folder, stdout)."""
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("main_job") / "out"
    res = subprocess.run([sys.executable, str(root / "experiments" / "compare_bounds.py"), "--out", str(out), "--quiet"],
                         cwd=root, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    return out, res.stdout


#: Expensive session fixtures: every test that uses one runs on one xdist worker (a session fixture
#: runs once per worker), in the group named here.
SHARED_SESSION_FIXTURES = {"main_job_default_run": "main_job"}


def _xdist_group(item) -> str | None:
    """The worker group of a test under ``-n auto --dist loadgroup`` (pyproject.toml), or None.

    A test that uses a module- or class-scoped fixture (the paper-tables studies, the certify runs,
    ...) stays with the rest of its file, so that fixture runs once; one that uses an expensive
    session fixture joins that fixture's group; every other test is free, and xdist hands it to
    whichever worker is idle, which keeps the two workers evenly loaded."""
    names = getattr(item, "fixturenames", ())
    for name in names:
        if name in SHARED_SESSION_FIXTURES:
            return SHARED_SESSION_FIXTURES[name]
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}) or {}
    for name in names:
        fdefs = defs.get(name)
        if fdefs and fdefs[-1].scope in ("module", "class", "package"):
            return Path(str(item.fspath)).stem
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Worker groups for ``--dist loadgroup`` (see :func:`_xdist_group`); without xdist the marks do nothing."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = _xdist_group(item)
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))
