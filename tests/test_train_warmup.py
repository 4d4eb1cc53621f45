"""A run shorter than its preset's warm-up: capped (with a warning) or, when asked for explicitly, refused.

The trap: a 1-3 epoch CIFAR run kept the preset's 5 warm-up epochs and never reached its
learning rate (peak 0.02 instead of 0.1), silently.
"""
import pytest

from ltbound.schedule import lr_at
from ltbound.train.loop.config import TrainConfig, resolve_recipe


def test_preset_warmup_not_below_the_run_is_capped_and_the_run_reaches_lr():
    with pytest.warns(UserWarning, match="5 warm-up epochs are not below the run's 3 epochs; warm-up capped to 2"):
        _, recipe = resolve_recipe(TrainConfig(out="unused", dataset="cifar10-lt", epochs=3))
    assert recipe.warmup_epochs == 2
    assert lr_at(recipe, 3, 0, 100) == recipe.lr == 0.1          # the last epoch runs at the full rate


def test_one_epoch_run_has_no_warmup():
    with pytest.warns(UserWarning, match="capped to 0"):
        _, recipe = resolve_recipe(TrainConfig(out="unused", dataset="cifar10-lt", epochs=1))
    assert recipe.warmup_epochs == 0 and lr_at(recipe, 1, 0, 10) == 0.1


def test_explicit_warmup_as_long_as_the_run_is_refused():
    with pytest.raises(ValueError, match="warmup_epochs 3 is not below epochs 3"):
        resolve_recipe(TrainConfig(out="unused", dataset="cifar10-lt", epochs=3, warmup_epochs=3))


def test_warmup_below_the_run_is_left_alone(recwarn):
    _, recipe = resolve_recipe(TrainConfig(out="unused", dataset="cifar10-lt", epochs=6))
    assert recipe.warmup_epochs == 5 and not [w for w in recwarn if "warm-up" in str(w.message)]
