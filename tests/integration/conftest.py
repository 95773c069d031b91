"""Fixtures the agent-driving integration tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.agents import AgentProcess


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    """Agents a test starts; each is stopped (its whole process tree) when the test ends."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.stop()
