"""The compute device: `auto` picks CUDA when PyTorch can use it, and refuses to fall back to the
CPU silently when the job was given a GPU that PyTorch cannot use (a driver older than the CUDA
build, a CPU-only wheel, a hidden device): hours of GPU time must not train on the CPU."""

from __future__ import annotations

import os
import shutil
import subprocess

import torch

from .errors import InputError

# Set by CUDA runtimes and by SLURM when a job is granted GPUs.
GPU_ENV = (
    "CUDA_VISIBLE_DEVICES",
    "SLURM_JOB_GPUS",
    "SLURM_STEP_GPUS",
    "SLURM_GPUS_ON_NODE",
    "GPU_DEVICE_ORDINAL",
)
NO_DEVICE = {"", "-1", "NoDevFiles", "none", "None"}


class GpuUnusable(InputError):
    """A GPU was granted to this job but PyTorch cannot use it."""


def granted_gpus(env: dict[str, str] | None = None) -> str | None:
    """Evidence that the scheduler gave this job a GPU (e.g. 'CUDA_VISIBLE_DEVICES=0'), or None."""
    env = os.environ if env is None else env
    for key in GPU_ENV:
        value = env.get(key, "").strip()
        if value in NO_DEVICE or (key == "SLURM_GPUS_ON_NODE" and value == "0"):
            continue
        return f"{key}={value}"
    return None


def driver_version() -> str | None:
    """The NVIDIA driver version from nvidia-smi, if there is one."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def explain_unusable_gpu(evidence: str) -> str:
    build = torch.version.cuda
    driver = driver_version()
    lines = [
        f"This job was given a GPU ({evidence}) but PyTorch {torch.__version__} cannot use it:"
    ]
    if build is None:
        lines.append("  this torch is a CPU-only build.")
    else:
        lines.append(
            f"  this torch is built for CUDA {build}; the NVIDIA driver is "
            f"{driver or 'not visible (nvidia-smi missing or failing)'}."
        )
        lines.append(
            "  A driver older than the CUDA build, or no device visible in the job, gives this."
        )
    lines.append(
        "Install, in the environment that runs training (envs/train.yaml under --use-conda), a "
        "torch build for a CUDA version the driver supports (`nvidia-smi` shows the highest; "
        "pytorch.org lists a wheel index per CUDA version), or set train.device: cpu to train on "
        "the CPU on purpose."
    )
    return "\n".join(lines)


def resolve_device(name: str, env: dict[str, str] | None = None) -> torch.device:
    """`auto`: CUDA if usable, else the CPU unless a GPU was granted; an explicit device must
    exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        evidence = granted_gpus(env)
        if evidence:
            raise GpuUnusable(explain_unusable_gpu(evidence))
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        evidence = granted_gpus(env)
        raise GpuUnusable(
            explain_unusable_gpu(evidence)
            if evidence
            else f"train.device is '{name}' but PyTorch sees no CUDA device"
        )
    return torch.device(name)


def mixed_precision_default(device: torch.device | str, mixed_precision: bool | None) -> bool:
    """bf16 autocast and channels-last memory: what feeds a CUDA GPU's tensor cores, so on by
    default there. A CPU runs both too (slower), which is how the tests exercise that code."""
    return torch.device(device).type == "cuda" if mixed_precision is None else mixed_precision
