"""LangChain tools for Confluence: search, list, read, create, safely update, users.

Every tool is a :class:`~langchain_core.tools.BaseTool` subclass with a pydantic
``args_schema``, native sync (``ConfluenceClient``) and async
(``AsyncConfluenceClient``) implementations and
``response_format="content_and_artifact"``: the model gets short text, programs
get the typed object in ``ToolMessage.artifact``.

Expected failures (invalid CQL, not found, version conflicts, a refused lossy
edit, rate limits) become :class:`~langchain_core.tools.ToolException` text that
tells the model what to do next; with ``handle_tool_error=True`` (the default
here) that text is returned as an error ``ToolMessage`` instead of raised.
Credentials never appear in any output: client errors are redacted at the source.

Each tool's logic (argument checks, the space allow-list, formatting) is written
once, as a generator that yields the client calls it needs (:class:`_Call`
steps, the pattern of :mod:`confluence_agent._core` and
:mod:`confluence_agent.editing`, whose update flow the update tool ``yield from``s).
``_run`` drives it with the sync client, ``_arun`` with the async client (the
drivers of :mod:`confluence_agent.editing`), so the two paths cannot drift apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic.v1 import ValidationError as ValidationErrorV1

from confluence_agent import cql, storage
from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.editing import (
    EditConflict,
    EditOp,
    Step,
    UpdateOutcome,
    adrive_steps,
    content_to_storage,
    drive_steps,
    update_flow,
)
from confluence_agent.errors import (
    AuthenticationFailed,
    ConfluenceError,
    ConnectionFailed,
    InvalidCQL,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    VersionConflict,
)
from confluence_agent.models import Page, PageList, SearchPage, SearchResult, Space, User

__all__ = [
    "VERSION_RULES",
    "ConfluenceCreatePage",
    "ConfluenceGetPage",
    "ConfluenceGetUser",
    "ConfluenceListPages",
    "ConfluenceSearch",
    "ConfluenceUpdatePage",
    "CreatePageInput",
    "GetPageInput",
    "GetUserInput",
    "ListPagesInput",
    "SearchInput",
    "UpdatePageInput",
    "error_text",
]

VERSION_RULES = (
    "Version rule: every page has a version number. To change a page, first read it with "
    "confluence_get_page, then call confluence_update_page with version = the version you "
    "read + 1. If someone else edited the page in between, the update is refused and tells "
    "you the current version and what changed: read the page again and re-apply your edit; "
    "never retry blindly with a higher number."
)
STORAGE_RULES = (
    "Storage rule: pages are stored as Confluence storage XHTML with macros (status, Jira, "
    "code, panels, mentions, ...). confluence_get_page shows a Markdown rendering that is "
    "for reading only. Change pages with section operations (append_section, "
    "insert_after_section, replace_section), which keep every macro outside the edited "
    "section byte for byte; write new content in Markdown, or in storage XHTML when you need "
    "macros. Edits that would lose macros are refused."
)

_EXCERPT_CHARS = 240


# ---------------------------------------------------------------------------- errors


def error_text(exc: BaseException, *, subject: str = "The object") -> str:
    """Turn an exception into text an LLM can act on (never containing a credential).

    Args:
        exc: The exception raised by the client, the storage module or editing.
        subject: What was asked for, e.g. ``"Page 123"``, used for not-found text.

    Returns:
        One or a few sentences: what went wrong and what to do next.
    """
    if isinstance(exc, InvalidCQL):
        if exc.problems:
            return (
                "Invalid CQL, no search was run.\n"
                + cql.format_problems(list(exc.problems))  # type: ignore[arg-type]
                + "\nFix the query and call confluence_search again."
            )
        return f"Confluence rejected the CQL query: {exc.message}. Fix the query and retry."
    if isinstance(exc, EditConflict):
        current = exc.current_version
        nxt = f"version={current + 1}" if current is not None else "the current version + 1"
        return (
            f"Version conflict: {exc.message} Call confluence_get_page "
            f"to read the current content, re-apply your edit to it, then call "
            f"confluence_update_page with {nxt}."
        )
    if isinstance(exc, VersionConflict):
        return (
            f"Version conflict, nothing was written: {exc.message}. Read the page again with "
            "confluence_get_page and send version = the version you read + 1."
        )
    if isinstance(exc, storage.MacroGuardError):
        shown = [v.describe() for v in exc.violations[:15]]
        if len(exc.violations) > len(shown):
            shown.append(f"... and {len(exc.violations) - len(shown)} more")
        return (
            "Refused, nothing was written: the edit would remove or alter protected elements "
            "(macros, tables, layouts, mentions, images, links):\n"
            + "\n".join(f"- {line}" for line in shown)
            + "\nKeep them: prefer append_section/insert_after_section, or send "
            "content_format='storage' content that still contains them. Set "
            "allow_macro_loss=true only if the user explicitly asked to remove them."
        )
    if isinstance(exc, storage.SectionNotFoundError):
        return f"{exc}. Nothing was written; use one of the existing headings."
    if isinstance(exc, storage.StorageFormatError):
        return (
            f"The storage content is not valid Confluence storage XHTML: {exc}. Fix the "
            "markup, or send content_format='markdown'."
        )
    if isinstance(exc, InvalidRequest) and "already exists" in exc.message.lower():
        return (
            f"{subject} already has a page with this title (titles are unique per space). "
            "Search for it with confluence_search and change it with confluence_update_page, "
            "or choose another title."
        )
    if isinstance(exc, NotFound):
        return f"{subject} was not found (it does not exist or you are not allowed to see it)."
    if isinstance(exc, PermissionDenied):
        return f"Permission denied: {exc.message}. Do not retry; ask the user for access."
    if isinstance(exc, AuthenticationFailed):
        return (
            "Authentication with Confluence failed (credentials rejected). This is a "
            "configuration problem; retrying will not help."
        )
    if isinstance(exc, RateLimited):
        wait = f" Wait {exc.retry_after:.0f} seconds before retrying." if exc.retry_after else ""
        return f"Confluence rate limit reached; the request was not completed.{wait}"
    if isinstance(exc, ConnectionFailed):
        return f"Could not reach Confluence: {exc.message}. Try again later."
    if isinstance(exc, ConfluenceError):
        status = f" (HTTP {exc.status_code})" if exc.status_code else ""
        return f"Confluence error{status}: {exc.message}"
    if isinstance(exc, ValueError):
        return f"{exc}"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def _tool_errors(subject: str) -> Iterator[None]:
    # Expected failures become ToolException text (shown to the model); anything
    # else is a bug and propagates.
    try:
        yield
    except ToolException:
        raise
    except (
        ConfluenceError,
        storage.StorageFormatError,
        storage.MacroGuardError,
        storage.SectionNotFoundError,
        ValueError,
    ) as exc:
        raise ToolException(error_text(exc, subject=subject)) from exc


# ------------------------------------------------------------- sync/async plumbing

T = TypeVar("T")


@dataclass(frozen=True)
class _Call:
    """Step: call one client method (both clients have the same method names)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def perform(self, client: ConfluenceClient) -> Any:
        return getattr(client, self.method)(*self.args, **self.kwargs)

    async def aperform(self, client: AsyncConfluenceClient) -> Any:
        return await getattr(client, self.method)(*self.args, **self.kwargs)


