"""Compact, recomputable certificate files: every certificate of a run from one .npz (numpy/scipy only).

``experiments/certify.py`` writes ``certificates.npz`` into its output folder. It holds what the
certificates are computed from and nothing that needs torch or the network weights, so anyone
can recompute every reported single-schedule certificate and every certified difference with
:func:`recompute_certificates`:

``schedules`` (S,), ``sigma_grid`` (K,)
    The schedules, in the order they were run, and the prior σ grid fixed in advance.
``prior_indices``, ``cert_indices``
    Positions of D_prior and D_cert in the training split (the same split for every schedule).
``train_indices``
    The training split's positions in the source data set (``train_indices[cert_indices]``
    names the certification images).
``cert_labels`` (m,), ``num_classes``
    D_cert's labels and C.
``<schedule>.zero_one.<k>``
    The N × m 0-1 losses of σ-grid index k (N passes of weight draws, packed bits, little bit
    order along the m axis; unpack with ``np.unpackbits(..., axis=1, count=m, bitorder="little")``).
``<schedule>.bce.<k>``
    The N × m bounded cross-entropy in [0, 1], float16 (the certificate is computed from the
    stored float16 values).
``<schedule>.kl`` (K,)
    KL(Q_k ‖ P_k) in nats for each σ.
``budget``
    JSON: δ per loss, the class combinations (each at δ / their number, with the σ grid's
    union bound), the Monte Carlo settings, and the difference's δ, method, sides and pairs.

The rules recomputed here are those of :mod:`ltbound.train.stochastic.certified_run` (single schedules: the
smallest of |methods| × K candidates, each at δ/|methods| with ``prior_grid_size = K``; σ chosen
by the 0-1 certificate) and :func:`ltbound.certificates.difference.difference_over_grid` (the
difference of the reported σ pair, every pair of σ paid for: ``prior_grid_size = K²``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .pacbayes import target_risk_certificate
from .difference import difference_over_grid

__all__ = ["write_certificate_file", "read_certificate_file", "recompute_certificates", "LOSSES"]

#: the losses stored per schedule and σ
LOSSES = ("zero-one", "bounded-ce")


def write_certificate_file(path: Any, *, schedules: Sequence[str], sigma_grid: Sequence[float], prior_indices: Any,
                           cert_indices: Any, train_indices: Any, cert_labels: Any, num_classes: int,
                           zero_one: Mapping[str, Sequence[np.ndarray]], bce: Mapping[str, Sequence[np.ndarray]],
                           kls: Mapping[str, Sequence[float]], budget: Mapping[str, Any]) -> Path:
    """Write ``certificates.npz`` (module docstring); returns its path.

    Parameters
    ----------
    zero_one, bce : schedule -> K arrays of shape (N, m)
        0/1 (any integer or bool type) and [0, 1] losses per σ; bce is stored as float16.
    kls : schedule -> K floats (nats)
    budget : dict
        JSON-serialisable δ budget (see :func:`recompute_certificates` for the keys read).
    """
    labels = np.asarray(cert_labels, dtype=np.int64)
    m = labels.size
    arrays: dict[str, np.ndarray] = {
        "schedules": np.asarray(list(schedules)), "sigma_grid": np.asarray(sigma_grid, dtype=np.float64),
        "prior_indices": np.asarray(prior_indices, dtype=np.int64), "cert_indices": np.asarray(cert_indices, np.int64),
        "train_indices": np.asarray(train_indices, dtype=np.int64), "cert_labels": labels,
        "num_classes": np.asarray(int(num_classes)), "budget": np.asarray(json.dumps(dict(budget), sort_keys=True))}
    k_grid = len(sigma_grid)
    for s in schedules:
        if len(zero_one[s]) != k_grid or len(bce[s]) != k_grid or len(kls[s]) != k_grid:
            raise ValueError(f"schedule {s!r}: zero_one, bce and kls need one entry per σ ({k_grid})")
        for k in range(k_grid):
            zo, ce = np.asarray(zero_one[s][k]), np.asarray(bce[s][k])
            if zo.ndim != 2 or zo.shape[1] != m or ce.shape != zo.shape:
                raise ValueError(f"schedule {s!r}, σ index {k}: losses must be (N, {m}) arrays of one shape, got "
                                 f"{zo.shape} and {ce.shape}")
            if not np.all((zo == 0) | (zo == 1)):
                raise ValueError(f"schedule {s!r}, σ index {k}: zero_one must hold only 0 and 1")
            arrays[f"{s}.zero_one.{k}"] = np.packbits(zo.astype(bool), axis=1, bitorder="little")
            arrays[f"{s}.bce.{k}"] = ce.astype(np.float16)
        arrays[f"{s}.kl"] = np.asarray(kls[s], dtype=np.float64)
    path = Path(path)
    np.savez_compressed(path, **arrays)
    return path


def read_certificate_file(path: Any) -> dict:
    """The arrays of a certificate file, the 0-1 losses unpacked: a dict with ``schedules`` (list),
    ``sigma_grid``, ``prior_indices``, ``cert_indices``, ``train_indices``, ``cert_labels``,
    ``num_classes`` (int), ``budget`` (dict) and ``losses`` (schedule -> loss -> K arrays (N, m),
    float64) and ``kl`` (schedule -> (K,))."""
    with np.load(Path(path), allow_pickle=False) as f:
        labels = f["cert_labels"]
        schedules = [str(s) for s in f["schedules"]]
        grid = f["sigma_grid"]
        out = {"schedules": schedules, "sigma_grid": grid, "prior_indices": f["prior_indices"],
               "cert_indices": f["cert_indices"], "train_indices": f["train_indices"], "cert_labels": labels,
               "num_classes": int(f["num_classes"]), "budget": json.loads(str(f["budget"])), "losses": {}, "kl": {}}
        for s in schedules:
            out["losses"][s] = {
                "zero-one": [np.unpackbits(f[f"{s}.zero_one.{k}"], axis=1, count=labels.size,
                                           bitorder="little").astype(np.float64) for k in range(grid.size)],
                "bounded-ce": [f[f"{s}.bce.{k}"].astype(np.float64) for k in range(grid.size)]}
            out["kl"][s] = f[f"{s}.kl"]
    if np.intersect1d(out["prior_indices"], out["cert_indices"]).size:
        raise ValueError(f"{path}: D_prior and D_cert overlap; these are not certificates")
    return out


def recompute_certificates(path: Any) -> dict:
    """Every certificate of a certificate file, recomputed from its losses, KL and δ budget.

    Budget keys read: ``delta``, ``methods``, ``mc_delta_fraction``, ``mc_bound``, ``mc_draws``,
    ``target_prior`` and ``difference`` = {``delta``, ``method``, ``sides``, ``loss``, ``pairs``
    (list of [A, B]), ``pair_rule``}. ``pair_rule`` "reported" (default): the difference of the two
    posteriors the single certificates report (each schedule's σ chosen by its 0-1 certificate),
    both sides from that σ pair, all K² pairs paid for; "best": each side the best over the pairs
    (:func:`~ltbound.certificates.difference.difference_over_grid` with ``pair=None``).

    Returns
    -------
    dict
        ``runs``: schedule -> {``per_sigma``: K dicts of loss -> method -> bound,
        ``sigma_index``, ``zero-one`` and ``bounded-ce`` (the reported certificates)};
        ``differences``: one :meth:`DifferenceCertificate.to_dict` per pair, with ``a``, ``b``.
    """
    d = read_certificate_file(path)
    b = d["budget"]
    methods = list(b["methods"])
    k_grid = int(d["sigma_grid"].size)
    labels, c = d["cert_labels"], d["num_classes"]
    runs = {}
    for s in d["schedules"]:
        per_sigma = []
        for k in range(k_grid):
            row = {"kl": float(d["kl"][s][k])}
            for loss in LOSSES:
                row[loss] = {m: target_risk_certificate(
                    d["losses"][s][loss][k], labels, kl=float(d["kl"][s][k]), target_prior=b["target_prior"],
                    delta=b["delta"] / len(methods), num_classes=c, method=m, mc_delta_fraction=b["mc_delta_fraction"],
                    prior_grid_size=k_grid, mc_bound=b["mc_bound"], mc_draws=b["mc_draws"],
                    fixed_before_sample=False).bound for m in methods}
            per_sigma.append(row)
        best = int(np.argmin([min(r["zero-one"].values()) for r in per_sigma]))
        runs[s] = {"per_sigma": per_sigma, "sigma_index": best,
                   **{loss: min(per_sigma[best][loss].values()) for loss in LOSSES}}
    diffs = []
    spec = b.get("difference")
    if spec and spec.get("pairs") and b.get("draw_seeds") == "shared":
        raise ValueError(f"{path}: the schedules' weight draws shared one seed (a coupling of Q_A and Q_B, not "
                         "independent draws of Q_A ⊗ Q_B); the certified difference does not apply to them")
    for a_name, b_name in (spec or {}).get("pairs", []):
        loss = spec["loss"]
        cert = difference_over_grid(d["losses"][a_name][loss], list(d["kl"][a_name]), d["losses"][b_name][loss],
                                    list(d["kl"][b_name]), labels, target_prior=b["target_prior"],
                                    delta=spec["delta"], num_classes=c, method=spec["method"], sides=spec["sides"],
                                    mc_delta_fraction=b["mc_delta_fraction"], mc_draws=b["mc_draws"],
                                    names=(a_name, b_name),
                                    pair=((runs[a_name]["sigma_index"], runs[b_name]["sigma_index"])
                                          if spec.get("pair_rule", "reported") == "reported" else None))
        diffs.append({"a": a_name, "b": b_name, **cert.to_dict()})
    return {"runs": runs, "differences": diffs}
