"""Bounds for your own model: the data-loader mistakes a user makes, each caught.

Every mistake here gave a bound with no warning on main (issue 24, measured with a user's
CNN on CIFAR-10-LT(10)): the losses of D are per-sample losses of the model on D's own,
un-augmented images, every sample once, every class present. Each test shows the mistake
refused (or warned about) *and* the correct call accepted, so no check passes by always
firing. The data are the 438 digits-lt images (8x8, one channel) and a small CNN.
"""
import logging
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset, TensorDataset

import ltbound
from ltbound.bounds.estimate import estimate_bounds
from ltbound.train.loss_matrices.bridge import data_loss_matrix
from tests._user_data import digits_and_net, normalized, unit


@pytest.fixture(scope="module")
def digits():
    return digits_and_net()


def _bounds(net, data, **kw):
    args = dict(pixels="uint8", mean=None, std=None, k=2, radius=0.02, num_draws=50, progress=False)
    args.update(kw)
    return ltbound.bounds_for_model(net, data, **args)


class _Flip(Dataset):
    """A training set read through a random horizontal flip, as a training loader does."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        img = self.x[i]
        return (img.flip(-1) if torch.rand(()) < 0.5 else img), self.y[i]


class _Plain(_Flip):
    """The same data set with no random transform (a custom Dataset: labels not readable up front)."""

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class _Stream(IterableDataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __iter__(self):
        return iter(zip(self.x, self.y))


# ----------------------------------------------------------------------------- pixels and mean / std
def test_normalized_pixels_on_unnormalised_images_warn(digits):
    """pixels='normalized' on ToTensor floats in [0, 1]: a warning naming pixels='unit'; truly
    normalised images (which go below 0) give none."""
    ds, net = digits
    with pytest.warns(UserWarning, match="pixels='normalized' but every pixel lies in .*pixels='unit'"):
        data_loss_matrix(net, (unit(ds), ds.train.labels), pixels="normalized", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data_loss_matrix(net, (normalized(ds), ds.train.labels), pixels="normalized", progress=False)


@pytest.mark.parametrize("pixels, mean, std, match", [
    ("uint8", (78.8,), (96.6,), r"mean must be in \[0, 1\] pixel units.*divide by 255"),
    ("unit", (0.309,), (96.6,), r"std must be in \(0, 1\] pixel units.*divide by 255"),
    ("unit", (-0.1,), (0.38,), r"mean must be in \[0, 1\]"),
])
def test_mean_std_in_0_255_units_are_refused(digits, pixels, mean, std, match):
    ds, net = digits
    x = ds.train.images if pixels == "uint8" else unit(ds)
    with pytest.raises(ValueError, match=match):
        data_loss_matrix(net, (x, ds.train.labels), pixels=pixels, mean=mean, std=std, progress=False)
    # the same call in [0, 1] units, and mean 0 / std 1 ("no normalisation"), are accepted
    data_loss_matrix(net, (x, ds.train.labels), pixels=pixels, mean=ds.mean, std=ds.std, progress=False)
    data_loss_matrix(net, (x, ds.train.labels), pixels=pixels, mean=(0.0,), std=(1.0,), progress=False)


# ----------------------------------------------------------------------------- augmentation
def test_augmenting_dataset_is_refused_and_the_plain_one_accepted(digits):
    ds, net = digits
    x, y = ds.train.images, ds.train.labels
    torch.manual_seed(5)
    before = torch.get_rng_state()
    with pytest.raises(ValueError, match="different image each time index .* random transform"):
        data_loss_matrix(net, DataLoader(_Flip(x, y), batch_size=64), pixels="uint8", mean=ds.mean, std=ds.std,
                         progress=False)
    assert torch.equal(torch.get_rng_state(), before)      # the check leaves the caller's RNG where it was
    rep = _bounds(net, _Plain(x, y), mean=ds.mean, std=ds.std)
    assert rep.data_checks["same_image_on_reread"].startswith("checked: 8 indices")


def test_unindexable_data_says_plainly_that_augmentation_was_not_checked(digits):
    """An IterableDataset cannot be read twice at one index: the report says so (field and table)."""
    ds, net = digits
    x, y = ds.train.images, ds.train.labels
    rep = _bounds(net, DataLoader(_Stream(x, y), batch_size=64), mean=ds.mean, std=ds.std)
    assert rep.data_checks["same_image_on_reread"].startswith("NOT CHECKED")
    assert "NOT CHECKED" in rep.table()
    tensors = _bounds(net, (x, y), mean=ds.mean, std=ds.std)
    assert tensors.data_checks["same_image_on_reread"] == "not needed: tensors given"
    assert "NOT CHECKED" not in tensors.table()
    # the same samples give the same bound however they are handed over
    assert rep.ib.total == tensors.ib.total


# ----------------------------------------------------------------------------- every sample once
def test_drop_last_is_refused_before_the_pass(digits):
    ds, net = digits
    tds = TensorDataset(ds.train.images, ds.train.labels)          # 438 samples
    with pytest.raises(ValueError, match="drop_last=True: it skips the last 54 of its 438 samples"):
        _bounds(net, DataLoader(tds, batch_size=64, drop_last=True), mean=ds.mean, std=ds.std)
    # drop_last with a batch size that divides n drops nothing: accepted
    rep = _bounds(net, DataLoader(tds, batch_size=73, drop_last=True), mean=ds.mean, std=ds.std)
    assert rep.data_checks["samples_read"] == rep.data_checks["dataset_length"] == 438


def test_loader_that_skips_or_repeats_samples_is_refused(digits):
    ds, net = digits
    tds = TensorDataset(ds.train.images, ds.train.labels)
    kw = dict(pixels="uint8", mean=ds.mean, std=ds.std, progress=False)
    part = torch.utils.data.SubsetRandomSampler(range(400), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="yielded 400 samples but its dataset holds 438.*drop_last"):
        data_loss_matrix(net, DataLoader(tds, batch_size=64, sampler=part), **kw)
    weighted = torch.utils.data.WeightedRandomSampler(torch.ones(438), 438)
    with pytest.raises(ValueError, match="draws with replacement"):
        data_loss_matrix(net, DataLoader(tds, batch_size=64, sampler=weighted), **kw)
    shuffled = DataLoader(tds, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert data_loss_matrix(net, shuffled, **kw)[0].shape == (1, 438)


# ----------------------------------------------------------------------------- every class
class _Counting(torch.nn.Module):
    """Counts forward calls on the class: the bridge runs deep copies of the module."""
    calls = 0

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        type(self).calls += 1
        return self.net(x)


def test_subset_missing_classes_is_refused_before_the_pass(digits):
    """A 9-class or 2-class subset of a 10-class training set: C comes from the model's output
    width, so the empty classes are an error, raised after one batch (the labels are read
    without the images), not a 9-class or 2-class bound."""
    ds, net = digits
    y = ds.train.labels
    tds = TensorDataset(ds.train.images, y)
    no_tail = Subset(tds, torch.nonzero(y != 9).flatten().tolist())
    counting, _Counting.calls = _Counting(net), 0
    with pytest.raises(ValueError, match=r"classes \[9\] have no sample .*read before the pass.*model's output"):
        _bounds(counting, DataLoader(no_tail, batch_size=16), mean=ds.mean, std=ds.std)
    assert _Counting.calls == 1             # one batch through one model, of the 27 batches x 3 models
    two = Subset(tds, torch.nonzero(y < 2).flatten().tolist())
    with pytest.raises(ValueError, match=r"classes \[2, 3, 4, 5, 6, 7, 8, 9\] have no sample"):
        _bounds(net, two, mean=ds.mean, std=ds.std)
    # a custom Dataset (labels only seen in the pass): still an error, after the pass
    keep = (y != 9)
    with pytest.raises(ValueError, match=r"classes \[9\] have no sample in data \(the labels read\)"):
        _bounds(net, _Plain(ds.train.images[keep], y[keep]), mean=ds.mean, std=ds.std)
    # saying C = 9 is the caller's explicit choice, and allowed
    rep = _bounds(net, no_tail, mean=ds.mean, std=ds.std, num_classes=9)
    assert rep.ib.counts.size == 9 and rep.data_checks["num_classes_from"] == "num_classes"
    full = _bounds(net, tds, mean=ds.mean, std=ds.std)
    assert full.ib.counts.size == 10 and full.data_checks["num_classes_from"] == "the model's output width"
    with pytest.raises(ValueError, match="num_classes = 11 but the model has 10 outputs"):
        _bounds(net, tds, mean=ds.mean, std=ds.std, num_classes=11)


# ----------------------------------------------------------------------------- labels, layout, lists
def test_one_based_labels_get_a_clear_error(digits):
    ds, net = digits
    kw = dict(pixels="uint8", mean=ds.mean, std=ds.std, progress=False)
    with pytest.raises(ValueError, match=r"labels must lie in 0..9 .* reach 10 \(1-based labels\? subtract 1\)"):
        data_loss_matrix(net, (ds.train.images, ds.train.labels + 1), **kw)
    # seen in the pass (a custom Dataset): the same message, at the batch that holds label 10
    with pytest.raises(ValueError, match=r"labels of batch \d+ reach 10 \(1-based"):
        data_loss_matrix(net, _Plain(ds.train.images, ds.train.labels + 1), **kw)


def test_channels_last_images_get_a_clear_error(digits):
    """HWC images with pixels='normalized' (no mean/std to compare the channels with) reached the
    model and ended in torch's conv error; the model's input channels now name the fix."""
    ds, net = digits
    hwc = normalized(ds).permute(0, 2, 3, 1)
    with pytest.raises(ValueError, match=r"first convolution takes 1 channels .*channels last\? permute"):
        data_loss_matrix(net, (hwc, ds.train.labels), pixels="normalized", progress=False)
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(63, 10))     # no conv: torch's error, wrapped
    with pytest.raises(ValueError, match="the model cannot run on the data's first batch of shape"):
        data_loss_matrix(flat, (hwc, ds.train.labels), pixels="normalized", progress=False)


def test_a_pair_of_python_lists_is_read_as_images_and_labels(digits):
    """([image, ...], [label, ...]) used to be read as a 2-sample Dataset and failed with a
    message about PIL images; now it is the pair it looks like. A list of two (image, label)
    samples stays a Dataset."""
    ds, net = digits
    kw = dict(pixels="uint8", mean=ds.mean, std=ds.std, progress=False)
    ref, y_ref = data_loss_matrix(net, (ds.train.images, ds.train.labels), **kw)
    for images in ([im for im in ds.train.images], [im.numpy() for im in ds.train.images]):
        mat, y = data_loss_matrix(net, (images, ds.train.labels.tolist()), **kw)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(mat, ref)
    samples = [(ds.train.images[0], 3), (ds.train.images[1], 4)]
    mat, y = data_loss_matrix(net, samples, **kw)
    assert y.tolist() == [3, 4] and mat.shape == (1, 2)
    with pytest.raises(ValueError, match="different shapes"):
        data_loss_matrix(net, ([ds.train.images[0], ds.train.images[1][:, :4]], [0, 1]), **kw)


# ----------------------------------------------------------------------------- the printout
def test_a_negative_rademacher_estimate_is_explained():
    """2·R̂ below 0 (a Monte Carlo mean of a quantity >= 0) is printed with why, and the total,
    which uses R̂⁺ = R̂ + the monte_carlo term, is that of the same matrix whatever the sign."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), [30, 20])
    losses = rng.random(y.size)              # one row: E_ξ max = E_ξ Σ ξ L / n = 0 exactly
    negative = next(s for s in range(50)
                    if estimate_bounds(losses, y, "CR", loss_range=1.0, num_draws=20, seed=s).ib.rademacher.value < 0)
    rep = estimate_bounds(losses, y, "CR", loss_range=1.0, num_draws=20, seed=negative)
    term = rep.ib.term("rademacher")
    assert term.value < 0 and "below 0 by Monte Carlo error" in term.note
    assert "below 0 by sampling error" in rep.ib.table() and "the exact 2·R̂ is >= 0" in rep.ib.table()
    upper = rep.ib.rademacher.upper
    assert rep.ib.term("rademacher").value + rep.ib.term("monte_carlo").value == pytest.approx(2 * upper)
    positive = next(s for s in range(50)
                    if estimate_bounds(losses, y, "CR", loss_range=1.0, num_draws=20, seed=s).ib.rademacher.value > 0)
    clean = estimate_bounds(losses, y, "CR", loss_range=1.0, num_draws=20, seed=positive)
    assert "below 0" not in clean.ib.table() and "below 0" not in clean.ib.term("rademacher").note


