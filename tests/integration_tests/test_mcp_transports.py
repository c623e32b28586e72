"""The MCP server end to end: the `mcp` SDK's own client, over stdio and streamable HTTP.

Each test spawns ``python -m confluence_agent.mcp_server`` (the same code path as
``confluence-agent mcp``) against a sandbox Confluence, and talks to it with the
SDK client: over stdin/stdout, or over HTTP on a free loopback port with a bearer
token from ``CONFLUENCE_MCP_TOKEN``.
"""

from __future__ import annotations

import httpx
import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS
from mcp_harness import (
    ALL_TOOLS,
    READ_TOOLS,
    TRANSPORTS,
    Transport,
    call_ok,
    mcp_client,
    result_text,
)

from confluence_agent import storage
from confluence_agent.sandbox import FaultConfig, SandboxServer
from confluence_agent.sandbox.pytest_plugin import SandboxFactory


def _unhighlight(text: str) -> str:
    return text.replace("@@@hl@@@", "").replace("@@@endhl@@@", "")


async def run_case_1(client: Client) -> None:
    """Seed Case 1: find the PRD, read it at version 5, append a section as version 6."""
    found = await call_ok(client, "confluence_search", {"cql": 'title ~ "Q3 Billing Engine PRD"'})
    assert found.structured_content is not None
    ids = [r["id"] for r in found.structured_content["results"]]
    assert "998877" in ids

    page = await call_ok(client, "confluence_get_page", {"page_id": "998877"})
    assert page.structured_content is not None
    assert page.structured_content["version"]["number"] == 5
    assert "Q3 Billing Engine PRD" in result_text(page)
    v5_body = page.structured_content["body_storage"]
    assert storage.inventory(v5_body)  # macros that the update must keep

    updated = await call_ok(client, "confluence_update_page", {
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

    after = await call_ok(client, "confluence_get_page", {"page_id": "998877",
                                                         "format": "storage"})
    assert after.structured_content is not None
    assert after.structured_content["version"]["number"] == 6
    body = after.structured_content["body_storage"]
    assert body in result_text(after)
    titles = [s.title for s in storage.list_sections(body)]
    assert titles.count("Stripe webhook integration") == 1
    # Every macro of version 5 is intact: the old body is kept byte for byte.
    assert body.startswith(v5_body)
    assert storage.check_preserved(v5_body, body) == []


async def run_case_2(client: Client) -> None:
    """Seed Case 2: find the Datadog guidelines in ENG, read them, resolve the author."""
    found = await call_ok(client, "confluence_search",
                        {"cql": 'space = "ENG" AND text ~ "Datadog logging guidelines"'})
    assert found.structured_content is not None
    results = found.structured_content["results"]
    # Titles in the raw search result carry Confluence's highlight markers.
    hit = next(r for r in results
               if "Datadog logging guidelines" in _unhighlight(r["title"]))

    page = await call_ok(client, "confluence_get_page", {"page_id": hit["id"]})
    assert page.structured_content is not None
    author_id = page.structured_content["author_id"]
    assert author_id

    user = await call_ok(client, "confluence_get_user", {"account_ids": [author_id]})
    assert "Priya Natarajan" in result_text(user)


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
        await call_ok(client, "confluence_get_page", {"page_id": "998877"})
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
        assert "CQL" in result_text(bad_cql)
        stale = await client.call_tool("confluence_update_page", {
            "page_id": "998877", "version": 3,
            "operations": [{"kind": "append_section", "title": "X", "content": "y"}],
        })
        assert stale.is_error
        assert "confluence_get_page" in result_text(stale)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_results_carry_ietf_rate_limit_fields(sandbox: SandboxServer,
                                                    transport: Transport) -> None:
    async with mcp_client(sandbox, transport, "--read-only") as client:
        result = await call_ok(client, "confluence_get_page", {"page_id": "998877"})
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
