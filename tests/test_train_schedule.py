"""Sampler schedules (Algorithm 1, Tables 6-7), recipes and the learning-rate schedule."""
from __future__ import annotations

import json
import math

import pytest

from ltbound.schedule import PRESETS, SCHEDULES, Phase, Schedule, get_schedule, lr_at

CIFAR = PRESETS["cifar"]


def test_cifar_switching_is_ib_through_epoch_101_and_cr_from_102():
    """Algorithm 1, line 4: IB while t <= m_n + S = 100 + 1, CR from t = 102.

    Sect. 4.2's "switch ... at the 101st epoch" counts epochs from 0: epoch index 101 is
    the 102nd epoch.
    """
    s = get_schedule("switching", CIFAR)
    assert s.sampler_at(101) == "IB" and s.q_at(101) == 1.0
    assert s.sampler_at(102) == "CR" and s.q_at(102) == -1.0
    assert s.sampler_at(1) == "IB" and s.sampler_at(200) == "CR"
    assert s.switch_epochs == (102,) == (CIFAR.switch_epoch,)
    s.validate(200)


def test_cr_starts_in_the_small_learning_rate_stage():
    s = get_schedule("switching", CIFAR)
    assert lr_at(CIFAR, 100, 0, 10) == pytest.approx(0.1)
    assert lr_at(CIFAR, 101, 0, 10) == pytest.approx(0.01)  # first small-lr epoch, still IB
    assert s.sampler_at(101) == "IB"
    first_cr = s.switch_epochs[0]
    assert all(lr_at(CIFAR, e, 0, 10) == pytest.approx(0.01) for e in range(first_cr, 201))


def test_switch_epoch_follows_last_milestone_and_offset():
    r = PRESETS["inaturalist"]
    assert get_schedule("switching", r).switch_epochs == (82,)
    assert get_schedule("switching", r.replace(switch_offset=10)).switch_epochs == (91,)
    assert get_schedule("switching", PRESETS["inaturalist-200"]).switch_epochs == (162,)
    assert get_schedule("switching", CIFAR.replace(milestones=())).switch_epochs == (2,)


@pytest.mark.parametrize("name, expected", [
    ("ib", [(1, "IB", 1.0)]),
    ("cb", [(1, "CB", 0.0)]),
    ("cr", [(1, "CR", -1.0)]),
    ("sqrt", [(1, "SQRT", 0.5)]),
    ("switching", [(1, "IB", 1.0), (102, "CR", -1.0)]),
    ("ib-cb", [(1, "IB", 1.0), (102, "CB", 0.0)]),
    ("cb-cr", [(1, "CB", 0.0), (102, "CR", -1.0)]),
    ("cr-ib", [(1, "CR", -1.0), (102, "IB", 1.0)]),
    ("IB-CR", [(1, "IB", 1.0), (102, "CR", -1.0)]),
    ("ib-cb5-cr", [(1, "IB", 1.0), (102, "CB", 0.0), (107, "CR", -1.0)]),
    ("ib-cr5-cb", [(1, "IB", 1.0), (102, "CR", -1.0), (107, "CB", 0.0)]),
    ("ib-q=-0.5", [(1, "IB", 1.0), (102, "q=-0.5", -0.5)]),
    ("q=0.25", [(1, "q=0.25", 0.25)]),
])
def test_named_schedules(name, expected):
    s = get_schedule(name, CIFAR)
    assert [(p.start_epoch, p.sampler, p.q) for p in s.phases] == expected


def test_table7_three_phase_boundaries():
    s = get_schedule("ib-cb5-cr", CIFAR)
    assert [s.sampler_at(e) for e in (101, 102, 106, 107)] == ["IB", "CB", "CB", "CR"]


def test_every_listed_schedule_builds_and_fits_the_cifar_run():
    assert len(SCHEDULES) == len(set(SCHEDULES)) == 5 + 16 + 2
    for name in SCHEDULES:
        get_schedule(name, CIFAR).validate(CIFAR.epochs)


