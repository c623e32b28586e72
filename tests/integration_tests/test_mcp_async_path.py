"""MCP tool calls run natively async, on the toolkit's ``AsyncConfluenceClient``."""

from __future__ import annotations

import asyncio
import queue
import threading

import pytest
from mcp_harness import TOKEN, call_ok, connect, serve_in_thread

from confluence_agent import mcp_server
from confluence_agent._mcp_auth import BearerAuthMiddleware, TokenGuard
from confluence_agent.client import ConfluenceClient
from confluence_agent.mcp_server import build_http_app, build_mcp_server
from confluence_agent.sandbox import SandboxServer
from confluence_agent.sandbox.pytest_plugin import SandboxFactory
from confluence_agent.toolkit import ConfluenceToolkit


@pytest.fixture
def sandbox(confluence_sandbox_factory: SandboxFactory) -> SandboxServer:
    # Rate limiting on (generous) so every response carries budget headers.
    return confluence_sandbox_factory(rate_limit=200, burst=400)


async def test_run_mcp_server_answers_calls_with_the_async_client(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ConfluenceClient(**sandbox.client_kwargs())
    urls: queue.Queue[str | BaseException] = queue.Queue()
    stop = threading.Event()

    def serve_here(app: BearerAuthMiddleware, *, host: str, port: int) -> None:
        # Stand-in for uvicorn-on-a-port: same app, served until the test is done.
        with serve_in_thread(app) as url:
            urls.put(url)
            stop.wait()

    def run() -> None:
        try:
            mcp_server.run_mcp_server(transport="http", client=client, require_token=TOKEN)
        except BaseException as exc:
            urls.put(exc)
            raise

    monkeypatch.setattr(mcp_server, "serve_http", serve_here)
    server = asyncio.ensure_future(asyncio.to_thread(run))
    url = await asyncio.to_thread(urls.get)
    if isinstance(url, BaseException):
        raise url
    try:
        async with connect(url) as mcp:
            page = await call_ok(mcp, "confluence_get_page", {"page_id": "998877"})
            found = await call_ok(mcp, "confluence_search",
                                  {"cql": 'title ~ "Q3 Billing Engine PRD"'})
    finally:
        stop.set()
        await server

    assert page.structured_content is not None
    assert page.structured_content["version"]["number"] == 5
    assert found.structured_content is not None and found.structured_content["results"]
    # The sync client given to the server sent nothing: every request came from
    # the async client the toolkit made from its config...
    assert client.stats.requests == 0
    assert sandbox.stats.requests >= 2
    # ...and the rate-limit reading in _meta is that client's.
    assert found.meta is not None
    assert found.meta["ratelimit-limit"] == 400


async def test_toolkit_server_sends_through_the_toolkit_async_client(
    sandbox: SandboxServer,
) -> None:
    client = ConfluenceClient(**sandbox.client_kwargs())
    toolkit = ConfluenceToolkit(client=client)
    served = toolkit.async_client
    assert served is not None
    app = build_http_app(build_mcp_server(toolkit), guard=TokenGuard.from_config(TOKEN),
                         on_shutdown=toolkit.aclose)
    with serve_in_thread(app) as url:
        async with connect(url) as mcp:
            result = await call_ok(mcp, "confluence_get_page", {"page_id": "998877"})
    assert client.stats.requests == 0
    assert served.stats.requests >= 1
    assert result.meta is not None and result.meta["ratelimit-limit"] == 400
    client.close()
