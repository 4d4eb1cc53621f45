"""The torch bridge: models and Datasets / DataLoaders in, loss matrices and bounds out.

Pins the traps a torch user meets: the image form is named (never guessed from the
dtype), ToTensor floats give the uint8 path's losses, a shuffling DataLoader keeps rows
and labels aligned, and the model's row is named explicitly wherever a matrix is built or used.
"""
import numpy as np
import pytest
import torch

import ltbound
from ltbound.bounds.estimate import estimate_bounds
from ltbound.train import digits_net, resnet32
from ltbound.train.loss_matrices.bridge import data_loss_matrix, model_loss_matrix
from tests._user_data import digits_and_net, normalized, unit
from ltbound.train.loss_matrices.theta import perturbation_loss_matrix


@pytest.fixture(scope="module")
def digits():
    return digits_and_net()


# ----------------------------------------------------------------------------- image forms
def test_tensor_forms_give_the_same_losses(digits):
    """uint8 + mean/std, floats in [0, 1] + mean/std and normalised floats: one matrix."""
    ds, net = digits
    y = ds.train.labels
    a, la = data_loss_matrix(net, (ds.train.images, y), pixels="uint8", mean=ds.mean, std=ds.std, progress=False)
    b, lb = data_loss_matrix(net, torch.utils.data.TensorDataset(unit(ds), y), pixels="unit", mean=ds.mean,
                             std=ds.std, progress=False)
    c, lc = data_loss_matrix(net, torch.utils.data.DataLoader(torch.utils.data.TensorDataset(normalized(ds), y),
                                                              batch_size=50),
                             pixels="normalized", progress=False)
    assert a.shape == (1, y.numel()) and a.dtype == np.float32
    images = unit(ds)
    data_loss_matrix(net, (images, y), pixels="unit", mean=ds.mean, std=ds.std, progress=False)
    assert torch.equal(images, unit(ds))          # the caller's images are not normalised in place
    np.testing.assert_array_equal(la, y.numpy())
    np.testing.assert_array_equal(lb, la)
    np.testing.assert_array_equal(lc, la)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
    np.testing.assert_allclose(c, a, rtol=0, atol=1e-5)


def test_cifar_totensor_dataloader_matches_uint8_path(cifar_subset_dir):
    """Real JPEGs through torchvision's ImageFolder: ToTensor() floats (pixels='unit') give the
    same ResNet-32 losses as PILToTensor() uint8 images; the old trap read the floats as
    already normalised and gave other losses."""
    from torchvision import datasets, transforms

    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    idx = list(range(0, 600, 3))           # 200 images, 20 per class
    as_unit = torch.utils.data.Subset(datasets.ImageFolder(cifar_subset_dir / "train", transforms.ToTensor()), idx)
    as_uint8 = torch.utils.data.Subset(datasets.ImageFolder(cifar_subset_dir / "train", transforms.PILToTensor()), idx)
    torch.manual_seed(0)
    net = resnet32(10)
    loader = torch.utils.data.DataLoader(as_unit, batch_size=64)
    unit, y_unit = data_loss_matrix(net, loader, pixels="unit", mean=mean, std=std, progress=False)
    raw, y_raw = data_loss_matrix(net, as_uint8, pixels="uint8", mean=mean, std=std, batch_size=64, progress=False)
    np.testing.assert_array_equal(y_unit, y_raw)
    assert np.bincount(y_raw).tolist() == [20] * 10
    np.testing.assert_allclose(unit, raw, rtol=0, atol=1e-4)
    # the trap, shown: the same floats taken as normalised give other losses
    with pytest.warns(UserWarning, match="inside \\[0, 1\\]"):     # ... and now a warning says so
        wrong, _ = data_loss_matrix(net, loader, pixels="normalized", progress=False)
    assert np.abs(wrong - raw).max() > 1e-2


