"""The MCP server end to end: the `mcp` SDK's own client, over stdio and streamable HTTP.

Each test spawns ``python -m confluence_agent.mcp_server`` (the same code path as
``confluence-agent mcp``) against a sandbox Confluence, and talks to it with the
SDK client: over stdin/stdout, or over HTTP on a free loopback port with a bearer
token from ``CONFLUENCE_MCP_TOKEN``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import httpx
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import INVALID_PARAMS, CallToolResult

from confluence_agent.sandbox import FaultConfig, SandboxServer
from confluence_agent.sandbox.pytest_plugin import SandboxFactory

Transport = Literal["stdio", "http"]
TRANSPORTS: tuple[Transport, ...] = ("stdio", "http")
TOKEN = "it-mcp-token-0123456789"

ALL_TOOLS = {
    "confluence_search", "confluence_list_pages", "confluence_get_page", "confluence_get_user",
    "confluence_create_page", "confluence_update_page",
}
READ_TOOLS = ALL_TOOLS - {"confluence_create_page", "confluence_update_page"}


def _env(sb: SandboxServer, **extra: str) -> dict[str, str]:
    env = {
        "CONFLUENCE_URL": sb.url,
        "CONFLUENCE_EMAIL": sb.email,
        "CONFLUENCE_API_TOKEN": sb.api_token,
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def _command(*flags: str) -> list[str]:
    return [sys.executable, "-m", "confluence_agent.mcp_server", *flags]


@contextmanager
def http_server_process(sb: SandboxServer, *flags: str,
                        token: str | None = TOKEN) -> Iterator[str]:
    """Start the HTTP server as a subprocess on a free port; yield its endpoint URL."""
    env = {**os.environ, **_env(sb)}
    env.pop("CONFLUENCE_MCP_TOKEN", None)
    args = ["--transport", "http", "--port", "0", *flags]
    if token is not None:
        env["CONFLUENCE_MCP_TOKEN"] = token
        args.append("--require-token")
    proc = subprocess.Popen(_command(*args), env=env, stdout=subprocess.DEVNULL,
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
async def mcp_client(sb: SandboxServer, transport: Transport, *flags: str) -> AsyncIterator[Client]:
    """An initialized SDK client connected to a fresh server with these CLI flags."""
    if transport == "stdio":
        params = StdioServerParameters(command=sys.executable, args=_command(*flags)[1:],
                                       env=_env(sb))
        # Claude Desktop speaks the initialize handshake: use it on stdio.
        async with Client(params, mode="legacy") as client:
            yield client
        return
    with http_server_process(sb, *flags) as url:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            yield client


def _unhighlight(text: str) -> str:
    return text.replace("@@@hl@@@", "").replace("@@@endhl@@@", "")


def _text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def _call(client: Client, name: str, args: dict[str, Any]) -> CallToolResult:
    result = await client.call_tool(name, args)
    assert not result.is_error, _text(result)
    return result


async def run_case_1(client: Client) -> None:
    """Seed Case 1: find the PRD, read it at version 5, append a section as version 6."""
    found = await _call(client, "confluence_search", {"cql": 'title ~ "Q3 Billing Engine PRD"'})
    assert found.structured_content is not None
    ids = [r["id"] for r in found.structured_content["results"]]
    assert "998877" in ids

    page = await _call(client, "confluence_get_page", {"page_id": "998877"})
    assert page.structured_content is not None
    assert page.structured_content["version"]["number"] == 5
    assert "Q3 Billing Engine PRD" in _text(page)

    updated = await _call(client, "confluence_update_page", {
        "page_id": "998877",
        "version": 6,
        "operations": [{
            "kind": "append_section",
            "title": "Stripe webhook integration",
            "content": "Consume `invoice.paid` and `charge.refunded` webhooks; verify "
                       "signatures and deduplicate by event id.",
        }],
        "message": "Add Stripe webhook integration section",
    })
    assert updated.structured_content is not None
    assert updated.structured_content["new_version"] == 6
    assert updated.structured_content["changed"] is True

    after = await _call(client, "confluence_get_page", {"page_id": "998877",
                                                         "format": "storage"})
    assert after.structured_content is not None
    assert after.structured_content["version"]["number"] == 6
    assert "<h2>Stripe webhook integration</h2>" in _text(after)


async def run_case_2(client: Client) -> None:
    """Seed Case 2: find the Datadog guidelines in ENG, read them, resolve the author."""
    found = await _call(client, "confluence_search",
                        {"cql": 'space = "ENG" AND text ~ "Datadog logging guidelines"'})
    assert found.structured_content is not None
    results = found.structured_content["results"]
    # Titles in the raw search result carry Confluence's highlight markers.
    hit = next(r for r in results
               if "Datadog logging guidelines" in _unhighlight(r["title"]))

    page = await _call(client, "confluence_get_page", {"page_id": hit["id"]})
    assert page.structured_content is not None
    author_id = page.structured_content["author_id"]
    assert author_id

    user = await _call(client, "confluence_get_user", {"account_ids": [author_id]})
    assert "Priya Natarajan" in _text(user)


@pytest.fixture
def sandbox(confluence_sandbox_factory: SandboxFactory) -> SandboxServer:
    # Rate limiting on (generous) so every response carries budget headers.
    return confluence_sandbox_factory(rate_limit=200, burst=400)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_lists_all_tools_with_schemas(sandbox: SandboxServer, transport: Transport) -> None:
    async with mcp_client(sandbox, transport) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        if transport == "stdio":
            assert client.server_info is not None
            assert client.server_info.name == "confluence-agent"
            assert "READ-ONLY" not in (client.instructions or "")
    assert set(tools) == ALL_TOOLS
    update = tools["confluence_update_page"].input_schema
    assert update["type"] == "object"
    assert {"page_id", "version", "operations"} <= set(update["required"])
    assert tools["confluence_search"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert tools["confluence_update_page"].annotations.read_only_hint is False  # type: ignore[union-attr]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_read_only_lists_and_allows_no_write(sandbox: SandboxServer,
                                                   transport: Transport) -> None:
    async with mcp_client(sandbox, transport, "--read-only") as client:
        if transport == "stdio":
            assert "READ-ONLY" in (client.instructions or "")
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == READ_TOOLS
        with pytest.raises(MCPError) as info:
            await client.call_tool("confluence_update_page", {
                "page_id": "998877", "version": 6,
                "operations": [{"kind": "append_section", "title": "X", "content": "y"}],
            })
        assert info.value.code == INVALID_PARAMS
        # Reads still work.
        await _call(client, "confluence_get_page", {"page_id": "998877"})
    # Nothing was written.
    auth = (sandbox.email, sandbox.api_token)
    async with httpx.AsyncClient(base_url=sandbox.url, auth=auth) as http:
        page = (await http.get("/wiki/api/v2/pages/998877")).json()
    assert page["version"]["number"] == 5


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tags_and_spaces_filter(sandbox: SandboxServer, transport: Transport) -> None:
    flags = ("--tags", "search,pages", "--spaces", "ENG")
    async with mcp_client(sandbox, transport, *flags) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"confluence_search", "confluence_list_pages", "confluence_get_page"}
        with pytest.raises(MCPError):
            await client.call_tool("confluence_get_user", {"account_ids": ["x"]})
        # The PRD lives in PROD: outside the scope it is reported as not found.
        hidden = await client.call_tool("confluence_get_page", {"page_id": "998877"})
        assert hidden.is_error


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_case_1_prd_audit_update(sandbox: SandboxServer, transport: Transport) -> None:
    async with mcp_client(sandbox, transport) as client:
        await run_case_1(client)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_case_2_datadog_author(sandbox: SandboxServer, transport: Transport) -> None:
    async with mcp_client(sandbox, transport, "--read-only") as client:
        await run_case_2(client)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tool_errors_are_actionable_error_results(sandbox: SandboxServer,
                                                        transport: Transport) -> None:
    async with mcp_client(sandbox, transport) as client:
        bad_cql = await client.call_tool("confluence_search", {"cql": 'title ~ "unterminated'})
        assert bad_cql.is_error
        assert "CQL" in _text(bad_cql)
        stale = await client.call_tool("confluence_update_page", {
            "page_id": "998877", "version": 3,
            "operations": [{"kind": "append_section", "title": "X", "content": "y"}],
        })
        assert stale.is_error
        assert "confluence_get_page" in _text(stale)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_results_carry_ietf_rate_limit_fields(sandbox: SandboxServer,
                                                    transport: Transport) -> None:
    async with mcp_client(sandbox, transport, "--read-only") as client:
        result = await _call(client, "confluence_get_page", {"page_id": "998877"})
    assert result.meta is not None
    assert result.meta["ratelimit-limit"] == 400
    assert 0 <= result.meta["ratelimit-remaining"] <= 400
    assert isinstance(result.meta["ratelimit-reset"], int)
    assert result.meta["ratelimit-policy"].startswith('"burst";q=400')
    assert result.meta["ratelimit"].startswith('"burst";r=')


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_429s_are_retried_not_surfaced(confluence_sandbox_factory: SandboxFactory,
                                             transport: Transport) -> None:
    sb = confluence_sandbox_factory(faults=FaultConfig(p429=0.4, seed=7))
    async with mcp_client(sb, transport) as client:
        await run_case_1(client)
        await run_case_2(client)
    assert sb.stats.rate_limited > 0, "the fault seed produced no 429 to retry"
