"""The machine a run trains on: what the record's ``environment`` says, and which of it decides the bits.

A CPU run is bitwise reproducible only on the same torch, thread count, precision, memory
layout and CPU kernels: torch picks its vectorised kernels by the CPU's capability (AVX-512,
AVX2, or none: ``torch.backends.cpu.get_cpu_capability()``, overridden by the environment
variable ``ATEN_CPU_CAPABILITY``; oneDNN's by ``ONEDNN_MAX_CPU_ISA``), and two capabilities sum
in other orders, so training diverges in the last digits and then further. torch's capability alone
does not settle oneDNN's choice: an AMD Zen 4 and an Intel Xeon with AMX both report ``AVX512``, yet
oneDNN runs bf16 convolutions on AMX tiles on the second and on AVX-512 BF16 on the first, with other
bits (measured on 2026-12-06, when a run snapshotted on the one continued on the other unnoticed), so
the record also keeps the ISA oneDNN itself reports (:func:`onednn_isa`). :data:`DETERMINISM_FIELDS`
names those fields, so a resume or a fork (:func:`ltbound.train.runs.fork.fork_record`) can refuse to
continue a run made elsewhere; :func:`cpu_environment` is what records and results say of the CPU.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import sys
import tempfile

import numpy as np
import torch

from ...records import DETERMINISM_FIELDS
from . import distributed as D

__all__ = ["cpu_bf16_supported", "cpu_environment", "cpu_name", "cpu_vendor", "environment", "onednn_isa", "DETERMINISM_FIELDS"]

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


def _cpuinfo(field: str) -> str | None:
    """The first ``field`` line of ``/proc/cpuinfo`` (None where there is no such file or line)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_vendor() -> str | None:
    """The CPU's vendor string (``GenuineIntel``, ``AuthenticAMD``; from ``/proc/cpuinfo``; None: unknown).

    Part of what decides the bits: with oneDNN capped to the same ISA on both
    (``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16``), the main job trained on an Intel Xeon still differed from the
    AMD Zen 4 run in the 7th decimal (2026-12-06).
    """
    return _cpuinfo("vendor_id")


def cpu_name() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


@functools.cache
def onednn_isa() -> str | None:
    """The instruction set oneDNN dispatches its CPU kernels to, as oneDNN names it (None: unknown).

    For example "Intel AVX10.1 and Intel AMX with bfloat16 and 8-bit integer support" on a Xeon
    with AMX, "Intel AVX-512 with Intel DL Boost and bfloat16 support" under
    ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16`` (the highest level an AMD Zen 4 has; not yet read on
    one), "Intel AVX2" under ``ONEDNN_MAX_CPU_ISA=AVX2``: it follows the ISA caps of
    :data:`ISA_VARIABLES`. Read from oneDNN's verbose header, which it prints
    (to the C stdout, captured here) once per process, the first time verbose mode creates a
    primitive (here a reorder); the answer is cached. None where torch has no oneDNN, or where verbose mode had
    already printed its header before this call.
    """
    try:
        if not torch.backends.mkldnn.is_available():
            return None
        sys.stdout.flush()
        with tempfile.TemporaryFile() as f:
            saved = os.dup(1)
            os.dup2(f.fileno(), 1)
            try:
                with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                    # a reorder into oneDNN's layout: a primitive on any tensor size (a small convolution
                    # may take torch's own path and create none)
                    torch.zeros(2, 16, 8, 8).to_mkldnn().to_dense()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            f.seek(0)
            text = f.read().decode(errors="replace")
    except (AttributeError, RuntimeError, OSError):
        return None
    found = re.search(r"info,cpu,isa:(.+)", text)
    return found.group(1).strip() if found else None


def cpu_environment() -> dict:
    """The CPU facts that decide a CPU computation's last digits, for records and results files.

    ``cpu_capability``: the kernel set torch dispatches to (``AVX512``, ``AVX2``, ``DEFAULT``...);
    ``onednn_isa`` (:func:`onednn_isa`: the kernels oneDNN runs, which the capability does not settle);
    ``cpu_vendor`` (:func:`cpu_vendor`: the same ISA on another vendor's CPU still gave other last digits);
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
    return {"cpu_capability": capability, "onednn_isa": onednn_isa(), "cpu_vendor": cpu_vendor(), "cpu_model": cpu_name(),
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
    if device.type != "cpu":
        cpu["cpu_capability"] = cpu["onednn_isa"] = cpu["cpu_vendor"] = None
    return cpu