@pytest.mark.parametrize("pixels, data_form, kwargs, match", [
    ("uint8", "unit", dict(mean=(0.5,), std=(0.25,)), "pixels='uint8' but the data yields images of dtype"),
    ("unit", "uint8", dict(mean=(0.5,), std=(0.25,)), "expects float images"),
    ("unit", "normalized", dict(mean=(0.5,), std=(0.25,)), r"expects images in \[0, 1\]"),
    ("normalized", "normalized", dict(mean=(0.5,), std=(0.25,)), "drop mean and std"),
    ("unit", "unit", {}, "needs mean and std"),
    ("rgb", "unit", {}, "pixels must be one of"),
    ("unit", "unit", dict(mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2)), "1 channels"),
    ("unit", "unit", dict(mean=(0.5,), std=(0.0,)), "std must be > 0"),
])
def test_image_form_is_checked_never_guessed(digits, pixels, data_form, kwargs, match):
    ds, net = digits
    x = {"uint8": ds.train.images, "unit": unit(ds), "normalized": normalized(ds)}[data_form]
    with pytest.raises(ValueError, match=match):
        data_loss_matrix(net, (x, ds.train.labels), pixels=pixels, progress=False, **kwargs)


def test_bad_data_and_models_are_named(digits):
    ds, net = digits
    pair = (ds.train.images, ds.train.labels)
    kw = dict(pixels="uint8", mean=ds.mean, std=ds.std, progress=False)
    with pytest.raises(ValueError, match="data must be a torch Dataset"):
        data_loss_matrix(net, 42, **kw)
    with pytest.raises(ValueError, match="needs architecture"):
        data_loss_matrix([net.state_dict()], pair, **kw)
    with pytest.raises(ValueError, match="models must hold at least one"):
        data_loss_matrix([], pair, **kw)
    with pytest.raises(ValueError, match="cap"):
        data_loss_matrix(net, pair, loss="ce-clipped", **kw)
    with pytest.raises(ValueError, match="cap applies only to loss='ce-clipped'"):
        data_loss_matrix(net, pair, cap=5.0, **kw)
    with pytest.raises(ValueError, match="channels last"):
        data_loss_matrix(net, (ds.train.images.permute(0, 2, 3, 1), ds.train.labels), **kw)


def test_pil_dataset_gets_a_hint_to_add_a_tensor_transform(cifar_subset_dir):
    from torchvision import datasets
    with pytest.raises(ValueError, match="PILToTensor"):
        data_loss_matrix(resnet32(10), datasets.ImageFolder(cifar_subset_dir / "test"), pixels="uint8",
                         mean=(0.5,) * 3, std=(0.25,) * 3, progress=False)


# ----------------------------------------------------------------------------- rows and columns
def test_shuffled_loader_keeps_rows_and_labels_aligned(digits):
    """Columns follow the data's order; every row sees the same order (data read once)."""
    ds, net = digits
    other = digits_net(10)
    dset = torch.utils.data.TensorDataset(ds.train.images, ds.train.labels, torch.arange(ds.train.labels.numel()))
    plain, y = data_loss_matrix([net, other], (ds.train.images, ds.train.labels), pixels="uint8", mean=ds.mean,
                                std=ds.std, progress=False)
    order = torch.randperm(len(dset), generator=torch.Generator().manual_seed(3))
    shuffled = torch.utils.data.DataLoader(torch.utils.data.Subset(dset, order.tolist()), batch_size=37)
    mat, ys = data_loss_matrix([net, other], shuffled, pixels="uint8", mean=ds.mean, std=ds.std, progress=False)
    np.testing.assert_array_equal(ys, y[order.numpy()])
    np.testing.assert_allclose(mat, plain[:, order.numpy()], rtol=0, atol=1e-6)


