"""What a run keeps beside its record: checkpoints (for Θ̂) and the resume state.

``checkpoints/epoch_XXXX.pt`` = ``{"model": state_dict, "epoch", "model_name", "num_classes",
"in_channels", "config"}``, read by :mod:`ltbound.train.loss_matrices.theta`; ``state.pt`` = model,
optimiser, epoch, RNG states and the epoch's training summary, read by a resume or a fork.
Every file is written to a temporary name and then renamed, so a crash never leaves half a
file under the real name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ...records import RecordError

__all__ = ["atomic_torch_save", "save_checkpoint", "save_resume_state", "load_resume_state", "read_state"]


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in ``path``'s folder, then ``os.replace`` it into place.

    The file's mode follows the umask (as the record's files do). A failed write (a full
    disk: torch reports it as a RuntimeError from its zip writer) raises OSError naming the
    file; the temporary file is removed and the previous file, if any, stays in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    mask = os.umask(0o022)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip().splitlines()[0][:120]
        raise OSError(f"cannot write {path} ({reason})") from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_state(path: Path) -> dict:
    """Read a resume state (``state.pt``); a truncated or damaged file is a RecordError naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RecordError(f"{path} (the resume state) is missing; the run cannot continue without it — "
                          "start a new run") from None
    except Exception as exc:   # truncated zip: OSError / RuntimeError / EOFError / UnpicklingError
        raise RecordError(f"{path} (the resume state) is damaged or truncated ({type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0][:80] if str(exc).strip() else ''}); the record's "
                          "epochs are intact but the run cannot continue from them — start a new run") from None
    if not isinstance(state, dict) or not {"epoch", "model", "optimizer", "torch_rng"} <= set(state):
        raise RecordError(f"{path} is not a resume state written by ltbound.train; start a new run")
    return state


def save_checkpoint(path: Path, model: torch.nn.Module, *, epoch: int, model_name: str, num_classes: int,
                    in_channels: int, config: dict) -> None:
    """The weights after ``epoch``, with what :mod:`ltbound.train.loss_matrices.theta` needs to rebuild the model."""
    atomic_torch_save({"model": model.state_dict(), "epoch": epoch, "model_name": model_name,
                       "num_classes": num_classes, "in_channels": in_channels, "config": config}, path)


def save_resume_state(path: Path, *, epoch: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                      device: torch.device, aug_generator: torch.Generator, train_info: dict, config: dict) -> None:
    """Everything a resume needs to continue after ``epoch`` exactly as an uninterrupted run would."""
    atomic_torch_save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "torch_rng": torch.get_rng_state(),
                       "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                       "aug_generator": aug_generator.get_state(), "train_info": train_info,
                       "config": config}, path)


def load_resume_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                      device: torch.device) -> dict:
    """Restore model, optimiser and RNG states from ``path``; return the whole state (``epoch``, ``train_info``)."""
    state = read_state(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    return state