def test_comparison_table_explains_a_negative_rademacher_mean(tmp_path):
    """compare()'s table: a 2·R̂ column mean below 0 gets the same explanation, and none when >= 0."""
    from ltbound.comparison.compare_runs import compare
    from ltbound.records import RecordWriter

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], [30, 20])
    w = RecordWriter(tmp_path / "a", manifest={"config": {"schedule": "ib", "seed": 0}, "dataset": {"num_classes": 2},
                                               "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                     train_indices=np.arange(50), train_labels=labels, test_labels=np.array([0, 1, 0, 1]))
    w.write_epoch(1, train_loss=rng.random(50), train_correct=np.ones(50, bool),
                  test_correct=np.array([1, 0, 1, 1], bool), summary={"sampler": "IB", "q": 1.0})
    w.finish()
    row = rng.random((1, 50))              # one row: E max = 0 exactly, the estimate has either sign
    kw = dict(loss="ce-clipped", cap=5.0, theta="given", losses=[row], theta_index=0, num_draws=20, num_bootstrap=0)
    signs = {}
    for seed in range(40):
        comp = compare([tmp_path / "a"], seed=seed, **kw)
        signs.setdefault(comp.runs[0].report.ib.rademacher.value < -2.5e-5, comp)
        if len(signs) == 2:
            break
    assert "2·R̂ below 0 (eq6 for ib" in signs[True].table() and "sampling error" in signs[True].table()
    assert "2·R̂ below 0 (eq6" not in signs[False].table()


def test_the_cost_of_the_pass_is_said_before_it(digits, capsys, caplog):
    """k perturbations are 1 + k forward passes: a line gives the expected wall time, timed on
    the second batch, on stderr with progress=True and in the log either way."""
    ds, net = digits
    with caplog.at_level(logging.INFO, logger="ltbound.train.loss_matrices.bridge"):
        _bounds(net, (ds.train.images, ds.train.labels), mean=ds.mean, std=ds.std, k=4, batch_size=64,
                progress=True)
    err = capsys.readouterr().err
    assert "5 forward passes over 438 images at" in err and "in all" in err
    assert any("5 forward passes over 438 images" in r.getMessage() for r in caplog.records)
    with caplog.at_level(logging.INFO, logger="ltbound.train.loss_matrices.bridge"):
        caplog.clear()
        _bounds(net, (ds.train.images, ds.train.labels), mean=ds.mean, std=ds.std, k=4, batch_size=64)
    assert "forward passes" not in capsys.readouterr().err          # progress=False: quiet
    assert any("5 forward passes" in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------------------- fuzz over the mistakes
class _Crop(_Flip):
    """A random 8x8 crop of the image padded by 1 (RandomCrop(8, padding=1))."""

    def __getitem__(self, i):
        img = torch.nn.functional.pad(self.x[i], (1, 1, 1, 1))
        dy, dx = torch.randint(0, 3, (2,)).tolist()
        return img[:, dy:dy + 8, dx:dx + 8], self.y[i]


class _NoisyLabel(_Plain):
    """A random target transform: a label replaced by a random one on half the reads."""

    def __getitem__(self, i):
        lab = int(self.y[i])
        return self.x[i], (int(torch.randint(0, 10, ())) if torch.rand(()) < 0.5 else lab)


def _mistake_cases(ds):
    x, y = ds.train.images, ds.train.labels
    unit_images, normed = unit(ds), normalized(ds)
    tds = TensorDataset(x, y)
    ok = dict(pixels="uint8", mean=ds.mean, std=ds.std)
    part = torch.utils.data.SubsetRandomSampler(range(400), generator=torch.Generator().manual_seed(0))
    weighted = torch.utils.data.WeightedRandomSampler(torch.ones(len(y)), len(y))
    return {
        "normalized on [0, 1] images": ((unit_images, y), dict(pixels="normalized")),
        "uint8 images as unit": ((x, y), dict(ok, pixels="unit")),
        "unit images as uint8": ((unit_images, y), ok),
        "normalized images as unit": ((normed, y), dict(ok, pixels="unit")),
        "mean/std with normalized": ((normed, y), dict(ok, pixels="normalized")),
        "mean in 0..255": ((x, y), dict(ok, mean=(78.8,))),
        "std in 0..255": ((x, y), dict(ok, std=(96.6,))),
        "random flip": (_Flip(x, y), ok),
        "random crop": (DataLoader(_Crop(x, y), batch_size=50), ok),
        "random label": (_NoisyLabel(x, y), ok),
        "drop_last": (DataLoader(tds, batch_size=64, drop_last=True), ok),
        "sampler over part": (DataLoader(tds, batch_size=64, sampler=part), ok),
        "sampler with replacement": (DataLoader(tds, batch_size=64, sampler=weighted), ok),
        "Subset without the last class": (Subset(tds, torch.nonzero(y != 9).flatten().tolist()), ok),
        "Dataset without the last class": (_Plain(x[y != 9], y[y != 9]), ok),
        "2-class Subset": (Subset(tds, torch.nonzero(y < 2).flatten().tolist()), ok),
        "1-based labels": ((x, y + 1), ok),
        "negative labels": ((x, y - 1), ok),
        "float labels": ((x, y.float()), ok),
        "channels-last uint8": ((x.permute(0, 2, 3, 1), y), ok),
        "channels-last normalized": ((normed.permute(0, 2, 3, 1), y), dict(pixels="normalized")),
        "ragged list of images": (([x[0], x[1][:, :4]], [0, 1]), ok),
        "fewer labels than images": ((x, y[:-1]), ok),
        "num_classes above the output width": ((x, y), dict(ok, num_classes=11)),
    }


_MISTAKES = [
    "normalized on [0, 1] images", "uint8 images as unit", "unit images as uint8", "normalized images as unit",
    "mean/std with normalized", "mean in 0..255", "std in 0..255", "random flip", "random crop", "random label",
    "drop_last", "sampler over part", "sampler with replacement", "Subset without the last class",
    "Dataset without the last class", "2-class Subset", "1-based labels", "negative labels", "float labels",
    "channels-last uint8", "channels-last normalized", "ragged list of images", "fewer labels than images",
    "num_classes above the output width"]


@pytest.mark.parametrize("mistake", _MISTAKES)
def test_fuzz_every_data_loader_mistake_errors_or_warns(digits, mistake):
    """No silent number: each mistake is a ValueError or a UserWarning from ltbound."""
    ds, net = digits
    data, kw = _mistake_cases(ds)[mistake]
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _bounds(net, data, **kw)
        except ValueError:
            return
    assert [w for w in caught if issubclass(w.category, UserWarning) and "site-packages" not in w.filename], \
        f"{mistake}: a bound came back with neither an error nor a warning"


def test_fuzz_mistake_list_is_the_case_table(digits):
    """The parametrised names and the case table are one list (a case cannot drop out unseen)."""
    assert list(_mistake_cases(digits[0])) == _MISTAKES


@pytest.mark.parametrize("form", ["tensors", "TensorDataset", "shuffled DataLoader", "custom Dataset",
                                  "lists", "unit floats", "normalized floats"])
def test_fuzz_correct_forms_give_one_number_and_no_warning(digits, form):
    """The control: the right call in every form gives the same objective with no warning."""
    ds, net = digits
    x, y = ds.train.images, ds.train.labels
    ok = dict(pixels="uint8", mean=ds.mean, std=ds.std)
    data, kw = {
        "tensors": ((x, y), ok),
        "TensorDataset": (TensorDataset(x, y), ok),
        "shuffled DataLoader": (DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True,
                                           generator=torch.Generator().manual_seed(0)), ok),
        "custom Dataset": (_Plain(x, y), ok),
        "lists": (([im for im in x], y.tolist()), ok),
        "unit floats": ((unit(ds), y), dict(ok, pixels="unit")),
        "normalized floats": ((normalized(ds), y), dict(pixels="normalized")),
    }[form]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = _bounds(net, data, **kw)
    ref = _bounds(net, (x, y), **ok)
    assert rep.ib.term("objective").value == pytest.approx(ref.ib.term("objective").value, abs=1e-6)
    assert rep.data_checks["samples_read"] == y.numel() and rep.data_checks["num_classes"] == 10
