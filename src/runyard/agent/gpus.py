"""The GPU inventory an agent declares: a list given by the operator, or discovered with NVML / nvidia-smi."""

from __future__ import annotations

import importlib
import logging
import shutil
import subprocess

log = logging.getLogger(__name__)
NVIDIA_SMI_TIMEOUT_SECONDS = 20


class GpuSpecError(ValueError):
    """``--gpus`` is neither ``auto``, ``none`` nor a list of GPU ids."""


def _from_nvml() -> list[str] | None:
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        return None
    try:
        nvml.nvmlInit()
        try:
            return [str(index) for index in range(int(nvml.nvmlDeviceGetCount()))]
        finally:
            nvml.nvmlShutdown()
    except Exception as error:  # NVMLError subclasses: no driver, no device, library missing
        log.info("NVML present but unusable (%s); trying nvidia-smi", error)
        return None


def _from_nvidia_smi() -> list[str] | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_SECONDS,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        log.info("nvidia-smi failed (%s); no GPUs", error)
        return None
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def discover() -> list[str]:
    """The machine's GPU ids, or ``[]`` when there is no NVIDIA driver (never an error)."""
    for source in (_from_nvml, _from_nvidia_smi):
        found = source()
        if found is not None:
            return found
    return []


def parse_gpus(value: str) -> list[str]:
    """``auto`` → discovered, ``none``/empty → ``[]``, ``0,1,2,3`` → those ids (unique, in order)."""
    text = value.strip().lower()
    if text == "auto":
        return discover()
    if text in ("", "none"):
        return []
    ids = [part.strip() for part in text.split(",")]
    if any(not part or not part.replace("-", "").isalnum() for part in ids):
        raise GpuSpecError(f"invalid --gpus {value!r}: use auto, none, or ids such as 0,1,2,3")
    if len(set(ids)) != len(ids):
        raise GpuSpecError(f"invalid --gpus {value!r}: a GPU id is listed twice")
    return ids
