"""Shared helpers for the MCP integration tests (a plain module, not a test file).

Two ways to run the server against a sandbox Confluence:

* :func:`http_server_process` / :func:`mcp_client` spawn
  ``python -m confluence_agent.mcp_server`` (the code path of ``confluence-agent
  mcp``), over stdio or streamable HTTP with a bearer token;
* :func:`serve_in_thread` runs an app from ``build_http_app`` in this process,
  so a test can look at the very clients and toolkit that served the calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CallToolResult

from confluence_agent._mcp_auth import BearerAuthMiddleware
from confluence_agent.client import ConfluenceClient
from confluence_agent.mcp_server import _bind_socket
from confluence_agent.ratelimit import RetryPolicy
from confluence_agent.sandbox import SandboxServer

Transport = Literal["stdio", "http"]
TRANSPORTS: tuple[Transport, ...] = ("stdio", "http")
TOKEN = "it-mcp-token-0123456789"

ALL_TOOLS = {
    "confluence_search", "confluence_list_pages", "confluence_get_page", "confluence_get_user",
    "confluence_create_page", "confluence_update_page",
}
READ_TOOLS = ALL_TOOLS - {"confluence_create_page", "confluence_update_page"}


def sandbox_env(sb: SandboxServer, **extra: str) -> dict[str, str]:
    """``CONFLUENCE_*`` variables pointing a server process at the sandbox."""
    env = {
        "CONFLUENCE_URL": sb.url,
        "CONFLUENCE_EMAIL": sb.email,
        "CONFLUENCE_API_TOKEN": sb.api_token,
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def server_command(*flags: str) -> list[str]:
    """The command line of a server process with these CLI flags."""
    return [sys.executable, "-m", "confluence_agent.mcp_server", *flags]


@contextmanager
def http_server_process(sb: SandboxServer, *flags: str,
                        token: str | None = TOKEN) -> Iterator[str]:
    """Start the HTTP server as a subprocess on a free port; yield its endpoint URL."""
    env = {**os.environ, **sandbox_env(sb)}
    env.pop("CONFLUENCE_MCP_TOKEN", None)
    args = ["--transport", "http", "--port", "0", *flags]
    if token is not None:
        env["CONFLUENCE_MCP_TOKEN"] = token
        args.append("--require-token")
    proc = subprocess.Popen(server_command(*args), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        url = ""
        seen: list[str] = []
        for line in proc.stderr:  # blocks until the server reports its address or dies
            seen.append(line)
            if "listening on " in line:
                url = line.rsplit("listening on ", 1)[1].strip()
                break
        assert url, "server did not start:\n" + "".join(seen)
        # Keep draining stderr so a chatty server can never block on a full pipe.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if terminate is ignored
            proc.kill()
            proc.wait()


@asynccontextmanager
async def connect(url: str, token: str = TOKEN) -> AsyncIterator[Client]:
    """An initialized SDK client for a streamable HTTP endpoint, sending the bearer token."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@asynccontextmanager
async def mcp_client(sb: SandboxServer, transport: Transport, *flags: str) -> AsyncIterator[Client]:
    """An initialized SDK client connected to a fresh server process with these CLI flags."""
    if transport == "stdio":
        params = StdioServerParameters(command=sys.executable, args=server_command(*flags)[1:],
                                       env=sandbox_env(sb))
        # Claude Desktop speaks the initialize handshake: use it on stdio.
        async with Client(params, mode="legacy") as client:
            yield client
        return
    with http_server_process(sb, *flags) as url:
        async with connect(url) as client:
            yield client


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


def fast_retry_client(sb: SandboxServer) -> ConfluenceClient:
    """A sandbox client whose retries do not sleep (its config carries the policy)."""
    kwargs: dict[str, Any] = dict(sb.client_kwargs())
    kwargs["retry"] = RetryPolicy(max_attempts=8, initial_backoff=0.0, max_backoff=0.0,
                                  max_retry_after=0.0, jitter=False)
    return ConfluenceClient(**kwargs)


def leaves(exc: BaseException) -> list[BaseException]:
    """The non-group exceptions inside (possibly nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def result_text(result: CallToolResult) -> str:
    """All text blocks of a tool result."""
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def call_ok(client: Client, name: str, args: dict[str, Any]) -> CallToolResult:
    """Call a tool and require a non-error result."""
    result = await client.call_tool(name, args)
    assert not result.is_error, result_text(result)
    return result
