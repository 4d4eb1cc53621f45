"""The machine a run trains on: what the record's ``environment`` says, and which of it decides the bits.

A CPU run is bitwise reproducible only on the same torch, thread count, precision, memory
layout and CPU kernels: torch picks its vectorised kernels by the CPU's capability (AVX-512,
AVX2, or none: ``torch.backends.cpu.get_cpu_capability()``, overridden by the environment
variable ``ATEN_CPU_CAPABILITY``; oneDNN's by ``ONEDNN_MAX_CPU_ISA``), and two capabilities sum
in other orders, so training diverges in the last digits and then further. :data:`DETERMINISM_FIELDS`
names those fields, so a resume or a fork (:func:`ltbound.train.runs.fork.fork_record`) can refuse to
continue a run made elsewhere; :func:`cpu_environment` is what records and results say of the CPU.
"""

from __future__ import annotations

import os
import platform
import re

import numpy as np
import torch

from ...records import DETERMINISM_FIELDS
from . import distributed as D

__all__ = ["cpu_bf16_supported", "cpu_environment", "cpu_name", "environment", "DETERMINISM_FIELDS"]

#: environment variables that change which CPU kernels torch and oneDNN run
ISA_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")

# DETERMINISM_FIELDS (defined with the record format, ltbound.records): the environment fields
# that decide the bits a CPU run produces; a fork and a bitwise resume need them equal.


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


def cpu_environment() -> dict:
    """The CPU facts that decide a CPU computation's last digits, for records and results files.

    ``cpu_capability``: the kernel set torch dispatches to (``AVX512``, ``AVX2``, ``DEFAULT``...);
    ``cpu_model``; ``onednn`` (version) and ``blas`` (torch's BLAS, e.g. ``mkl``), read from
    torch's build configuration; ``isa_variables``: those of :data:`ISA_VARIABLES` that are set.
    """
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:                     # torch older than 2.1
        capability = None
    config = torch.__config__.show()
    onednn = re.search(r"(?:MKL-DNN|oneDNN)\D*v?(\d+\.\d+(?:\.\d+)?)", config)
    blas = re.search(r"BLAS_INFO=([\w-]+)", config)
    return {"cpu_capability": capability, "cpu_model": cpu_name(),
            "onednn": onednn.group(1) if onednn else None, "blas": blas.group(1) if blas else None,
            "isa_variables": {k: os.environ[k] for k in ISA_VARIABLES if k in os.environ}}


def environment(device: torch.device, info: D.DistInfo, *, bf16: bool, channels_last: bool, eval_batch_size: int,
                compile: bool, cuda_graphs: bool, fast: bool, eval_bf16: bool = False) -> dict:
    """The run record's ``environment``: versions, device, threads and the precisions actually used.

    ``amp`` is the training precision ("bf16" or "off"), ``eval_precision`` that of the
    per-sample evaluation filling the record ("float32" or "bf16").
    """
    import torchvision
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "numpy": np.__version__, "cuda": torch.version.cuda, "platform": platform.platform(terse=True),
            "device": str(device), "device_name": name, "world_size": info.world_size,
            "torch_threads": torch.get_num_threads(), "amp": "bf16" if bf16 else "off",
            "eval_precision": "bf16" if eval_bf16 else "float32", "eval_batch_size": int(eval_batch_size),
            "channels_last": channels_last, "compile": bool(compile), "cuda_graphs": bool(cuda_graphs),
            "pipeline": "device" if fast else "reference", **_cpu_fields(device)}


def _cpu_fields(device: torch.device) -> dict:
    cpu = cpu_environment()
    # a CUDA run's numbers do not depend on the host CPU's kernels: no capability to compare on resume
    cpu["cpu_capability"] = cpu["cpu_capability"] if device.type == "cpu" else None
    return cpu
