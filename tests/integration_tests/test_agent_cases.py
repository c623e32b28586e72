"""The agent replays the seed's Case 1 and Case 2 with a scripted chat model.

The chat model is fake (its tool calls are scripted), but every tool call runs
for real against the sandbox over loopback HTTP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from pydantic import Field

from confluence_agent import storage
from confluence_agent.agent import SYSTEM_PROMPT, create_confluence_agent
from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.sandbox.seed import DATADOG_PAGE_ID, PRD_PAGE_ID
from confluence_agent.sandbox.seed_demo_pages import PRIYA_ID
from confluence_agent.toolkit import ConfluenceToolkit


class ToolCallingFake(GenericFakeChatModel):
    """GenericFakeChatModel that accepts bind_tools (the tools are scripted anyway)."""

    seen_system: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingFake:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen_system.append(str(messages[0].content))
        return super()._generate(messages, *args, **kwargs)


def _call(name: str, args: dict[str, Any], n: int) -> AIMessage:
    call = {"name": name, "args": args, "id": f"call_{n}", "type": "tool_call"}
    return AIMessage(content="", tool_calls=[call])


@pytest.fixture
def client(confluence_sandbox: Any) -> Iterator[ConfluenceClient]:
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as c:
        yield c


def _tool_messages(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


SECTION = "Stripe webhook integration"
SECTION_MD = (
    "Billing listens to Stripe webhooks (`invoice.paid`, `invoice.payment_failed`, "
    "`customer.subscription.updated`).\n\n"
    "- Verify the `Stripe-Signature` header with the endpoint secret.\n"
    "- Process events idempotently by event id.\n"
)


def test_case1_search_read_update_keeps_every_macro(client: ConfluenceClient) -> None:
    before = client.get_page(PRD_PAGE_ID)
    assert before.version.number == 5
    before_body = before.body_storage or ""

    script = iter([
        _call("confluence_search", {"cql": 'title ~ "Q3 Billing Engine PRD"'}, 1),
        _call("confluence_get_page", {"page_id": PRD_PAGE_ID}, 2),
        _call("confluence_update_page", {
            "page_id": PRD_PAGE_ID,
            "version": 6,
            "operations": [{"kind": "append_section", "title": SECTION, "content": SECTION_MD}],
            "message": "Add Stripe webhook integration section",
        }, 3),
        AIMessage(content="Added the Stripe webhook integration section (now version 6)."),
    ])
    model = ToolCallingFake(messages=script)
    toolkit = ConfluenceToolkit(client=client, methods={"read", "write"})
    agent = create_confluence_agent(model, toolkit)
    out = agent.invoke({"messages": [HumanMessage("Add a Stripe webhook section to the Q3 PRD")]})

    search, read, update = _tool_messages(out["messages"])
    assert search.status == "success" and PRD_PAGE_ID in str(search.content)
    assert read.status == "success"
    assert "version: 5" in str(read.content) and "version=6" in str(read.content)
    assert update.status == "success", update.content
    assert "version 5 -> 6" in str(update.content)
    assert out["messages"][-1].content.startswith("Added the Stripe")
    assert model.seen_system and model.seen_system[0] == SYSTEM_PROMPT

    after = client.get_page(PRD_PAGE_ID)
    body = after.body_storage or ""
    assert after.version.number == 6
    assert sum(1 for s in storage.list_sections(body) if s.title == SECTION) == 1
    # Every protected element of version 5 is still there, byte for byte.
    old = Counter(e.canonical for e in storage.inventory(before_body))
    new = Counter(e.canonical for e in storage.inventory(body))
    assert not old - new
    assert storage.check_preserved(before_body, body) == []
    assert body.startswith(before_body)


async def test_case2_discovery_resolves_author_name_async(confluence_sandbox: Any) -> None:
    kwargs = confluence_sandbox.client_kwargs()
    sync_client = ConfluenceClient(**kwargs)
    async with AsyncConfluenceClient(**kwargs) as aclient:
        toolkit = ConfluenceToolkit(client=sync_client, async_client=aclient)
        script = iter([
            _call("confluence_search",
                  {"cql": 'space = "ENG" AND text ~ "Datadog logging guidelines"'}, 1),
            _call("confluence_get_page", {"page_id": DATADOG_PAGE_ID}, 2),
            _call("confluence_get_user", {"account_ids": [PRIYA_ID]}, 3),
            AIMessage(content="The Datadog logging guidelines were written by Priya Natarajan."),
        ])
        agent = create_confluence_agent(ToolCallingFake(messages=script), toolkit)
        out = await agent.ainvoke({"messages": [HumanMessage("Who wrote our Datadog guidelines?")]})
    sync_client.close()

    search, read, user = _tool_messages(out["messages"])
    assert search.status == "success" and DATADOG_PAGE_ID in str(search.content)
    assert read.status == "success" and PRIYA_ID in str(read.content)
    assert read.artifact.author_id == PRIYA_ID
    assert user.status == "success"
    assert "Priya Natarajan" in str(user.content)
    assert [u.display_name for u in user.artifact] == ["Priya Natarajan"]


def test_tool_errors_go_back_to_the_model(client: ConfluenceClient) -> None:
    script = iter([
        _call("confluence_search", {"cql": 'title ~ "unclosed'}, 1),
        AIMessage(content="Sorry, my query was invalid."),
    ])
    tools: list[BaseTool] = ConfluenceToolkit(client=client).get_tools()
    agent = create_confluence_agent(ToolCallingFake(messages=script), tools,
                                    system_prompt="custom prompt")
    out = agent.invoke({"messages": [HumanMessage("find it")]})
    (error,) = _tool_messages(out["messages"])
    assert error.status == "error" and "Invalid CQL" in str(error.content)


def test_checkpointer_keeps_the_conversation(client: ConfluenceClient) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    script = iter([
        _call("confluence_get_page", {"page_id": DATADOG_PAGE_ID}, 1),
        AIMessage(content="Read it."),
        AIMessage(content="Still here."),
    ])
    agent = create_confluence_agent(
        ToolCallingFake(messages=script), ConfluenceToolkit(client=client),
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "t1"}}
    agent.invoke({"messages": [HumanMessage("read the datadog page")]}, config)
    out = agent.invoke({"messages": [HumanMessage("and now?")]}, config)
    assert [type(m).__name__ for m in out["messages"]] == [
        "HumanMessage", "AIMessage", "ToolMessage", "AIMessage", "HumanMessage", "AIMessage",
    ]

