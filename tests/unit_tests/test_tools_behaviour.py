"""Tool behaviour without a server: CQL validation, scoping, errors, formatting."""

from __future__ import annotations

import httpx
from langchain_core.messages import ToolMessage

from confluence_agent import cql
from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.editing import EditConflict
from confluence_agent.errors import NotFound, PermissionDenied, RateLimited
from confluence_agent.models import Page, SearchPage
from confluence_agent.tools import (
    ConfluenceGetPage,
    ConfluenceGetUser,
    ConfluenceSearch,
    ConfluenceUpdatePage,
    GetUserInput,
    _scoped_cql,
    error_text,
    format_page,
    format_search,
)

TOKEN = "super-secret-token-value"


def _client(handler: httpx.MockTransport | None = None) -> tuple[ConfluenceClient, list[str]]:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        status = 401 if "user" in request.url.path else 404
        return httpx.Response(status, json={"errors": [{"status": status, "title": "nope"}]})

    transport = handler or httpx.MockTransport(record)
    return ConfluenceClient("http://127.0.0.1:9", email="a@example.com", api_token=TOKEN,
                            transport=transport), seen


def _call(tool: ConfluenceSearch | ConfluenceGetPage | ConfluenceGetUser,
          args: dict[str, object]) -> ToolMessage:
    msg = tool.invoke({"name": tool.name, "args": args, "id": "c1", "type": "tool_call"})
    assert isinstance(msg, ToolMessage)
    return msg


def test_invalid_cql_reports_problems_without_a_request() -> None:
    client, seen = _client()
    msg = _call(ConfluenceSearch(client=client), {"cql": 'title ~ "unclosed'})
    assert msg.status == "error"
    assert "Invalid CQL" in msg.content
    assert "Unterminated string" in msg.content and "Fix: Close the quote" in msg.content
    assert seen == []


async def test_invalid_cql_async_names_the_fix_and_sends_nothing() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"results": []})

    transport = httpx.MockTransport(record)
    client = ConfluenceClient("http://127.0.0.1:9", email="a@example.com", api_token=TOKEN,
                              transport=transport)
    aclient = AsyncConfluenceClient("http://127.0.0.1:9", email="a@example.com",
                                    api_token=TOKEN, transport=transport)
    tool = ConfluenceSearch(client=client, async_client=aclient, spaces=["ENG"])
    msg = await tool.ainvoke({"name": tool.name, "args": {"cql": 'titel = "Runbook"'},
                              "id": "c1", "type": "tool_call"})
    assert isinstance(msg, ToolMessage) and msg.status == "error"
    # The problem (position, token) and the fix (the field it probably meant).
    assert "1:1 `titel`" in msg.content and "Did you mean `title`?" in msg.content
    assert seen == []
    assert aclient.stats.requests == 0 and client.stats.requests == 0


def test_not_found_and_auth_errors_are_actionable_and_token_free() -> None:
    client, seen = _client()
    msg = _call(ConfluenceGetPage(client=client), {"page_id": "42"})
    assert msg.status == "error"
    assert "Page 42 was not found" in msg.content
    user = _call(ConfluenceGetUser(client=client), {"account_ids": ["abc"]})
    assert user.status == "error"
    assert "Authentication" in user.content
    for text in (msg.content, user.content):
        assert TOKEN not in str(text)
    assert seen  # the requests were really sent


def test_update_requires_a_version_and_operations() -> None:
    client, _ = _client()
    tool = ConfluenceUpdatePage(client=client)
    schema = tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
    assert set(schema["required"]) == {"page_id", "version", "operations"}
    assert "version you read" in tool.description


def test_search_description_carries_cql_guidance() -> None:
    client, _ = _client()
    assert cql.guidance_text() in ConfluenceSearch(client=client).description


def test_scoped_cql_ands_space_and_keeps_order_by() -> None:
    q = _scoped_cql('title ~ "a" OR title ~ "b" ORDER BY lastmodified DESC', ("ENG", "PROD"))
    assert q.startswith('(title ~ "a" OR title ~ "b") AND space IN ("ENG", "PROD")')
    assert q.endswith("ORDER BY lastmodified DESC")
    assert cql.validate(q) == [] or all(p.severity != "error" for p in cql.validate(q))


def test_get_user_accepts_a_bare_string() -> None:
    assert GetUserInput.model_validate({"account_ids": "abc"}).account_ids == ["abc"]


def test_error_texts() -> None:
    conflict = EditConflict("Page 1 changed.", page_id="1", read_version=5, current_version=7,
                            attempted_version=6, summary="x")
    assert "version=8" in error_text(conflict)
    assert "not found" in error_text(NotFound("x"), subject="Page 9")
    assert "Do not retry" in error_text(PermissionDenied("no", status_code=403))
    assert "Wait 12 seconds" in error_text(RateLimited("slow", retry_after=12))


def test_format_page_tells_the_next_version() -> None:
    page = Page.model_validate({
        "id": "1", "title": "T", "spaceId": "9", "authorId": "acc-1",
        "version": {"number": 5, "authorId": "acc-2"},
        "body": {"storage": {"value": "<h2>A</h2><p>x</p>", "representation": "storage"}},
    })
    text = format_page(page, "markdown")
    assert "version: 5" in text and "version=6" in text and "acc-1" in text
    assert "<h2>" not in text
    assert "<h2>A</h2>" in format_page(page, "storage")


def test_format_search_mentions_cursor() -> None:
    page = SearchPage.model_validate({
        "results": [{"content": {"id": "1", "type": "page", "title": "T",
                                 "space": {"key": "ENG"}},
                     "title": "@@@hl@@@T@@@endhl@@@", "excerpt": "x " * 300,
                     "url": "/spaces/ENG/pages/1/T", "lastModified": "2026-01-02T03:04:05Z"}],
        "next_cursor": "abc",
    })
    text = format_search(page, "q")
    assert "[page 1] T (space ENG, modified 2026-01-02)" in text
    assert "cursor='abc'" in text
    assert len(text) < 600


def test_bad_arguments_are_explained() -> None:
    client, seen = _client()
    tool = ConfluenceUpdatePage(client=client)
    msg = tool.invoke({"name": tool.name, "id": "c", "type": "tool_call",
                       "args": {"page_id": "1", "operations": []}})
    assert isinstance(msg, ToolMessage) and msg.status == "error"
    assert "version: Field required" in msg.content
    assert "operations" in msg.content
    assert seen == []


def test_system_prompt_carries_rules() -> None:
    from confluence_agent.agent import SYSTEM_PROMPT, build_system_prompt

    assert "version you read + 1" in SYSTEM_PROMPT
    assert "append_section" in SYSTEM_PROMPT
    assert cql.guidance_text() in SYSTEM_PROMPT
    assert build_system_prompt("Only touch ENG.").endswith("Only touch ENG.")


def test_update_schema_sends_field_descriptions_not_docstrings() -> None:
    tool = ConfluenceUpdatePage(client=_client()[0])
    schema = tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
    edit_op = schema["$defs"]["EditOp"]
    assert "description" not in edit_op  # the developer docstring costs tokens per call
    assert all("description" in field for field in edit_op["properties"].values())