@pytest.mark.parametrize("name", ["ib-xx", "switch", "ib-cb-cr", "ib-cb0-cr", "", "q=", 3])
def test_unknown_schedule_lists_choices(name):
    with pytest.raises(ValueError, match="unknown schedule .*switching"):
        get_schedule(name, CIFAR)


def test_get_schedule_needs_a_recipe():
    with pytest.raises(ValueError, match="recipe must be a Recipe"):
        get_schedule("ib", {"epochs": 200})


def test_validate_rejects_a_switch_beyond_the_run():
    s = get_schedule("switching", CIFAR.replace(milestones=(200,)))
    with pytest.raises(ValueError, match="switch epoch 202 is beyond the run's 200 epochs"):
        s.validate(200)
    get_schedule("switching", CIFAR).validate(102)  # CR for exactly the last epoch is fine
    with pytest.raises(ValueError, match="beyond the run's 101 epochs"):
        get_schedule("switching", CIFAR).validate(101)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        s.validate(0)


def test_phase_at_rejects_epoch_zero():
    with pytest.raises(ValueError, match="epoch must be an integer >= 1"):
        get_schedule("ib", CIFAR).phase_at(0)


def test_schedule_and_phase_validation():
    with pytest.raises(ValueError, match="first phase must start at epoch 1"):
        Schedule("x", (Phase(2, "IB", 1.0),))
    with pytest.raises(ValueError, match="strictly increasing"):
        Schedule("x", (Phase(1, "IB", 1.0), Phase(5, "CR", -1.0), Phase(5, "CB", 0.0)))
    with pytest.raises(ValueError, match="non-empty"):
        Schedule("x", ())
    with pytest.raises(ValueError, match="'CR' has q = -1.0"):
        Phase(1, "CR", 1.0)
    with pytest.raises(ValueError, match="does not match"):
        Phase(1, "q=0.3", 0.4)
    with pytest.raises(ValueError, match="sampler must be one of"):
        Phase(1, "ROS", 1.0)


def test_to_list_is_the_record_schedule_field():
    out = json.loads(json.dumps(get_schedule("switching", CIFAR).to_list()))
    assert out == [{"start_epoch": 1, "sampler": "IB", "q": 1.0}, {"start_epoch": 102, "sampler": "CR", "q": -1.0}]


# ----------------------------------------------------------------------------- learning rate
def test_warmup_is_linear_per_step_and_reaches_lr_at_its_end():
    spe = 10  # 5 warm-up epochs = 50 steps
    assert lr_at(CIFAR, 1, 0, spe) == pytest.approx(0.1 / 50)
    assert lr_at(CIFAR, 1, 9, spe) == pytest.approx(0.1 * 10 / 50)   # = reference code's lr * 1/5
    assert lr_at(CIFAR, 3, 4, spe) == pytest.approx(0.1 * 25 / 50)
    assert lr_at(CIFAR, 5, 9, spe) == pytest.approx(0.1)
    assert lr_at(CIFAR, 6, 0, spe) == pytest.approx(0.1)
    values = [lr_at(CIFAR, e, s, spe) for e in range(1, 6) for s in range(spe)]
    assert all(b > a for a, b in zip(values, values[1:]))


def test_step_decay_takes_effect_after_each_milestone():
    r = PRESETS["imagenet-lt"]  # no warm-up, x0.1 after 60 and 80
    assert lr_at(r, 1, 0, 5) == pytest.approx(0.2)
    assert lr_at(r, 60, 4, 5) == pytest.approx(0.2)
    assert lr_at(r, 61, 0, 5) == pytest.approx(0.02)
    assert lr_at(r, 80, 0, 5) == pytest.approx(0.02)
    assert lr_at(r, 81, 0, 5) == pytest.approx(0.002)


def test_milestone_inside_warmup_scales_the_warmup():
    r = CIFAR.replace(milestones=(1,), warmup_epochs=2)
    assert lr_at(r, 2, 1, 2) == pytest.approx(0.01)  # decayed, end of warm-up
    assert lr_at(r, 2, 0, 2) == pytest.approx(0.01 * 3 / 4)


