"""Bearer-token and expiry enforcement on the streamable HTTP transport."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from mcp import Client, MCPError
from mcp_harness import (
    TOKEN,
    connect,
    fast_retry_client,
    http_server_process,
    leaves,
    serve_in_thread,
)

from confluence_agent._mcp_auth import TokenGuard, hash_token
from confluence_agent.mcp_server import build_http_app, build_mcp_server
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
        assert any(isinstance(leaf, MCPError) for leaf in leaves(info.value))


async def test_hash_only_token_configuration(confluence_sandbox: SandboxServer) -> None:
    with http_server_process(confluence_sandbox, "--read-only", "--require-token",
                             hash_token(TOKEN), token=None) as url:
        assert _post(url, None).status_code == 401
        async with connect(url) as client:
            names = {t.name for t in (await client.list_tools()).tools}
    assert "confluence_search" in names


async def test_expiry_refuses_every_request_and_forgets_the_token(
        confluence_sandbox: SandboxServer) -> None:
    clock = FakeClock(T0 - timedelta(hours=1))
    guard = TokenGuard.from_config(TOKEN, expires_at=T0, clock=clock)
    client = fast_retry_client(confluence_sandbox)
    toolkit = ConfluenceToolkit(client=client, methods={"read"})
    app = build_http_app(build_mcp_server(toolkit, read_only=True, expiry=guard), guard=guard,
                         on_shutdown=toolkit.aclose)
    with serve_in_thread(app) as url:
        with pytest.raises(BaseException) as info:
            async with connect(url) as mcp:
                page = await mcp.call_tool("confluence_get_page", {"page_id": "998877"})
                assert not page.is_error

                clock.now = T0 + timedelta(seconds=1)
                # The open session is refused too, not only new connections.
                await mcp.call_tool("confluence_get_page", {"page_id": "998877"})
        assert any(isinstance(leaf, MCPError) for leaf in leaves(info.value)), info.value

        expired = _post(url, TOKEN)
        assert expired.status_code == 401
        assert "expired" in expired.headers["WWW-Authenticate"]
        assert guard._digest is None
    client.close()


async def test_retried_429s_reach_the_mcp_client_as_success(
        confluence_sandbox_factory: SandboxFactory) -> None:
    sb = confluence_sandbox_factory(faults=FaultConfig(p429=0.5, seed=3))
    client = fast_retry_client(sb)
    toolkit = ConfluenceToolkit(client=client, methods={"read", "write"})
    guard = TokenGuard.from_config(TOKEN)
    app = build_http_app(build_mcp_server(toolkit, client=client), guard=guard,
                         on_shutdown=toolkit.aclose)
    with serve_in_thread(app) as url:
        async with connect(url) as mcp:
            for _ in range(3):
                found = await mcp.call_tool(
                    "confluence_search", {"cql": 'title ~ "Q3 Billing Engine PRD"'})
                assert not found.is_error, found.content
                page = await mcp.call_tool("confluence_get_page", {"page_id": "998877"})
                assert not page.is_error, page.content
    # The calls ran on the toolkit's async client, which inherited the (sleep-free)
    # retry policy from the sync client's config.
    served = toolkit.async_client
    assert served is not None
    assert served.stats.rate_limited > 0
    assert served.stats.retries >= served.stats.rate_limited
    assert sb.stats.rate_limited == served.stats.rate_limited
    client.close()
