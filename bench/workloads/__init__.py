"""Every workload in the order the runner executes them against each server."""

from __future__ import annotations

from workloads import artifacts, compute, model_registry, traces, tracking
from workloads.base import Bench, Workload

ALL: list[Workload] = [
    *tracking.WORKLOADS,
    *artifacts.WORKLOADS,
    *model_registry.WORKLOADS,
    *traces.WORKLOADS,
    *compute.WORKLOADS,
]

__all__ = ["ALL", "Bench", "Workload"]
