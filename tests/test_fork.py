"""ltbound.train.runs.fork.fork_parents: which runs continue another run's first epochs."""
import pytest

pytest.importorskip("torch")      # ltbound.train imports torch


def test_fork_parents_picks_the_longest_shared_prefix():
    """Runs sharing their first epochs' sampler fork off the earlier run with the longest shared
    prefix (first on ties), capped so the fork trains an epoch of its own; chains=False forks
    only off runs trained from epoch 1."""
    from ltbound.train.runs.fork import fork_parents

    q = {"ib": [1.0] * 6, "switching": [1.0] * 3 + [-1.0] * 3, "ib-cb": [1.0] * 3 + [0.0] * 3,
         "late": [1.0] * 3 + [-1.0] * 2 + [0.5], "cb": [0.0] * 6, "same": [1.0] * 6}
    p = fork_parents(q)
    assert p["switching"] == ("ib", 3) and p["ib-cb"] == ("ib", 3)
    assert p["late"] == ("switching", 5)          # shares 5 epochs with switching, 3 with ib
    assert "cb" not in p and "ib" not in p
    assert p["same"] == ("ib", 5)                 # identical samplers: still one epoch of its own
    assert fork_parents(q, chains=False)["late"] == ("ib", 3)
