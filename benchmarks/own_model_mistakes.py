"""Bounds for your own model: what each data-loader mistake did to the numbers, and what it does now.

A user's case at a size a CPU runs in about a minute: a small CNN trained (random crops and
flips) on a CIFAR-10-LT(10) subset of the JPEG archive (the first ``60 · 10^(−j/9)`` training
images of class j: 249 images, 60 down to 6), then :func:`ltbound.bounds_for_model` with the
correct call (ImageFolder + ToTensor, ``pixels='unit'`` with the CIFAR mean and std) and with
each mistake of issue 24.

For each mistake the script prints

* the numbers the mistaken call gave on main with no warning, reproduced here by the call
  that computes the same thing explicitly (e.g. ``pixels='normalized'`` on [0, 1] images is
  ``pixels='unit'`` with mean 0 and std 1; ``drop_last`` is the kept samples with C = the
  largest label left + 1, as main's bound inferred it), and
* what the mistaken call itself does now (the error or warning, first words).

With ``--k-study`` it also measures the Rademacher term of the perturbation Θ̂ against the
number k of perturbations (perturbation seeds × k, from one pass with the largest k: the
first k perturbations of a seed do not depend on how many follow), the numbers behind the
default k.

    python benchmarks/own_model_mistakes.py --archive ../shared/data/cifar10-jpeg.tar.xz
    python benchmarks/own_model_mistakes.py --archive ... --k-study --seeds 8
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests._cifar_subset, run from anywhere
from tests._cifar_subset import extract_subset  # noqa: E402

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def small_cnn() -> nn.Module:
    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))
    return nn.Sequential(block(3, 32), block(32, 64), block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(128, 10))


def lt_indices(targets: list[int], per_class: int, imbalance: float) -> list[int]:
    """The first round(per_class · imbalance^(−j/(C−1))) indices of each class j (ImageFolder order)."""
    y = np.asarray(targets)
    c = int(y.max()) + 1
    keep = []
    for j in range(c):
        n_j = max(1, int(round(per_class * imbalance ** (-j / (c - 1)))))
        keep += np.flatnonzero(y == j)[:n_j].tolist()
    return keep


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, seed: int) -> nn.Module:
    """Adam, batch 32, random crop (pad 4) and horizontal flip on normalised images."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mean, std = torch.tensor(MEAN)[:, None, None], torch.tensor(STD)[:, None, None]
    xn = (x - mean) / std
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 32):
            b = order[i:i + 32]
            xb = nn.functional.pad(xn[b], (4, 4, 4, 4), mode="reflect")
            dx, dy = torch.randint(0, 9, (2,), generator=g).tolist()
            xb = xb[:, :, dy:dy + 32, dx:dx + 32]
            if torch.rand((), generator=g) < 0.5:
                xb = xb.flip(-1)
            loss = nn.functional.cross_entropy(net(xb), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def summary(rep) -> dict:
    return {"objective": rep.ib.term("objective").value, "eq6": rep.ib.total, "eq7": rep.sampling.total,
            "balanced": rep.target.total, "C": int(rep.ib.counts.size), "n": int(rep.ib.n)}


def outcome(call) -> str:
    """What the mistaken call does on this code: an error, a warning, or a silent number."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rep = call()
        except ValueError as e:
            return f"ValueError: {str(e)[:110]}"
    user = [w for w in caught if issubclass(w.category, UserWarning) and "ltbound" in w.filename]
    if user:
        return f"warning: {str(user[0].message)[:110]}"
    return f"SILENT: objective {rep.ib.term('objective').value:.4f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", type=Path, help="the CIFAR-10 JPEG archive (not needed with --digits)")
    ap.add_argument("--digits", action="store_true",
                    help="--k-study only, on the README's example instead: digits_net, 8 epochs of SGD on digits-lt")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--k", type=int, default=16, help="perturbations of the bound calls")
    ap.add_argument("--k-study", action="store_true", help="also measure 2·R̂ against k")
    ap.add_argument("--seeds", type=int, default=8, help="perturbation seeds of --k-study")
    ap.add_argument("--k-max", type=int, default=128, help="largest k of --k-study (powers of 2 up to it)")
    ap.add_argument("--no-mistakes", action="store_true", help="skip the mistakes table (with --k-study)")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    ap.add_argument("--model-cache", type=Path, help="load the trained weights from here if present, else save them")
    a = ap.parse_args(argv)

    from torch.utils.data import DataLoader, Subset, TensorDataset
    from torchvision import datasets, transforms

    import ltbound

    if a.digits:
        return digits_k_study(a)
    if a.archive is None:
        ap.error("--archive is required (or --digits)")
    tmp = Path(tempfile.mkdtemp(prefix="own_model_"))
    extract_subset(a.archive, tmp, train_per_class=60, test_per_class=0)
    plain = datasets.ImageFolder(tmp / "train", transforms.ToTensor())
    idx = lt_indices(plain.targets, 60, 10.0)
    d_plain = Subset(plain, idx)
    x = torch.stack([d_plain[i][0] for i in range(len(d_plain))])
    y = torch.tensor([plain.targets[i] for i in idx])
    print(f"CIFAR-10-LT(10) subset: n = {len(y)}, counts {np.bincount(y.numpy()).tolist()}")
    t0 = time.perf_counter()
    loaded = bool(a.model_cache and a.model_cache.is_file())
    if loaded:
        net = small_cnn()
        net.load_state_dict(torch.load(a.model_cache, weights_only=True))
        net.eval()
    else:
        torch.manual_seed(0)                       # the initial weights too
        net = train(small_cnn(), x, y, epochs=a.epochs, seed=0)
        if a.model_cache:
            torch.save(net.state_dict(), a.model_cache)
    print(f"small CNN ({sum(p.numel() for p in net.parameters())} weights), {a.epochs} epochs of training"
          + (f" (weights loaded from {a.model_cache})" if loaded else f", {time.perf_counter() - t0:.1f} s"))
    kw = dict(k=a.k, radius=0.01, cap=5.0, num_draws=1000, seed=0, progress=False)
    own = float(np.minimum(nn.functional.cross_entropy(
        net((x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]), y, reduction="none")
        .detach().numpy(), 5.0).mean())
    right = ltbound.bounds_for_model(net, d_plain, pixels="unit", mean=MEAN, std=STD, **kw)
    rows = {"correct call": (summary(right), "no warning")}
    out = {"own_mean_clipped_ce": own, "correct_call": summary(right)}
    if a.no_mistakes:
        return finish(a, out, net, x, y)
    print(f"correct call: objective {right.ib.term('objective').value:.6f} (own mean clipped CE {own:.6f})")

    # ---- each mistake: (the silent number main gave, computed explicitly; the mistaken call itself)
    aug = datasets.ImageFolder(tmp / "train", transforms.Compose([
        transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), transforms.ToTensor()]))
    torch.manual_seed(1)
    x_aug = torch.stack([aug[i][0] for i in idx])           # one augmented read, what the one pass saw
    m255, s255 = tuple(255 * v for v in MEAN), tuple(255 * v for v in STD)
    bs = 32
    kept = len(y) - len(y) % bs
    no_tail = [i for i in range(len(y)) if y[i] != 9]
    two = [i for i in range(len(y)) if y[i] < 2]
    tds = TensorDataset(x, y)
    mistakes = {
        "pixels='normalized' on [0, 1] images": (
            lambda: ltbound.bounds_for_model(net, tds, pixels="unit", mean=(0.0,) * 3, std=(1.0,) * 3, **kw),
            lambda: ltbound.bounds_for_model(net, d_plain, pixels="normalized", **kw)),
        "mean/std in 0..255 units, pixels='unit'": (
            lambda: ltbound.bounds_for_model(
                net, TensorDataset((x - torch.tensor(m255)[:, None, None]) / torch.tensor(s255)[:, None, None], y),
                pixels="normalized", **kw),
            lambda: ltbound.bounds_for_model(net, d_plain, pixels="unit", mean=m255, std=s255, **kw)),
        "augmenting loader (crop + flip)": (
            lambda: ltbound.bounds_for_model(net, TensorDataset(x_aug, y), pixels="unit", mean=MEAN, std=STD, **kw),
            lambda: ltbound.bounds_for_model(net, Subset(aug, idx), pixels="unit", mean=MEAN, std=STD, **kw)),
        f"drop_last=True (batch {bs}: {len(y) - kept} tail samples)": (
            lambda: ltbound.bounds_for_model(net, TensorDataset(x[:kept], y[:kept]), pixels="unit", mean=MEAN,
                                             std=STD, num_classes=int(y[:kept].max()) + 1, **kw),
            lambda: ltbound.bounds_for_model(net, DataLoader(d_plain, batch_size=bs, drop_last=True), pixels="unit",
                                             mean=MEAN, std=STD, **kw)),
        "Subset without the last class (9-class bound)": (
            lambda: ltbound.bounds_for_model(net, Subset(tds, no_tail), pixels="unit", mean=MEAN, std=STD,
                                             num_classes=9, **kw),
            lambda: ltbound.bounds_for_model(net, Subset(d_plain, no_tail), pixels="unit", mean=MEAN, std=STD, **kw)),
        "2-class Subset (2-class bound)": (
            lambda: ltbound.bounds_for_model(net, Subset(tds, two), pixels="unit", mean=MEAN, std=STD,
                                             num_classes=2, **kw),
            lambda: ltbound.bounds_for_model(net, Subset(d_plain, two), pixels="unit", mean=MEAN, std=STD, **kw)),
    }
    for name, (as_main, mistaken) in mistakes.items():
        rows[name] = (summary(as_main()), outcome(mistaken))
    cols = ("objective", "eq6", "eq7", "balanced", "C", "n")
    print(f"\n{'case':48s} " + " ".join(f"{c:>9s}" for c in cols) + "   now")
    for name, (s, now) in rows.items():
        print(f"{name:48s} " + " ".join(f"{s[c]:9.4f}" if isinstance(s[c], float) else f"{s[c]:9d}" for c in cols)
              + f"   {now}")
    out["mistakes"] = {k: {"as_main": v[0], "now": v[1]} for k, v in rows.items()}
    return finish(a, out, net, x, y)


def finish(a, out: dict, net, x, y) -> int:
    from torch.utils.data import TensorDataset

    if a.k_study:
        ks = tuple(2 ** i for i in range(a.k_max.bit_length()) if 2 ** i <= a.k_max)
        out["k_study"] = k_study(net, TensorDataset(x, y), a.seeds, ks)   # the images, decoded once
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


def digits_k_study(a) -> int:
    """The k study on the README's bounds_for_model example (438 digits, normalised tensors)."""
    from torch.utils.data import DataLoader, TensorDataset

    from ltbound.train import digits_net, load_dataset

    ds = load_dataset("digits-lt", imbalance=20)
    mean, std = torch.tensor(ds.mean)[:, None, None], torch.tensor(ds.std)[:, None, None]
    data = TensorDataset((ds.train.images / 255 - mean) / std, ds.train.labels)
    torch.manual_seed(0)
    model = digits_net(10)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(8):
        for xb, yb in DataLoader(data, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    ks = tuple(2 ** i for i in range(a.k_max.bit_length()) if 2 ** i <= a.k_max)
    out = {"k_study": k_study(model.eval(), data, a.seeds, ks, pixels="normalized")}
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


def k_study(net, data, seeds: int, ks=(1, 2, 4, 8, 16, 32, 64, 128), pixels: str = "unit") -> dict:
    """2·R̂ of Eq. 6 (weights 1/n) on Θ̂ = model + first k perturbations, over perturbation seeds."""
    from ltbound.bounds.rademacher import rademacher_monte_carlo
    from ltbound.train.loss_matrices.bridge import model_loss_matrix

    kmax = max(ks)
    per_k: dict[int, list] = {k: [] for k in ks}
    t0 = time.perf_counter()
    for s in range(seeds):
        norm = {} if pixels == "normalized" else dict(mean=MEAN, std=STD)
        mat, _ = model_loss_matrix(net, data, k=kmax, radius=0.01, seed=s, pixels=pixels, loss="ce-clipped",
                                   cap=5.0, progress=False, **norm)
        for k in ks:
            r = rademacher_monte_carlo(mat[:k + 1], num_draws=1000, seed=0, delta=0.025)
            per_k[k].append((2 * r.value, 2 * r.std_error, 2 * (r.upper - r.value)))
    seconds = time.perf_counter() - t0
    print(f"\n2·R̂ (Eq. 6) against k: {seeds} perturbation seeds, 1000 sign draws, radius 0.01, n = {mat.shape[1]}; "
          f"{seeds} passes of {kmax + 1} models took {seconds:.1f} s")
    print(f"{'k':>4s} {'passes':>6s} {'mean 2R̂':>10s} {'sd seeds':>9s} {'se draws':>9s} {'MC term':>9s} "
          f"{'% of k=' + str(kmax):>9s}")
    ref = float(np.mean([v[0] for v in per_k[kmax]]))
    res = {}
    for k in ks:
        v = np.asarray(per_k[k])
        res[k] = {"mean": float(v[:, 0].mean()), "sd_over_seeds": float(v[:, 0].std(ddof=1)),
                  "se_sign_draws": float(v[:, 1].mean()), "monte_carlo_term": float(v[:, 2].mean())}
        print(f"{k:4d} {k + 1:6d} {res[k]['mean']:10.5f} {res[k]['sd_over_seeds']:9.5f} "
              f"{res[k]['se_sign_draws']:9.5f} {res[k]['monte_carlo_term']:9.5f} {100 * res[k]['mean'] / ref:8.0f}%")
    return {"ks": list(ks), "seeds": seeds, "seconds": seconds, "by_k": res}


if __name__ == "__main__":
    sys.exit(main())