def test_model_is_row_zero_and_state_dicts_paths_and_modules_agree(digits, tmp_path):
    ds, net = digits
    pair = (ds.train.images, ds.train.labels)
    kw = dict(pixels="uint8", mean=ds.mean, std=ds.std, progress=False)
    torch.manual_seed(1)
    a, b = digits_net(10), digits_net(10)
    torch.save(b.state_dict(), tmp_path / "b.pt")
    mat, _ = model_loss_matrix(net, pair, theta=[a.state_dict(), tmp_path / "b.pt"], **kw)
    ref, _ = data_loss_matrix([net, a, b], pair, **kw)
    np.testing.assert_array_equal(mat, ref)
    alone, _ = data_loss_matrix(net, pair, **kw)
    np.testing.assert_array_equal(mat[0], alone[0])


def test_perturbation_rows_agree_with_theta_module(digits):
    """model_loss_matrix('perturb') and theta.perturbation_loss_matrix: same Θ̂, same row order."""
    ds, net = digits
    mine, _ = model_loss_matrix(net, (ds.train.images, ds.train.labels), k=3, radius=0.05, seed=7, pixels="uint8",
                                mean=ds.mean, std=ds.std, progress=False)
    theirs = perturbation_loss_matrix(net, ds.train.images, ds.train.labels, k=3, radius=0.05, seed=7,
                                      mean=ds.mean, std=ds.std)
    assert mine.shape == (4, ds.train.labels.numel())
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-5)


def test_bounds_for_model_names_the_model_row(digits):
    """bounds_for_model = estimate_bounds at theta_index=0 of model_loss_matrix's clipped losses."""
    ds, net = digits
    pair = (ds.train.images, ds.train.labels)
    kw = dict(pixels="uint8", mean=ds.mean, std=ds.std, progress=False)
    rep = ltbound.bounds_for_model(net, pair, p="CR", k=4, radius=0.02, cap=3.0, num_draws=50, seed=2, **kw)
    mat, y = model_loss_matrix(net, pair, k=4, radius=0.02, seed=2, loss="ce-clipped", cap=3.0, **kw)
    ref = estimate_bounds(mat, y, "CR", loss_range=3.0, theta_index=0, num_draws=50, seed=2)
    assert rep.theta_index == 0 and rep.num_params == 5
    got = rep.to_dict()
    assert got.pop("data_checks")["samples_read"] == y.size     # what was checked about the data
    assert got == ref.to_dict()
    assert rep.ib.term("objective").value == pytest.approx(float(mat[0].astype(np.float64).mean()))
    # the perturbed rows differ from the model's, so naming the row matters
    last = estimate_bounds(mat, y, "CR", loss_range=3.0, theta_index=-1, num_draws=50, seed=2)
    assert last.ib.total != rep.ib.total


def test_bounds_for_model_refuses_unbounded_loss(digits):
    ds, net = digits
    with pytest.raises(ValueError, match="bounded loss"):
        ltbound.bounds_for_model(net, (ds.train.images, ds.train.labels), pixels="uint8", mean=ds.mean,
                                 std=ds.std, loss="ce", progress=False)


def test_loss_matrix_without_theta_index_is_refused():
    """One convention: with more than one row the caller names the model's row."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [6, 4, 2])
    losses = rng.random((3, y.size))
    with pytest.raises(ValueError, match="theta_index is required for a loss matrix with 3 rows"):
        estimate_bounds(losses, y, "CR", num_draws=10)
    with pytest.raises(ValueError, match="theta_index is required"):
        ltbound.theorem1_gap(losses, y, [0.5, 0.3, 0.2])
    one = estimate_bounds(losses[1], y, "CR", num_draws=10)        # one row: nothing to choose
    assert one.theta_index == 0 and one.num_params == 1
    first = estimate_bounds(losses, y, "CR", num_draws=10, theta_index=0)
    assert first.ib.term("objective").value == pytest.approx(losses[0].mean())


def test_theta_per_sample_losses_refuses_float_images(digits):
    """The old trap: theta/evaluate took ToTensor floats as already normalised and ignored mean/std."""
    from ltbound.train.loss_matrices.theta import per_sample_losses
    ds, net = digits
    with pytest.raises(ValueError, match="images must be uint8.*pixels='unit'"):
        per_sample_losses(net, unit(ds), ds.train.labels, mean=ds.mean, std=ds.std)
