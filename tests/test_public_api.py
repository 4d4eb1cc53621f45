"""The package's public surface: every exported name resolves, and importing it needs no torch."""
import subprocess
import sys

import ltbound


def test_every_exported_name_resolves():
    for name in ltbound.__all__:
        assert getattr(ltbound, name) is not None, name


def test_bound_side_never_imports_torch():
    """Data flows trainer -> records -> bounds: the bound code must work without torch."""
    code = ("import sys, ltbound\n"
            "for n in ltbound.__all__: getattr(ltbound, n)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_name_raises_attribute_error():
    import pytest
    with pytest.raises(AttributeError, match="no attribute"):
        ltbound.not_a_function  # noqa: B018


def test_schedules_and_the_train_package_import_without_torch():
    """Recipes and schedules are pure Python (ltbound.schedule); ltbound.train loads torch only when used."""
    code = ("import sys, ltbound.schedule, ltbound.train, ltbound.schedule, ltbound.records\n"
            "from ltbound.train import PRESETS, get_schedule\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_train_package_names_resolve_lazily():
    import ltbound.train as T
    for name in T.__all__:
        assert getattr(T, name) is not None, name
    import pytest
    with pytest.raises(AttributeError, match="no attribute"):
        T.not_a_name  # noqa: B018


def test_the_trainer_does_not_import_the_consumers_of_its_records():
    """trainer and theta are siblings over evaluate: importing the trainer loads neither theta nor the bounds."""
    code = ("import sys, ltbound.train.loop.trainer\n"
            "print(sorted(m for m in ('ltbound.train.loss_matrices.theta', 'ltbound.bounds.estimate', 'ltbound.comparison.compare_runs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_grouped_and_all_is_the_union_of_the_groups():
    """The curated API: every exported name sits in exactly one group, and __all__ is their union."""
    groups = ltbound.API
    assert set(groups) == {"bounds", "certificates", "statistics", "records", "simulation", "paper facts"}
    names = [n for g in groups.values() for n in g]
    assert len(names) == len(set(names)), "a name in two groups"
    assert sorted(names) + ["__version__"] == ltbound.__all__
    assert len(names) <= 60, "the curated API should stay small; reach the rest through its module"


def test_building_blocks_stay_reachable_from_their_modules():
    from ltbound.bounds import objectives, rademacher
    from ltbound.regularity import plots
    assert callable(plots.plot_events) and callable(objectives.weighted_objective)
    assert callable(rademacher.massart_bound)
    import pytest
    with pytest.raises(AttributeError):
        ltbound.plot_events  # noqa: B018 - not part of the curated top level
