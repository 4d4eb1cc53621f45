"""Data-parallel training under ``torchrun``: the few collective operations the trainer needs.

``torchrun --nproc_per_node K -m ltbound.train ...`` starts K processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in their environment.
Each rank builds the same global sample stream and trains on its own slice of it
(``ClassSampler(rank=, world_size=)``), so multi-GPU runs need no other special path;
gradients are averaged by ``DistributedDataParallel``. Evaluation is split over the ranks
and gathered, and only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "dist_from_env", "init_distributed", "gather_rows", "all_reduce_sum", "broadcast_module_buffers",
           "broadcast_object", "barrier", "shutdown"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly one-process) data-parallel job."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_from_env() -> DistInfo:
    """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (as torchrun sets them); one process if unset."""
    def _int(name: str, default: int) -> int:
        raw = os.environ.get(name, "")
        try:
            return int(raw) if raw != "" else default
        except ValueError:
            raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None
    world = _int("WORLD_SIZE", 1)
    rank = _int("RANK", 0)
    local = _int("LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world} must satisfy 0 <= RANK < WORLD_SIZE")
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def init_distributed(info: DistInfo, device: torch.device) -> None:
    """Join the process group (NCCL on CUDA, gloo on CPU) unless already joined or alone."""
    if not info.enabled or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)      # NCCL collectives use the current device
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_object(info: DistInfo, obj):
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_module_buffers(info: DistInfo, module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    After the last step each rank holds running statistics updated on its own batch; the
    model evaluated (and saved) is rank 0's, so every rank must use the same buffers.
    """
    if not info.enabled:
        return
    for buf in module.buffers():
        dist.broadcast(buf, src=0)


def all_reduce_sum(info: DistInfo, tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks, in place; returned for chaining (no-op for one process)."""
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_rows(info: DistInfo, rows: torch.Tensor, total: int) -> torch.Tensor:
    """Concatenate each rank's contiguous shard (rank order) and trim the padding.

    ``rows`` has shape (k, chunk) with chunk = ceil(total / world_size) on every rank (the
    last shards are padded); the result has shape (k, total).
    """
    if not info.enabled:
        return rows[:, :total]
    parts = [torch.empty_like(rows) for _ in range(info.world_size)]
    dist.all_gather(parts, rows.contiguous())
    return torch.cat(parts, dim=1)[:, :total]
