"""Sans-IO core shared by the sync and async clients.

Each API operation is written once, as a generator that yields
:class:`RequestSpec` objects and receives ``httpx.Response`` objects back (or has
a :class:`~confluence_agent.errors.ConfluenceError` thrown into it). The clients
only drive these generators: build the request, send it under the retry policy,
and feed the result back. Pagination (:class:`Pager`), retry decisions
(:meth:`Core.retry_options`), error mapping (:func:`error_from_response`) and
rate-limit bookkeeping live here too, so sync and async behave identically.
"""

from __future__ import annotations

import importlib
import json
import logging
import random
import re
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from importlib import metadata
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState

from confluence_agent.config import ConfluenceConfig
from confluence_agent.errors import (
    AuthenticationFailed,
    ConfluenceError,
    ConnectionFailed,
    InvalidCQL,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProblemLike,
    RateLimited,
    ServerError,
    UnexpectedResponse,
    VersionConflict,
)
from confluence_agent.models import (
    ChildPage,
    Label,
    Page,
    PageList,
    PageVersion,
    SearchPage,
    SearchResult,
    Space,
    User,
)
from confluence_agent.ratelimit import RateLimitState, Throttle, parse_rate_limit_headers

logger = logging.getLogger("confluence_agent.client")

T = TypeVar("T")
ItemT = TypeVar("ItemT")
ModelT = TypeVar("ModelT", bound=BaseModel)

Operation = Generator["RequestSpec", httpx.Response, T]
"""An API operation: yields requests, receives responses, returns the result."""

MAX_PAGE_SIZE = 250  # v2 maximum for every list endpoint
_USERS_BULK_MAX = 250


@dataclass
class RequestStats:
    """Counters of what a client actually sent (compare runs and peers with these).

    Attributes:
        requests: HTTP requests sent, retries included.
        retries: Requests that were repeats of a failed attempt.
        rate_limited: 429 responses received.
        paced: Requests delayed proactively because a limit was near.
        waited: Seconds spent sleeping (retries and pacing).
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    paced: int = 0
    waited: float = 0.0

    def reset(self) -> None:
        """Zero every counter."""
        self.requests = self.retries = self.rate_limited = self.paced = 0
        self.waited = 0.0


@dataclass(frozen=True)
class RequestSpec:
    """One HTTP request an operation wants sent.

    Attributes:
        method: HTTP method.
        url: Absolute URL; may already carry a query (followed ``next`` links).
        params: Query parameters to add.
        json: JSON body.
        idempotent: Safe to resend after an ambiguous failure (5xx, read timeout).
        purpose: Selects special error mapping (``search`` 400 → InvalidCQL).
        attempted_version: Version number sent, reported by VersionConflict.
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    json: Any = None
    idempotent: bool = True
    purpose: Literal["default", "search"] = "default"
    attempted_version: int | None = None

    def describe(self) -> str:
        """``METHOD /path`` without host or query, for logs and messages."""
        return f"{self.method} {urlsplit(self.url).path}"


class Listing(Protocol[ItemT]):
    """A page of results with an opaque link to the next one."""

    @property
    def results(self) -> list[ItemT]:
        """Items of this page."""

    @property
    def next_link(self) -> str | None:
        """Opaque link to the next page."""


# --------------------------------------------------------------------------- helpers


