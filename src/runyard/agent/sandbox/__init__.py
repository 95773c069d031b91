"""Sandboxes that run one job each: ``process``, ``namespace`` and ``bubblewrap`` isolation levels.

Only ``runyard.agent`` imports this package. docs/sandbox.md lists what each level guarantees.
"""

from runyard.agent.sandbox.base import Sandbox, SandboxedProcess, SandboxError, SandboxSpec
from runyard.agent.sandbox.levels import (
    BY_STRENGTH,
    LEVELS,
    available_levels,
    choose,
    probe,
    probe_private_network,
    stronger,
)
from runyard.agent.sandbox.limits import Limits
from runyard.agent.sandbox.outcome import Outcome

__all__ = [
    "BY_STRENGTH",
    "LEVELS",
    "Limits",
    "Outcome",
    "Sandbox",
    "SandboxError",
    "SandboxSpec",
    "SandboxedProcess",
    "available_levels",
    "choose",
    "probe",
    "probe_private_network",
    "stronger",
]
