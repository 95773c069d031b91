"""Job environments: a recipe's ``requirements`` in a cached virtualenv per interpreter and requirement set."""

from runyard.agent.environments.cache import Environment, EnvironmentCache
from runyard.agent.environments.spec import (
    EnvironmentCancelled,
    EnvironmentFailed,
    EnvironmentSpec,
    Interpreter,
    default_python,
    normalise,
    probe_interpreter,
)

__all__ = [
    "Environment",
    "EnvironmentCache",
    "EnvironmentCancelled",
    "EnvironmentFailed",
    "EnvironmentSpec",
    "Interpreter",
    "default_python",
    "normalise",
    "probe_interpreter",
]
