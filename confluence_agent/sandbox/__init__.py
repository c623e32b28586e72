"""Confluence-Cloud-compatible sandbox server on SQLite (v2 + v1 APIs, CQL, rate limits, faults).

Example::

    from confluence_agent.sandbox import SandboxServer

    with SandboxServer(seed="demo") as sb:
        print(sb.url, sb.client_kwargs())
"""

from confluence_agent.sandbox.app import ROUTES, create_app
from confluence_agent.sandbox.gateway import FaultConfig, Stats, TokenBucket
from confluence_agent.sandbox.server import SandboxServer, serve
from confluence_agent.sandbox.store import Store

__all__ = [
    "ROUTES",
    "FaultConfig",
    "SandboxServer",
    "Stats",
    "Store",
    "TokenBucket",
    "create_app",
    "serve",
]
