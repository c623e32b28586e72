"""A concurrent human edit is never overwritten (tool and editing API, sync and async)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.editing import EditConflict, EditOp, asafe_update, safe_update
from confluence_agent.sandbox.seed import PRD_PAGE_ID
from confluence_agent.tools import ConfluenceGetPage, ConfluenceUpdatePage

HUMAN_TEXT = "Edited in the browser by a teammate"
NOTE = "Human note: keep the EU data residency requirement."
OP = {"kind": "append_section", "title": "Stripe webhook integration",
      "content": "Verify the `Stripe-Signature` header."}


@pytest.fixture
def client(confluence_sandbox: Any) -> Iterator[ConfluenceClient]:
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as c:
        yield c


def _invoke(tool: Any, args: dict[str, Any]) -> ToolMessage:
    msg = tool.invoke({"name": tool.name, "args": args, "id": "c", "type": "tool_call"})
    assert isinstance(msg, ToolMessage)
    return msg


def test_conflict_at_write_time_is_reported_not_overwritten(
    confluence_sandbox: Any, client: ConfluenceClient
) -> None:
    read = _invoke(ConfluenceGetPage(client=client), {"page_id": PRD_PAGE_ID})
    assert read.artifact.version.number == 5
    # The human saves between our read of the current body and our PUT (409 path).
    confluence_sandbox.arm_concurrent_edit(PRD_PAGE_ID)
    update = ConfluenceUpdatePage(client=client)
    refused = _invoke(update, {"page_id": PRD_PAGE_ID, "version": 6, "operations": [OP]})
    assert refused.status == "error"
    assert "Version conflict" in refused.content and "version 6" in refused.content
    assert "version=7" in refused.content

    page = client.get_page(PRD_PAGE_ID)
    assert page.version.number == 6
    assert HUMAN_TEXT in (page.body_storage or "")
    assert "Stripe webhook integration" not in (page.body_storage or "")

    # Re-read and retry with the new version: both edits survive.
    again = _invoke(ConfluenceGetPage(client=client), {"page_id": PRD_PAGE_ID})
    nxt = again.artifact.version.number + 1
    ok = _invoke(update, {"page_id": PRD_PAGE_ID, "version": nxt, "operations": [OP]})
    assert ok.status == "success", ok.content
    final = client.get_page(PRD_PAGE_ID).body_storage or ""
    assert HUMAN_TEXT in final and "Stripe webhook integration" in final


def test_edit_after_read_is_detected_before_writing(
    confluence_sandbox: Any, client: ConfluenceClient
) -> None:
    # A second client acts as the human, saving right after our read.
    read = _invoke(ConfluenceGetPage(client=client), {"page_id": PRD_PAGE_ID})
    version = read.artifact.version.number
    human = client.get_page(PRD_PAGE_ID)
    client.update_page(PRD_PAGE_ID, title=human.title, version=version + 1,
                       body=(human.body_storage or "") + f"<p>{NOTE}</p>")

    update = ConfluenceUpdatePage(client=client)
    refused = _invoke(update, {"page_id": PRD_PAGE_ID, "version": version + 1,
                               "operations": [OP]})
    assert refused.status == "error"
    assert f"based on version {version}" in refused.content
    assert "storage lines changed" in refused.content
    assert NOTE in (client.get_page(PRD_PAGE_ID).body_storage or "")

    ok = _invoke(update, {"page_id": PRD_PAGE_ID, "version": version + 2, "operations": [OP]})
    assert ok.status == "success", ok.content
    final = client.get_page(PRD_PAGE_ID)
    assert final.version.number == version + 2
    assert NOTE in (final.body_storage or "") and "Stripe webhook" in (final.body_storage or "")


def test_safe_update_reapply_merges_concurrent_edit(
    confluence_sandbox: Any, client: ConfluenceClient
) -> None:
    confluence_sandbox.arm_concurrent_edit(PRD_PAGE_ID)
    outcome = safe_update(client, PRD_PAGE_ID, [EditOp.model_validate(OP)], read_version=5)
    assert outcome.changed and outcome.conflicts == 1 and outcome.attempts == 2
    assert outcome.previous_version == 6 and outcome.new_version == 7
    body = client.get_page(PRD_PAGE_ID).body_storage or ""
    assert HUMAN_TEXT in body and "Stripe webhook integration" in body
    assert "+<h2>Stripe webhook integration</h2>" in outcome.diff
    # Idempotent: the same op again is a no-op, no write.
    again = safe_update(client, PRD_PAGE_ID, [EditOp.model_validate(OP)])
    assert not again.changed and again.new_version == 7


async def test_async_safe_update_reports_conflict(confluence_sandbox: Any) -> None:
    async with AsyncConfluenceClient(**confluence_sandbox.client_kwargs()) as aclient:
        confluence_sandbox.arm_concurrent_edit(PRD_PAGE_ID)
        with pytest.raises(EditConflict) as info:
            await asafe_update(aclient, PRD_PAGE_ID, [EditOp.model_validate(OP)],
                               read_version=5, on_conflict="report")
        assert info.value.current_version == 6
        page = await aclient.get_page(PRD_PAGE_ID)
        assert page.version.number == 6
        assert HUMAN_TEXT in (page.body_storage or "")


def test_macro_guard_refuses_lossy_body(client: ConfluenceClient) -> None:
    update = ConfluenceUpdatePage(client=client)
    msg = _invoke(update, {"page_id": PRD_PAGE_ID, "version": 6, "operations": [
        {"kind": "replace_body", "content": "# Q3 Billing Engine PRD\n\nRewritten."}]})
    assert msg.status == "error"
    assert "Refused, nothing was written" in msg.content and "allow_macro_loss" in msg.content
    assert client.get_page(PRD_PAGE_ID).version.number == 5


# ------------------------------------------------------------------ current=


def _op() -> list[EditOp]:
    return [EditOp.model_validate(OP)]


def test_current_page_saves_the_read(client: ConfluenceClient) -> None:
    page = client.get_page(PRD_PAGE_ID, body_format="storage")
    sent = client.stats.requests
    outcome = safe_update(client, PRD_PAGE_ID, _op(), current=page)
    assert client.stats.requests - sent == 1  # the PUT alone
    assert outcome.changed and (outcome.previous_version, outcome.new_version) == (5, 6)
    assert "Stripe webhook integration" in (client.get_page(PRD_PAGE_ID).body_storage or "")


def test_stale_current_is_reapplied_to_the_newer_page(
    confluence_sandbox: Any, client: ConfluenceClient
) -> None:
    page = client.get_page(PRD_PAGE_ID, body_format="storage")
    confluence_sandbox.human_edit(PRD_PAGE_ID, f"<p>{NOTE}</p>")
    sent = client.stats.requests
    outcome = safe_update(client, PRD_PAGE_ID, _op(), current=page)
    # Refused PUT (409), re-read, PUT: the human's version 6 is the new base.
    assert client.stats.requests - sent == 3
    assert outcome.changed and outcome.conflicts == 1
    assert (outcome.previous_version, outcome.new_version) == (6, 7)
    body = client.get_page(PRD_PAGE_ID).body_storage or ""
    assert NOTE in body and "Stripe webhook integration" in body


def test_stale_current_is_reported_without_writing(
    confluence_sandbox: Any, client: ConfluenceClient
) -> None:
    page = client.get_page(PRD_PAGE_ID, body_format="storage")
    confluence_sandbox.human_edit(PRD_PAGE_ID, f"<p>{NOTE}</p>")
    sent = client.stats.requests
    with pytest.raises(EditConflict) as info:
        safe_update(client, PRD_PAGE_ID, _op(), current=page, on_conflict="report")
    # Refused PUT and re-read; version 5 is not fetched again, the caller has it.
    assert client.stats.requests - sent == 2
    assert info.value.read_version == 5 and info.value.current_version == 6
    assert "storage lines changed" in info.value.summary  # diffed against the caller's copy
    body = client.get_page(PRD_PAGE_ID).body_storage or ""
    assert NOTE in body and "Stripe webhook integration" not in body


def test_stale_current_with_the_edit_already_made_writes_nothing(
    client: ConfluenceClient,
) -> None:
    page = client.get_page(PRD_PAGE_ID, body_format="storage")
    safe_update(client, PRD_PAGE_ID, _op())  # e.g. our own write before a crash
    # Even with no conflict budget, finding the edit done is not a conflict.
    again = safe_update(client, PRD_PAGE_ID, _op(), current=page, max_conflict_retries=0)
    assert not again.changed and again.conflicts == 0
    assert again.new_version == 6
    assert client.get_page(PRD_PAGE_ID).version.number == 6


def test_current_must_be_this_page_with_its_body(client: ConfluenceClient) -> None:
    page = client.get_page(PRD_PAGE_ID, body_format="storage")
    sent = client.stats.requests
    with pytest.raises(ValueError, match="storage body"):
        bodiless = page.model_copy(update={"body_storage": None})
        safe_update(client, PRD_PAGE_ID, _op(), current=bodiless)
    with pytest.raises(ValueError, match="not page"):
        safe_update(client, PRD_PAGE_ID, _op(), current=page.model_copy(update={"id": "1"}))
    assert client.stats.requests == sent
    assert client.get_page(PRD_PAGE_ID).version.number == 5


async def test_async_current_page_saves_the_read(confluence_sandbox: Any) -> None:
    async with AsyncConfluenceClient(**confluence_sandbox.client_kwargs()) as aclient:
        page = await aclient.get_page(PRD_PAGE_ID, body_format="storage")
        confluence_sandbox.human_edit(PRD_PAGE_ID, f"<p>{NOTE}</p>")
        sent = aclient.stats.requests
        outcome = await asafe_update(aclient, PRD_PAGE_ID, _op(), current=page)
        assert aclient.stats.requests - sent == 3
        assert outcome.conflicts == 1 and outcome.new_version == 7
        fresh = await aclient.get_page(PRD_PAGE_ID, body_format="storage")
        sent = aclient.stats.requests
        noop = await asafe_update(aclient, PRD_PAGE_ID, _op(), current=fresh)
        assert aclient.stats.requests == sent  # already in the caller's copy: no request
        assert not noop.changed
