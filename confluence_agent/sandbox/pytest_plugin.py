"""pytest plugin (entry point ``pytest11``): sandbox fixtures for projects using confluence-agent.

Fixtures:
    confluence_sandbox: a fresh demo-seeded :class:`SandboxServer` per test.
    confluence_sandbox_factory: ``factory(**kwargs)`` starts servers with custom seeds,
        rate limits or faults; all are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from confluence_agent.sandbox.seed import SeedData, load_seed
from confluence_agent.sandbox.server import SandboxServer

SandboxFactory = Callable[..., SandboxServer]


@pytest.fixture(scope="session")
def _confluence_demo_seed() -> SeedData:
    # Building the demo seed once per session keeps the per-test fixture cheap.
    return load_seed("demo")


@pytest.fixture
def confluence_sandbox_factory(_confluence_demo_seed: SeedData) -> Iterator[SandboxFactory]:
    """Start sandboxes with ``factory(seed=..., rate_limit=..., burst=..., faults=...)``."""
    started: list[SandboxServer] = []

    def factory(**kwargs: Any) -> SandboxServer:
        seed = kwargs.pop("seed", "demo")
        server = SandboxServer(_confluence_demo_seed if seed == "demo" else seed, **kwargs)
        started.append(server.start())
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def confluence_sandbox(confluence_sandbox_factory: SandboxFactory) -> SandboxServer:
    """A running demo-seeded sandbox, fresh for each test."""
    return confluence_sandbox_factory()