def _call(method: str, *args: Any, **kwargs: Any) -> _Call:
    return _Call(method, args, kwargs)


_Flow = Generator[Step[Any], Any, T]
"""A tool's logic: yields the client calls it needs, receives their results."""


# ---------------------------------------------------------------- space allow-list


def _norm_keys(keys: Sequence[str] | None) -> tuple[str, ...] | None:
    if keys is None:
        return None
    return tuple(k.strip().upper() for k in keys if k.strip())


def _scoped_cql(query: str, keys: Sequence[str]) -> str:
    """AND a ``space IN (...)`` restriction into ``query`` (keeping ORDER BY last)."""
    parsed = cql.parse(query)
    scope = cql.Clause("space", "IN", cql.ValueList(tuple(cql.String(k) for k in keys)))
    where = scope if parsed.where is None else cql.And((parsed.where, scope))
    return cql.Query(where, parsed.order_by).to_cql()


def _validation_text(exc: ValidationError | ValidationErrorV1) -> str:
    """Name each bad argument and why, so the model can fix its call."""
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in exc.errors(include_url=False)[:10]
        ]
    else:
        problems = [str(exc)]
    return "Invalid arguments, nothing was done: " + "; ".join(problems) + "."


class _ConfluenceTool(BaseTool):
    """Shared fields (clients, space allow-list, error handling) and the two drivers.

    Subclasses implement only ``_flow`` (their arguments, minus ``run_manager``),
    a generator yielding the client calls it needs; ``_run`` and ``_arun`` drive
    it with the sync or the async client.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: ConfluenceClient
    """Sync client, used by ``invoke`` (and by ``ainvoke`` when ``async_client`` is not given)."""
    async_client: AsyncConfluenceClient | None = None
    """Async client for native ``ainvoke``; without it async calls drive the same logic
    with the sync client in a worker thread. ``ConfluenceToolkit`` always provides one."""
    spaces: tuple[str, ...] | None = None
    """Space keys this tool may touch (``None``: all spaces the credentials can see)."""
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool = True
    # Bad arguments from the model come back as text it can correct, not a crash.
    handle_validation_error: (
        bool | str | Callable[[ValidationError | ValidationErrorV1], str] | None
    ) = _validation_text

    _space_ids: dict[str, str] | None = PrivateAttr(default=None)

    @field_validator("spaces", mode="before")
    @classmethod
    def _upper_keys(cls, value: Any) -> Any:
        return _norm_keys([value] if isinstance(value, str) else value)

    def _flow(self, *args: Any, **kwargs: Any) -> _Flow[Any]:
        """The tool's logic for the validated arguments (implemented by each tool)."""
        raise NotImplementedError

    def _run(
        self, *args: Any, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> Any:
        return drive_steps(self._flow(*args, **kwargs), self.client)

    async def _arun(
        self,
        *args: Any,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> Any:
        flow = self._flow(*args, **kwargs)
        if self.async_client is None:
            # Same flow, sync client, off the event loop.
            return await asyncio.to_thread(drive_steps, flow, self.client)
        return await adrive_steps(flow, self.async_client)

    # The allow-list is of keys, but v2 pages carry space ids: resolve once, cache.
    def _allowed_ids(self) -> _Flow[dict[str, str]]:
        if self._space_ids is None:
            spaces: list[Space] = yield _call("get_spaces", keys=list(self.spaces or ()))
            self._space_ids = _ids_of(spaces, self.spaces or ())
        return self._space_ids

    def _check_page_scope(self, page: Page, subject: str) -> _Flow[None]:
        if self.spaces is not None and page.space_id not in (yield from self._allowed_ids()):
            # Same text as a real 404, so the tool does not reveal pages it hides.
            raise ToolException(error_text(NotFound("hidden"), subject=subject))

    def _space_id(self, space: str) -> _Flow[str]:
        """Resolve a space key or numeric id to an id inside the allow-list."""
        space = space.strip()
        if space.isdigit():
            if self.spaces is not None and space not in (yield from self._allowed_ids()):
                raise _space_outside(space)
            return space
        if self.spaces is not None and space.upper() not in self.spaces:
            raise _space_outside(space)
        found: Space = yield _call("get_space_by_key", space)
        return found.id


def _ids_of(spaces: Sequence[Space], keys: Sequence[str]) -> dict[str, str]:
    wanted = set(keys)
    return {s.id: s.key for s in spaces if s.key.upper() in wanted}


def _space_outside(space: str) -> ToolException:
    return ToolException(error_text(NotFound("hidden"), subject=f"Space {space!r}"))


# ------------------------------------------------------------------------ search


class SearchInput(BaseModel):
    """Arguments of ``confluence_search``."""

    cql: str = Field(
        description='A CQL query, e.g. type = page AND space = "ENG" AND title ~ "logging". '
        "String values in double quotes."
    )
    limit: int = Field(default=10, ge=1, le=50, description="Results per call (1-50).")
    cursor: str | None = Field(
        default=None,
        description="Paging: the next_cursor value returned by the previous call with the "
        "same cql. Omit for the first page.",
    )


def _format_result(r: SearchResult) -> str:
    kind = r.type or "content"
    head = f"- [{kind} {r.id}] {r.title_text or '(untitled)'}"
    meta = []
    if r.space_key:
        meta.append(f"space {r.space_key}")
    if r.last_modified:
        meta.append(f"modified {r.last_modified:%Y-%m-%d}")
    if meta:
        head += " (" + ", ".join(meta) + ")"
    lines = [head]
    excerpt = " ".join(r.excerpt_text.split())
    if excerpt:
        if len(excerpt) > _EXCERPT_CHARS:
            excerpt = excerpt[: _EXCERPT_CHARS - 1] + "…"
        lines.append(f"  {excerpt}")
    if r.webui_url or r.url:
        lines.append(f"  url: {r.webui_url or r.url}")
    return "\n".join(lines)


def format_search(page: SearchPage, query: str) -> str:
    """Compact text for a page of search results."""
    if not page.results:
        return f"No results for CQL: {query}"
    total = f" of {page.total_size}" if page.total_size is not None else ""
    lines = [f"{len(page.results)} result(s){total} for CQL: {query}"]
    lines += [_format_result(r) for r in page.results]
    if page.next_cursor:
        lines.append(f"More results: call again with cursor={page.next_cursor!r}.")
    else:
        lines.append("No more results.")
    return "\n".join(lines)


def _prepare_search(query: str, spaces: tuple[str, ...] | None) -> str:
    # Validate locally first: invalid CQL costs no request and the problems come
    # with positions and fixes.
    problems = [p for p in cql.validate(query) if p.severity == "error"]
    if problems:
        raise InvalidCQL("invalid CQL", problems=problems)
    return _scoped_cql(query, spaces) if spaces is not None else query


def _filter_search(page: SearchPage, spaces: tuple[str, ...] | None) -> SearchPage:
    # Belt and braces: the CQL already restricts spaces, but never show a hit
    # from outside the allow-list even if the server ignored the clause.
    if spaces is None:
        return page
    kept = [r for r in page.results if (r.space_key or "").upper() in spaces]
    return page.model_copy(update={"results": kept})


class ConfluenceSearch(_ConfluenceTool):
    """Search Confluence with CQL (validated before it is sent), with cursor paging.

    Setup:
        Install ``confluence-agent`` and set ``CONFLUENCE_URL``, ``CONFLUENCE_EMAIL``
        and ``CONFLUENCE_API_TOKEN`` (or ``CONFLUENCE_BEARER_TOKEN``).

        ```bash
        pip install confluence-agent
        export CONFLUENCE_URL=https://SITE.atlassian.net
        ```

    Instantiate:
        ```python
        from confluence_agent import ConfluenceClient
        from confluence_agent.tools import ConfluenceSearch

        tool = ConfluenceSearch(client=ConfluenceClient())
        ```

    Invoke directly with args:
        ```python
        tool.invoke({"cql": 'type = page AND title ~ "Q3 Billing Engine PRD"'})
        ```

    Invoke with ToolCall:
        ```python
        msg = tool.invoke({"name": "confluence_search", "id": "1", "type": "tool_call",
                           "args": {"cql": 'space = "ENG"', "limit": 5}})
        msg.content   # compact text; msg.artifact is the SearchPage
        ```
    """

    name: str = "confluence_search"
    description: str = (
        "Search Confluence pages, blog posts and attachments with a CQL query. Returns id, "
        "title, space, a short excerpt, last-modified date and URL for each hit, plus a "
        "cursor for the next page. Use it to find page ids, then read pages with "
        "confluence_get_page. Invalid CQL is not sent: you get the problems and how to fix "
        "them.\n\n" + cql.guidance_text()
    )
    args_schema: type[BaseModel] = SearchInput

    def _flow(
        self, cql: str, limit: int = 10, cursor: str | None = None
    ) -> _Flow[tuple[str, SearchPage]]:
        with _tool_errors("The search"):
            query = _prepare_search(cql, self.spaces)
            page: SearchPage = yield _call("search", query, limit=limit, cursor=cursor)
            page = _filter_search(page, self.spaces)
            return format_search(page, query), page


# -------------------------------------------------------------------- list pages


PageStatus = Literal["current", "archived", "draft", "trashed"]


class ListPagesInput(BaseModel):
    """Arguments of ``confluence_list_pages``."""

    space: str | None = Field(
        default=None,
        description="Space key (e.g. 'ENG') or numeric space id. Omit to list across spaces.",
    )
    title: str | None = Field(default=None, description="Exact page title to match.")
    status: PageStatus | None = Field(
        default=None,
        description="Page status filter. Omit for current and archived pages (Confluence's "
        "default); archived ones are marked in the results.",
    )
    limit: int = Field(default=25, ge=1, le=250, description="Pages per call (1-250).")
    cursor: str | None = Field(
        default=None, description="Paging: next_cursor from the previous call."
    )


def format_page_list(pages: PageList) -> str:
    """Compact text for a page of ``list_pages`` results."""
    if not pages.results:
        return "No pages found."
    lines = [f"{len(pages.results)} page(s):"]
    for p in pages.results:
        bits = [f"space_id {p.space_id}", f"version {p.version.number}"]
        if p.parent_id:
            bits.append(f"parent {p.parent_id}")
        if p.status and p.status != "current":
            bits.append(p.status)
        lines.append(f"- [{p.id}] {p.title} ({', '.join(bits)})")
    if pages.next_cursor:
        lines.append(f"More pages: call again with cursor={pages.next_cursor!r}.")
    return "\n".join(lines)


class ConfluenceListPages(_ConfluenceTool):
    """List pages by space (key or id), title and status, with cursor paging.

    Setup:
        As for :class:`ConfluenceSearch` (``CONFLUENCE_*`` environment variables).

    Instantiate:
        ```python
        tool = ConfluenceListPages(client=ConfluenceClient())
        ```

    Invoke directly with args:
        ```python
        tool.invoke({"space": "ENG", "limit": 10})
        ```

    Invoke with ToolCall:
        ```python
        tool.invoke({"name": "confluence_list_pages", "id": "1", "type": "tool_call",
                     "args": {"space": "PROD", "title": "Q3 Billing Engine PRD"}})
        ```
    """

    name: str = "confluence_list_pages"
    description: str = (
        "List Confluence pages in a space (space key like 'ENG' or numeric id), optionally "
        "filtered by exact title and status. Returns id, title, space id, version and parent "
        "for each page, plus a cursor for the next page. Prefer confluence_search for "
        "keyword or date queries."
    )
    args_schema: type[BaseModel] = ListPagesInput

    def _flow(
        self,
        space: str | None = None,
        title: str | None = None,
        status: PageStatus | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> _Flow[tuple[str, PageList]]:
        with _tool_errors(f"Space {space!r}"):
            space_ids: list[str] | None
            if space is not None:
                space_ids = [(yield from self._space_id(space))]
            elif self.spaces is not None:
                # No space given: list across the allowed spaces only.
                space_ids = list((yield from self._allowed_ids()))
                if not space_ids:
                    return "No pages found (no allowed space is visible).", PageList(results=[])
            else:
                space_ids = None
            pages: PageList = yield _call(
                "list_pages",
                space_id=space_ids,
                title=title,
                status=status,
                limit=limit,
                cursor=cursor,
            )
            return format_page_list(pages), pages


# ---------------------------------------------------------------------- get page


class GetPageInput(BaseModel):
    """Arguments of ``confluence_get_page``."""

    page_id: str = Field(description="Numeric page id, e.g. '998877' (from search results).")
    format: Literal["markdown", "storage"] = Field(
        default="markdown",
        description="'markdown' (compact, readable; default) or 'storage' (raw Confluence "
        "storage XHTML, only when you must see or reuse exact macro markup).",
    )


def format_page(page: Page, fmt: Literal["markdown", "storage"]) -> str:
    """Header (ids, version, labels, url) plus the body in the requested format."""
    v = page.version
    edited = []
    if v.author_id:
        edited.append(f"by {v.author_id}")
    if v.created_at:
        edited.append(f"at {v.created_at:%Y-%m-%d %H:%M}")
    meta = [
        f"{name}: {value}"
        for name, value in (
            ("space_id", page.space_id),
            ("parent_id", page.parent_id),
            ("status", page.status),
            ("author_id (creator)", page.author_id),
        )
        if value
    ]
    lines = [
        f"Page {page.id}: {page.title}",
        f"version: {v.number}" + (f" (last edited {' '.join(edited)})" if edited else ""),
        f"To update this page call confluence_update_page with version={v.number + 1}.",
    ]
    if meta:
        lines.append(" | ".join(meta))
    if page.labels:
        lines.append("labels: " + ", ".join(label.name for label in page.labels))
    if page.webui_url:
        lines.append(f"url: {page.webui_url}")
    body = page.body_storage or ""
    if fmt == "storage":
        lines.append("--- body (storage XHTML) ---")
        lines.append(body)
    else:
        lines.append(
            "--- body (Markdown rendering for reading; edit with section operations, never by "
            "sending this text back as the body) ---"
        )
        lines.append(storage.to_markdown(body) if body else "(empty page)")
    return "\n".join(lines)


class ConfluenceGetPage(_ConfluenceTool):
    """Read one page: Markdown rendering (or raw storage) plus version and metadata.

    Setup:
        As for :class:`ConfluenceSearch` (``CONFLUENCE_*`` environment variables).

    Instantiate:
        ```python
        tool = ConfluenceGetPage(client=ConfluenceClient())
        ```

    Invoke directly with args:
        ```python
        tool.invoke({"page_id": "998877"})
        ```

    Invoke with ToolCall:
        ```python
        msg = tool.invoke({"name": "confluence_get_page", "id": "1", "type": "tool_call",
                           "args": {"page_id": "998877", "format": "storage"}})
        msg.artifact.version.number   # the typed Page
        ```
    """

    name: str = "confluence_get_page"
    description: str = (
        "Read one Confluence page by id. Returns title, space id, parent id, version number, "
        "author account id, labels, URL and the body as Markdown (format='storage' for raw "
        "storage XHTML). The header tells you which version to send to confluence_update_page "
        "(the version you read + 1). Author ids can be turned into names with "
        "confluence_get_user."
    )
    args_schema: type[BaseModel] = GetPageInput

    def _flow(
        self, page_id: str, format: Literal["markdown", "storage"] = "markdown"
    ) -> _Flow[tuple[str, Page]]:
        subject = f"Page {page_id}"
        with _tool_errors(subject):
            page: Page = yield _call(
                "get_page", page_id, body_format="storage", include_labels=True
            )
            yield from self._check_page_scope(page, subject)
            return format_page(page, format), page


# ------------------------------------------------------------------- create page


class CreatePageInput(BaseModel):
    """Arguments of ``confluence_create_page``."""

    space: str = Field(description="Space key (e.g. 'ENG') or numeric space id.")
    title: str = Field(min_length=1, description="Page title (unique within the space).")
    body: str = Field(description="Page content.")
    body_format: Literal["markdown", "storage"] = Field(
        default="markdown",
        description="'markdown' (converted to storage) or 'storage' (Confluence storage "
        "XHTML, validated before sending; needed for macros).",
    )
    parent_id: str | None = Field(
        default=None, description="Id of the parent page; omit for a top-level page."
    )


def format_created(page: Page) -> str:
    """Text for a created page."""
    url = f" url: {page.webui_url}." if page.webui_url else ""
    return (
        f"Created page {page.id} {page.title!r} in space_id {page.space_id} at version "
        f"{page.version.number}.{url} To edit it, call confluence_update_page with "
        f"version={page.version.number + 1}."
    )


class ConfluenceCreatePage(_ConfluenceTool):
    """Create a page from Markdown or storage XHTML.

    Setup:
        As for :class:`ConfluenceSearch`; the credentials need write access.

    Instantiate:
        ```python
        tool = ConfluenceCreatePage(client=ConfluenceClient())
        ```

    Invoke directly with args:
        ```python
        tool.invoke({"space": "ENG", "title": "Runbook", "body": "# Steps\\n1. ..."})
        ```

    Invoke with ToolCall:
        ```python
        msg = tool.invoke({"name": "confluence_create_page", "id": "1", "type": "tool_call",
                           "args": {"space": "ENG", "title": "Runbook", "body": "Hello"}})
        msg.artifact.id   # the created Page
        ```
    """

    name: str = "confluence_create_page"
    description: str = (
        "Create a new Confluence page in a space (key or id), optionally under a parent page. "
        "Write the body in Markdown (default) or storage XHTML (body_format='storage'). Titles "
        "are unique per space: search first if the page may already exist, and use "
        "confluence_update_page to change an existing page."
    )
    args_schema: type[BaseModel] = CreatePageInput

    def _flow(
        self,
        space: str,
        title: str,
        body: str,
        body_format: Literal["markdown", "storage"] = "markdown",
        parent_id: str | None = None,
    ) -> _Flow[tuple[str, Page]]:
        with _tool_errors(f"Space {space!r}"):
            # Convert first: a malformed body costs no request.
            storage_body = content_to_storage(body, body_format)
            space_id = yield from self._space_id(space)
            if parent_id is not None:
                parent: Page = yield _call("get_page", parent_id, body_format=None)
                _check_same_space(parent, space_id, parent_id)
            page: Page = yield _call(
                "create_page",
                space_id=space_id,
                title=title,
                body=storage_body,
                parent_id=parent_id,
            )
            return format_created(page), page


def _check_same_space(parent: Page, space_id: str, parent_id: str) -> None:
    # A parent in another space would move the page out of the (checked) space.
    if parent.space_id != space_id:
        raise ToolException(
            f"Parent page {parent_id} is in space_id {parent.space_id}, not {space_id}. "
            "Choose a parent in the same space."
        )


# ------------------------------------------------------------------- update page


class UpdatePageInput(BaseModel):
    """Arguments of ``confluence_update_page``."""

    page_id: str = Field(description="Numeric id of the page to change.")
    version: int = Field(
        ge=2,
        description="The page version you read with confluence_get_page + 1 (read version 5 "
        "-> send 6). If the page changed since, nothing is written and you are told what "
        "changed.",
    )
    operations: list[EditOp] = Field(
        min_length=1,
        description="Edits applied in order to the current page. append_section adds a "
        "section (title + content) at the end, or inside the section named by 'parent'; it "
        "is a no-op if the heading already exists. insert_after_section adds section 'title' "
        "after the existing heading 'after'. replace_section replaces the content under "
        "heading 'title'. replace_body replaces everything (avoid: it is refused if macros "
        "would be lost).",
    )
    allow_macro_loss: bool = Field(
        default=False,
        description="Only true if the user explicitly asked to delete macros/mentions/"
        "images; otherwise lossy edits are refused.",
    )
    message: str | None = Field(
        default=None, description="Short change note stored with the new version."
    )


def format_update(outcome: UpdateOutcome) -> str:
    """Text for an update outcome."""
    sections = ", ".join(repr(s) for s in outcome.edited_sections)
    if not outcome.changed:
        return (
            f"No change needed: page {outcome.page_id} {outcome.title!r} already contains "
            f"this edit{f' ({sections})' if sections else ''}. It is at version "
            f"{outcome.new_version}; the next update must send "
            f"version={outcome.new_version + 1}."
        )
    url = f" url: {outcome.page.webui_url}." if outcome.page and outcome.page.webui_url else ""
    return (
        f"Updated page {outcome.page_id} {outcome.title!r}: version "
        f"{outcome.previous_version} -> {outcome.new_version}"
        f"{f'; edited sections: {sections}' if sections else ''}. All macros outside the "
        f"edited sections were preserved.{url} The next update must send "
        f"version={outcome.new_version + 1}."
    )


class ConfluenceUpdatePage(_ConfluenceTool):
    """Safely update a page with section operations and optimistic locking.

    The operations are applied to the page's current storage body (so macros
    outside the edited sections are kept byte for byte), the macro guard refuses
    lossy results unless ``allow_macro_loss=True``, and ``version`` must be the
    version the caller read + 1: if the page changed since, nothing is written
    and the tool reports the current version and what changed. Re-sending an
    edit that is already on the page is a no-op success, so retries are safe.

    Setup:
        As for :class:`ConfluenceSearch`; the credentials need write access.

    Instantiate:
        ```python
        tool = ConfluenceUpdatePage(client=ConfluenceClient())
        ```

    Invoke directly with args:
        ```python
        tool.invoke({
            "page_id": "998877",
            "version": 6,
            "operations": [{"kind": "append_section", "title": "Stripe webhook integration",
                            "content": "Webhooks are verified with the signing secret."}],
        })
        ```

    Invoke with ToolCall:
        ```python
        msg = tool.invoke({"name": "confluence_update_page", "id": "1", "type": "tool_call",
                           "args": {...}})
        msg.artifact.new_version   # the UpdateOutcome
        ```
    """

    name: str = "confluence_update_page"
    description: str = (
        "Change an existing Confluence page with section operations (append_section, "
        "insert_after_section, replace_section, replace_body), applied to the page's current "
        "content so that macros elsewhere on the page are preserved. Always read the page "
        "with confluence_get_page first and send version = the version you read + 1.\n"
        + VERSION_RULES
        + "\n"
        + STORAGE_RULES
    )
    args_schema: type[BaseModel] = UpdatePageInput

    def _flow(
        self,
        page_id: str,
        version: int,
        operations: list[EditOp],
        allow_macro_loss: bool = False,
        message: str | None = None,
    ) -> _Flow[tuple[str, UpdateOutcome]]:
        subject = f"Page {page_id}"
        with _tool_errors(subject):
            if self.spaces is not None:
                page: Page = yield _call("get_page", page_id, body_format=None)
                yield from self._check_page_scope(page, subject)
            outcome: UpdateOutcome = yield from update_flow(
                page_id,
                _ops(operations),
                read_version=version - 1,
                on_conflict="report",
                allow_loss=allow_macro_loss,
                message=message,
            )
            return format_update(outcome), outcome


def _ops(operations: Sequence[EditOp | dict[str, Any]]) -> list[EditOp]:
    # BaseTool passes validated models, but direct _run callers may pass dicts.
    return [op if isinstance(op, EditOp) else EditOp.model_validate(op) for op in operations]


# ---------------------------------------------------------------------- get user


class GetUserInput(BaseModel):
    """Arguments of ``confluence_get_user``."""

    account_ids: list[str] = Field(
        min_length=1,
        max_length=100,
        description="One or more Atlassian account ids (e.g. a page's author_id).",
    )

    @field_validator("account_ids", mode="before")
    @classmethod
    def _one_id(cls, value: Any) -> Any:
        # Models often send a bare string for a single id.
        return [value] if isinstance(value, str) else value


def format_users(users: Sequence[User], asked: Sequence[str]) -> str:
    """Text for resolved users; ids that did not resolve are listed as unknown."""
    found = {u.account_id for u in users}
    lines = []
    for u in users:
        name = u.display_name or u.public_name or "(no display name)"
        email = f" <{u.email}>" if u.email else ""
        lines.append(f"- {u.account_id}: {name}{email}")
    lines += [f"- {a}: unknown user" for a in asked if a not in found]
    return "\n".join(lines)


class ConfluenceGetUser(_ConfluenceTool):
    """Resolve Atlassian account ids to display names (bulk when several).

    Setup:
        As for :class:`ConfluenceSearch`.

    Instantiate:
        ```python
        tool = ConfluenceGetUser(client=ConfluenceClient())
        ```

    Invoke directly with args:
        ```python
        tool.invoke({"account_ids": ["5b10ac8d82e05b22cc7d4ef5"]})
        ```

    Invoke with ToolCall:
        ```python
        msg = tool.invoke({"name": "confluence_get_user", "id": "1", "type": "tool_call",
                           "args": {"account_ids": ["a", "b"]}})
        msg.artifact   # list[User]
        ```
    """

    name: str = "confluence_get_user"
    description: str = (
        "Look up Confluence users by account id (e.g. a page's author_id or version author) "
        "and return their display names. Pass several ids at once to resolve them in one call."
    )
    args_schema: type[BaseModel] = GetUserInput

    def _flow(self, account_ids: list[str]) -> _Flow[tuple[str, list[User]]]:
        ids = list(dict.fromkeys(account_ids))
        with _tool_errors(f"User {', '.join(ids)}"):
            users: list[User]
            if len(ids) == 1:
                users = [(yield _call("get_user", ids[0]))]
            else:
                users = yield _call("get_users", ids)
            return format_users(users, ids), users
