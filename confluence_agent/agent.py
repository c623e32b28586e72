"""``create_confluence_agent``: a LangGraph tool-calling agent over the Confluence tools.

Hand-built ``StateGraph(MessagesState)`` + ``ToolNode`` + ``tools_condition``, so
it needs only ``langgraph`` (not the ``langchain`` package) and behaves the same
sync and async.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from confluence_agent import cql
from confluence_agent.toolkit import ConfluenceToolkit
from confluence_agent.tools import STORAGE_RULES, VERSION_RULES

__all__ = ["SYSTEM_PROMPT", "build_system_prompt", "create_confluence_agent"]

_ROLE = (
    "You are a careful Confluence assistant. You find pages with CQL, read them, and "
    "create or update pages only when the user asks for it.\n"
    "Workflow: search (confluence_search) to find page ids; read (confluence_get_page) "
    "before any change; update (confluence_update_page) with section operations; resolve "
    "account ids to names with confluence_get_user. Quote page ids, titles and URLs from "
    "tool results; never invent them. When a tool returns an error, read it: it says what "
    "to fix (a CQL problem, a version conflict, a refused lossy edit)."
)


def build_system_prompt(extra: str | None = None, *, include_cql: bool = True) -> str:
    """Build the agent's system prompt.

    Args:
        extra: Additional instructions appended at the end (e.g. the task).
        include_cql: Include the CQL guidance (``confluence_agent.cql.guidance_text``).

    Returns:
        Role and workflow, version and storage rules, CQL guidance, then ``extra``.
    """
    parts = [_ROLE, VERSION_RULES, STORAGE_RULES]
    if include_cql:
        parts.append("CQL guidance:\n" + cql.guidance_text())
    if extra:
        parts.append(extra)
    return "\n\n".join(parts)


SYSTEM_PROMPT: str = build_system_prompt()
"""The default system prompt (:func:`build_system_prompt` with no extras)."""


def create_confluence_agent(
    model: BaseChatModel,
    tools: ConfluenceToolkit | Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Create a tool-calling agent for Confluence.

    The graph is ``START -> agent -> (tools -> agent)* -> END``: the model is
    called with the system prompt plus the conversation; when it asks for tools,
    ``ToolNode`` runs them (tool errors come back as error ``ToolMessage``s the
    model can react to) and control returns to the model.

    Args:
        model: A chat model that supports ``bind_tools``.
        tools: A :class:`ConfluenceToolkit` or a list of tools.
        system_prompt: Replaces :data:`SYSTEM_PROMPT` when given.
        checkpointer: Optional LangGraph checkpointer (conversation memory,
            human-in-the-loop); pass ``thread_id`` in the config when using one.

    Returns:
        The compiled graph; invoke with ``{"messages": [...]}``.
    """
    tool_list = tools.get_tools() if isinstance(tools, ConfluenceToolkit) else list(tools)
    prompt = SystemMessage(SYSTEM_PROMPT if system_prompt is None else system_prompt)
    bound: Runnable[Any, BaseMessage] = model.bind_tools(tool_list)

    def call_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [bound.invoke([prompt, *state["messages"]])]}

    async def acall_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await bound.ainvoke([prompt, *state["messages"]])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", RunnableLambda(call_model, afunc=acall_model, name="agent"))
    graph.add_node("tools", ToolNode(tool_list))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=checkpointer)
