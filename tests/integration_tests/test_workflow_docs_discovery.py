"""Docs discovery workflow against the demo sandbox (real HTTP over loopback)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from confluence_agent.workflows.common import ProgressEvent
from confluence_agent.workflows.docs_discovery import (
    DocsDiscoveryInput,
    arun_docs_discovery,
    run_docs_discovery,
)
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from confluence_agent.client import ConfluenceClient
from confluence_agent.sandbox import SandboxServer

DATADOG_ID = "665544"
DATADOG_TITLE = "Datadog logging guidelines"
QUESTION = "What are our Datadog logging rules?"


class ToolCallingFake(GenericFakeChatModel):
    """Scripted chat model that accepts ``bind_tools`` (structured output)."""

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kw: Any) -> Any:
        return self


@pytest.fixture
def client(confluence_sandbox: SandboxServer) -> Iterator[ConfluenceClient]:
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as c:
        yield c


def _request() -> DocsDiscoveryInput:
    return DocsDiscoveryInput(question=QUESTION, spaces=["ENG"])


def test_offline_answer_cites_rules_and_author(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    events: list[ProgressEvent] = []
    served_before = confluence_sandbox.stats.requests
    briefing = run_docs_discovery(_request(), client=client, on_event=events.append)

    assert briefing.status == "answered"
    assert briefing.summarised_by == "extractive"
    assert briefing.cql_source == "builder"
    assert 'space = "ENG"' in briefing.cql
    top = briefing.pages[0]
    assert (top.id, top.title, top.version) == (DATADOG_ID, DATADOG_TITLE, 3)
    assert top.author == "Priya Natarajan"
    assert all(p.space_key in (None, "ENG") for p in briefing.pages)
    assert "778899" not in {p.id for p in briefing.pages}  # the archived ONB copy

    rules = [q for q in briefing.quotes if q.citation == f"{DATADOG_TITLE} › Rules"]
    texts = " ".join(q.text for q in rules)
    for rule in ("Structured JSON only", "Required fields", "No PII or secrets", "Log levels"):
        assert rule in texts
    assert "Priya Natarajan" in briefing.answer_markdown
    assert f"{DATADOG_TITLE} › Rules" in briefing.answer_markdown
    assert "Priya Natarajan" in {a.display_name for a in briefing.authors}

    # 1 search + one read per page + 1 bulk user lookup
    assert briefing.request_count == 1 + len(briefing.pages) + 1
    assert confluence_sandbox.stats.requests - served_before == briefing.request_count
    finished = [e.node for e in events if e.phase == "finished"]
    assert finished == ["build_query", "search", "rank", "read", "summarise", "authors"]


async def test_async_variant(client: ConfluenceClient) -> None:
    briefing = await arun_docs_discovery(_request(), client=client)
    assert briefing.pages[0].id == DATADOG_ID
    assert briefing.pages[0].author == "Priya Natarajan"


def _tool(name: str, args: dict[str, Any]) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": "call_1", "type": "tool_call"}]
    )


def test_scripted_model_repairs_cql_and_cites(client: ConfluenceClient) -> None:
    model = ToolCallingFake(
        messages=iter(
            [
                # Invalid (unknown field) → sent back with the problems → repaired.
                AIMessage(content='spaceKey = ENG AND text ~ "datadog logging"'),
                AIMessage(content='space = "ENG" AND type = page AND text ~ "datadog logging"'),
                _tool(
                    "DiscoveryAnswer",
                    {
                        "answer": "Log structured JSON with service, env and trace_id; "
                        "never log PII [1].",
                        "citations": [
                            {
                                "quote": "Emit one JSON object per line to stdout.",
                                "page_id": DATADOG_ID,
                                "section": "Rules",
                            },
                            {"quote": "invented", "page_id": "1", "section": "Nope"},
                        ],
                    },
                ),
            ]
        )
    )
    briefing = run_docs_discovery(_request(), client=client, model=model)
    assert briefing.cql_source == "model-repaired"
    assert briefing.cql_problems
    assert briefing.summarised_by == "model"
    assert briefing.pages[0].id == DATADOG_ID
    assert briefing.pages[0].author == "Priya Natarajan"
    # The citation to a page that was not read is dropped.
    assert [q.citation for q in briefing.quotes] == [f"{DATADOG_TITLE} › Rules"]
    assert "never log PII" in briefing.answer_markdown


def test_model_cql_that_stays_invalid_falls_back(client: ConfluenceClient) -> None:
    model = ToolCallingFake(
        messages=iter(
            [
                AIMessage(content="datadog AND AND"),
                AIMessage(content="still (broken"),
                _tool("DiscoveryAnswer", {"answer": "See the guidelines.", "citations": []}),
            ]
        )
    )
    briefing = run_docs_discovery(_request(), client=client, model=model)
    assert briefing.cql_source == "fallback"
    assert briefing.pages[0].id == DATADOG_ID


def test_no_match_is_empty(client: ConfluenceClient) -> None:
    briefing = run_docs_discovery(
        DocsDiscoveryInput(question="zebra quokka xylophone", spaces=["ENG"]), client=client
    )
    assert briefing.status == "empty"
    assert briefing.pages == []
    assert briefing.request_count == 1


KAFKA_TITLE = "Kafka retention runbook"
# A top-level section whose content is a two-column layout with headings in its
# cells: slicing from "Kafka retention" to the next heading would cut the layout.
KAFKA_BODY = (
    "<p>Owned by the platform team.</p>"
    "<h1>Kafka retention</h1><p>How long Kafka topics keep messages.</p>"
    '<ac:layout><ac:layout-section ac:type="two_equal">'
    "<ac:layout-cell><p>Applies to every cluster.</p>"
    "<h3>Retention rules</h3><ul><li>Kafka retention defaults to 7 days</li>"
    "<li>Audit topics keep Kafka retention at 400 days</li></ul></ac:layout-cell>"
    "<ac:layout-cell><h3>Compaction</h3><p>Compacted Kafka topics ignore retention.</p>"
    "</ac:layout-cell></ac:layout-section></ac:layout>"
    "<p>Ask in #platform before changing Kafka retention.</p>"
    "<h1>Contacts</h1><p>Platform on-call.</p>"
)


def test_headings_inside_layout_cells_are_answered_from(client: ConfluenceClient) -> None:
    space = client.get_space_by_key("ENG")
    page = client.create_page(space_id=space.id, title=KAFKA_TITLE, body=KAFKA_BODY)

    briefing = run_docs_discovery(
        DocsDiscoveryInput(question="What are the Kafka retention rules?", spaces=["ENG"]),
        client=client,
    )

    assert briefing.status == "answered", briefing.error
    assert briefing.pages[0].id == page.id
    quoted = [(q.citation, q.text) for q in briefing.quotes]
    # The list items of the cell's "Retention rules" section are cited as the rules.
    rules = f"{KAFKA_TITLE} › Retention rules"
    assert [text for citation, text in quoted if citation == rules] == [
        "Kafka retention defaults to 7 days",
        "Audit topics keep Kafka retention at 400 days",
    ]
    # Text of the enclosing section on both sides of the layout is still read.
    assert (
        f"{KAFKA_TITLE} › Kafka retention",
        "Ask in #platform before changing Kafka retention.",
    ) in quoted


def test_model_cql_cannot_leave_the_requested_spaces(client: ConfluenceClient) -> None:
    model = ToolCallingFake(
        messages=iter(
            [
                # Valid CQL, but in the wrong space: the caller's ENG filter is added.
                AIMessage(content='space = "ONB" AND text ~ "datadog logging"'),
                _tool("DiscoveryAnswer", {"answer": "See the guidelines.", "citations": []}),
            ]
        )
    )
    briefing = run_docs_discovery(_request(), client=client, model=model)
    assert briefing.cql_source == "model"
    assert briefing.cql.endswith('AND space = "ENG"')
    # ONB and ENG exclude each other: nothing from ONB (the archived copy) is read.
    assert briefing.status == "empty"
    assert briefing.pages == []


def test_search_pages_through_results(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    before = confluence_sandbox.stats.by_route.get("GET /wiki/rest/api/search", 0)
    briefing = run_docs_discovery(
        DocsDiscoveryInput(
            question="Datadog logging onboarding", page_size=1, max_results=3, max_pages=1
        ),
        client=client,
    )
    searches = confluence_sandbox.stats.by_route.get("GET /wiki/rest/api/search", 0) - before
    assert len(briefing.candidates) == 3  # three one-hit pages followed by cursor
    assert searches == 3
    assert len({c["id"] for c in briefing.candidates}) == 3
    assert briefing.request_count == 3 + 1 + 1  # searches, one read, one user lookup
