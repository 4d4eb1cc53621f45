"""Loss matrices over a finite Θ̂: from saved weights and from relative-radius perturbations."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ltbound.train.loss_matrices.theta import (loss_matrix, per_sample_losses, perturbation_loss_matrix,
                                 perturbed_state_dicts)

N, C = 50, 3
MEAN, STD = (0.5,), (0.25,)


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, C))


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (N, 1, 6, 6), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, C, (N,), generator=g)
    return images, labels


def _manual_ce(net, images, labels):
    net.eval()
    with torch.no_grad():
        x = (images.float() / 255 - MEAN[0]) / STD[0]
        return F.cross_entropy(net(x), labels, reduction="none").numpy()


def test_loss_matrix_rows_are_each_models_per_sample_cross_entropy(tmp_path):
    images, labels = _data()
    nets = [_net(s) for s in range(3)]
    # one θ as a state dict, one as a bare file, one as a trainer-style checkpoint
    torch.save(nets[1].state_dict(), tmp_path / "bare.pt")
    torch.save({"model": nets[2].state_dict(), "epoch": 7}, tmp_path / "epoch_0007.pt")
    arch = _net(99)
    before = {k: v.clone() for k, v in arch.state_dict().items()}
    mat = loss_matrix(arch, [nets[0].state_dict(), tmp_path / "bare.pt", str(tmp_path / "epoch_0007.pt")],
                      images, labels.numpy(), mean=MEAN, std=STD, batch_size=16)
    assert mat.shape == (3, N) and mat.dtype == np.float32
    for row, net in zip(mat, nets):
        np.testing.assert_allclose(row, _manual_ce(net, images, labels), rtol=1e-5, atol=1e-6)
    # the caller's module keeps its weights
    assert all(torch.equal(before[k], v) for k, v in arch.state_dict().items())


def test_zero_one_rows_are_one_minus_correctness():
    images, labels = _data()
    net = _net(1)
    zo = loss_matrix(net, [net.state_dict()], images, labels, mean=MEAN, std=STD, loss="zero-one")
    _, correct = per_sample_losses(net, images, labels, mean=MEAN, std=STD)
    assert set(np.unique(zo)) <= {0.0, 1.0}
    np.testing.assert_array_equal(zo[0], 1.0 - correct.numpy())


def test_perturbation_matrix_shape_row0_and_reproducibility():
    images, labels = _data()
    net = _net(2)
    a = perturbation_loss_matrix(net, images, labels, k=4, radius=0.05, seed=3, mean=MEAN, std=STD)
    b = perturbation_loss_matrix(net, images, labels, k=4, radius=0.05, seed=3, mean=MEAN, std=STD)
    c = perturbation_loss_matrix(net, images, labels, k=4, radius=0.05, seed=4, mean=MEAN, std=STD)
    assert a.shape == (5, N) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)                       # same seed, same matrix
    assert not np.array_equal(a[1:], c[1:])                   # another seed, other models
    np.testing.assert_array_equal(a[0], c[0])                 # row 0 is the model itself
    np.testing.assert_allclose(a[0], _manual_ce(net, images, labels), rtol=1e-5, atol=1e-6)
    assert np.all(np.any(a[1:] != a[0], axis=1))              # every perturbation moves the losses


def test_radius_zero_gives_identical_rows():
    images, labels = _data()
    net = _net(3)
    mat = perturbation_loss_matrix(net, images, labels, k=3, radius=0.0, seed=0, mean=MEAN, std=STD)
    for row in mat[1:]:
        np.testing.assert_array_equal(row, mat[0])


def test_each_parameter_tensor_moves_by_exactly_the_relative_radius():
    net = _net(4)
    base = dict(net.named_parameters())
    for sd in perturbed_state_dicts(net, k=3, radius=0.1, seed=1):
        for name, w in base.items():
            dist = torch.linalg.vector_norm(sd[name] - w.detach())
            np.testing.assert_allclose(float(dist), 0.1 * float(torch.linalg.vector_norm(w.detach())), rtol=1e-4)
        # buffers (BatchNorm running statistics) are not perturbed
        assert torch.equal(sd["1.running_mean"], net.state_dict()["1.running_mean"])


def test_larger_radius_moves_losses_further():
    images, labels = _data()
    net = _net(5)
    spread = []
    for r in (0.01, 0.3):
        m = perturbation_loss_matrix(net, images, labels, k=4, radius=r, seed=0, mean=MEAN, std=STD)
        spread.append(float(np.abs(m[1:] - m[0]).mean()))
    assert spread[0] < spread[1]


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0), "k must be"), (dict(radius=-0.1), "radius must be"), (dict(seed=-1), "seed must be"),
    (dict(loss="hinge"), "loss must be"), (dict(std=(0.0,)), "std must be positive"),
    (dict(mean=(0.5, 0.5)), "mean must have one value per channel"), (dict(batch_size=0), "batch_size"),
])
def test_perturbation_bad_arguments_are_refused(kwargs, match):
    images, labels = _data()
    args = dict(k=2, radius=0.1, seed=0, mean=MEAN, std=STD) | kwargs
    with pytest.raises(ValueError, match=match):
        perturbation_loss_matrix(_net(), images, labels, **args)


def test_loss_matrix_bad_arguments_are_refused(tmp_path):
    images, labels = _data()
    net = _net()
    with pytest.raises(ValueError, match="at least one"):
        loss_matrix(net, [], images, labels, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="labels must have shape"):
        loss_matrix(net, [net.state_dict()], images, labels[:-1], mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="images must have shape"):
        loss_matrix(net, [net.state_dict()], images[:, 0], labels, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="does not exist"):
        loss_matrix(net, [tmp_path / "missing.pt"], images, labels, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="labels must be integers"):
        loss_matrix(net, [net.state_dict()], images, labels.float(), mean=MEAN, std=STD)


def test_record_loss_matrix_matches_the_recorded_losses(tmp_path):
    """Θ̂ from a run record's checkpoints: rebuilt split, same per-sample losses as recorded (float16)."""
    from ltbound.records import load_record
    from ltbound.train.loss_matrices.theta import record_loss_matrix
    from ltbound.train.loop.trainer import TrainConfig, train
    out = train(TrainConfig(out=tmp_path / "run", schedule="ib", epochs=2, milestones=[], warmup_epochs=0,
                            checkpoint_epochs="all", progress=False))
    mat, epochs = record_loss_matrix(out)
    rec = load_record(out)
    assert mat.shape == (2, rec.n) and epochs.tolist() == [1, 2]
    np.testing.assert_allclose(mat, rec.train_loss, rtol=2 ** -10, atol=1e-4)
    zo, _ = record_loss_matrix(out, epochs=[2], loss="zero-one")
    np.testing.assert_array_equal(zo[0], 1.0 - rec.train_correct[1])
    with pytest.raises(ValueError, match="have no checkpoint"):
        record_loss_matrix(out, epochs=[3])


