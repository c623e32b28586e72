"""Bearer-token and expiry enforcement on the streamable HTTP transport."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from test_mcp_transports import TOKEN, http_server_process  # same directory, no package

from confluence_agent._mcp_auth import BearerAuthMiddleware, TokenGuard, hash_token
from confluence_agent.client import ConfluenceClient
from confluence_agent.mcp_server import _bind_socket, build_http_app, build_mcp_server
from confluence_agent.ratelimit import RetryPolicy
from confluence_agent.sandbox import FaultConfig, SandboxServer
from confluence_agent.sandbox.pytest_plugin import SandboxFactory
from confluence_agent.toolkit import ConfluenceToolkit

INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "raw", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream",
               "Content-Type": "application/json"}
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def serve_in_thread(app: BearerAuthMiddleware) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a background thread on a free loopback port."""
    sock = _bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    ready = threading.Event()
    while not server.started and thread.is_alive():
        ready.wait(0.02)  # readiness poll, not a timing assertion
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def _leaves(exc: BaseException) -> list[BaseException]:
    """The non-group exceptions inside (possibly nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _fast_client(sb: SandboxServer) -> ConfluenceClient:
    kwargs: dict[str, Any] = dict(sb.client_kwargs())
    kwargs["retry"] = RetryPolicy(max_attempts=8, initial_backoff=0.0, max_backoff=0.0,
                                  max_retry_after=0.0, jitter=False)
    return ConfluenceClient(**kwargs)


def _post(url: str, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(url, json=INIT, headers=headers, timeout=30)


def test_subprocess_http_requires_the_token(confluence_sandbox: SandboxServer) -> None:
    with http_server_process(confluence_sandbox, "--read-only") as url:
        missing = _post(url, None)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer ")
        wrong = _post(url, TOKEN + "x")
        assert wrong.status_code == 401
        assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
        # Other paths and methods are guarded too.
        assert httpx.get(url.replace("/mcp", "/"), timeout=30).status_code == 401
        assert httpx.delete(url, timeout=30).status_code == 401

        ok = _post(url, TOKEN)
        assert ok.status_code == 200


async def test_sdk_client_without_token_is_refused(confluence_sandbox: SandboxServer) -> None:
    with http_server_process(confluence_sandbox, "--read-only") as url:
        with pytest.raises(BaseException) as info:
            async with Client(url) as client:
                await client.list_tools()
        # The SDK reports the HTTP 401 as an MCP error on the first request.
        assert any(isinstance(leaf, MCPError) for leaf in _leaves(info.value))


async def test_hash_only_token_configuration(confluence_sandbox: SandboxServer) -> None:
    with http_server_process(confluence_sandbox, "--read-only", "--require-token",
                             hash_token(TOKEN), token=None) as url:
        assert _post(url, None).status_code == 401
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
    assert "confluence_search" in names


async def test_expiry_refuses_every_request_and_forgets_the_token(
        confluence_sandbox: SandboxServer) -> None:
    clock = FakeClock(T0 - timedelta(hours=1))
    guard = TokenGuard.from_config(TOKEN, expires_at=T0, clock=clock)
    client = _fast_client(confluence_sandbox)
    toolkit = ConfluenceToolkit(client=client, methods={"read"})
    app = build_http_app(build_mcp_server(toolkit, read_only=True, expiry=guard), guard=guard)
    with serve_in_thread(app) as url:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        with pytest.raises(BaseException) as info:
            async with http, Client(streamable_http_client(url, http_client=http)) as mcp:
                page = await mcp.call_tool("confluence_get_page", {"page_id": "998877"})
                assert not page.is_error

                clock.now = T0 + timedelta(seconds=1)
                # The open session is refused too, not only new connections.
                await mcp.call_tool("confluence_get_page", {"page_id": "998877"})
        assert any(isinstance(leaf, MCPError) for leaf in _leaves(info.value)), info.value

        expired = _post(url, TOKEN)
        assert expired.status_code == 401
        assert "expired" in expired.headers["WWW-Authenticate"]
        assert guard._digest is None
    client.close()


async def test_retried_429s_reach_the_mcp_client_as_success(
        confluence_sandbox_factory: SandboxFactory) -> None:
    sb = confluence_sandbox_factory(faults=FaultConfig(p429=0.5, seed=3))
    client = _fast_client(sb)
    toolkit = ConfluenceToolkit(client=client, methods={"read", "write"})
    guard = TokenGuard.from_config(TOKEN)
    app = build_http_app(build_mcp_server(toolkit, client=client), guard=guard)
    with serve_in_thread(app) as url:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with http, Client(streamable_http_client(url, http_client=http)) as mcp:
            for _ in range(3):
                found = await mcp.call_tool(
                    "confluence_search", {"cql": 'title ~ "Q3 Billing Engine PRD"'})
                assert not found.is_error, found.content
                page = await mcp.call_tool("confluence_get_page", {"page_id": "998877"})
                assert not page.is_error, page.content
    assert client.stats.rate_limited > 0
    assert client.stats.retries >= client.stats.rate_limited
    assert sb.stats.rate_limited == client.stats.rate_limited
    client.close()
