"""Pieces shared by the workflows: runtime context, progress events, node wrapper, LLM helpers.

Runtime dependencies (the Confluence client, the chat model, the progress
callback) travel in LangGraph's *runtime context*, never in the state: state is
checkpointed (SQLite for the CLI) and must stay JSON-native and secret-free.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import re
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, TypeVar, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.typing import StateT
from pydantic import BaseModel

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.config import ConfluenceConfig
from confluence_agent.errors import (
    ConfluenceError,
    ConnectionFailed,
    RateLimited,
    ServerError,
)
from confluence_agent.models import SearchResult

__all__ = [
    "EventCallback",
    "NodeFn",
    "ProgressEvent",
    "RuntimeNode",
    "WorkflowContext",
    "content_text",
    "env_client",
    "instrument",
    "is_transient",
    "linear_graph",
    "page_hit",
    "resolve_context",
    "run_client",
    "run_coroutine",
    "strip_fences",
    "strip_highlight",
    "structured_call",
]

Phase = Literal["started", "finished", "interrupted", "failed"]


class ProgressEvent(BaseModel):
    """One progress notification, emitted when a node starts or ends.

    Attributes:
        workflow: ``"prd_audit"`` or ``"docs_discovery"``.
        node: Graph node name.
        phase: ``started``, ``finished``, ``interrupted`` (waiting for a human)
            or ``failed``.
        detail: One human-readable line (what the node found or did).
        requests: HTTP requests the node sent (``finished``/``failed`` only).
    """

    workflow: str
    node: str
    phase: Phase
    detail: str = ""
    requests: int = 0


EventCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class WorkflowContext:
    """Run-scoped dependencies handed to every node (LangGraph ``context=``).

    Attributes:
        client: Sync Confluence client. ``None``: built once from the environment
            (``ConfluenceConfig.from_env``) on first use, which is what
            ``langgraph dev``/Studio runs get.
        model: Optional chat model; ``None`` selects the deterministic offline path.
        on_event: Optional progress callback (CLI, notebooks).
        async_client_factory: Builds an async client for concurrent reads. Called
            inside the event loop that uses it (async httpx clients must not
            cross loops). ``None``: ``AsyncConfluenceClient(config=client.config)``.
    """

    client: ConfluenceClient | None = None
    model: BaseChatModel | None = None
    on_event: EventCallback | None = None
    async_client_factory: Callable[[], AsyncConfluenceClient] | None = None


_ENV_CLIENT: ConfluenceClient | None = None
_ENV_LOCK = threading.Lock()


def env_client() -> ConfluenceClient:
    """Return a process-wide client configured from ``CONFLUENCE_*`` variables.

    Created lazily so importing a workflow module (``langgraph.json`` loads them)
    never needs credentials or network.
    """
    global _ENV_CLIENT
    with _ENV_LOCK:
        if _ENV_CLIENT is None:
            _ENV_CLIENT = ConfluenceClient(config=ConfluenceConfig.from_env())
        return _ENV_CLIENT


@contextmanager
def run_client(
    client: ConfluenceClient | None, config: ConfluenceConfig | None
) -> Iterator[ConfluenceClient]:
    """The caller's client, or one built for this run (from ``config`` or the env) and closed after.

    Args:
        client: A client owned by the caller (left open).
        config: Settings for the run's own client when ``client`` is ``None``.

    Yields:
        The client the run uses.
    """
    if client is not None:
        yield client
        return
    with ConfluenceClient(config=config or ConfluenceConfig.from_env()) as own:
        yield own


def resolve_context(given: object, defaults: WorkflowContext) -> WorkflowContext:
    """Merge the runtime context with the graph builder's defaults.

    Args:
        given: ``runtime.context``: a :class:`WorkflowContext`, a mapping (Studio
            may send JSON) or ``None``.
        defaults: Values bound when the graph was built (closure).

    Returns:
        A context whose ``client`` is always set.
    """
    ctx = defaults
    if isinstance(given, WorkflowContext):
        ctx = replace(
            defaults,
            **{k: v for k, v in vars(given).items() if v is not None},
        )
    elif isinstance(given, Mapping):
        known = {"client", "model", "on_event", "async_client_factory"}
        ctx = replace(defaults, **{k: v for k, v in given.items() if k in known and v})
    if ctx.client is None:
        ctx = replace(ctx, client=env_client())
    return ctx


def is_transient(exc: BaseException) -> bool:
    """Errors worth resuming after (rate limit, 5xx, network), as opposed to final answers."""
    return isinstance(exc, RateLimited | ServerError | ConnectionFailed)


S = TypeVar("S")

S_contra = TypeVar("S_contra", contravariant=True)

NodeFn = Callable[[S, WorkflowContext], dict[str, Any]]
"""A workflow node body: state + resolved context → partial update."""


class RuntimeNode(Protocol[S_contra]):
    """The LangGraph node :func:`instrument` returns (runtime injected by keyword)."""

    def __call__(self, state: S_contra, *, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
        """Run the node."""


def _client_requests(ctx: WorkflowContext) -> int:
    client = ctx.client
    return int(client.stats.requests) if client is not None else 0


def instrument(
    workflow: str,
    name: str,
    fn: NodeFn[S],
    defaults: WorkflowContext,
    *,
    first: bool = False,
) -> RuntimeNode[S]:
    """Wrap a node body with context resolution, progress events and bookkeeping.

    The wrapper keeps two running totals in the state (the graphs are linear, so
    plain overwrite is safe and a new run on the same thread starts afresh):
    ``steps`` (one line per node) and ``requests`` (HTTP requests sent). A node
    may report extra requests made by other clients (async reads) in the
    ``extra_requests`` key of its update.

    Non-transient Confluence errors become ``status="error"`` so the run ends
    with a typed result; transient ones propagate so a checkpointed run can be
    resumed later from the failed node.

    Args:
        workflow: Workflow name used in events.
        name: Node name.
        fn: The node body.
        defaults: Builder-level defaults merged into the runtime context.
        first: The entry node: resets ``steps``/``requests`` for a fresh run.

    Returns:
        A LangGraph node function taking ``(state, runtime)``.
    """

    def node(state: S, *, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
        ctx = resolve_context(runtime.context, defaults)
        writer = runtime.stream_writer

        def emit(event: ProgressEvent) -> None:
            if ctx.on_event is not None:
                ctx.on_event(event)
            # The custom stream carries the same events for graph.stream() users.
            writer(event.model_dump())

        emit(ProgressEvent(workflow=workflow, node=name, phase="started"))
        before = _client_requests(ctx)
        try:
            update = fn(state, ctx)
        except GraphBubbleUp:
            emit(
                ProgressEvent(
                    workflow=workflow,
                    node=name,
                    phase="interrupted",
                    detail="waiting for approval",
                    requests=_client_requests(ctx) - before,
                )
            )
            raise
        except ConfluenceError as exc:
            used = _client_requests(ctx) - before
            emit(
                ProgressEvent(
                    workflow=workflow, node=name, phase="failed", detail=str(exc), requests=used
                )
            )
            if is_transient(exc):
                raise
            update = {"status": "error", "error": f"{name}: {exc}", "step": f"{name}: {exc}"}
        except Exception as exc:
            emit(
                ProgressEvent(
                    workflow=workflow,
                    node=name,
                    phase="failed",
                    detail=f"{type(exc).__name__}: {exc}",
                    requests=_client_requests(ctx) - before,
                )
            )
            raise
        used = _client_requests(ctx) - before + int(update.pop("extra_requests", 0))
        step = str(update.pop("step", name))
        seen = cast(Mapping[str, Any], state)
        prior_steps: list[str] = [] if first else list(seen.get("steps") or [])
        prior_requests = 0 if first else int(seen.get("requests") or 0)
        update["steps"] = [*prior_steps, step]
        update["requests"] = prior_requests + used
        emit(
            ProgressEvent(
                workflow=workflow, node=name, phase="finished", detail=step, requests=used
            )
        )
        return update

    node.__name__ = name
    return node


# ------------------------------------------------------------------------------ graph


class _HasStatus(Protocol):
    def get(self, key: str, /) -> Any: ...


def linear_graph(
    state_schema: type[StateT],
    workflow: str,
    nodes: Sequence[tuple[str, NodeFn[StateT]]],
    defaults: WorkflowContext,
) -> StateGraph[StateT, WorkflowContext, StateT, StateT]:
    """Build a pipeline of instrumented nodes that ends as soon as one sets ``status``.

    Both workflows are linear: a node that sets ``status`` has produced the final
    answer (not found, ambiguous, covered, error…), so the run stops there.

    Args:
        state_schema: The graph's state ``TypedDict``.
        workflow: Workflow name used in progress events.
        nodes: ``(name, body)`` pairs in execution order.
        defaults: Builder-level defaults merged into the runtime context.

    Returns:
        The uncompiled ``StateGraph``.
    """
    builder: StateGraph[StateT, WorkflowContext, StateT, StateT] = StateGraph(
        state_schema, context_schema=WorkflowContext
    )
    for i, (name, fn) in enumerate(nodes):
        builder.add_node(name, instrument(workflow, name, fn, defaults, first=i == 0))
    builder.add_edge(START, nodes[0][0])
    for (name, _), (nxt, _) in itertools.pairwise(nodes):
        builder.add_conditional_edges(name, _stop_or(nxt), [nxt, END])
    builder.add_edge(nodes[-1][0], END)
    return builder


def _stop_or(nxt: str) -> Callable[[_HasStatus], str]:
    def route(state: _HasStatus) -> str:
        return END if state.get("status") else nxt

    return route


# ------------------------------------------------------------------------- LLM helpers


M = TypeVar("M", bound=BaseModel)


def structured_call(model: BaseChatModel, schema: type[M], messages: Sequence[BaseMessage]) -> M:
    """Ask ``model`` for an instance of ``schema`` (tool-calling structured output).

    Args:
        model: Chat model supporting ``with_structured_output``.
        schema: Pydantic model class; its name is the tool the model must call.
        messages: Prompt.

    Returns:
        The parsed instance.

    Raises:
        ValueError: The model did not return a usable ``schema`` object.
    """
    out = model.with_structured_output(schema).invoke(list(messages))
    if isinstance(out, schema):
        return out
    if isinstance(out, Mapping):
        return schema.model_validate(out)
    raise ValueError(f"model returned {type(out).__name__}, expected {schema.__name__}")


def content_text(message: BaseMessage) -> str:
    """Plain text of a chat message (content may be a list of blocks)."""
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


_HIGHLIGHT_RE = re.compile(r"@@@(?:end)?hl@@@")


def strip_highlight(text: str) -> str:
    """Remove Confluence search highlight markers (``@@@hl@@@``/``@@@endhl@@@``)."""
    return _HIGHLIGHT_RE.sub("", text)


def page_hit(hit: SearchResult) -> dict[str, Any] | None:
    """The fields the workflows use from a search hit, or ``None`` for non-page hits.

    Returns:
        ``id``, ``title``, ``excerpt`` (highlight markers removed), ``url`` and
        ``space_key``; JSON-native so it can live in checkpointed state.
    """
    content = hit.content
    hit_id = hit.id or (content.id if content else None)
    kind = (content.type if content else None) or hit.type
    if not hit_id or kind not in (None, "page"):
        return None
    return {
        "id": hit_id,
        "title": strip_highlight((content.title if content else None) or hit.title),
        "excerpt": strip_highlight(hit.excerpt or ""),
        "url": hit.url or hit.webui_url,
        "space_key": hit.space_key or (content.space_key if content else None),
    }


_FENCE_RE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


def strip_fences(text: str) -> str:
    """Remove one surrounding Markdown code fence (models like to wrap answers in one)."""
    match = _FENCE_RE.match(text)
    return (match.group(1) if match else text).strip()


T = TypeVar("T")


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code.

    Uses ``asyncio.run`` in this thread, or in a short-lived worker thread when
    this thread already runs an event loop (Jupyter, or a sync node invoked
    from async code), because a loop cannot be re-entered.

    Args:
        factory: Builds the coroutine (called in the thread that runs it).

    Returns:
        The coroutine's result; its exception propagates.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