class Redactor:
    """Removes known secrets from any text before it reaches an exception or log."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def resolve_link(api_root: str, link: str) -> str:
    """Turn a ``_links.next`` value into an absolute URL on our own host.

    v2 links are origin-relative and start with ``/wiki/api/v2/``; v1 links are
    relative to ``_links.base`` and start with ``/rest/api/`` (no ``/wiki``). Either
    way the path goes under ``api_root`` (which for the OAuth gateway is
    ``https://api.atlassian.com/ex/confluence/{cloudId}``, not the site origin).
    Absolute links are re-rooted too, so credentials never go to another host.
    """
    if link.startswith(("http://", "https://")):
        parts = urlsplit(link)
        link = parts.path + (f"?{parts.query}" if parts.query else "")
        root_path = urlsplit(api_root).path.rstrip("/")
        if root_path and link.startswith(root_path + "/"):
            link = link[len(root_path) :]
    if not link.startswith("/"):
        link = "/" + link
    if not link.startswith("/wiki/"):
        link = "/wiki" + link
    return api_root.rstrip("/") + link


def cursor_of(link: str | None) -> str | None:
    """The ``cursor`` query parameter of a next link."""
    if not link:
        return None
    values = parse_qs(urlsplit(link).query).get("cursor")
    return values[0] if values else None


def _join(values: str | Sequence[str] | None) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        return values
    return ",".join(str(v) for v in values) or None


def _params(**values: object) -> tuple[tuple[str, str], ...]:
    """Query parameters: ``None`` dropped, bools lower-cased, ``_`` → ``-``."""
    out = []
    for key, value in values.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append((key.replace("_", "-"), text))
    return tuple(out)


# --------------------------------------------------------------------------- errors


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.parts: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        current = self._in[-1] if self._in else ""
        if current == "title":
            self.title += data
        elif current not in ("script", "style") and data.strip():
            self.parts.append(data.strip())


def _html_text(body: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(body)
    except Exception:  # a broken error page must not mask the real error
        return ""
    text = " ".join(parser.parts)
    title = parser.title.strip()
    if title and not text.startswith(title):
        text = f"{title}: {text}" if text else title
    return text


def _short(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_text(response: httpx.Response) -> str:
    """The server's explanation from any known error body shape.

    Handles the v2 ``{"errors": [{status, code, title, detail}]}`` envelope, the v1
    ``{statusCode, message, reason}`` envelope, the gateway ``{code, message}`` and
    Spring ``{error, message}`` bodies, ``text/plain`` and HTML.
    """
    raw = response.text
    content_type = response.headers.get("content-type", "")
    data: Any = None
    if raw.strip().startswith(("{", "[")):
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
    if isinstance(data, dict):
        messages: list[str] = []
        errors = data.get("errors")
        if isinstance(errors, list):
            for err in errors:
                if isinstance(err, dict):
                    parts = [str(err[k]) for k in ("title", "detail") if err.get(k)]
                    if not parts and err.get("code"):
                        parts = [str(err["code"])]
                    messages.append(": ".join(parts))
                    nested = err.get("message")
                    if isinstance(nested, dict) and nested.get("translation"):
                        messages.append(str(nested["translation"]))
        message = data.get("message")
        if isinstance(message, str) and message and message != "No message available":
            messages.insert(0, message)
        elif isinstance(data.get("error"), str):
            messages.insert(0, data["error"])
        text = "; ".join(m for m in messages if m)
        if text:
            return _short(text)
    if raw.strip():
        if "html" in content_type or raw.lstrip().lower().startswith(("<!doctype", "<html")):
            text = _html_text(raw)
            if text:
                return _short(text)
        else:
            return _short(raw)
    return response.reason_phrase or f"HTTP {response.status_code}"


_V2_CURRENT = re.compile(r"Current Version:\s*\[(\d+)\]", re.IGNORECASE)
_V2_PROVIDED = re.compile(r"Provided version:\s*\[(\d+)\]", re.IGNORECASE)
_V1_CURRENT = re.compile(r"Current version is:\s*(\d+)", re.IGNORECASE)


def error_from_response(
    spec: RequestSpec,
    response: httpx.Response,
    state: RateLimitState,
    redact: Callable[[str], str] = lambda s: s,
) -> ConfluenceError:
    """Map an error response to the exception hierarchy (message redacted)."""
    status = response.status_code
    detail = redact(error_text(response))
    message = f"{spec.describe()} failed with {status}: {detail}"
    if status == 400 and spec.purpose == "search":
        return InvalidCQL(message, status_code=status)
    if status == 401:
        return AuthenticationFailed(message, status_code=status)
    if status == 403:
        return PermissionDenied(message, status_code=status)
    if status == 404:
        return NotFound(message, status_code=status)
    if status == 409:
        current = _V2_CURRENT.search(detail) or _V1_CURRENT.search(detail)
        provided = _V2_PROVIDED.search(detail)
        attempted = spec.attempted_version
        if attempted is None and provided:
            attempted = int(provided.group(1))
        return VersionConflict(
            message,
            current_version=int(current.group(1)) if current else None,
            attempted_version=attempted,
            status_code=status,
        )
    if status == 413:
        return PayloadTooLarge(message, status_code=status)
    if status == 429:
        hint = f" (retry after {state.retry_after:g}s)" if state.retry_after is not None else ""
        return RateLimited(
            message + hint, retry_after=state.retry_after, state=state, status_code=status
        )
    if status >= 500:
        return ServerError(message, status_code=status, retry_after=state.retry_after)
    return InvalidRequest(message, status_code=status)


def connection_error(spec: RequestSpec, exc: httpx.TransportError) -> ConnectionFailed:
    """Wrap a transport failure; ``request_sent`` says whether the server may have acted."""
    # Connect/pool failures happen before a byte of the request left the client.
    sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return ConnectionFailed(
        f"{spec.describe()} failed: {type(exc).__name__}: {exc}", request_sent=sent
    )


# --------------------------------------------------------------------------- pagination


class Pager(Generic[ItemT]):
    """Pagination written once: which request comes next, and which items to emit.

    Drivers loop ``while (op := pager.next_operation()) is not None`` and emit
    ``pager.take(result)`` for each finished operation.
    """

    def __init__(
        self,
        first: Callable[[], Operation[Listing[ItemT]]],
        follow: Callable[[str], Operation[Listing[ItemT]]],
        max_results: int | None = None,
    ) -> None:
        self._first: Callable[[], Operation[Listing[ItemT]]] | None = first
        self._follow = follow
        self._remaining = max_results
        self._link: str | None = None
        self._seen_links: set[str] = set()

    def next_operation(self) -> Operation[Listing[ItemT]] | None:
        """The operation fetching the next page, or ``None`` when done."""
        if self._remaining is not None and self._remaining <= 0:
            return None
        if self._first is not None:
            first, self._first = self._first, None
            return first()
        if self._link is None:
            return None
        return self._follow(self._link)

    def take(self, page: Listing[ItemT]) -> list[ItemT]:
        """Record a fetched page and return the items to emit from it."""
        items = list(page.results)
        if self._remaining is not None:
            items = items[: self._remaining]
            self._remaining -= len(items)
        link = page.next_link
        # A server repeating a link (or an empty page with a link) would loop forever.
        if link is None or link in self._seen_links or not page.results:
            self._link = None
        else:
            self._seen_links.add(link)
            self._link = link
        return items


@dataclass
class _ListPage(Generic[ItemT]):
    results: list[ItemT]
    next_link: str | None = None


# --------------------------------------------------------------------------- core


@dataclass
class Core:
    """State and logic shared by one client: config, stats, limits, operations."""

    config: ConfluenceConfig
    rng: Callable[[], float] = random.random
    stats: RequestStats = field(default_factory=RequestStats)
    rate_limit: RateLimitState = field(default_factory=RateLimitState)
    throttle: Throttle = field(default_factory=Throttle)
    _space_ids: dict[str, Space] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.redact = Redactor(self.config.secrets())
        self._headers = {
            "Accept": "application/json",
            "User-Agent": _user_agent(),
        }

    def __repr__(self) -> str:
        return f"Core(api_root={self.config.api_root!r}, auth={self.config.auth_scheme!r})"

    # -- transport hooks ------------------------------------------------------

    def build_request(self, spec: RequestSpec) -> httpx.Request:
        """Build the ``httpx.Request`` for ``spec`` (auth, timeout, JSON body)."""
        url = httpx.URL(spec.url)
        if spec.params:
            url = url.copy_merge_params(dict(spec.params))
        headers = dict(self._headers)
        headers["Authorization"] = self.config.authorization_header()
        timeout = httpx.Timeout(self.config.timeout)
        return httpx.Request(
            spec.method,
            url,
            headers=headers,
            json=spec.json,
            extensions={"timeout": timeout.as_dict()},
        )

    def pacing_delay(self, now: float) -> float:
        """Seconds to wait before the next request because a limit is near.

        Drivers call this before every attempt, paced or not: the throttle spaces
        paced requests from the previous start, whichever request that was.
        """
        interval = self.config.retry.pacing_interval(self.rate_limit)
        delay = self.throttle.reserve(interval, now)
        if delay > 0:
            self.stats.paced += 1
            self.stats.waited += delay
            logger.info(
                "Rate limit near (remaining=%s, limit=%s): pacing %.2fs",
                self.rate_limit.remaining,
                self.rate_limit.limit,
                delay,
            )
        return delay

    def check_response(self, spec: RequestSpec, response: httpx.Response) -> httpx.Response:
        """Record rate-limit headers; raise the mapped error for 4xx/5xx."""
        self.rate_limit = parse_rate_limit_headers(response.headers, now=datetime.now(UTC))
        logger.debug("%s -> %s", spec.describe(), response.status_code)
        if response.status_code == 429:
            self.stats.rate_limited += 1
        if response.status_code >= 400:
            raise error_from_response(spec, response, self.rate_limit, self.redact)
        return response

    def wrap_transport_error(self, spec: RequestSpec, exc: httpx.TransportError) -> ConfluenceError:
        """Convert an httpx transport failure, redacted."""
        error = connection_error(spec, exc)
        error.message = self.redact(error.message)
        error.args = (error.message,)
        return error

    # -- retries --------------------------------------------------------------

    def should_retry(self, spec: RequestSpec, exc: BaseException | None) -> bool:
        """Whether a failed attempt may be repeated as-is."""
        if isinstance(exc, RateLimited):
            return True  # the server did not act on a 429, whatever the method
        if isinstance(exc, ConnectionFailed):
            return spec.idempotent or not exc.request_sent
        if isinstance(exc, ServerError):
            return spec.idempotent and exc.status_code in self.config.retry.retry_statuses
        return False

    def retry_wait(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        policy = self.config.retry
        hint = getattr(exc, "retry_after", None)
        if isinstance(hint, int | float) and hint > 0:
            return policy.honour_retry_after(float(hint), self.rng)
        return policy.backoff(attempt, self.rng)

    def retry_options(self, spec: RequestSpec) -> dict[str, Any]:
        """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying`` (minus ``sleep``)."""
        policy = self.config.retry

        def retry(state: RetryCallState) -> bool:
            if state.outcome is None:
                return False
            exc = state.outcome.exception()
            if isinstance(exc, ConfluenceError):
                # Tenacity sees every outcome here, the final one included; operations
                # need the count to tell "our earlier attempt may have acted" apart.
                exc.attempts = state.attempt_number
            return self.should_retry(spec, exc)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self.retry_wait(exc, state.attempt_number)

        def stop(state: RetryCallState) -> bool:
            # Bound both attempts and the sum of sleeps, counting the one about to happen.
            return (
                state.attempt_number >= policy.max_attempts
                or state.idle_for + state.upcoming_sleep > policy.max_total_wait
            )

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.stats.retries += 1
            self.stats.waited += state.upcoming_sleep
            logger.info(
                "Retrying %s in %.2fs (attempt %d of %d failed): %s",
                spec.describe(),
                state.upcoming_sleep,
                state.attempt_number,
                policy.max_attempts,
                _reason(exc),
            )

        return {
            "retry": retry,
            "wait": wait,
            "stop": stop,
            "before_sleep": before_sleep,
            "reraise": True,
        }

    # -- parsing --------------------------------------------------------------

    def parse(self, model: type[ModelT], data: Any, base: str | None = None) -> ModelT:
        """Validate ``data`` as ``model``; shape errors become UnexpectedResponse."""
        try:
            return model.model_validate(data, context={"base": base or self.config.site_base})
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:5])
            raise UnexpectedResponse(
                f"Unexpected {model.__name__} response shape (fields: {fields})"
            ) from None

    def json_of(self, response: httpx.Response) -> Any:
        """Decoded JSON body, or UnexpectedResponse."""
        try:
            return response.json()
        except ValueError:
            raise UnexpectedResponse(
                f"Expected JSON from {response.request.method} {response.request.url.path}, "
                f"got {response.headers.get('content-type', 'no content type')}",
                status_code=response.status_code,
            ) from None

    def envelope(self, response: httpx.Response) -> tuple[list[Any], str | None, str | None]:
        """``(results, next link, base)`` of a list envelope."""
        data = self.json_of(response)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise UnexpectedResponse("Expected a {results: [...]} list response")
        links = data.get("_links") or {}
        next_link = links.get("next") if isinstance(links, dict) else None
        base = links.get("base") if isinstance(links, dict) else None
        if not next_link:
            next_link = _link_header_next(response)
        return data["results"], next_link or None, base

    # -- URLs -------------------------------------------------------------------

    def v2(self, path: str) -> str:
        """Absolute v2 URL for ``path``."""
        return f"{self.config.v2_base}{path}"

    def v1(self, path: str) -> str:
        """Absolute v1 URL for ``path``."""
        return f"{self.config.v1_base}{path}"

    def follow(self, link: str) -> str:
        """Absolute URL for a ``_links.next`` value."""
        return resolve_link(self.config.api_root, link)

    # -- operations: search ----------------------------------------------------

    def search(
        self,
        cql: str,
        *,
        limit: int = 25,
        cursor: str | None = None,
        excerpt: str = "highlight",
        expand: Sequence[str] = (),
    ) -> Operation[SearchPage]:
        """CQL search (v1 ``/search``), validated locally first."""
        validate_cql(cql)
        spec = RequestSpec(
            "GET",
            self.v1("/search"),
            params=_params(
                cql=cql, limit=limit, cursor=cursor, excerpt=excerpt, expand=_join(expand) or None
            ),
            purpose="search",
        )
        response = yield spec
        return self._search_page(response)

    def search_follow(self, link: str) -> Operation[SearchPage]:
        """The search page behind a ``_links.next``."""
        response = yield RequestSpec("GET", self.follow(link), purpose="search")
        return self._search_page(response)

    def _search_page(self, response: httpx.Response) -> SearchPage:
        data = self.json_of(response)
        links = data.get("_links", {}) if isinstance(data, dict) else {}
        next_link = links.get("next") if isinstance(links, dict) else None
        base = links.get("base") if isinstance(links, dict) else None
        page = self.parse(SearchPage, data, base)
        return page.model_copy(update={"next_link": next_link, "next_cursor": cursor_of(next_link)})

    def search_pager(
        self, cql: str, *, limit: int, max_results: int | None, expand: Sequence[str]
    ) -> Pager[SearchResult]:
        """Pager over every search hit."""
        return Pager(
            lambda: self.search(cql, limit=limit, expand=expand),
            self.search_follow,
            max_results,
        )

    # -- operations: pages -------------------------------------------------------

    def list_pages(
        self,
        *,
        space_id: str | Sequence[str] | None = None,
        title: str | None = None,
        status: str | Sequence[str] | None = None,
        body_format: str | None = None,
        sort: str | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> Operation[PageList]:
        """One page of ``GET /pages``."""
        spec = RequestSpec(
            "GET",
            self.v2("/pages"),
            params=_params(
                space_id=_join(space_id),
                title=title,
                status=_join(status),
                body_format=body_format,
                sort=sort,
                limit=_page_size(limit),
                cursor=cursor,
            ),
        )
        response = yield spec
        return self._page_list(response)

    def pages_follow(self, link: str) -> Operation[PageList]:
        """The ``GET /pages`` page behind a ``_links.next``."""
        response = yield RequestSpec("GET", self.follow(link))
        return self._page_list(response)

    def _page_list(self, response: httpx.Response) -> PageList:
        results, next_link, base = self.envelope(response)
        pages = [self.parse(Page, item, base) for item in results]
        return PageList(results=pages, next_link=next_link, next_cursor=cursor_of(next_link))

    def pages_pager(self, max_results: int | None, **filters: Any) -> Pager[Page]:
        """Pager over every page matching ``filters``."""
        return Pager(lambda: self.list_pages(**filters), self.pages_follow, max_results)

    def get_page(
        self,
        page_id: str | int,
        *,
        body_format: str | None = "storage",
        version: int | None = None,
        include_labels: bool = False,
    ) -> Operation[Page]:
        """``GET /pages/{id}``."""
        response = yield RequestSpec(
            "GET",
            self.v2(f"/pages/{_id(page_id)}"),
            params=_params(
                body_format=body_format,
                version=version,
                include_labels=True if include_labels else None,
            ),
        )
        return self.parse(Page, self.json_of(response))

    def create_page(
        self,
        *,
        space_id: str,
        title: str,
        body: str,
        parent_id: str | None = None,
        status: str = "current",
    ) -> Operation[Page]:
        """``POST /pages``, safe against duplicate creation after ambiguous failures.

        A create is not idempotent, so after a 5xx or a connection failure that
        may have reached the server, the page is looked up by space and title: if
        it now exists it is returned, otherwise the create is sent once more.
        """
        payload: dict[str, Any] = {
            "spaceId": str(space_id),
            "status": status,
            "title": title,
            "body": {"representation": "storage", "value": body},
        }
        if parent_id is not None:
            payload["parentId"] = str(parent_id)
        spec = RequestSpec(
            "POST",
            self.v2("/pages"),
            params=_params(body_format="storage"),
            json=payload,
            idempotent=False,
        )
        try:
            response = yield spec
        except (ServerError, ConnectionFailed) as exc:
            if isinstance(exc, ConnectionFailed) and not exc.request_sent:
                raise  # retries of never-sent requests already ran out
            logger.info(
                "Create of %r was ambiguous (%s); checking whether it exists", title, _reason(exc)
            )
            existing = yield from self._find_page(space_id, title, status)
            if existing is not None:
                logger.info("Page %r exists after all (id %s); not re-creating", title, existing.id)
                return existing
            response = yield spec
        return self.parse(Page, self.json_of(response))

    def _find_page(self, space_id: str, title: str, status: str) -> Operation[Page | None]:
        listing = yield from self.list_pages(
            space_id=space_id, title=title, status=status, body_format="storage", limit=25
        )
        for page in listing.results:
            if page.title == title:
                return page
        return None

    def update_page(
        self,
        page_id: str | int,
        *,
        title: str,
        body: str,
        version: int,
        status: str = "current",
        message: str | None = None,
        parent_id: str | None = None,
    ) -> Operation[Page]:
        """``PUT /pages/{id}``; ``version`` is the new number (current + 1).

        Retried after ambiguous failures like any idempotent request. Should a retry
        meet a 409 because an earlier attempt was carried out after all, the page is
        read back and returned when it holds exactly what was sent (see
        :meth:`_own_applied_write`); every other 409 raises VersionConflict.
        """
        version_payload: dict[str, Any] = {"number": version}
        if message is not None:
            version_payload["message"] = message
        payload: dict[str, Any] = {
            "id": _id(page_id),
            "status": status,
            "title": title,
            "body": {"representation": "storage", "value": body},
            "version": version_payload,
        }
        if parent_id is not None:
            payload["parentId"] = str(parent_id)
        try:
            response = yield RequestSpec(
                "PUT",
                self.v2(f"/pages/{_id(page_id)}"),
                params=_params(body_format="storage"),
                json=payload,
                attempted_version=version,
            )
        except VersionConflict as conflict:
            mine = yield from self._own_applied_write(page_id, title, body, version, conflict)
            if mine is None:
                raise conflict
            return mine
        return self.parse(Page, self.json_of(response))

    def _own_applied_write(
        self, page_id: str | int, title: str, body: str, version: int, conflict: VersionConflict
    ) -> Operation[Page | None]:
        """The page, when a retried PUT's 409 is about the write an earlier attempt made.

        A PUT can be carried out and still be answered with a 5xx (a proxy timing
        out after the origin acted); the retry then finds the page already at the
        version it sends and gets a 409. Only then is the page read once: when its
        title and storage body are what was sent, the write was ours and succeeded.
        Anything else (a first-attempt conflict, another version, other content) is
        someone else's write and the conflict stands.
        """
        if conflict.attempts < 2 or conflict.current_version != version:
            return None
        try:
            current = yield from self.get_page(page_id, body_format="storage")
        except ConfluenceError as exc:
            # Undecidable: report the conflict the caller can act on, not the re-read.
            logger.info("Could not re-read page %s after a conflict: %s", page_id, _reason(exc))
            return None
        if (
            current.version.number == version
            and current.title == title
            and _same_storage(current.body_storage, body)
        ):
            logger.info(
                "PUT of page %s version %d was applied before its retry; not a conflict",
                current.id,
                version,
            )
            return current
        return None

    # -- operations: small collections ------------------------------------------

    def _list_follow(self, model: type[ModelT]) -> Callable[[str], Operation[Listing[ModelT]]]:
        def follow(link: str) -> Operation[Listing[ModelT]]:
            response = yield RequestSpec("GET", self.follow(link))
            return self._list_of(model, response)

        return follow

    def _list_first(
        self, model: type[ModelT], url: str, params: tuple[tuple[str, str], ...]
    ) -> Callable[[], Operation[Listing[ModelT]]]:
        def first() -> Operation[Listing[ModelT]]:
            response = yield RequestSpec("GET", url, params=params)
            return self._list_of(model, response)

        return first

    def _list_of(self, model: type[ModelT], response: httpx.Response) -> _ListPage[ModelT]:
        results, next_link, base = self.envelope(response)
        return _ListPage([self.parse(model, item, base) for item in results], next_link)

    def _pager(
        self, model: type[ModelT], url: str, max_results: int | None, **params: object
    ) -> Pager[ModelT]:
        return Pager(
            self._list_first(model, url, _params(**params)),
            self._list_follow(model),
            max_results,
        )

    def versions_pager(self, page_id: str | int, *, limit: int) -> Pager[PageVersion]:
        """Newest-first version history, at most ``limit`` entries."""
        return self._pager(
            PageVersion,
            self.v2(f"/pages/{_id(page_id)}/versions"),
            limit,
            sort="-modified-date",
            limit=_page_size(limit),
        )

    def labels_pager(self, page_id: str | int) -> Pager[Label]:
        """Every label of a page."""
        return self._pager(
            Label, self.v2(f"/pages/{_id(page_id)}/labels"), None, limit=MAX_PAGE_SIZE
        )

    def children_pager(self, page_id: str | int, *, limit: int) -> Pager[ChildPage]:
        """Direct children (pages, folders, …) in tree order, at most ``limit``."""
        return self._pager(
            ChildPage,
            self.v2(f"/pages/{_id(page_id)}/direct-children"),
            limit,
            limit=_page_size(limit),
        )

    def spaces_pager(self, *, keys: Sequence[str], ids: Sequence[str]) -> Pager[Space]:
        """Spaces by keys and/or ids (all spaces when both are empty)."""
        return self._pager(
            Space,
            self.v2("/spaces"),
            None,
            keys=_join(list(keys)),
            ids=_join([str(i) for i in ids]),
            limit=MAX_PAGE_SIZE,
        )

    def add_labels(self, page_id: str | int, names: Sequence[str]) -> Operation[list[Label]]:
        """v1 ``POST /content/{id}/label``: adds (never removes); returns all labels."""
        payload = [_label_payload(name) for name in names]
        # Adding an existing label is a no-op server-side, so a resend is harmless.
        response = yield RequestSpec(
            "POST", self.v1(f"/content/{_id(page_id)}/label"), json=payload, idempotent=True
        )
        results, _, _ = self.envelope(response)
        return [self.parse(Label, item) for item in results]

    def get_space_by_key(self, key: str) -> Operation[Space]:
        """Space by key, from the client's cache when already resolved."""
        cached = self._space_ids.get(key)
        if cached is not None:
            return cached
        response = yield RequestSpec("GET", self.v2("/spaces"), params=_params(keys=key, limit=1))
        results, _, base = self.envelope(response)
        for item in results:
            space = self.parse(Space, item, base)
            if space.key == key:
                self._space_ids[key] = space
                return space
        raise NotFound(f"No space with key {key!r} (or no permission to see it)", status_code=404)

    def remember_spaces(self, spaces: Iterable[Space]) -> None:
        """Feed the key → space cache from a listing."""
        for space in spaces:
            self._space_ids[space.key] = space

    def get_user(self, account_id: str) -> Operation[User]:
        """v1 ``GET /user?accountId=``."""
        response = yield RequestSpec("GET", self.v1("/user"), params=_params(accountId=account_id))
        return self.parse(User, self.json_of(response))

    def get_users(self, account_ids: Sequence[str]) -> Operation[list[User]]:
        """v2 ``POST /users-bulk`` in chunks of 250 (a read, so safe to retry)."""
        users: list[User] = []
        unique = list(dict.fromkeys(account_ids))
        for start in range(0, len(unique), _USERS_BULK_MAX):
            chunk = unique[start : start + _USERS_BULK_MAX]
            response = yield RequestSpec(
                "POST", self.v2("/users-bulk"), json={"accountIds": chunk}, idempotent=True
            )
            results, _, _ = self.envelope(response)
            users.extend(self.parse(User, item) for item in results)
        return users


def validate_cql(cql: str) -> None:
    """Raise InvalidCQL (no request sent) when local validation finds errors."""
    # Imported lazily: the CQL package is heavier (lark) and the client must not
    # depend on it at import time.
    cql_module = importlib.import_module("confluence_agent.cql")
    problems: list[ProblemLike] = list(cql_module.validate(cql))
    if any(problem.severity == "error" for problem in problems):
        raise InvalidCQL(str(cql_module.format_problems(problems)), problems=problems)


_BETWEEN_TAGS = re.compile(r">\s+<")
_SPACE_RUN = re.compile(r"\s+")
_SELF_CLOSING = re.compile(r"\s*/>")


def _same_storage(stored: str | None, sent: str) -> bool:
    """Whether a stored storage body is the one sent, up to whitespace the server may drop.

    Confluence re-serialises storage XHTML: indentation between tags vanishes and
    ``<br/>`` becomes ``<br />``. Text content is compared exactly otherwise.
    """
    if stored is None:
        return False

    def normal(text: str) -> str:
        text = _BETWEEN_TAGS.sub("><", text.strip())
        return _SELF_CLOSING.sub("/>", _SPACE_RUN.sub(" ", text))

    return normal(stored) == normal(sent)


def _label_payload(name: str) -> dict[str, str]:
    prefix, sep, rest = name.partition(":")
    if sep and prefix in ("global", "my", "team") and rest:
        return {"prefix": prefix, "name": rest}
    return {"prefix": "global", "name": name}


def _id(value: str | int) -> str:
    text = str(value).strip()
    if not text.isdigit():
        raise InvalidRequest(f"Invalid content id {text!r}: expected digits")
    return text


def _page_size(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE_SIZE))


_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _link_header_next(response: httpx.Response) -> str | None:
    match = _LINK_NEXT.search(response.headers.get("link", ""))
    return match.group(1) if match else None


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, ConfluenceError):
        return f"{type(exc).__name__}: {exc.message}"
    return type(exc).__name__ if exc else "unknown"


def _user_agent() -> str:
    try:
        version = metadata.version("confluence-agent")
    except metadata.PackageNotFoundError:  # pragma: no cover - source tree without install
        version = "dev"
    return f"confluence-agent/{version}"
