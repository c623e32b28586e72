"""The toolkit's space allow-list and read-only mode, enforced against the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.sandbox.seed import DATADOG_PAGE_ID, PRD_PAGE_ID
from confluence_agent.toolkit import ConfluenceToolkit
from confluence_agent.tools import ConfluenceGetPage, _ConfluenceTool


@pytest.fixture
def client(confluence_sandbox: Any) -> Iterator[ConfluenceClient]:
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as c:
        yield c


def _tools(client: ConfluenceClient, **kw: Any) -> dict[str, BaseTool]:
    return {t.name: t for t in ConfluenceToolkit(client=client, **kw).get_tools()}


def _invoke(tool: BaseTool, args: dict[str, Any]) -> ToolMessage:
    msg = tool.invoke({"name": tool.name, "args": args, "id": "c", "type": "tool_call"})
    assert isinstance(msg, ToolMessage)
    return msg


def test_read_only_toolkit_cannot_write(client: ConfluenceClient) -> None:
    tools = _tools(client, methods={"read"})
    assert "confluence_update_page" not in tools and "confluence_create_page" not in tools
    assert _invoke(tools["confluence_get_page"], {"page_id": PRD_PAGE_ID}).status == "success"


def test_page_outside_allow_list_is_not_found(client: ConfluenceClient) -> None:
    tools = _tools(client, methods={"read", "write"}, spaces=["ENG"])
    hidden = _invoke(tools["confluence_get_page"], {"page_id": PRD_PAGE_ID})
    assert hidden.status == "error"
    assert hidden.content == f"Page {PRD_PAGE_ID} was not found (it does not exist or you are " \
        "not allowed to see it)."
    assert _invoke(tools["confluence_get_page"], {"page_id": DATADOG_PAGE_ID}).status == "success"

    update = _invoke(tools["confluence_update_page"], {
        "page_id": PRD_PAGE_ID, "version": 6,
        "operations": [{"kind": "append_section", "title": "X", "content": "y"}]})
    assert update.status == "error" and "not found" in update.content
    assert client.get_page(PRD_PAGE_ID).version.number == 5

    listed = _invoke(tools["confluence_list_pages"], {"space": "PROD"})
    assert listed.status == "error" and "not found" in listed.content
    created = _invoke(tools["confluence_create_page"],
                      {"space": "PROD", "title": "Sneaky", "body": "x"})
    assert created.status == "error"


def test_search_is_constrained_to_allowed_spaces(client: ConfluenceClient) -> None:
    open_search = _tools(client)["confluence_search"]
    everywhere = _invoke(open_search, {"cql": 'title ~ "Datadog logging guidelines"'})
    assert {r.space_key for r in everywhere.artifact.results} > {"ENG"}

    scoped = _tools(client, spaces=["ENG"])["confluence_search"]
    msg = _invoke(scoped, {"cql": 'title ~ "Datadog logging guidelines"'})
    assert msg.status == "success"
    assert 'AND space IN ("ENG")' in msg.content
    assert msg.artifact.results
    assert {r.space_key for r in msg.artifact.results} == {"ENG"}
    prd = _invoke(scoped, {"cql": 'title ~ "Q3 Billing Engine PRD"'})
    assert prd.status == "success" and not prd.artifact.results


def test_list_pages_defaults_to_allowed_spaces(client: ConfluenceClient) -> None:
    tools = _tools(client, spaces=["ENG"])
    msg = _invoke(tools["confluence_list_pages"], {"limit": 250})
    eng_id = client.get_space_by_key("ENG").id
    assert msg.artifact.results
    assert {p.space_id for p in msg.artifact.results} == {eng_id}


async def test_async_scope_checks(confluence_sandbox: Any, client: ConfluenceClient) -> None:
    async with AsyncConfluenceClient(**confluence_sandbox.client_kwargs()) as aclient:
        kit = ConfluenceToolkit(client=client, async_client=aclient, spaces=["ENG"])
        tools = {t.name: t for t in kit.get_tools()}
        msg = await tools["confluence_get_page"].ainvoke(
            {"name": "confluence_get_page", "args": {"page_id": PRD_PAGE_ID}, "id": "c",
             "type": "tool_call"})
        assert msg.status == "error" and "not found" in msg.content
        ok = await tools["confluence_get_page"].ainvoke(
            {"name": "confluence_get_page", "args": {"page_id": DATADOG_PAGE_ID}, "id": "c",
             "type": "tool_call"})
        assert ok.status == "success"


def test_duplicate_title_is_actionable(client: ConfluenceClient) -> None:
    create = _tools(client, methods={"write"})["confluence_create_page"]
    msg = _invoke(create, {"space": "ENG", "title": "Datadog logging guidelines", "body": "x"})
    assert msg.status == "error"
    assert "already has a page with this title" in msg.content
    assert "confluence_update_page" in msg.content


async def test_toolkit_makes_its_own_async_client(client: ConfluenceClient) -> None:
    tools = _tools(client, spaces=["ENG"])
    get_page = tools["confluence_get_page"]
    assert isinstance(get_page, _ConfluenceTool) and get_page.async_client is not None
    assert get_page.async_client.config == client.config
    msg = await get_page.ainvoke(
        {"name": "confluence_get_page", "args": {"page_id": PRD_PAGE_ID}, "id": "c",
         "type": "tool_call"})
    assert msg.status == "error" and "not found" in msg.content
    found = await tools["confluence_search"].ainvoke({"cql": 'text ~ "Datadog"'})
    assert "Datadog logging guidelines" in found
    # Native async: the sync client sent nothing.
    assert client.stats.requests == 0
    assert get_page.async_client.stats.requests > 0


def test_toolkit_async_client_survives_separate_event_loops(client: ConfluenceClient) -> None:
    # Scripts often call asyncio.run() more than once with the same toolkit.
    tool = _tools(client)["confluence_get_page"]
    for _ in range(2):
        text = asyncio.run(tool.ainvoke({"page_id": DATADOG_PAGE_ID}))
        assert "Datadog logging guidelines" in text


async def test_tool_without_async_client_runs_sync_in_a_thread(
    client: ConfluenceClient,
) -> None:
    tool = ConfluenceGetPage(client=client, spaces=["ENG"])
    msg = await tool.ainvoke(
        {"name": "confluence_get_page", "args": {"page_id": PRD_PAGE_ID}, "id": "c",
         "type": "tool_call"})
    assert msg.status == "error" and "not found" in msg.content
    assert client.stats.requests > 0


async def test_from_config_owns_and_closes_both_clients(confluence_sandbox: Any) -> None:
    config = ConfluenceClient(**confluence_sandbox.client_kwargs()).config
    async with ConfluenceToolkit.from_config(config, methods={"read"}) as kit:
        assert kit.client.config == config and kit.async_client is not None
        tool = {t.name: t for t in kit.get_tools()}["confluence_get_page"]
        assert "Datadog" in tool.invoke({"page_id": DATADOG_PAGE_ID})
        assert "Datadog" in await tool.ainvoke({"page_id": DATADOG_PAGE_ID})
    with pytest.raises(RuntimeError, match="closed"):
        kit.client.get_page(DATADOG_PAGE_ID)
    with pytest.raises(RuntimeError, match="closed"):
        await kit.async_client.get_page(DATADOG_PAGE_ID)


def test_toolkit_never_closes_the_callers_client(client: ConfluenceClient) -> None:
    with ConfluenceToolkit(client=client) as kit:
        kit.get_tools()
    assert client.get_page(DATADOG_PAGE_ID).id == DATADOG_PAGE_ID
