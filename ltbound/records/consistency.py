"""Cross-checks of what a record states against what it holds.

The manifest checksum and the file hashes are plain SHA-256: they catch a damaged or swapped
file, not a consistent edit (anyone can recompute them and reseal the manifest). So
:func:`~ltbound.records.load_record` also checks that the statements readers use agree with
the data that would contradict an edit:

* the ``schedule`` names, at every recorded epoch, the sampler (and q) its history entry says
  the epoch trained with;
* ``final_stage_start_epoch`` (which fixes Θ̂) is the one the schedule and the recipe's
  learning-rate milestones give;
* per-sample test losses agree with the stored correctness bits of their epoch: a correctly
  classified sample has p_y >= 1/C, so its cross-entropy is <= ln C; a misclassified one has
  p_y <= 1/2, so its loss is >= ln 2 (rows reversed, columns permuted or rows of another run
  break this for the samples whose correctness differs);
* ``run.label`` is a name (no control characters, no path separators, not "." or ".."),
  since it becomes a file name and a table row;
* ``source.split_hash`` (what tools rebuild the training images from) is the hash of the
  record's own training indices, and ``source.split_seed`` the configured one: a split of
  another seed would otherwise bound the model on images it never trained on.

None of these proves a record honest (a consistent forgery of every array passes); they make
an edit of one statement, not reflected in the data, fail loudly instead of changing numbers.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from ..schedule import Schedule
from ._io import is_int
from .format import RecordError, derive_run_fields, derived_final_stage_start

__all__ = ["check_consistency", "check_label"]

#: float16 storage keeps a loss to a relative 2**-11; the bound below adds a margin for the
#: float32 log-softmax the losses and the argmax were computed from
_REL, _ABS = 2e-3, 1e-3


def check_label(label: Any, where: str) -> None:
    """Refuse a run label that cannot serve as a file name and a table cell (RecordError naming ``where``)."""
    if label is None:
        return
    text = str(label)
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    if not text.strip() or bad or "/" in text or "\\" in text or text in (".", ".."):
        what = (f"control character {bad[0]!r}" if bad else "a path separator" if ("/" in text or "\\" in text)
                else "no name")
        raise RecordError(f"{where}: run.label {text!r} is not a name ({what}); labels become file names and table "
                          "rows — the record was edited: restore it from a copy")


def check_consistency(path: Path, manifest: dict, *, train_indices: np.ndarray, test_loss: np.ndarray | None,
                      test_loss_epochs: np.ndarray, test_correct: np.ndarray, num_classes: int) -> None:
    """Every cross-check of the module docstring; RecordError naming the file and the contradiction.

    ``train_indices`` (n,) the record's split; ``test_correct`` (E, m) over epochs 1..E;
    ``test_loss`` (len(test_loss_epochs), m) or None.
    """
    mpath = path / "manifest.json"
    fields = derive_run_fields(manifest)
    check_label(fields["run"].get("label"), str(mpath))
    _check_source(mpath, manifest, fields["source"], train_indices)
    _check_schedule(mpath, manifest)
    _check_final_stage(mpath, manifest)
    if test_loss is not None and test_loss.size:
        _check_losses_against_bits(path, test_loss, test_correct[np.asarray(test_loss_epochs) - 1],
                                   test_loss_epochs, num_classes)


def _check_source(mpath: Path, manifest: dict, source: dict, train_indices: np.ndarray) -> None:
    want = source.get("split_hash")
    if isinstance(want, str):
        got = hashlib.sha256(np.ascontiguousarray(train_indices, dtype="<i8").tobytes()).hexdigest()
        if got != want:
            raise RecordError(f"{mpath}: source.split_hash is not the hash of the record's own training indices: tools "
                              "that rebuild the images from it would use another split — the record was edited, "
                              "restore it from a copy")
    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    if "split_seed" in cfg and source.get("split_seed") is not None and source.get("split_seed") != cfg["split_seed"]:
        raise RecordError(f"{mpath}: source.split_seed {source.get('split_seed')!r} differs from the configured "
                          f"split_seed {cfg['split_seed']!r} — the record was edited, restore it from a copy")


def _check_schedule(mpath: Path, manifest: dict) -> None:
    sched = manifest.get("schedule")
    if not isinstance(sched, list) or not sched:
        return                                  # no schedule stated: nothing to contradict
    try:
        schedule = Schedule.from_list(sched)
    except (KeyError, TypeError, ValueError) as e:
        raise RecordError(f"{mpath}: schedule is malformed ({type(e).__name__}: {e})") from None
    for h in manifest.get("history", []):
        e = h.get("epoch")
        if not is_int(e):
            continue
        said, q = h.get("sampler"), h.get("q")
        if isinstance(said, str) and said != schedule.sampler_at(e) or \
                isinstance(q, (int, float)) and not isinstance(q, bool) and math.isfinite(q) \
                and float(q) != float(schedule.q_at(e)):
            raise RecordError(f"{mpath}: schedule says epoch {e} used sampler {schedule.sampler_at(e)} "
                              f"(q = {schedule.q_at(e):g}) but its history entry says {said} (q = {q}): the "
                              "schedule was edited — restore the record from a copy")


def _check_final_stage(mpath: Path, manifest: dict) -> None:
    stated = manifest.get("final_stage_start_epoch")
    if not is_int(stated):
        return                                  # derived on reading: nothing stated to contradict
    want = derived_final_stage_start(manifest)
    if want is not None and stated != want:
        raise RecordError(f"{mpath}: final_stage_start_epoch is {stated} but the schedule and the recipe's milestones "
                          f"give {want}: Θ̂ would be taken from other epochs — the record was edited, restore it "
                          "from a copy")


def _check_losses_against_bits(path: Path, loss: np.ndarray, correct: np.ndarray, epochs: np.ndarray,
                               num_classes: int) -> None:
    loss = np.asarray(loss, dtype=np.float64)
    top = math.log(max(num_classes, 1)) * (1 + _REL) + _ABS       # correct: CE <= ln C
    low = math.log(2.0) * (1 - _REL) - _ABS                       # wrong: CE >= ln 2
    bad = (correct & (loss > top)) | (~correct & (loss < low))
    if bad.any():
        r, i = (int(v) for v in np.argwhere(bad)[0])
        what = "correct" if correct[r, i] else "misclassified"
        raise RecordError(f"{path}: the test loss of sample {i} after epoch {int(epochs[r])} is {loss[r, i]:.4g}, "
                          f"impossible for a {what} sample (a correct one has loss <= ln C = {math.log(num_classes):.4g}, "
                          f"a misclassified one >= ln 2); {int(bad.sum())} such losses: the per-sample test losses do "
                          "not belong to these correctness bits (rows reordered, columns permuted or another run's) "
                          "— restore the record from a copy")
