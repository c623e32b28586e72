"""Safe page editing: the one place where ``confluence_agent`` changes a page.

The update tool, the workflows, the CLI audit and the MCP server all go through
:func:`safe_update` / :func:`asafe_update`, so the rules below hold everywhere:

* Edits are *operations* (:class:`EditOp`) applied to the page's **current**
  storage body, never a body the caller rendered from an older read.
* The write sends ``current version + 1`` (Confluence's optimistic lock), so a
  concurrent human edit is detected by the server (409) instead of overwritten.
* The macro guard (:func:`confluence_agent.storage.guard_edit`) refuses a body
  that loses or alters macros, mentions, images or links, unless the caller
  explicitly allows the loss. Sections an op appends to are exempt; a replaced
  section is not (its protected elements must survive in the new content).
* Operations are idempotent: appending a section that already exists, or
  replacing a section with the content it already has, changes nothing, so no
  request is sent and ``changed=False`` is returned.
* On a conflict (409, or a page newer than the version the caller read) the
  policy is either ``"reapply"`` (re-read, re-apply the operations, bounded) or
  ``"report"`` (raise :class:`EditConflict`, a :class:`VersionConflict` carrying
  the current version and a short summary of what changed).

Sync and async share one core: :func:`update_flow` is a generator that yields
the reads and writes it needs (the pattern of :mod:`confluence_agent._core`);
:func:`safe_update` and :func:`asafe_update` only drive it, with
:func:`drive_steps` / :func:`adrive_steps`, which the tools use for their own
flows too (they ``yield from`` :func:`update_flow`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from confluence_agent import storage
from confluence_agent.errors import ConfluenceError, VersionConflict
from confluence_agent.models import Page
from confluence_agent.storage import EditResult

if TYPE_CHECKING:
    from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient

__all__ = [
    "EditConflict",
    "EditOp",
    "OnConflict",
    "UpdateOutcome",
    "adrive_steps",
    "apply_ops",
    "asafe_update",
    "content_to_storage",
    "drive_steps",
    "safe_update",
    "storage_diff",
    "summarize_change",
    "update_flow",
]

OnConflict = Literal["reapply", "report"]

_OP_KINDS = ("append_section", "insert_after_section", "replace_section", "replace_body")


def _drop_description(schema: dict[str, Any]) -> None:
    schema.pop("description", None)


class EditOp(BaseModel):
    """One edit operation applied to a page's current storage body.

    Attributes:
        kind: ``append_section`` (add a section at the end, or inside ``parent``;
            no-op if a section with ``title`` already exists),
            ``insert_after_section`` (add section ``title`` right after the
            existing section ``after``), ``replace_section`` (replace the
            content under heading ``title``, keeping the heading) or
            ``replace_body`` (replace the whole body; the macro guard still
            applies to everything).
        title: Section heading for append/insert/replace_section.
        after: Existing heading to insert after (``insert_after_section``).
        parent: Append inside this section (``append_section``), optional.
        content: The new content, Markdown or storage XHTML.
        content_format: Format of ``content``.
        level: Heading level (1-6) for new sections.
    """

    # The docstring is for developers; models read the per-field descriptions.
    # Keeping it out of the JSON schema saves its tokens in every tool call.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_description)

    kind: Literal["append_section", "insert_after_section", "replace_section", "replace_body"] = (
        Field(description="Operation: " + ", ".join(_OP_KINDS) + ".")
    )
    title: str | None = Field(
        default=None,
        description="Section heading text (required for append_section, "
        "insert_after_section and replace_section).",
    )
    after: str | None = Field(
        default=None,
        description="insert_after_section only: the existing heading to insert after.",
    )
    parent: str | None = Field(
        default=None,
        description="append_section only: append inside this existing section instead of "
        "at the end of the page.",
    )
    content: str = Field(
        description="New content for the section (without its heading) or the whole body."
    )
    content_format: Literal["markdown", "storage"] = Field(
        default="markdown",
        description="'markdown' (converted to storage XHTML) or 'storage' (Confluence "
        "storage XHTML, used verbatim; needed to write macros).",
    )
    level: int = Field(default=2, ge=1, le=6, description="Heading level for a new section.")


class UpdateOutcome(BaseModel):
    """What :func:`safe_update` did.

    Attributes:
        page_id: The page edited.
        title: Page title.
        previous_version: Version the operations were applied to.
        new_version: Version after the call (equal to ``previous_version`` when
            nothing changed).
        changed: Whether a write happened.
        attempts: Versions of the page the operations were applied to: the
            first read (or the caller's ``current`` copy), plus one per re-read.
        conflicts: Conflicts seen (409s, or the page being newer than ``read_version``).
        diff: Unified diff of the storage body (empty when unchanged).
        edited_sections: Headings of the sections the operations touched.
        page: The page as returned by the write (or the read, when unchanged).
    """

    page_id: str
    title: str
    previous_version: int
    new_version: int
    changed: bool
    attempts: int
    conflicts: int
    diff: str
    edited_sections: tuple[str, ...] = ()
    page: Page | None = None


class EditConflict(VersionConflict):
    """The page changed since the caller read it; nothing was written.

    A :class:`~confluence_agent.errors.VersionConflict` with enough context for
    an LLM (or a person) to re-read and retry.

    Attributes:
        page_id: The page.
        read_version: The version the caller based the edit on.
        summary: Short human-readable description of what changed.
    """

    def __init__(
        self,
        message: str,
        *,
        page_id: str,
        read_version: int | None,
        current_version: int | None,
        attempted_version: int | None,
        summary: str,
    ) -> None:
        super().__init__(
            message, current_version=current_version, attempted_version=attempted_version
        )
        self.page_id = page_id
        self.read_version = read_version
        self.summary = summary


# --------------------------------------------------------------------------- pure


def content_to_storage(content: str, content_format: Literal["markdown", "storage"]) -> str:
    """Return ``content`` as storage XHTML.

    Markdown is converted with :func:`confluence_agent.storage.markdown_to_storage`;
    storage is validated with :func:`confluence_agent.storage.parse_storage` so a
    malformed fragment fails here (``StorageFormatError``) instead of at the server.
    """
    if content_format == "markdown":
        return storage.markdown_to_storage(content)
    storage.parse_storage(content)
    return content


def _require(value: str | None, what: str, kind: str) -> str:
    if not value:
        raise ValueError(f"{kind} needs '{what}'")
    return value


def _apply_one(body: str, op: EditOp) -> EditResult:
    content = content_to_storage(op.content, op.content_format)
    if op.kind == "append_section":
        return storage.append_section(
            body,
            _require(op.title, "title", op.kind),
            content,
            level=op.level,
            parent=op.parent,
        )
    if op.kind == "insert_after_section":
        return storage.insert_after_section(
            body,
            _require(op.after, "after", op.kind),
            _require(op.title, "title", op.kind),
            content,
            level=op.level,
        )
    if op.kind == "replace_section":
        return storage.replace_section(body, _require(op.title, "title", op.kind), content)
    # replace_body: no section is "edited" from the guard's point of view, so
    # every preserved element of the old body must survive (or allow_loss).
    return EditResult(body=content, changed=content != body, edited_sections=())


def apply_ops(body: str, ops: Sequence[EditOp]) -> EditResult:
    """Apply ``ops`` in order to a storage ``body`` (pure, no I/O).

    Args:
        body: Current storage XHTML.
        ops: Operations to apply.

    Returns:
        The combined result: final body, whether anything changed and the union
        of edited section titles (in first-touched order).

    Raises:
        ValueError: An operation lacks a required field.
        confluence_agent.storage.SectionNotFoundError: A target heading is missing.
        confluence_agent.storage.StorageFormatError: Storage content is malformed.
    """
    return _apply(body, ops)[0]


def _apply(body: str, ops: Sequence[EditOp]) -> tuple[EditResult, tuple[str, ...]]:
    """``apply_ops`` plus the sections the macro guard may ignore.

    Only sections an op *adds to* (append/insert: new sections, or the
    ``parent`` receiving one) are exempt. ``replace_section`` is deliberately not
    exempt: protected elements of the replaced section must reappear in the new
    content, so a Markdown rewrite cannot silently drop a Jira or status macro;
    ``replace_body`` exempts nothing.
    """
    current = body
    changed = False
    edited: list[str] = []
    exempt: list[str] = []
    for op in ops:
        result = _apply_one(current, op)
        current = result.body
        changed = changed or result.changed
        for title in result.edited_sections:
            if title not in edited:
                edited.append(title)
            if op.kind in ("append_section", "insert_after_section") and title not in exempt:
                exempt.append(title)
    # Report "changed" on the actual bytes: a sequence of ops can cancel out.
    combined = EditResult(
        body=current, changed=changed and current != body, edited_sections=tuple(edited)
    )
    return combined, tuple(exempt)


_TAG_BOUNDARY = re.compile(r">\s*<")


def _diff_lines(body: str) -> list[str]:
    # Storage is often a single line; break at tag boundaries so the diff shows
    # which elements changed rather than one giant replaced line.
    return _TAG_BOUNDARY.sub(">\n<", body).splitlines()


def storage_diff(before: str, after: str, *, context: int = 2) -> str:
    """Unified diff between two storage bodies, one element per line.

    Args:
        before: Old storage XHTML.
        after: New storage XHTML.
        context: Lines of context around each change.

    Returns:
        The diff text, empty when the bodies are equal.
    """
    if before == after:
        return ""
    return "\n".join(
        difflib.unified_diff(
            _diff_lines(before),
            _diff_lines(after),
            fromfile="before",
            tofile="after",
            lineterm="",
            n=context,
        )
    )


def _section_map(body: str) -> dict[str, str]:
    try:
        sections = storage.list_sections(body)
    except (ValueError, storage.StorageFormatError):
        return {}
    return {s.title: body[s.heading_end : s.end] for s in sections}


def summarize_change(before: str, after: str) -> str:
    """Describe in one short paragraph how ``after`` differs from ``before``.

    Used in conflict reports so the caller knows what the other editor did.
    """
    if before == after:
        return "The body is unchanged (only metadata such as the title or labels changed)."
    old, new = _section_map(before), _section_map(after)
    parts: list[str] = []
    added = [t for t in new if t not in old]
    removed = [t for t in old if t not in new]
    modified = [t for t in new if t in old and new[t] != old[t]]
    if added:
        parts.append("sections added: " + ", ".join(repr(t) for t in added))
    if removed:
        parts.append("sections removed: " + ", ".join(repr(t) for t in removed))
    if modified:
        parts.append("sections changed: " + ", ".join(repr(t) for t in modified))
    diff = list(difflib.ndiff(_diff_lines(before), _diff_lines(after)))
    n_changed = sum(1 for line in diff if line[:2] in ("+ ", "- "))
    parts.append(f"storage lines changed: {n_changed}")
    return "; ".join(parts) + "."


def _version_info(page: Page) -> str:
    v = page.version
    bits = [f"version {v.number}"]
    if v.author_id:
        bits.append(f"by {v.author_id}")
    if v.created_at:
        bits.append(f"at {v.created_at.isoformat(timespec='minutes')}")
    if v.message:
        bits.append(f"message {v.message!r}")
    return " ".join(bits)


def _conflict(
    page_id: str,
    read_version: int | None,
    attempted_version: int | None,
    base_body: str | None,
    current: Page,
) -> EditConflict:
    current_body = current.body_storage or ""
    summary = (
        summarize_change(base_body, current_body)
        if base_body is not None
        else "The previous body could not be retrieved."
    )
    you = f"version {read_version}" if read_version is not None else "an older version"
    message = (
        f"Page {page_id} ({current.title!r}) changed since it was read: the edit was based on "
        f"{you}, the page is now at {_version_info(current)}. What changed: {summary} "
        f"Nothing was written."
    )
    return EditConflict(
        message,
        page_id=page_id,
        read_version=read_version,
        current_version=current.version.number,
        attempted_version=attempted_version,
        summary=summary,
    )


@dataclass(frozen=True)
class _Plan:
    """Decision for one attempt, computed from the page just read."""

    result: EditResult
    base: Page
    stale: bool  # the page is newer than the caller's read_version


def _plan(
    page_id: str, page: Page, ops: Sequence[EditOp], read_version: int | None, allow_loss: bool
) -> _Plan:
    if read_version is not None and read_version > page.version.number:
        # Not a conflict: the caller's number is from the future (usually +1 twice).
        raise ValueError(
            f"Page {page_id} is at version {page.version.number}, so it cannot have been read "
            f"at version {read_version}. Send version={page.version.number + 1} after "
            f"reading the current content."
        )
    body = page.body_storage or ""
    result, exempt = _apply(body, ops)
    stale = read_version is not None and page.version.number != read_version
    if result.changed and not allow_loss:
        # Guard only real writes: a no-op cannot lose anything.
        storage.guard_edit(body, result.body, exempt)
    return _Plan(result=result, base=page, stale=stale)


def _unchanged(page_id: str, plan: _Plan, attempts: int, conflicts: int) -> UpdateOutcome:
    page = plan.base
    return UpdateOutcome(
        page_id=page_id,
        title=page.title,
        previous_version=page.version.number,
        new_version=page.version.number,
        changed=False,
        attempts=attempts,
        conflicts=conflicts,
        diff="",
        edited_sections=plan.result.edited_sections,
        page=page,
    )


def _written(
    page_id: str, plan: _Plan, written: Page, attempts: int, conflicts: int
) -> UpdateOutcome:
    return UpdateOutcome(
        page_id=page_id,
        title=written.title or plan.base.title,
        previous_version=plan.base.version.number,
        new_version=written.version.number,
        changed=True,
        attempts=attempts,
        conflicts=conflicts,
        diff=storage_diff(plan.base.body_storage or "", plan.result.body),
        edited_sections=plan.result.edited_sections,
        page=written,
    )


def _check_args(on_conflict: str, max_conflict_retries: int) -> None:
    if on_conflict not in ("reapply", "report"):
        raise ValueError(f"on_conflict must be 'reapply' or 'report', not {on_conflict!r}")
    if max_conflict_retries < 0:
        raise ValueError("max_conflict_retries must be >= 0")


# ----------------------------------------------------------------------- one core


R_co = TypeVar("R_co", covariant=True)
T = TypeVar("T")


class Step(Protocol[R_co]):
    """One I/O step of a flow, performed with either client (same method names)."""

    def perform(self, client: ConfluenceClient) -> R_co:
        """Do the step with the sync client."""
        ...

    async def aperform(self, client: AsyncConfluenceClient) -> R_co:
        """Do the step with the async client."""
        ...


def drive_steps(flow: Generator[Step[Any], Any, T], client: ConfluenceClient) -> T:
    """Run a flow with the sync client: perform each step, send back its result.

    A failed step is thrown back into the flow, which decides whether it is
    expected (e.g. a 409 in :func:`update_flow`) or propagates.
    """
    try:
        step = next(flow)
        while True:
            try:
                result = step.perform(client)
            except Exception as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


async def adrive_steps(flow: Generator[Step[Any], Any, T], client: AsyncConfluenceClient) -> T:
    """Async twin of :func:`drive_steps`."""
    try:
        step = next(flow)
        while True:
            try:
                result = await step.aperform(client)
            except Exception as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


@dataclass(frozen=True)
class _Read:
    """Step: read the page's storage body (the current one, or an old ``version``)."""

    page_id: str
    version: int | None = None

    def perform(self, client: ConfluenceClient) -> Page:
        return client.get_page(self.page_id, body_format="storage", version=self.version)

    async def aperform(self, client: AsyncConfluenceClient) -> Page:
        return await client.get_page(self.page_id, body_format="storage", version=self.version)


@dataclass(frozen=True)
class _Write:
    """Step: ``PUT`` the new body at ``version`` (current + 1, the optimistic lock)."""

    page_id: str
    title: str
    body: str
    version: int
    message: str | None

    def perform(self, client: ConfluenceClient) -> Page:
        return client.update_page(
            self.page_id,
            title=self.title,
            body=self.body,
            version=self.version,
            message=self.message,
        )

    async def aperform(self, client: AsyncConfluenceClient) -> Page:
        return await client.update_page(
            self.page_id,
            title=self.title,
            body=self.body,
            version=self.version,
            message=self.message,
        )


_Flow = Generator[_Read | _Write, Page, UpdateOutcome]
"""The update loop: yields the I/O it needs, receives the page each step returns."""


def _check_current(page_id: str, current: Page | None) -> None:
    if current is None:
        return
    if current.id != page_id:
        raise ValueError(f"current is page {current.id}, not page {page_id}")
    if current.body_storage is None:
        # Applying the ops to an empty body would write a page without its content.
        raise ValueError("current must carry the storage body (read with body_format='storage')")


def _update_flow(
    page_id: str,
    ops: Sequence[EditOp],
    *,
    read_version: int | None,
    current: Page | None,
    on_conflict: OnConflict,
    allow_loss: bool,
    max_conflict_retries: int,
    message: str | None,
) -> _Flow:
    """The read → apply → write loop shared by :func:`safe_update` and :func:`asafe_update`.

    Written once, free of I/O: it yields :class:`_Read`/:class:`_Write` steps
    and receives the resulting :class:`Page` (or has the client's
    :class:`ConfluenceError` thrown in), like the client's operations in
    :mod:`confluence_agent._core`. The drivers below only perform the steps.
    """
    attempts = conflicts = 0
    # The caller's own copy is the base of the edit, exactly like a read_version.
    expected = read_version
    if expected is None and current is not None:
        expected = current.version.number
    given = current
    while True:
        attempts += 1
        speculative = given is not None
        if given is not None:
            page, given = given, None  # used once: every later attempt reads afresh
        else:
            page = yield _Read(page_id)
        plan = _plan(page_id, page, ops, expected, allow_loss)
        if not plan.result.changed:
            return _unchanged(page_id, plan, attempts, conflicts)
        if plan.stale:
            conflicts += 1
            if on_conflict == "report":
                base = yield from _body_at(page_id, expected, current)
                raise _conflict(page_id, expected, (expected or 0) + 1, base, page)
            # reapply: the ops were just applied to the newest body; go on.
        try:
            written = yield _Write(
                page_id,
                title=page.title,
                body=plan.result.body,
                version=page.version.number + 1,
                message=message,
            )
        except VersionConflict as exc:
            if speculative:
                # The caller's copy was older than the page: the server noticed
                # instead of our read. Read now and judge that page like a first
                # read against ``expected`` (already applied → nothing to write;
                # newer → a conflict, reapplied or reported), so the outcome is
                # the one a read-first call would have produced.
                conflicts = 0
                continue
            conflicts += 1
            if on_conflict == "report" or conflicts > max_conflict_retries:
                latest = yield _Read(page_id)
                raise _conflict(
                    page_id,
                    page.version.number,
                    exc.attempted_version or page.version.number + 1,
                    page.body_storage,
                    latest,
                ) from exc
            expected = None  # the next read is the new base
            continue
        return _written(page_id, plan, written, attempts, conflicts)


def _body_at(
    page_id: str, version: int | None, known: Page | None
) -> Generator[_Read, Page, str | None]:
    # Best effort: the summary is a courtesy, the conflict itself must still be raised.
    if version is None or version < 1:
        return None
    if known is not None and known.version.number == version:
        return known.body_storage  # the caller's copy is that version: no request
    try:
        old = yield _Read(page_id, version)
    except ConfluenceError:
        return None
    return old.body_storage


def safe_update(
    client: ConfluenceClient,
    page_id: str | int,
    ops: Sequence[EditOp],
    *,
    read_version: int | None = None,
    on_conflict: OnConflict = "reapply",
    allow_loss: bool = False,
    max_conflict_retries: int = 3,
    message: str | None = None,
    current: Page | None = None,
) -> UpdateOutcome:
    """Apply ``ops`` to the current version of a page and write it safely.

    Args:
        client: A sync client.
        page_id: Page to edit.
        ops: Operations, applied in order to the current storage body.
        read_version: The version the caller read (and based its edit on). When
            the page is newer, that is a conflict. ``None``: use whatever is
            current (the optimistic lock still protects the read-write window),
            or ``current``'s version when that is given.
        on_conflict: ``"reapply"`` re-reads and re-applies the ops (at most
            ``max_conflict_retries`` times); ``"report"`` raises
            :class:`EditConflict` without writing.
        allow_loss: Skip the macro guard (explicit opt-in to lossy edits).
        max_conflict_retries: Bound on re-reads after conflicts.
        message: Version message stored with the new version.
        current: The page exactly as the caller just read it (storage body and
            version). The ops are applied to it without reading the page again,
            saving a request. Safe even when it is stale: the write then gets a
            409 and the page is re-read and judged as usual (already applied →
            nothing written; changed → reapplied or reported).

    Returns:
        The outcome; ``changed=False`` (and no write) when the ops were already
        applied. An already-applied edit is reported as such even when the page
        is newer than ``read_version``: nothing is written, so nothing is lost.

    Raises:
        EditConflict: A conflict under ``"report"``, or retries exhausted.
        confluence_agent.storage.MacroGuardError: The guard found lost elements
            and ``allow_loss`` is false.
        confluence_agent.storage.SectionNotFoundError: A referenced heading is missing.
        ValueError: Invalid operations (missing field, malformed storage content),
            or ``current`` is another page or lacks its storage body.
        confluence_agent.errors.ConfluenceError: Other client errors.
    """
    flow = update_flow(
        page_id,
        ops,
        read_version=read_version,
        current=current,
        on_conflict=on_conflict,
        allow_loss=allow_loss,
        max_conflict_retries=max_conflict_retries,
        message=message,
    )
    return drive_steps(flow, client)


async def asafe_update(
    client: AsyncConfluenceClient,
    page_id: str | int,
    ops: Sequence[EditOp],
    *,
    read_version: int | None = None,
    on_conflict: OnConflict = "reapply",
    allow_loss: bool = False,
    max_conflict_retries: int = 3,
    message: str | None = None,
    current: Page | None = None,
) -> UpdateOutcome:
    """Async :func:`safe_update` (same arguments, rules and errors)."""
    flow = update_flow(
        page_id,
        ops,
        read_version=read_version,
        current=current,
        on_conflict=on_conflict,
        allow_loss=allow_loss,
        max_conflict_retries=max_conflict_retries,
        message=message,
    )
    return await adrive_steps(flow, client)


def update_flow(
    page_id: str | int,
    ops: Sequence[EditOp],
    *,
    read_version: int | None = None,
    on_conflict: OnConflict = "reapply",
    allow_loss: bool = False,
    max_conflict_retries: int = 3,
    message: str | None = None,
    current: Page | None = None,
) -> _Flow:
    """Build the flow behind :func:`safe_update` without running it.

    Run it with :func:`drive_steps` / :func:`adrive_steps`, or ``yield from`` it
    inside another flow (as the update tool does). Same arguments and rules as
    :func:`safe_update`. Argument errors (and an unusable ``current``) are raised
    here, before any request, rather than at the first step.
    """
    _check_args(on_conflict, max_conflict_retries)
    pid = str(page_id)
    _check_current(pid, current)
    return _update_flow(
        pid,
        ops,
        read_version=read_version,
        current=current,
        on_conflict=on_conflict,
        allow_loss=allow_loss,
        max_conflict_retries=max_conflict_retries,
        message=message,
    )
