"""PRD audit workflow: make sure a page covers a topic, adding a section when it does not.

Graph (linear; every node may end the run early)::

    locate → read → assess → draft → review → write → verify

* ``locate``: page id, or CQL (built from the title, or the caller's, validated),
  restricted to ``space_key`` when given.
  Several matches are ranked (exact title first); when that does not single one
  out the run stops with ``status="ambiguous"`` and the candidates, never guessing.
* ``read``: storage body and version.
* ``assess``: with a chat model, structured :class:`CoverageAssessment` whose
  quotes must be found on the page; without one (or when a "covered" claim has
  no such quote), the deterministic matcher
  (:mod:`confluence_agent.workflows.matching`).
* ``draft``: section Markdown from the model, the caller, or a template; the
  proposed body and a unified storage diff are computed locally (no request).
* ``review``: in ``apply`` mode with ``require_approval`` the run pauses with
  ``interrupt()``; resume with ``Command(resume={"approved": True})``.
* ``write``: :func:`confluence_agent.editing.safe_update` on the page ``read``
  returned (no second read; read version + 1). On a 409 the page is re-read and
  re-assessed: when someone else's edit now covers the topic the run ends
  ``covered`` without writing, otherwise the section is re-applied to the new
  version (at most ``max_conflict_retries`` times). Idempotent on resume: the
  append operation is a no-op when the section is already there, so a run
  killed after the PUT and resumed gets a 409 for its stale copy, re-reads, and
  records "already applied" instead of writing twice.
* ``verify``: re-read; the version moved, the section exists exactly once and
  the macro guard finds nothing lost.

Module-level ``graph`` (for ``langgraph.json``) is compiled without a
checkpointer and builds its client from the environment on first use.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from confluence_agent.workflows.common import (
    EventCallback,
    NodeFn,
    WorkflowContext,
    content_text,
    linear_graph,
    page_hit,
    run_client,
    strip_fences,
    structured_call,
)
from confluence_agent.workflows.cqlutil import page_search_cql, restrict_to_spaces
from confluence_agent.workflows.matching import match_topic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, StateSnapshot, interrupt
from pydantic import BaseModel, Field, model_validator

from confluence_agent import storage
from confluence_agent.client import ConfluenceClient
from confluence_agent.config import ConfluenceConfig
from confluence_agent.cql import format_problems
from confluence_agent.cql import validate as validate_cql
from confluence_agent.editing import EditConflict, EditOp, apply_ops, safe_update, storage_diff
from confluence_agent.models import Page, Version

__all__ = [
    "Candidate",
    "CoverageAssessment",
    "PrdAuditInput",
    "PrdAuditResult",
    "PrdAuditState",
    "PrdAuditStatus",
    "arun_prd_audit",
    "build_prd_audit_graph",
    "graph",
    "run_prd_audit",
]

WORKFLOW = "prd_audit"
Mode = Literal["check", "propose", "apply"]
PrdAuditStatus = Literal[
    "covered",
    "missing",
    "proposed",
    "applied",
    "ambiguous",
    "not_found",
    "rejected",
    "awaiting_approval",
    "error",
]
_MAX_PAGE_CHARS = 24_000  # prompt budget for the page text sent to a model
_MAX_CANDIDATES = 10


class PrdAuditInput(BaseModel):
    """What to audit and what to do about it.

    Exactly one way to find the page is needed: ``page_id``, ``title`` or ``cql``
    (``space_key`` narrows ``title``/``cql`` searches).

    Attributes:
        topic: What the page must cover, e.g. "Stripe webhook integration".
        page_id: Page id, when known (skips the search).
        title: Page title to look for.
        cql: Raw CQL selecting the page (validated before sending).
        space_key: Space to search in.
        section_title: Heading of the section to add (default: the topic).
        section_markdown: Section content in Markdown (default: model draft or template).
        mode: ``check`` (never writes), ``propose`` (draft + diff, no write) or
            ``apply`` (writes).
        require_approval: In ``apply`` mode pause for a human before writing.
        max_conflict_retries: Bound on re-read/re-apply cycles after a 409.
    """

    topic: str = Field(min_length=1)
    page_id: str | None = None
    title: str | None = None
    cql: str | None = None
    space_key: str | None = None
    section_title: str | None = None
    section_markdown: str | None = None
    mode: Mode = "check"
    require_approval: bool = False
    max_conflict_retries: int = Field(default=3, ge=0, le=10)

    @model_validator(mode="after")
    def _needs_locator(self) -> PrdAuditInput:
        if not (self.page_id or self.title or self.cql):
            raise ValueError("give page_id, title or cql to find the page")
        return self


class CoverageAssessment(BaseModel):
    """A model's judgement of whether the page covers the topic.

    Attributes:
        covered: The page already covers the topic.
        evidence: Verbatim quotes from the page supporting the judgement.
        missing_points: Aspects of the topic the page does not address.
    """

    covered: bool = Field(description="True if the page already covers the topic.")
    evidence: list[str] = Field(
        default_factory=list, description="Verbatim quotes from the page that cover the topic."
    )
    missing_points: list[str] = Field(
        default_factory=list, description="Aspects of the topic the page does not address."
    )


class Candidate(BaseModel):
    """A page that matched the locate query."""

    id: str
    title: str
    space_key: str | None = None
    url: str | None = None
    exact_title: bool = False


class PrdAuditResult(BaseModel):
    """Outcome of a PRD audit run.

    Attributes:
        status: What happened (see :data:`PrdAuditStatus`).
        mode: The mode the run used.
        topic: The topic audited.
        page_id: Page audited (``None`` when not found / ambiguous).
        title: Page title.
        url: Browser URL of the page.
        version_before: Version read.
        version_after: Version after the write (or the current one when unchanged).
        covered: Whether the topic was covered before the run.
        assessed_by: ``"model"``, ``"matcher"`` or ``"heading"`` (section already there).
        evidence: Quotes showing coverage.
        missing_points: What the page lacks.
        section_title: Heading of the proposed/added section.
        diff: Unified diff of the storage body (proposed or applied).
        candidates: Ranked matches (for ``ambiguous``/``not_found`` diagnosis).
        already_applied: The write was found done (resumed run), nothing re-sent.
        conflicts: Version conflicts absorbed by re-read/re-apply.
        verified: Verification outcome (``None`` when not applicable).
        problems: Verification problems.
        pending_approval: Interrupt payload while ``awaiting_approval``.
        request_count: HTTP requests sent by this run (resumed parts included).
        steps: One line per node executed.
        error: Error text when ``status="error"``.
        thread_id: Checkpoint thread, for resuming.
    """

    status: PrdAuditStatus
    mode: Mode
    topic: str
    page_id: str | None = None
    title: str | None = None
    url: str | None = None
    version_before: int | None = None
    version_after: int | None = None
    covered: bool | None = None
    assessed_by: str | None = None
    evidence: list[str] = Field(default_factory=list)
    missing_points: list[str] = Field(default_factory=list)
    section_title: str | None = None
    diff: str = ""
    candidates: list[Candidate] = Field(default_factory=list)
    already_applied: bool = False
    conflicts: int = 0
    verified: bool | None = None
    problems: list[str] = Field(default_factory=list)
    pending_approval: dict[str, Any] | None = None
    request_count: int = 0
    steps: list[str] = Field(default_factory=list)
    error: str | None = None
    thread_id: str | None = None


class PrdAuditState(TypedDict, total=False):
    """Checkpointed state. JSON-native on purpose (see module docstring of ``common``)."""

    request: dict[str, Any]
    status: str
    error: str | None
    candidates: list[dict[str, Any]]
    page_id: str
    title: str
    url: str | None
    version_before: int
    body: str
    covered: bool
    assessed_by: str
    evidence: list[str]
    missing_points: list[str]
    section_title: str
    section_markdown: str
    diff: str
    approved: bool
    already_applied: bool
    conflicts: int
    version_after: int | None
    verified: bool | None
    problems: list[str]
    steps: list[str]
    requests: int


def _req(state: Mapping[str, Any]) -> PrdAuditInput:
    return PrdAuditInput.model_validate(state["request"])


# ------------------------------------------------------------------------------ nodes


def _norm_title(title: str) -> str:
    return " ".join(title.lower().split())


def _locate(state: PrdAuditState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    client = _client(ctx)
    if req.page_id:
        return {"page_id": req.page_id, "step": f"locate: page id {req.page_id} given"}
    if req.cql:
        problems = validate_cql(req.cql)
        if any(p.severity == "error" for p in problems):
            return {
                "status": "error",
                "error": "invalid CQL:\n" + format_problems(problems),
                "step": "locate: invalid CQL",
            }
        cql = restrict_to_spaces(req.cql, [req.space_key] if req.space_key else [])
    else:
        cql = page_search_cql(title=req.title, space_keys=[req.space_key] if req.space_key else [])
    page = client.search(cql, limit=_MAX_CANDIDATES + 1)
    candidates: list[Candidate] = []
    for hit in page.results:
        found = page_hit(hit)
        if found is None:
            continue
        candidates.append(
            Candidate(
                id=found["id"],
                title=found["title"],
                space_key=found["space_key"],
                url=found["url"],
                exact_title=req.title is not None
                and _norm_title(found["title"]) == _norm_title(req.title),
            )
        )
    # Exact title first, then the server's relevance order (stable sort).
    candidates.sort(key=lambda c: not c.exact_title)
    dumped = [c.model_dump() for c in candidates[:_MAX_CANDIDATES]]
    if not candidates:
        return {"status": "not_found", "candidates": [], "step": f"locate: nothing for {cql}"}
    exact = [c for c in candidates if c.exact_title]
    chosen: Candidate | None = None
    if len(candidates) == 1:
        chosen = candidates[0]
    elif len(exact) == 1:
        chosen = exact[0]
    if chosen is None:
        names = ", ".join(f"{c.title!r} ({c.id})" for c in candidates[:5])
        return {
            "status": "ambiguous",
            "candidates": dumped,
            "step": f"locate: {len(candidates)} matches, not guessing: {names}",
        }
    return {
        "page_id": chosen.id,
        "candidates": dumped,
        "step": f"locate: {chosen.title!r} ({chosen.id}) among {len(candidates)} match(es)",
    }


def _client(ctx: WorkflowContext) -> ConfluenceClient:
    assert ctx.client is not None  # resolve_context guarantees it
    return ctx.client


def _read(state: PrdAuditState, ctx: WorkflowContext) -> dict[str, Any]:
    page = _client(ctx).get_page(state["page_id"], body_format="storage")
    return {
        "page_id": page.id,
        "title": page.title,
        "url": page.webui_url,
        "version_before": page.version.number,
        "body": page.body_storage or "",
        "step": f"read: {page.title!r} version {page.version.number}",
    }


def _section_title(req: PrdAuditInput) -> str:
    if req.section_title:
        return req.section_title.strip()
    heading = _leading_heading(req.section_markdown or "")
    if heading:
        return heading
    topic = req.topic.strip()
    return topic[:1].upper() + topic[1:]


_HEADING_RE = re.compile(r"^\s*#{1,6}\s+(.+?)\s*#*\s*$")


def _leading_heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        if not line.strip():
            continue
        match = _HEADING_RE.match(line)
        return match.group(1).strip() if match else None
    return None


def _drop_leading_heading(markdown: str) -> str:
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if _HEADING_RE.match(line):
            return "\n".join(lines[i + 1 :]).strip()
        break
    return markdown.strip()


def _count_sections(body: str, title: str) -> int:
    want = _norm_title(title)
    return sum(1 for s in storage.list_sections(body) if _norm_title(s.title) == want)


@dataclass(frozen=True)
class _Coverage:
    covered: bool
    evidence: list[str]
    missing: list[str]
    by: str


_QUOTE_NOISE_RE = re.compile(r"[*_`>#|]+")


def _norm_quote(text: str) -> str:
    # Compare quotes on words only: models quote the Markdown rendering (with
    # emphasis marks) or trim whitespace differently from the page text.
    return " ".join(_QUOTE_NOISE_RE.sub(" ", text).lower().split()).strip(" .…\"'")


def _coverage(
    req: PrdAuditInput, title: str, body: str, section_title: str, model: BaseChatModel | None
) -> _Coverage:
    """Whether ``body`` covers the topic: our heading, else the model, else the matcher.

    A model verdict of "covered" counts only with at least one quote found on the
    page: quotes that are not there are dropped, and a claim left without
    evidence is decided by the deterministic matcher instead.
    """
    if _count_sections(body, section_title):
        # The section this workflow adds is already there: covered, whatever
        # the wording; also what makes a second run a no-op without a model call.
        return _Coverage(True, [f"Heading: {section_title}"], [], "heading")
    headings = [s.title for s in storage.list_sections(body)]
    text = storage.to_text(body)
    if model is not None:
        verdict = structured_call(
            model,
            CoverageAssessment,
            [
                SystemMessage(
                    "You audit product requirement documents. Decide whether the page "
                    "covers the topic. Quote the page verbatim as evidence; list what is "
                    "missing. Answer with the CoverageAssessment tool."
                ),
                HumanMessage(
                    f"Topic: {req.topic}\n\nPage {title!r}:\n\n"
                    f"{storage.to_markdown(body)[:_MAX_PAGE_CHARS]}"
                ),
            ],
        )
        page_words = _norm_quote(text + " " + " ".join(headings))
        evidence = [q for q in verdict.evidence if _norm_quote(q) and _norm_quote(q) in page_words]
        if not verdict.covered or evidence:
            return _Coverage(verdict.covered, evidence, verdict.missing_points, "model")
    match = match_topic(req.topic, text, headings)
    missing = [f"no mention of {t!r}" for t in match.missing_terms] or (
        [] if match.covered else [f"no sentence covers {req.topic!r}"]
    )
    by = "matcher" if model is None else "matcher (model quoted nothing found on the page)"
    return _Coverage(match.covered, match.evidence, missing, by)


def _assess(state: PrdAuditState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    section_title = _section_title(req)
    found = _coverage(req, state["title"], state["body"], section_title, ctx.model)
    if found.by == "heading":
        step = f"assess: section {section_title!r} already present"
    else:
        step = f"assess ({found.by}): {'covered' if found.covered else 'missing'}"
    update: dict[str, Any] = {
        "covered": found.covered,
        "assessed_by": found.by,
        "section_title": section_title,
        "evidence": found.evidence,
        "missing_points": found.missing,
        "step": step,
    }
    if found.covered:
        update["status"] = "covered"
    elif req.mode == "check":
        update["status"] = "missing"
    return update


def _template(topic: str) -> str:
    # Offline fallback: a skeleton that names the topic so the gap is visible
    # and owners know what to fill in.
    return (
        f"This section covers **{topic}**. It was added by the PRD audit because the "
        f"document did not address it yet.\n\n"
        f"- **Scope:** what {topic} includes for this release.\n"
        f"- **Requirements:** functional and non-functional requirements.\n"
        f"- **Failure handling:** retries, idempotency and alerting.\n"
        f"- **Open questions:** to be resolved by the owners.\n"
    )


def _draft(state: PrdAuditState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    section_title = state.get("section_title") or _section_title(req)
    if req.section_markdown:
        markdown, source = _drop_leading_heading(req.section_markdown), "given"
    elif ctx.model is not None:
        reply = ctx.model.invoke(
            [
                SystemMessage(
                    "You write one section of a product requirements document in Markdown. "
                    "Return only the section content (no heading, no code fence)."
                ),
                HumanMessage(
                    f"Page: {state['title']}\nSection heading: {section_title}\n"
                    f"Topic to cover: {req.topic}\n"
                    f"Missing points: {'; '.join(state.get('missing_points') or []) or 'all'}\n\n"
                    f"Existing page (Markdown, for context):\n"
                    f"{storage.to_markdown(state['body'])[:_MAX_PAGE_CHARS]}"
                ),
            ]
        )
        markdown, source = _drop_leading_heading(strip_fences(content_text(reply))), "model"
    else:
        markdown, source = _template(req.topic), "template"
    op = _op(section_title, markdown)
    result = apply_ops(state["body"], [op])
    diff = storage_diff(state["body"], result.body)
    update: dict[str, Any] = {
        "section_title": section_title,
        "section_markdown": markdown,
        "diff": diff,
        "step": f"draft ({source}): section {section_title!r}, {len(diff.splitlines())} diff lines",
    }
    if req.mode == "propose":
        update["status"] = "proposed"
    return update


def _op(section_title: str, markdown: str) -> EditOp:
    return EditOp(
        kind="append_section", title=section_title, content=markdown, content_format="markdown"
    )


def _review(state: PrdAuditState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    if not req.require_approval:
        return {"approved": True, "step": "review: approval not required"}
    # Nothing before interrupt() has side effects: this node re-runs on resume.
    decision = interrupt(
        {
            "question": f"Add section {state['section_title']!r} to {state['title']!r}?",
            "page_id": state["page_id"],
            "title": state["title"],
            "version": state["version_before"],
            "section_title": state["section_title"],
            "diff": state["diff"],
        }
    )
    approved = bool(decision.get("approved")) if isinstance(decision, Mapping) else decision is True
    update: dict[str, Any] = {
        "approved": approved,
        "step": f"review: {'approved' if approved else 'rejected'} by a human",
    }
    if not approved:
        update["status"] = "rejected"
    return update


def _write(state: PrdAuditState, ctx: WorkflowContext) -> dict[str, Any]:
    req = _req(state)
    client = _client(ctx)
    section_title = state["section_title"]
    op = _op(section_title, state["section_markdown"])
    # The page as ``read`` saw it, which the draft was made from: saves
    # safe_update's own read. On a resume (crash, approval) it may be stale;
    # then the PUT gets a 409 and safe_update re-reads, finding our earlier
    # write ("already applied", nothing sent) or reporting a newer page.
    base = _read_page(state)
    conflicts = 0
    while True:
        try:
            outcome = safe_update(
                client,
                state["page_id"],
                [op],
                read_version=base.version.number,
                on_conflict="report",
                message=f"PRD audit: add section {section_title!r}",
                current=base,
            )
            break
        except EditConflict as exc:
            conflicts += 1
            if conflicts > req.max_conflict_retries:
                return {
                    "conflicts": conflicts,
                    "status": "error",
                    "error": f"write: gave up after {conflicts} version conflict(s), "
                    f"nothing written: {exc}",
                    "step": f"write: {conflicts} conflict(s), gave up",
                }
            # Someone else changed the page: judge the new version afresh (it
            # may cover the topic now), and only then re-apply the section to it.
            base = client.get_page(state["page_id"], body_format="storage")
            found = _coverage(
                req, state["title"], base.body_storage or "", section_title, ctx.model
            )
            if found.covered:
                return {
                    "covered": True,
                    "assessed_by": found.by,
                    "evidence": found.evidence,
                    "missing_points": [],
                    "conflicts": conflicts,
                    "version_after": base.version.number,
                    "status": "covered",
                    "step": f"write: version {base.version.number} by someone else covers "
                    "the topic now, nothing sent",
                }
    conflicts += outcome.conflicts
    if outcome.changed:
        return {
            "version_after": outcome.new_version,
            "conflicts": conflicts,
            "already_applied": False,
            "diff": outcome.diff or state.get("diff", ""),
            "step": f"write: version {outcome.previous_version} → {outcome.new_version}"
            + (f" after {conflicts} conflict(s)" if conflicts else ""),
        }
    # No write needed: the section is there. On a resumed run that is our own
    # earlier write (page newer than what we read); otherwise someone added it.
    return {
        "version_after": outcome.new_version,
        "conflicts": conflicts,
        "already_applied": True,
        "step": f"write: already applied (page at version {outcome.new_version}), nothing sent",
    }


def _read_page(state: PrdAuditState) -> Page:
    """The page as the ``read`` node saw it, rebuilt from the checkpointed state."""
    return Page(
        id=state["page_id"],
        title=state["title"],
        version=Version(number=state["version_before"]),
        body_storage=state["body"],
    )


def _verify(state: PrdAuditState, ctx: WorkflowContext) -> dict[str, Any]:
    page = _client(ctx).get_page(state["page_id"], body_format="storage")
    after = page.body_storage or ""
    problems: list[str] = []
    before_version = state["version_before"]
    if page.version.number <= before_version:
        problems.append(f"version did not move: {before_version} → {page.version.number}")
    count = _count_sections(after, state["section_title"])
    if count != 1:
        problems.append(f"section {state['section_title']!r} present {count} times, expected 1")
    violations = storage.check_preserved(state["body"], after, (state["section_title"],))
    problems.extend(f"macro guard: {v}" for v in violations)
    ok = not problems
    return {
        "verified": ok,
        "problems": problems,
        "version_after": page.version.number,
        "status": "applied" if ok else "error",
        "error": None if ok else "verification failed: " + "; ".join(problems),
        "step": f"verify: {'ok' if ok else 'FAILED'} at version {page.version.number}",
    }


# ----------------------------------------------------------------------------- graph


def build_prd_audit_graph(
    *, client: ConfluenceClient | None = None, model: BaseChatModel | None = None
) -> StateGraph[PrdAuditState, WorkflowContext, PrdAuditState, PrdAuditState]:
    """Build the (uncompiled) PRD audit graph.

    Args:
        client: Default client when the runtime context has none (else env config).
        model: Default chat model when the runtime context has none.

    Returns:
        The ``StateGraph``; compile it with or without a checkpointer.
    """
    nodes: list[tuple[str, NodeFn[PrdAuditState]]] = [
        ("locate", _locate),
        ("read", _read),
        ("assess", _assess),
        ("draft", _draft),
        ("review", _review),
        ("write", _write),
        ("verify", _verify),
    ]
    return linear_graph(PrdAuditState, WORKFLOW, nodes, WorkflowContext(client=client, model=model))


# ---------------------------------------------------------------------------- running


def _result(values: Mapping[str, Any], thread_id: str | None) -> PrdAuditResult:
    req = _req(values)
    pending: dict[str, Any] | None = None
    interrupts = values.get("__interrupt__") or ()
    status = values.get("status")
    if interrupts:
        status = "awaiting_approval"
        value = interrupts[0].value
        pending = dict(value) if isinstance(value, Mapping) else {"value": value}
    return PrdAuditResult(
        status=status or "error",
        mode=req.mode,
        topic=req.topic,
        page_id=values.get("page_id"),
        title=values.get("title"),
        url=values.get("url"),
        version_before=values.get("version_before"),
        version_after=values.get("version_after") or values.get("version_before"),
        covered=values.get("covered"),
        assessed_by=values.get("assessed_by"),
        evidence=list(values.get("evidence") or []),
        missing_points=list(values.get("missing_points") or []),
        section_title=values.get("section_title"),
        diff=values.get("diff") or "",
        candidates=[Candidate.model_validate(c) for c in values.get("candidates") or []],
        already_applied=bool(values.get("already_applied")),
        conflicts=int(values.get("conflicts") or 0),
        verified=values.get("verified"),
        problems=list(values.get("problems") or []),
        pending_approval=pending,
        request_count=int(values.get("requests") or 0),
        steps=list(values.get("steps") or []),
        error=values.get("error")
        or (None if status else "the run stopped before producing a status"),
        thread_id=thread_id,
    )


def _graph_input(
    input: PrdAuditInput | Mapping[str, Any] | None, resume: Mapping[str, Any] | bool | None
) -> Any:
    """What to invoke the graph with, before looking at the checkpoint."""
    if resume is not None:
        return Command(resume=resume)
    if input is None:
        return None  # continue a checkpointed run (crash recovery)
    req = input if isinstance(input, PrdAuditInput) else PrdAuditInput.model_validate(input)
    return {"request": req.model_dump()}


def _against_checkpoint(
    graph_input: Any, snapshot: StateSnapshot | None
) -> tuple[Any, Mapping[str, Any] | None]:
    """Reconcile a new request with the thread's checkpoint (shared by sync and async).

    Args:
        graph_input: From :func:`_graph_input`.
        snapshot: The thread's state; ``None`` without a checkpointer.

    Returns:
        ``(graph input, state to report without running)``. Re-sending the
        request of an unfinished run resumes it (``None`` input) rather than
        starting over, or, while it waits for approval, reports it unchanged.
    """
    if snapshot is None or not isinstance(graph_input, dict):
        return graph_input, None
    if snapshot.next and snapshot.values.get("request") == graph_input["request"]:
        if snapshot.interrupts:
            # Same request still waiting for a human: report, do not restart.
            values = dict(snapshot.values)
            values["__interrupt__"] = snapshot.interrupts
            return None, values
        return None, None  # same request, unfinished: resume where it stopped
    return graph_input, None


def _needs_snapshot(graph_input: Any, checkpointer: BaseCheckpointSaver[Any] | None) -> bool:
    # Only a new request can collide with an unfinished run on the same thread.
    return checkpointer is not None and isinstance(graph_input, dict)


def _setup(
    checkpointer: BaseCheckpointSaver[Any] | None, thread_id: str | None
) -> tuple[
    CompiledStateGraph[PrdAuditState, WorkflowContext, PrdAuditState, PrdAuditState],
    str | None,
    RunnableConfig,
]:
    compiled = build_prd_audit_graph().compile(checkpointer=checkpointer)
    if checkpointer is not None and thread_id is None:
        thread_id = f"prd-audit-{uuid.uuid4().hex[:12]}"
    cfg: RunnableConfig = {"configurable": {"thread_id": thread_id}} if thread_id else {}
    return compiled, thread_id, cfg


def run_prd_audit(
    input: PrdAuditInput | Mapping[str, Any] | None = None,
    *,
    client: ConfluenceClient | None = None,
    config: ConfluenceConfig | None = None,
    model: BaseChatModel | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    on_event: EventCallback | None = None,
    resume: Mapping[str, Any] | bool | None = None,
) -> PrdAuditResult:
    """Run the PRD audit synchronously.

    Args:
        input: The request. ``None`` continues the checkpointed run ``thread_id``
            (after a crash); re-sending the same request on an unfinished thread
            resumes it too.
        client: Confluence client (else built from ``config`` or the environment).
        config: Connection settings used when ``client`` is ``None``.
        model: Optional chat model (else the offline matcher and template).
        checkpointer: Makes the run durable/resumable (e.g. ``SqliteSaver``).
        thread_id: Checkpoint thread (generated when a checkpointer is given).
        on_event: Progress callback.
        resume: Human decision for a paused run, e.g. ``{"approved": True}``.

    Returns:
        The typed result; ``status="awaiting_approval"`` while paused.
    """
    with run_client(client, config) as active:
        compiled, thread_id, cfg = _setup(checkpointer, thread_id)
        graph_input = _graph_input(input, resume)
        snapshot = compiled.get_state(cfg) if _needs_snapshot(graph_input, checkpointer) else None
        graph_input, ready = _against_checkpoint(graph_input, snapshot)
        if ready is not None:
            return _result(ready, thread_id)
        ctx = WorkflowContext(client=active, model=model, on_event=on_event)
        out = compiled.invoke(graph_input, cfg, context=ctx)
        return _result(out, thread_id)


async def arun_prd_audit(
    input: PrdAuditInput | Mapping[str, Any] | None = None,
    *,
    client: ConfluenceClient | None = None,
    config: ConfluenceConfig | None = None,
    model: BaseChatModel | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    on_event: EventCallback | None = None,
    resume: Mapping[str, Any] | bool | None = None,
) -> PrdAuditResult:
    """Async :func:`run_prd_audit` (nodes run in a worker thread; same arguments).

    Use an async-capable checkpointer (``AsyncSqliteSaver``, ``InMemorySaver``).
    """
    with run_client(client, config) as active:
        compiled, thread_id, cfg = _setup(checkpointer, thread_id)
        graph_input = _graph_input(input, resume)
        # aget_state: async savers refuse sync calls from the event loop thread.
        snapshot = (
            await compiled.aget_state(cfg) if _needs_snapshot(graph_input, checkpointer) else None
        )
        graph_input, ready = _against_checkpoint(graph_input, snapshot)
        if ready is not None:
            return _result(ready, thread_id)
        ctx = WorkflowContext(client=active, model=model, on_event=on_event)
        out = await compiled.ainvoke(graph_input, cfg, context=ctx)
        return _result(out, thread_id)


# Exported for langgraph.json: no checkpointer (the platform injects one) and no
# client until a node runs (then CONFLUENCE_* from the environment).
graph = build_prd_audit_graph().compile()
