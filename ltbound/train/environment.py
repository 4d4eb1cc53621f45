"""The machine a run trains on: what the record's ``environment`` says, and which of it decides the bits.

A CPU run is bitwise reproducible only on the same torch, thread count, precision and
memory layout; :data:`DETERMINISM_FIELDS` names those fields, so a fork
(:func:`ltbound.train.fork.fork_record`) can refuse to continue a run made elsewhere.
"""

from __future__ import annotations

import platform

import numpy as np
import torch

from . import distributed as D

__all__ = ["cpu_bf16_supported", "cpu_name", "environment", "DETERMINISM_FIELDS"]

#: Environment fields that decide the bits a CPU run produces: a fork (and a bitwise resume)
#: needs them equal.
DETERMINISM_FIELDS = ("device", "torch", "torch_threads", "amp", "channels_last", "pipeline", "world_size",
                      "compile")


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (oneDNN with AVX-512 BF16 or AMX).

    Without native kernels bf16 autocast on CPU is emulated and slower than float32.
    """
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):   # older torch without the probe: stay in float32
        return False


def cpu_name() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device, info: D.DistInfo, *, bf16: bool, channels_last: bool, eval_batch_size: int,
                compile: bool, cuda_graphs: bool, fast: bool) -> dict:
    """The run record's ``environment``: versions, device, threads and the precision actually used."""
    import torchvision
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "numpy": np.__version__, "cuda": torch.version.cuda, "platform": platform.platform(terse=True),
            "device": str(device), "device_name": name, "world_size": info.world_size,
            "torch_threads": torch.get_num_threads(), "amp": "bf16" if bf16 else "off",
            "eval_precision": "float32", "eval_batch_size": int(eval_batch_size),
            "channels_last": channels_last, "compile": bool(compile), "cuda_graphs": bool(cuda_graphs),
            "pipeline": "device" if fast else "reference"}