@pytest.mark.parametrize("args, match", [
    ((0, 0, 10), "epoch must be an integer >= 1"),
    ((1, 10, 10), r"step must lie in \[0, steps_per_epoch\)"),
    ((1, -1, 10), "step must be an integer >= 0"),
    ((1, 0, 0), "steps_per_epoch must be an integer >= 1"),
])
def test_lr_at_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        lr_at(CIFAR, *args)


# ----------------------------------------------------------------------------- recipes
def test_cifar_preset_matches_section_4_2():
    r = CIFAR
    assert (r.epochs, r.batch_size, r.lr, r.momentum, r.weight_decay) == (200, 64, 0.1, 0.9, 2e-4)
    assert (r.warmup_epochs, r.milestones, r.gamma, r.switch_offset, r.model) == (5, (100,), 0.1, 1, "resnet32")


def test_large_scale_presets_say_what_the_paper_leaves_out():
    assert PRESETS["imagenet-lt"].weight_decay == 5e-4
    for name in ("imagenet-lt", "inaturalist", "inaturalist-200"):
        assert "not stated in the paper: weight decay" in PRESETS[name].note.lower()
    assert PRESETS["inaturalist"].batch_size == 512 and PRESETS["inaturalist"].lr == 0.05
    assert PRESETS["inaturalist-200"].milestones == (120, 160) and PRESETS["inaturalist-200"].epochs == 200
    d = PRESETS["digits"]
    assert d.model == "digits_net" and d.switch_offset == 1
    get_schedule("switching", d).validate(d.epochs)


@pytest.mark.parametrize("kw, match", [
    (dict(epochs=0), "epochs"),
    (dict(lr=0.0), "lr must be >"),
    (dict(lr=math.inf), "lr must be finite"),
    (dict(momentum=1.0), "momentum must be <"),
    (dict(weight_decay=-1e-4), "weight_decay"),
    (dict(milestones=(100, 50)), "strictly increasing"),
    (dict(milestones=(0,)), "milestones entry"),
    (dict(gamma=0.0), "gamma"),
    (dict(switch_offset=-1), "switch_offset"),
    (dict(warmup_epochs=1.5), "warmup_epochs"),
    (dict(nesterov="yes"), "nesterov"),
    (dict(optimizer="adam"), r"no field\(s\) \['optimizer'\]"),
])
def test_recipe_replace_validates(kw, match):
    with pytest.raises(ValueError, match=match):
        CIFAR.replace(**kw)


def test_recipe_replace_and_to_dict():
    r = CIFAR.replace(epochs=10, milestones=[6, 8])
    assert r.milestones == (6, 8) and r.epochs == 10 and CIFAR.epochs == 200
    assert json.loads(json.dumps(r.to_dict()))["milestones"] == [6, 8]


def test_epoch_lrs_are_lr_at_of_every_step():
    """The trainer asks for a whole epoch's rates once (checked once); they equal lr_at step by step."""
    from ltbound.schedule import epoch_lrs
    for epoch in (1, 5, 6, 100, 101, 200):
        assert epoch_lrs(CIFAR, epoch, 7) == [lr_at(CIFAR, epoch, s, 7) for s in range(7)]
    with pytest.raises(ValueError, match="steps_per_epoch"):
        epoch_lrs(CIFAR, 1, 0)


def test_schedule_round_trips_through_the_record_field():
    for name in ("ib", "switching", "ib-cb5-cr", "ib-q=-0.5"):
        sched = get_schedule(name, CIFAR)
        assert Schedule.from_list(json.loads(json.dumps(sched.to_list())), name=sched.name) == sched


def test_final_stage_starts_at_the_last_switch_or_after_the_last_milestone():
    assert get_schedule("switching", CIFAR).final_stage_start(CIFAR.milestones) == 102
    assert get_schedule("ib-cb5-cr", CIFAR).final_stage_start(CIFAR.milestones) == 107
    assert get_schedule("ib", CIFAR).final_stage_start((60, 80)) == 81
    assert get_schedule("ib", CIFAR).final_stage_start(()) == 1
