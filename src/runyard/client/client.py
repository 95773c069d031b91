"""``Client``: the platform API in one object, composed of per-resource mixins over ``BaseClient``."""

from __future__ import annotations

from runyard.client._agent import AgentAPI
from runyard.client._jobs import JobsMixin
from runyard.client._pools import PoolsMixin
from runyard.client._recipes import RecipesMixin
from runyard.client._registry import RegistryMixin
from runyard.client._tokens import TokensMixin


class Client(RecipesMixin, JobsMixin, PoolsMixin, RegistryMixin, TokensMixin, AgentAPI):
    """A client of one runyard server: ``Client("http://127.0.0.1:5050")``."""

    def __enter__(self) -> Client:
        return self