def test_a_damaged_or_deleted_final_checkpoint_is_refused_not_used(tmp_path):
    """Issue 24: a flipped bit in the final checkpoint moved the --theta perturb bound with exit 0, and a
    deleted one was silently replaced by the previous checkpoint. Checkpoints are hashed in the manifest."""
    import shutil
    from ltbound.records import RecordError
    from ltbound.train.loss_matrices.theta import record_perturbation_losses
    from ltbound.train.loop.trainer import TrainConfig, train
    out = train(TrainConfig(out=tmp_path / "run", schedule="ib", epochs=2, milestones=[], warmup_epochs=0,
                            checkpoint_epochs="all", progress=False))
    good = record_perturbation_losses(out, k=1, radius=0.01, seed=0)
    ckpt = out / "checkpoints" / "epoch_0002.pt"
    data = bytearray(ckpt.read_bytes())
    shutil.copy(ckpt, tmp_path / "backup.pt")
    data[len(data) // 2] ^= 0x01
    ckpt.write_bytes(bytes(data))
    with pytest.raises(RecordError, match="epoch_0002.pt does not match its SHA-256"):
        record_perturbation_losses(out, k=1, radius=0.01, seed=0)
    ckpt.unlink()
    with pytest.raises(RecordError, match="epoch_0002.pt is missing"):
        record_perturbation_losses(out, k=1, radius=0.01, seed=0)
    shutil.copy(tmp_path / "backup.pt", ckpt)
    np.testing.assert_array_equal(record_perturbation_losses(out, k=1, radius=0.01, seed=0), good)
