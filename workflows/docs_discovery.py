"""Docs discovery workflow: answer a question from Confluence with cited rules.

Graph (linear)::

    build_query → search → rank → read → summarise → authors

* ``build_query``: CQL from the question's content words (stop-words removed)
  and the space filter, with the CQL builder. A chat model may propose CQL; it
  is validated locally (``confluence_agent.cql.validate``), sent back once with
  the problems for repair, and replaced by the builder's query if still invalid;
  the caller's spaces are then ANDed onto it (structurally, never by pasting).
* ``search``: one search request in the common case; paging is bounded.
* ``rank``: title match first, then term coverage of title + excerpt.
* ``read``: the top pages, concurrently (async client + ``asyncio.gather``).
* ``summarise``: a model answer with citations, or offline an extractive
  summary: list items and sentences from the sections matching the question,
  each cited as ``page title › section``.
* ``authors``: one bulk user lookup for every author/editor id.

The result is a typed :class:`Briefing` (Markdown plus structured fields).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from confluence_agent.workflows.common import (
    EventCallback,
    NodeFn,
    WorkflowContext,
    content_text,
    linear_graph,
    page_hit,
    run_client,
    run_coroutine,
    strip_fences,
    structured_call,
)
from confluence_agent.workflows.cqlutil import (
    question_terms,
    restrict_to_spaces,
    text_search_cql,
)
from confluence_agent.workflows.matching import split_sentences, stem, term_set
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from pydantic import BaseModel, Field

from confluence_agent import storage
from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.config import ConfluenceConfig
from confluence_agent.cql import format_problems, guidance_text
from confluence_agent.cql import validate as validate_cql
from confluence_agent.errors import InvalidCQL
from confluence_agent.models import Page

__all__ = [
    "Briefing",
    "BriefingAuthor",
    "BriefingPage",
    "Citation",
    "DiscoveryAnswer",
    "DocsDiscoveryInput",
    "DocsDiscoveryState",
    "Quote",
    "arun_docs_discovery",
    "build_docs_discovery_graph",
    "graph",
    "run_docs_discovery",
]

WORKFLOW = "docs_discovery"
_MAX_PAGE_CHARS = 12_000  # per page, in the model prompt


class DocsDiscoveryInput(BaseModel):
    """A question to answer from Confluence.

    Attributes:
        question: Natural-language question.
        spaces: Space keys to search (empty: everywhere the user can see).
        max_pages: Pages read and summarised.
        max_results: Bound on search hits fetched (paging stops there).
        page_size: Hits per search request.
        max_quotes: Quotes kept in the briefing.
    """

    question: str = Field(min_length=1)
    spaces: list[str] = Field(default_factory=list)
    max_pages: int = Field(default=3, ge=1, le=10)
    max_results: int = Field(default=25, ge=1, le=200)
    page_size: int = Field(default=25, ge=1, le=100)
    max_quotes: int = Field(default=12, ge=1, le=50)


class Quote(BaseModel):
    """A piece of a page supporting the answer.

    Attributes:
        text: The quoted text (Markdown inline formatting kept).
        page_id: Source page.
        page_title: Source page title.
        section: Section heading (``None``: before the first heading).
        url: Browser URL of the page.
        citation: ``"page title › section"``.
    """

    text: str
    page_id: str
    page_title: str
    section: str | None = None
    url: str | None = None
    citation: str


class BriefingPage(BaseModel):
    """A page the briefing was built from."""

    id: str
    title: str
    url: str | None = None
    space_key: str | None = None
    version: int
    author_id: str | None = None
    author: str | None = None
    last_editor_id: str | None = None
    last_editor: str | None = None
    score: float = 0.0


class BriefingAuthor(BaseModel):
    """A person resolved from an account id."""

    account_id: str
    display_name: str | None = None


class Briefing(BaseModel):
    """Answer to a docs question: Markdown plus structured fields.

    Attributes:
        question: The question.
        status: ``answered``, ``empty`` (no page matched) or ``error``.
        answer_markdown: The full briefing in Markdown (answer, quotes, sources).
        answer: The answer text alone (model) or a one-line extractive lead.
        summarised_by: ``"model"`` or ``"extractive"``.
        pages: Pages read, best first.
        authors: People resolved in one bulk lookup.
        quotes: Supporting quotes with citations.
        cql: The CQL that was sent.
        cql_source: ``"builder"``, ``"model"``, ``"model-repaired"`` or ``"fallback"``.
        cql_problems: Validation problems of a rejected model query.
        candidates: Search hits considered (id, title, score).
        request_count: HTTP requests sent.
        steps: One line per node.
        error: Error text when the run could not finish.
    """

    question: str
    status: str = "answered"
    answer_markdown: str = ""
    answer: str = ""
    summarised_by: str = "extractive"
    pages: list[BriefingPage] = Field(default_factory=list)
    authors: list[BriefingAuthor] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    cql: str = ""
    cql_source: str = "builder"
    cql_problems: str | None = None
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    request_count: int = 0
    steps: list[str] = Field(default_factory=list)
    error: str | None = None


class Citation(BaseModel):
    """One citation in a model answer."""

    quote: str = Field(description="Verbatim text from the page.")
    page_id: str = Field(description="Id of the page the quote comes from.")
    section: str | None = Field(default=None, description="Heading of the section quoted.")


class DiscoveryAnswer(BaseModel):
    """Structured answer requested from a chat model."""

    answer: str = Field(description="The answer in Markdown, citing pages as [n].")
    citations: list[Citation] = Field(default_factory=list)


class DocsDiscoveryState(TypedDict, total=False):
    """Checkpointed state (JSON-native)."""

    request: dict[str, Any]
    status: str
    error: str | None
    cql: str
    cql_source: str
    cql_problems: str | None
    hits: list[dict[str, Any]]
    ranked: list[dict[str, Any]]
    pages: list[dict[str, Any]]
    quotes: list[dict[str, Any]]
    answer: str
    summarised_by: str
    authors: dict[str, str | None]
    steps: list[str]
    requests: int


def _req(state: Mapping[str, Any]) -> DocsDiscoveryInput:
    return DocsDiscoveryInput.model_validate(state["request"])


def _stems(terms: Sequence[str]) -> set[str]:
    return {stem(t) for t in terms}


# ----------------------------------------------------------------------------- nodes


def _model_cql(model: BaseChatModel, req: DocsDiscoveryInput, fallback: str) -> dict[str, Any]:
    spaces = ", ".join(req.spaces) or "any"
    messages: list[Any] = [
        SystemMessage(
            "Write one Confluence CQL query that finds pages answering the question. "
            "Reply with the query only.\n\n" + guidance_text()
        ),
        HumanMessage(f"Question: {req.question}\nSpaces: {spaces}"),
    ]
    first = strip_fences(content_text(model.invoke(messages))).strip()
    problems = [p for p in validate_cql(first) if p.severity == "error"]
    if not problems:
        return {"cql": first, "cql_source": "model", "cql_problems": None}
    report = format_problems(problems)
    messages += [
        HumanMessage(f"That query is invalid:\n{report}\nReply with a corrected query only.")
    ]
    second = strip_fences(content_text(model.invoke(messages))).strip()
    if not [p for p in validate_cql(second) if p.severity == "error"]:
        return {"cql": second, "cql_source": "model-repaired", "cql_problems": report}
    return {"cql": fallback, "cql_source": "fallback", "cql_problems": report}


def _build_query(state: DocsDiscoveryState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    terms = question_terms(req.question)
    built = text_search_cql(terms, space_keys=req.spaces)
    if ctx.model is None:
        update: dict[str, Any] = {"cql": built, "cql_source": "builder", "cql_problems": None}
    else:
        update = _model_cql(ctx.model, req, built)
        # The caller's space restriction is a rule, not a hint: enforced on
        # whatever the model wrote (the builder's query has it already).
        update["cql"] = restrict_to_spaces(update["cql"], req.spaces)
    update["step"] = f"build_query ({update['cql_source']}): {update['cql']}"
    return update


def _search(state: DocsDiscoveryState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    assert ctx.client is not None
    hits: list[dict[str, Any]] = []
    cursor: str | None = None
    try:
        while len(hits) < req.max_results:
            page = ctx.client.search(
                state["cql"], limit=min(req.page_size, req.max_results - len(hits)), cursor=cursor
            )
            hits += [h for h in map(page_hit, page.results) if h is not None]
            cursor = page.next_cursor
            if not cursor or not page.results:
                break
    except InvalidCQL as exc:
        return {"status": "error", "error": f"search: {exc}", "step": f"search: {exc}"}
    return {"hits": hits, "step": f"search: {len(hits)} hit(s)"}


# Excerpts may carry inline emphasis markup around the matched words.
_TAG_RE = re.compile(r"</?(?:b|em|strong|span)[^>]*>")


def _rank(state: DocsDiscoveryState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    wanted = _stems(question_terms(req.question))
    ranked: list[dict[str, Any]] = []
    for hit in state.get("hits") or []:
        title_terms = term_set(hit["title"])
        excerpt_terms = term_set(_TAG_RE.sub("", hit.get("excerpt") or ""))
        title_cov = len(wanted & title_terms) / len(wanted) if wanted else 0.0
        text_cov = len(wanted & (title_terms | excerpt_terms)) / len(wanted) if wanted else 0.0
        # Title coverage dominates (a page *about* the subject beats one that
        # mentions it); shorter titles win ties (the canonical page, not a copy).
        score = round(3 * title_cov + text_cov - 0.01 * len(title_terms), 4)
        ranked.append({**hit, "score": score})
    ranked.sort(key=lambda h: h["score"], reverse=True)
    if not ranked:
        return {"ranked": [], "status": "empty", "step": "rank: nothing to rank"}
    top = ", ".join(f"{h['title']!r} ({h['score']})" for h in ranked[:3])
    return {"ranked": ranked, "step": f"rank: {top}"}


async def _read_all(ctx: WorkflowContext, ids: Sequence[str]) -> tuple[list[Page], int]:
    assert ctx.client is not None
    factory = ctx.async_client_factory
    aclient = factory() if factory is not None else AsyncConfluenceClient(config=ctx.client.config)
    async with aclient:
        pages = await asyncio.gather(*(aclient.get_page(i, body_format="storage") for i in ids))
        return list(pages), int(aclient.stats.requests)


def _read(state: DocsDiscoveryState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    top = (state.get("ranked") or [])[: req.max_pages]
    pages, used = run_coroutine(lambda: _read_all(ctx, [h["id"] for h in top]))
    by_id = {h["id"]: h for h in top}
    out = [
        {
            "id": p.id,
            "title": p.title,
            "url": p.webui_url or by_id.get(p.id, {}).get("url"),
            "space_key": by_id.get(p.id, {}).get("space_key"),
            "version": p.version.number,
            "author_id": p.author_id or p.version.author_id,
            "last_editor_id": p.version.author_id,
            "score": by_id.get(p.id, {}).get("score", 0.0),
            "body": p.body_storage or "",
        }
        for p in pages
    ]
    return {
        "pages": out,
        "extra_requests": used,
        "step": f"read: {len(out)} page(s) concurrently",
    }


_LIST_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*\S)\s*$")


def _own_storage(body: str, start: int, end: int, children: Sequence[storage.Section]) -> str:
    """``body[start:end]`` without the spans of ``children`` (sections inside it)."""
    parts: list[str] = []
    at = start
    for child in children:
        parts.append(body[at : child.start])
        at = max(at, child.end)
    parts.append(body[at:end])
    return "".join(parts)


def _section_chunks(body: str) -> list[tuple[str | None, str]]:
    """(heading, own storage) pairs in document order, each chunk well-formed XHTML.

    A section's own part is its span minus the spans of its direct subsections,
    which get chunks of their own. Section spans from the storage package's
    section model always cover whole sibling blocks, so cutting them out leaves
    well-formed storage, also when a subsection sits in an ``ac:layout`` cell
    (the layout's skeleton and any text of its cells before their first heading
    stay with the enclosing section). Slicing from a heading to the next
    heading's start would cut through the layout.
    """
    sections = storage.list_sections(body)  # document order
    # Spans nest or are disjoint, so one pass with a stack of open sections finds
    # each section's direct parent (index -1: the body itself).
    children: dict[int, list[storage.Section]] = {-1: []}
    open_: list[storage.Section] = []
    for section in sections:
        while open_ and not open_[-1].contains(section):
            open_.pop()
        children[open_[-1].index if open_ else -1].append(section)
        children[section.index] = []
        open_.append(section)

    chunks: list[tuple[str | None, str]] = []
    preamble = _own_storage(body, 0, len(body), children[-1])
    if preamble.strip():
        chunks.append((None, preamble))
    for section in sections:
        own = _own_storage(body, section.heading_end, section.end, children[section.index])
        chunks.append((section.title, own))
    return chunks


def _extract(
    page: Mapping[str, Any], wanted: set[str], limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """Scored quotes from one page: list items and sentences from matching sections."""
    found: list[tuple[int, dict[str, Any]]] = []
    for heading, chunk in _section_chunks(page["body"]):
        markdown = storage.to_markdown(chunk)
        items, prose = [], []
        for line in markdown.splitlines():
            match = _LIST_RE.match(line)
            if match:
                items.append(match.group(1))
            elif line.strip() and not line.lstrip().startswith(("|", "#", "```", ">")):
                prose.append(line.strip())
        heading_hits = len(wanted & term_set(heading)) if heading else 0
        candidates: list[tuple[int, str]] = []
        if heading_hits:
            # A section *named* after the question: its list items are the rules.
            candidates += [(10 + heading_hits, item) for item in items]
            if not items:
                candidates += [
                    (5 + heading_hits, s)
                    for s in split_sentences(" ".join(prose))
                    if wanted & term_set(s)
                ]
        else:
            need = 2 if len(wanted) > 1 else 1
            for text in items + split_sentences(" ".join(prose)):
                hits = len(wanted & term_set(text))
                if hits >= need:
                    candidates.append((hits, text))
        citation = f"{page['title']} › {heading}" if heading else page["title"]
        for score, text in candidates:
            found.append(
                (
                    score,
                    {
                        "text": text,
                        "page_id": page["id"],
                        "page_title": page["title"],
                        "section": heading,
                        "url": page.get("url"),
                        "citation": citation,
                    },
                )
            )
    found.sort(key=lambda f: f[0], reverse=True)
    return found[:limit]


def _summarise(state: DocsDiscoveryState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    pages = state.get("pages") or []
    if ctx.model is not None:
        return _model_summary(ctx.model, req, pages)
    wanted = _stems(question_terms(req.question))
    quotes: list[dict[str, Any]] = []
    for rank, page in enumerate(pages):
        per_page = _extract(page, wanted, req.max_quotes)
        # Best page first; lower-ranked pages only add strong matches.
        quotes += [q for score, q in per_page if rank == 0 or score >= 10]
    quotes = quotes[: req.max_quotes]
    sources = list(dict.fromkeys(q["page_title"] for q in quotes))
    lead = (
        f"{len(quotes)} passage(s) answer this; the main source is **{sources[0]}**."
        if quotes
        else "The pages found do not contain a matching passage."
    )
    return {
        "quotes": quotes,
        "answer": lead,
        "summarised_by": "extractive",
        "step": f"summarise (extractive): {len(quotes)} quote(s)",
    }


def _model_summary(
    model: BaseChatModel, req: DocsDiscoveryInput, pages: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    context = "\n\n".join(
        f"<page id={p['id']!r} title={p['title']!r}>\n"
        f"{storage.to_markdown(p['body'])[:_MAX_PAGE_CHARS]}\n</page>"
        for p in pages
    )
    result = structured_call(
        model,
        DiscoveryAnswer,
        [
            SystemMessage(
                "Answer the question from the Confluence pages only. Quote the rules "
                "verbatim in citations with the page id and section heading. Use the "
                "DiscoveryAnswer tool."
            ),
            HumanMessage(f"Question: {req.question}\n\n{context}"),
        ],
    )
    by_id = {p["id"]: p for p in pages}
    quotes = []
    for c in result.citations:
        page = by_id.get(c.page_id)
        if page is None:
            continue  # a citation to a page we did not read is not evidence
        quotes.append(
            {
                "text": c.quote,
                "page_id": page["id"],
                "page_title": page["title"],
                "section": c.section,
                "url": page.get("url"),
                "citation": f"{page['title']} › {c.section}" if c.section else page["title"],
            }
        )
    return {
        "quotes": quotes[: req.max_quotes],
        "answer": result.answer,
        "summarised_by": "model",
        "step": f"summarise (model): {len(quotes)} citation(s)",
    }


def _authors(state: DocsDiscoveryState, ctx: WorkflowContext) -> dict[str, Any]:
    assert ctx.client is not None
    ids: list[str] = []
    for page in state.get("pages") or []:
        for key in ("author_id", "last_editor_id"):
            if page.get(key) and page[key] not in ids:
                ids.append(page[key])
    names: dict[str, str | None] = dict.fromkeys(ids)
    if ids:
        for user in ctx.client.get_users(ids):
            names[user.account_id] = user.display_name or user.public_name
    return {
        "authors": names,
        "status": "answered",
        "step": f"authors: {len(ids)} resolved in one request",
    }


# ----------------------------------------------------------------------------- graph


def build_docs_discovery_graph(
    *, client: ConfluenceClient | None = None, model: BaseChatModel | None = None
) -> StateGraph[DocsDiscoveryState, WorkflowContext, DocsDiscoveryState, DocsDiscoveryState]:
    """Build the (uncompiled) docs discovery graph.

    Args:
        client: Default client when the runtime context has none (else env config).
        model: Default chat model when the runtime context has none.

    Returns:
        The ``StateGraph``; compile it with or without a checkpointer.
    """
    nodes: list[tuple[str, NodeFn[DocsDiscoveryState]]] = [
        ("build_query", _build_query),
        ("search", _search),
        ("rank", _rank),
        ("read", _read),
        ("summarise", _summarise),
        ("authors", _authors),
    ]
    return linear_graph(
        DocsDiscoveryState, WORKFLOW, nodes, WorkflowContext(client=client, model=model)
    )


# ---------------------------------------------------------------------------- running


def _markdown(
    question: str, answer: str, quotes: Sequence[Quote], pages: Sequence[BriefingPage]
) -> str:
    lines = [f"## {question}", ""]
    if answer:
        lines += [answer, ""]
    if quotes:
        order = [p.id for p in pages]
        current: str | None = None
        for q in quotes:
            if q.citation != current:
                # One sub-heading per cited section keeps the rules readable.
                n = order.index(q.page_id) + 1 if q.page_id in order else 0
                if current is not None:
                    lines.append("")
                lines += [f"**{q.citation}**" + (f" [{n}]" if n else ""), ""]
                current = q.citation
            lines.append(f"- {q.text}")
        lines.append("")
    if pages:
        lines += ["### Sources", ""]
        for i, p in enumerate(pages, 1):
            link = f"[{p.title}]({p.url})" if p.url else p.title
            who = f", by {p.author or p.author_id}" if (p.author or p.author_id) else ""
            edited = (
                f", last edited by {p.last_editor or p.last_editor_id}"
                if p.last_editor_id and p.last_editor_id != p.author_id
                else ""
            )
            lines.append(f"{i}. {link} (version {p.version}{who}{edited})")
    return "\n".join(lines).rstrip() + "\n"


def _briefing(values: Mapping[str, Any]) -> Briefing:
    req = _req(values)
    names: Mapping[str, str | None] = values.get("authors") or {}
    pages = [
        BriefingPage(
            id=p["id"],
            title=p["title"],
            url=p.get("url"),
            space_key=p.get("space_key"),
            version=p["version"],
            author_id=p.get("author_id"),
            author=names.get(p.get("author_id") or ""),
            last_editor_id=p.get("last_editor_id"),
            last_editor=names.get(p.get("last_editor_id") or ""),
            score=p.get("score", 0.0),
        )
        for p in values.get("pages") or []
    ]
    quotes = [Quote.model_validate(q) for q in values.get("quotes") or []]
    answer = values.get("answer") or ""
    status = values.get("status")
    error = values.get("error")
    if status == "empty":
        answer = answer or "No pages matched the question."
    return Briefing(
        question=req.question,
        status=status or ("error" if error else "answered"),
        answer_markdown=_markdown(req.question, answer, quotes, pages),
        answer=answer,
        summarised_by=values.get("summarised_by") or "extractive",
        pages=pages,
        authors=[BriefingAuthor(account_id=k, display_name=v) for k, v in names.items()],
        quotes=quotes,
        cql=values.get("cql") or "",
        cql_source=values.get("cql_source") or "builder",
        cql_problems=values.get("cql_problems"),
        candidates=[
            {"id": h["id"], "title": h["title"], "score": h.get("score")}
            for h in values.get("ranked") or []
        ],
        request_count=int(values.get("requests") or 0),
        steps=list(values.get("steps") or []),
        error=error,
    )


def _setup(
    input: DocsDiscoveryInput | Mapping[str, Any] | str,
    checkpointer: BaseCheckpointSaver[Any] | None,
    thread_id: str | None,
) -> tuple[DocsDiscoveryState, RunnableConfig]:
    if isinstance(input, str):
        req = DocsDiscoveryInput(question=input)
    elif isinstance(input, DocsDiscoveryInput):
        req = input
    else:
        req = DocsDiscoveryInput.model_validate(input)
    if checkpointer is not None and thread_id is None:
        thread_id = f"docs-discovery-{uuid.uuid4().hex[:12]}"
    cfg: RunnableConfig = {"configurable": {"thread_id": thread_id}} if thread_id else {}
    return DocsDiscoveryState(request=req.model_dump()), cfg


def run_docs_discovery(
    input: DocsDiscoveryInput | Mapping[str, Any] | str,
    *,
    client: ConfluenceClient | None = None,
    config: ConfluenceConfig | None = None,
    model: BaseChatModel | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    on_event: EventCallback | None = None,
) -> Briefing:
    """Answer a question from Confluence (sync).

    Args:
        input: The request, or just the question text.
        client: Confluence client (else built from ``config`` or the environment).
        config: Connection settings used when ``client`` is ``None``.
        model: Optional chat model (else builder CQL and extractive summary).
        checkpointer: Optional checkpointer.
        thread_id: Checkpoint thread (generated when a checkpointer is given).
        on_event: Progress callback.

    Returns:
        The briefing.
    """
    with run_client(client, config) as active:
        payload, cfg = _setup(input, checkpointer, thread_id)
        compiled = build_docs_discovery_graph().compile(checkpointer=checkpointer)
        ctx = WorkflowContext(client=active, model=model, on_event=on_event)
        return _briefing(compiled.invoke(payload, cfg, context=ctx))


async def arun_docs_discovery(
    input: DocsDiscoveryInput | Mapping[str, Any] | str,
    *,
    client: ConfluenceClient | None = None,
    config: ConfluenceConfig | None = None,
    model: BaseChatModel | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    on_event: EventCallback | None = None,
) -> Briefing:
    """Async :func:`run_docs_discovery` (same arguments)."""
    with run_client(client, config) as active:
        payload, cfg = _setup(input, checkpointer, thread_id)
        compiled = build_docs_discovery_graph().compile(checkpointer=checkpointer)
        ctx = WorkflowContext(client=active, model=model, on_event=on_event)
        return _briefing(await compiled.ainvoke(payload, cfg, context=ctx))


# Exported for langgraph.json (no checkpointer; env client on first use).
graph = build_docs_discovery_graph().compile()
