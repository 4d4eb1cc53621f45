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
