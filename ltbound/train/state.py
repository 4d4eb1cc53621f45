"""What a run keeps beside its record: checkpoints (for Θ̂) and the resume state.

``checkpoints/epoch_XXXX.pt`` = ``{"model": state_dict, "epoch", "model_name", "num_classes",
"in_channels", "config"}``, read by :mod:`ltbound.train.theta`; ``state.pt`` = model,
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

__all__ = ["atomic_torch_save", "save_checkpoint", "save_resume_state", "load_resume_state"]


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in ``path``'s folder, then ``os.replace`` it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: Path, model: torch.nn.Module, *, epoch: int, model_name: str, num_classes: int,
                    in_channels: int, config: dict) -> None:
    """The weights after ``epoch``, with what :mod:`ltbound.train.theta` needs to rebuild the model."""
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
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    return state
