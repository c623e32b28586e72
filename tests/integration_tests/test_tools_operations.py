"""What each tool does against the sandbox, beyond the standard suites.

Paging, the page header (version, labels, parent, url), list filters, bulk user
lookup, create in both formats and the explicit macro-loss opt-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from confluence_agent import storage
from confluence_agent.client import ConfluenceClient
from confluence_agent.sandbox.seed import DATADOG_PAGE_ID, PRD_PAGE_ID
from confluence_agent.sandbox.seed_demo_pages import MARCUS_ID, PRIYA_ID
from confluence_agent.toolkit import ConfluenceToolkit


@pytest.fixture
def client(confluence_sandbox: Any) -> Iterator[ConfluenceClient]:
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as c:
        yield c


@pytest.fixture
def tools(client: ConfluenceClient) -> dict[str, BaseTool]:
    kit = ConfluenceToolkit(client=client, methods={"read", "write"})
    return {t.name: t for t in kit.get_tools()}


def _ok(tool: BaseTool, args: dict[str, Any]) -> ToolMessage:
    msg = tool.invoke({"name": tool.name, "args": args, "id": "c", "type": "tool_call"})
    assert isinstance(msg, ToolMessage)
    assert msg.status == "success", msg.content
    return msg


def _err(tool: BaseTool, args: dict[str, Any]) -> str:
    msg = tool.invoke({"name": tool.name, "args": args, "id": "c", "type": "tool_call"})
    assert isinstance(msg, ToolMessage)
    assert msg.status == "error", msg.content
    return str(msg.content)


def test_search_pages_with_the_cursor_until_the_end(tools: dict[str, BaseTool]) -> None:
    search = tools["confluence_search"]
    query = 'type = page AND space = "ENG" ORDER BY title'
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        msg = _ok(search, {"cql": query, "limit": 3, "cursor": cursor})
        page = msg.artifact
        assert 0 < len(page.results) <= 3
        seen += [r.id for r in page.results]
        for r in page.results:  # the compact line: id, title, space, modified, url
            assert f"[page {r.id}]" in msg.content and "space ENG" in msg.content
            assert (r.webui_url or r.url or "") in msg.content
        cursor = page.next_cursor
        if cursor is None:
            assert msg.content.endswith("No more results.")
            break
        assert f"cursor={cursor!r}" in msg.content
    assert len(seen) > 3, "the query should need more than one page"
    assert len(seen) == len(set(seen))  # no hit repeated across pages
    everything = _ok(search, {"cql": query, "limit": 50}).artifact
    assert seen == [r.id for r in everything.results]


def test_get_page_header_and_formats(tools: dict[str, BaseTool]) -> None:
    get = tools["confluence_get_page"]
    md = _ok(get, {"page_id": PRD_PAGE_ID})
    page = md.artifact
    assert page.version.number == 5 and page.parent_id and page.space_id
    header = md.content.split("--- body", 1)[0]
    assert "version: 5" in header and "version=6" in header
    assert f"parent_id: {page.parent_id}" in header and f"space_id: {page.space_id}" in header
    assert "labels: billing, owner-team-billing, prd, q3-2026" in header
    assert f"url: {page.webui_url}" in header and "/pages/998877/" in header
    assert "## Overview" in md.content and "<ac:structured-macro" not in md.content

    raw = _ok(get, {"page_id": PRD_PAGE_ID, "format": "storage"})
    body = raw.artifact.body_storage
    assert body and raw.content.endswith(body)  # verbatim, macros included
    assert "<ac:structured-macro" in raw.content

    missing = _err(get, {"page_id": "424242424"})
    assert missing == "Page 424242424 was not found (it does not exist or you are not " \
        "allowed to see it)."


def test_list_pages_by_key_id_title_and_status(client: ConfluenceClient,
                                               tools: dict[str, BaseTool]) -> None:
    listing = tools["confluence_list_pages"]
    eng = client.get_space_by_key("ENG").id
    by_key = _ok(listing, {"space": "ENG", "limit": 250}).artifact.results
    by_id = _ok(listing, {"space": eng, "limit": 250}).artifact.results
    assert [p.id for p in by_key] == [p.id for p in by_id]
    assert {p.space_id for p in by_key} == {eng}
    # Confluence's default is current and archived; archived ones say so.
    assert {p.status for p in by_key} == {"current", "archived"}
    assert "archived)" in _ok(listing, {"space": "ENG", "limit": 250}).content

    titled = _ok(listing, {"space": "ENG", "title": "Datadog logging guidelines"})
    assert [p.id for p in titled.artifact.results] == [DATADOG_PAGE_ID]

    archived = _ok(listing, {"space": "ENG", "status": "archived"}).artifact.results
    assert archived and all(p.status == "archived" for p in archived)
    current = _ok(listing, {"space": "ENG", "status": "current", "limit": 250}).artifact.results
    assert current and all(p.status == "current" for p in current)
    assert {p.id for p in archived} | {p.id for p in current} == {p.id for p in by_key}

    first = _ok(listing, {"space": "ENG", "limit": 2})
    cursor = first.artifact.next_cursor
    assert cursor and f"cursor={cursor!r}" in first.content
    second = _ok(listing, {"space": "ENG", "limit": 2, "cursor": cursor}).artifact.results
    assert [p.id for p in first.artifact.results + second] == [p.id for p in by_key[:4]]

    assert "not found" in _err(listing, {"space": "NOPE"})


def test_get_user_resolves_several_ids_in_one_request(client: ConfluenceClient,
                                                      tools: dict[str, BaseTool]) -> None:
    before = client.stats.requests
    msg = _ok(tools["confluence_get_user"],
              {"account_ids": [PRIYA_ID, MARCUS_ID, PRIYA_ID, "no-such-account"]})
    assert client.stats.requests - before == 1  # bulk, and the duplicate asked once
    assert [u.display_name for u in msg.artifact] == ["Priya Natarajan", "Marcus Chen"]
    assert f"- {PRIYA_ID}: Priya Natarajan" in msg.content
    assert "- no-such-account: unknown user" in msg.content


def test_create_page_from_markdown_and_from_storage(client: ConfluenceClient,
                                                    tools: dict[str, BaseTool]) -> None:
    create = tools["confluence_create_page"]
    md = _ok(create, {"space": "ENG", "title": "On-call runbook",
                      "body": "# Steps\n\n1. Page the **on-call**.", "parent_id": DATADOG_PAGE_ID})
    made = client.get_page(md.artifact.id, body_format="storage")
    assert made.parent_id == DATADOG_PAGE_ID and made.version.number == 1
    assert "<strong>on-call</strong>" in (made.body_storage or "")
    assert f"Created page {made.id}" in md.content and "version=2" in md.content

    macro = ('<ac:structured-macro ac:name="status" ac:schema-version="1">'
             '<ac:parameter ac:name="title">DRAFT</ac:parameter></ac:structured-macro>')
    raw = _ok(create, {"space": "ENG", "title": "Status page", "body": f"<p>{macro}</p>",
                       "body_format": "storage"})
    assert client.get_page(raw.artifact.id, body_format="storage").body_storage == \
        f"<p>{macro}</p>"


def test_create_page_refusals_write_nothing(client: ConfluenceClient,
                                            tools: dict[str, BaseTool]) -> None:
    create = tools["confluence_create_page"]
    eng = client.get_space_by_key("ENG").id
    count = len(client.list_pages(space_id=eng, limit=250).results)

    sent = client.stats.requests
    bad = _err(create, {"space": "ENG", "title": "Broken", "body": "<p>unclosed",
                        "body_format": "storage"})
    assert "not valid Confluence storage XHTML" in bad
    assert client.stats.requests == sent  # rejected before any request

    # The PRD's parent is in PROD: the page would land outside ENG.
    other = _err(create, {"space": "ENG", "title": "Misplaced", "body": "x",
                          "parent_id": PRD_PAGE_ID})
    assert "Choose a parent in the same space" in other
    assert len(client.list_pages(space_id=eng, limit=250).results) == count


def test_lossy_update_needs_the_explicit_opt_in(client: ConfluenceClient,
                                                tools: dict[str, BaseTool]) -> None:
    update = tools["confluence_update_page"]
    before = client.get_page(DATADOG_PAGE_ID, body_format="storage")
    assert storage.inventory(before.body_storage or "")  # the page has macros to lose
    op = {"kind": "replace_body", "content": "# Datadog\n\nRewritten from scratch."}
    version = before.version.number + 1

    refused = _err(update, {"page_id": DATADOG_PAGE_ID, "version": version, "operations": [op]})
    assert "Refused, nothing was written" in refused and "info" in refused
    assert client.get_page(DATADOG_PAGE_ID).version.number == before.version.number

    done = _ok(update, {"page_id": DATADOG_PAGE_ID, "version": version, "operations": [op],
                        "allow_macro_loss": True})
    assert done.artifact.new_version == version
    after = client.get_page(DATADOG_PAGE_ID, body_format="storage").body_storage or ""
    assert "Rewritten from scratch." in after and "<ac:structured-macro" not in after


def test_section_operations_through_the_tool(client: ConfluenceClient,
                                             tools: dict[str, BaseTool]) -> None:
    update = tools["confluence_update_page"]
    before = client.get_page(DATADOG_PAGE_ID, body_format="storage")
    msg = _ok(update, {"page_id": DATADOG_PAGE_ID, "version": before.version.number + 1,
                       "operations": [
                           {"kind": "insert_after_section", "after": "Rules",
                            "title": "Retention", "content": "Keep logs **15 days**."},
                           {"kind": "replace_section", "title": "Why",
                            "content": "Use `team:<name>` on every log."},
                       ]})
    assert set(msg.artifact.edited_sections) == {"Retention", "Why"}
    body = client.get_page(DATADOG_PAGE_ID, body_format="storage").body_storage or ""
    titles = [s.title for s in storage.list_sections(body)]
    assert titles[titles.index("Rules") + 1] == "Retention"
    assert "<code>team:&lt;name&gt;</code>" in body or "<code>team:<name></code>" in body
    assert storage.check_preserved(before.body_storage or "", body) == []
