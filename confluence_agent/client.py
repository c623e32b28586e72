"""Sync and async Confluence clients: thin drivers over :mod:`confluence_agent._core`.

Each public method builds an operation from the core and runs it. The sync
driver (:meth:`ConfluenceClient._run`) and async driver
(:meth:`AsyncConfluenceClient._run`) are the only places that touch the network,
sleep, or read the clock, so the two clients cannot drift apart.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import tenacity
from pydantic import SecretStr, ValidationError

from confluence_agent._core import Core, Operation, Pager, RequestSpec, RequestStats
from confluence_agent.config import ConfluenceConfig
from confluence_agent.errors import ConfigurationError, ConfluenceError
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
from confluence_agent.ratelimit import RateLimitState, RetryPolicy

__all__ = ["AsyncConfluenceClient", "ConfluenceClient", "RequestStats"]

T = TypeVar("T")
ItemT = TypeVar("ItemT")


def _secret(value: str | SecretStr | None) -> SecretStr | None:
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


def _resolve_config(
    url: str | None,
    email: str | None,
    api_token: str | SecretStr | None,
    bearer_token: str | SecretStr | None,
    config: ConfluenceConfig | None,
    timeout: float | None,
    retry: RetryPolicy | None,
) -> ConfluenceConfig:
    """Explicit ``config`` first, else arguments layered over ``CONFLUENCE_*`` env vars."""
    try:
        if config is None:
            return ConfluenceConfig.from_env(
                url=url,
                email=email,
                api_token=_secret(api_token),
                bearer_token=_secret(bearer_token),
                timeout=timeout,
                retry=retry,
            )
        updates: dict[str, Any] = {}
        if timeout is not None:
            updates["timeout"] = timeout
        if retry is not None:
            updates["retry"] = retry
        return config.model_copy(update=updates) if updates else config
    except ValidationError as exc:
        # Pydantic's message would echo the offending input; name the fields only.
        fields = ", ".join(".".join(map(str, e["loc"])) or "config" for e in exc.errors())
        raise ConfigurationError(f"Invalid Confluence configuration: {fields}") from None


class _ClientBase:
    """State and read-only properties common to both clients."""

    config: ConfluenceConfig
    _core: Core

    @property
    def rate_limit(self) -> RateLimitState:
        """Rate-limit headers of the most recent response."""
        return self._core.rate_limit

    @property
    def stats(self) -> RequestStats:
        """Requests sent, retries, 429s and waits since creation (or ``stats.reset()``)."""
        return self._core.stats

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.config.url!r}, auth={self.config.auth_scheme!r})"


class ConfluenceClient(_ClientBase):
    """Synchronous Confluence Cloud client.

    Args:
        url: Site URL (see :class:`ConfluenceConfig` for accepted forms); defaults
            to ``CONFLUENCE_URL``.
        email: Account e-mail for basic auth; defaults to ``CONFLUENCE_EMAIL``.
        api_token: API token for basic auth; defaults to ``CONFLUENCE_API_TOKEN``.
        bearer_token: OAuth token / PAT; defaults to ``CONFLUENCE_BEARER_TOKEN``.
        config: A complete config (other connection arguments are then ignored).
        transport: Custom httpx transport (tests: ``httpx.MockTransport``).
        timeout: Per-request timeout in seconds.
        retry: Retry and pacing policy.
        sleep: Sleep function used for retries and pacing (tests record instead).
        clock: Monotonic clock used for pacing.
        rng: Source of uniform [0, 1) numbers for jitter.

    Raises:
        ConfigurationError: URL or credentials missing, naming the variable to set.

    Example:
        >>> with ConfluenceClient() as client:  # doctest: +SKIP
        ...     page = client.get_page(998877)
        ...     client.update_page(page.id, title=page.title, body=new_body,
        ...                        version=page.version.number + 1)
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        email: str | None = None,
        api_token: str | SecretStr | None = None,
        bearer_token: str | SecretStr | None = None,
        config: ConfluenceConfig | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = _resolve_config(url, email, api_token, bearer_token, config, timeout, retry)
        self._core = Core(self.config, rng=rng)
        self._sleep = sleep
        self._clock = clock
        # Credentials are added per request by the core, never stored on the httpx client.
        self._http = httpx.Client(transport=transport, follow_redirects=True)

    # -- driver ---------------------------------------------------------------

    def _attempt(self, spec: RequestSpec) -> httpx.Response:
        delay = self._core.pacing_delay(self._clock())
        if delay > 0:
            self._sleep(delay)
        request = self._core.build_request(spec)
        self._core.stats.requests += 1
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            raise self._core.wrap_transport_error(spec, exc) from None
        return self._core.check_response(spec, response)

    def _send(self, spec: RequestSpec) -> httpx.Response:
        retrying = tenacity.Retrying(sleep=self._sleep, **self._core.retry_options(spec))
        return retrying(self._attempt, spec)

    def _run(self, operation: Operation[T]) -> T:
        try:
            spec = next(operation)
            while True:
                try:
                    response = self._send(spec)
                except ConfluenceError as exc:
                    spec = operation.throw(exc)
                else:
                    spec = operation.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def _iterate(self, pager: Pager[ItemT]) -> Iterator[ItemT]:
        while (operation := pager.next_operation()) is not None:
            yield from pager.take(self._run(operation))

    # -- search ---------------------------------------------------------------

    def search(
        self,
        cql: str,
        *,
        limit: int = 25,
        cursor: str | None = None,
        excerpt: str = "highlight",
        expand: Sequence[str] = (),
    ) -> SearchPage:
        """Run one page of a CQL search (v1 ``/search``).

        The query is validated locally first; errors raise without a request.

        Args:
            cql: The CQL query.
            limit: Page size.
            cursor: ``SearchPage.next_cursor`` of the previous page.
            excerpt: ``highlight``, ``indexed``, ``none``, ``highlight_unescaped``…
            expand: v1 expansions such as ``content.space``, ``content.version``.

        Raises:
            InvalidCQL: Local validation or the server rejected the query.
        """
        return self._run(
            self._core.search(cql, limit=limit, cursor=cursor, excerpt=excerpt, expand=expand)
        )

    def iter_search(
        self,
        cql: str,
        *,
        limit: int = 25,
        max_results: int | None = None,
        expand: Sequence[str] = (),
    ) -> Iterator[SearchResult]:
        """Iterate over every hit of a CQL search, following cursors lazily."""
        yield from self._iterate(
            self._core.search_pager(cql, limit=limit, max_results=max_results, expand=expand)
        )

    # -- pages ----------------------------------------------------------------

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
    ) -> PageList:
        """One page of ``GET /wiki/api/v2/pages`` (``limit`` is clamped to 1–250).

        Args:
            space_id: Space id or ids.
            title: Exact title filter.
            status: ``current``, ``archived``, ``trashed``, ``deleted`` (one or more).
            body_format: ``storage`` or ``atlas_doc_format`` to include bodies.
            sort: ``id``, ``title``, ``created-date``, ``modified-date``; ``-`` = desc.
            limit: Page size.
            cursor: ``PageList.next_cursor`` of the previous page.
        """
        return self._run(
            self._core.list_pages(
                space_id=space_id,
                title=title,
                status=status,
                body_format=body_format,
                sort=sort,
                limit=limit,
                cursor=cursor,
            )
        )

    def iter_pages(
        self,
        *,
        space_id: str | Sequence[str] | None = None,
        title: str | None = None,
        status: str | Sequence[str] | None = None,
        body_format: str | None = None,
        sort: str | None = None,
        limit: int = 25,
        max_results: int | None = None,
    ) -> Iterator[Page]:
        """Iterate over every page matching the filters of :meth:`list_pages`."""
        yield from self._iterate(
            self._core.pages_pager(
                max_results,
                space_id=space_id,
                title=title,
                status=status,
                body_format=body_format,
                sort=sort,
                limit=limit,
            )
        )

    def get_page(
        self,
        page_id: str | int,
        *,
        body_format: str | None = "storage",
        version: int | None = None,
        include_labels: bool = False,
    ) -> Page:
        """Read a page with its storage body and current version.

        Args:
            page_id: Page id.
            body_format: Body representation, ``None`` for no body.
            version: Read this older published version instead of the current one.
            include_labels: Also return up to 50 labels in ``Page.labels``.

        Raises:
            NotFound: Missing or not visible to the caller.
        """
        return self._run(
            self._core.get_page(
                page_id, body_format=body_format, version=version, include_labels=include_labels
            )
        )

    def create_page(
        self,
        *,
        space_id: str,
        title: str,
        body: str,
        parent_id: str | None = None,
        status: str = "current",
    ) -> Page:
        """Create a page from storage-format XHTML.

        Never creates a duplicate after an ambiguous failure: it looks the page
        up by title first and returns it when the first attempt did succeed.

        Raises:
            InvalidRequest: E.g. a page with this title already exists in the space.
        """
        return self._run(
            self._core.create_page(
                space_id=space_id, title=title, body=body, parent_id=parent_id, status=status
            )
        )

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
    ) -> Page:
        """Replace a page's title and body.

        Args:
            page_id: Page id.
            title: New (or unchanged) title.
            body: Storage-format XHTML.
            version: The NEW version number: the version you read plus one.
            status: ``current`` (publish) or ``draft``.
            message: Version comment.
            parent_id: Move under this parent (same space).

        A write that the server carried out but answered with a 5xx is retried; the
        retry's 409 is then recognised as this very write (the page is read back
        once and compared) and the page is returned, exactly one version up.

        Raises:
            VersionConflict: Somebody else saved in between; re-read and retry.
        """
        return self._run(
            self._core.update_page(
                page_id,
                title=title,
                body=body,
                version=version,
                status=status,
                message=message,
                parent_id=parent_id,
            )
        )

    def get_page_versions(self, page_id: str | int, *, limit: int = 25) -> list[PageVersion]:
        """Most recent versions first, at most ``limit``."""
        return list(self._iterate(self._core.versions_pager(page_id, limit=limit)))

    def get_labels(self, page_id: str | int) -> list[Label]:
        """All labels of a page."""
        return list(self._iterate(self._core.labels_pager(page_id)))

    def add_labels(self, page_id: str | int, names: Sequence[str]) -> list[Label]:
        """Add labels (``"name"`` or ``"prefix:name"``); returns the page's labels."""
        return self._run(self._core.add_labels(page_id, names))

    def get_children(self, page_id: str | int, *, limit: int = 25) -> list[ChildPage]:
        """Direct children in tree order, at most ``limit``."""
        return list(self._iterate(self._core.children_pager(page_id, limit=limit)))

    # -- spaces and users -------------------------------------------------------

    def get_spaces(self, *, keys: Sequence[str] = (), ids: Sequence[str] = ()) -> list[Space]:
        """Spaces by keys and/or ids; unknown ones are simply absent."""
        spaces = list(self._iterate(self._core.spaces_pager(keys=keys, ids=ids)))
        self._core.remember_spaces(spaces)
        return spaces

    def get_space_by_key(self, key: str) -> Space:
        """Resolve a space key (cached per client).

        Raises:
            NotFound: No such space, or not visible.
        """
        return self._run(self._core.get_space_by_key(key))

    def get_space_id(self, key: str) -> str:
        """The id of the space with this key."""
        return self.get_space_by_key(key).id

    def get_user(self, account_id: str) -> User:
        """A user by Atlassian accountId (v1 ``/user``)."""
        return self._run(self._core.get_user(account_id))

    def get_users(self, account_ids: Sequence[str]) -> list[User]:
        """Users by accountId (v2 ``/users-bulk``); unknown ids are absent."""
        return self._run(self._core.get_users(account_ids))

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncConfluenceClient(_ClientBase):
    """Asynchronous twin of :class:`ConfluenceClient` (same methods, awaited).

    Iterators are ``aiter_search`` and ``aiter_pages``. Concurrent tasks share one
    rate-limit state and one pacing throttle, so they slow down together.

    Args:
        url: As for :class:`ConfluenceClient`.
        email: As for :class:`ConfluenceClient`.
        api_token: As for :class:`ConfluenceClient`.
        bearer_token: As for :class:`ConfluenceClient`.
        config: As for :class:`ConfluenceClient`.
        transport: Custom async httpx transport.
        timeout: Per-request timeout in seconds.
        retry: Retry and pacing policy.
        sleep: Async sleep used for retries and pacing.
        clock: Monotonic clock used for pacing.
        rng: Source of uniform [0, 1) numbers for jitter.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        email: str | None = None,
        api_token: str | SecretStr | None = None,
        bearer_token: str | SecretStr | None = None,
        config: ConfluenceConfig | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = _resolve_config(url, email, api_token, bearer_token, config, timeout, retry)
        self._core = Core(self.config, rng=rng)
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=True)

    # -- driver ---------------------------------------------------------------

    async def _attempt(self, spec: RequestSpec) -> httpx.Response:
        delay = self._core.pacing_delay(self._clock())
        if delay > 0:
            await self._sleep(delay)
        request = self._core.build_request(spec)
        self._core.stats.requests += 1
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise self._core.wrap_transport_error(spec, exc) from None
        return self._core.check_response(spec, response)

    async def _send(self, spec: RequestSpec) -> httpx.Response:
        retrying = tenacity.AsyncRetrying(sleep=self._sleep, **self._core.retry_options(spec))
        response: httpx.Response = await retrying(self._attempt, spec)
        return response

    async def _run(self, operation: Operation[T]) -> T:
        try:
            spec = next(operation)
            while True:
                try:
                    response = await self._send(spec)
                except ConfluenceError as exc:
                    spec = operation.throw(exc)
                else:
                    spec = operation.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def _iterate(self, pager: Pager[ItemT]) -> AsyncIterator[ItemT]:
        while (operation := pager.next_operation()) is not None:
            for item in pager.take(await self._run(operation)):
                yield item

    async def _collect(self, pager: Pager[ItemT]) -> list[ItemT]:
        return [item async for item in self._iterate(pager)]

    # -- search ---------------------------------------------------------------

    async def search(
        self,
        cql: str,
        *,
        limit: int = 25,
        cursor: str | None = None,
        excerpt: str = "highlight",
        expand: Sequence[str] = (),
    ) -> SearchPage:
        """See :meth:`ConfluenceClient.search`."""
        return await self._run(
            self._core.search(cql, limit=limit, cursor=cursor, excerpt=excerpt, expand=expand)
        )

    async def aiter_search(
        self,
        cql: str,
        *,
        limit: int = 25,
        max_results: int | None = None,
        expand: Sequence[str] = (),
    ) -> AsyncIterator[SearchResult]:
        """See :meth:`ConfluenceClient.iter_search`."""
        pager = self._core.search_pager(cql, limit=limit, max_results=max_results, expand=expand)
        async for item in self._iterate(pager):
            yield item

    # -- pages ----------------------------------------------------------------

    async def list_pages(
        self,
        *,
        space_id: str | Sequence[str] | None = None,
        title: str | None = None,
        status: str | Sequence[str] | None = None,
        body_format: str | None = None,
        sort: str | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> PageList:
        """See :meth:`ConfluenceClient.list_pages`."""
        return await self._run(
            self._core.list_pages(
                space_id=space_id,
                title=title,
                status=status,
                body_format=body_format,
                sort=sort,
                limit=limit,
                cursor=cursor,
            )
        )

    async def aiter_pages(
        self,
        *,
        space_id: str | Sequence[str] | None = None,
        title: str | None = None,
        status: str | Sequence[str] | None = None,
        body_format: str | None = None,
        sort: str | None = None,
        limit: int = 25,
        max_results: int | None = None,
    ) -> AsyncIterator[Page]:
        """See :meth:`ConfluenceClient.iter_pages`."""
        pager = self._core.pages_pager(
            max_results,
            space_id=space_id,
            title=title,
            status=status,
            body_format=body_format,
            sort=sort,
            limit=limit,
        )
        async for item in self._iterate(pager):
            yield item

    async def get_page(
        self,
        page_id: str | int,
        *,
        body_format: str | None = "storage",
        version: int | None = None,
        include_labels: bool = False,
    ) -> Page:
        """See :meth:`ConfluenceClient.get_page`."""
        return await self._run(
            self._core.get_page(
                page_id, body_format=body_format, version=version, include_labels=include_labels
            )
        )

    async def create_page(
        self,
        *,
        space_id: str,
        title: str,
        body: str,
        parent_id: str | None = None,
        status: str = "current",
    ) -> Page:
        """See :meth:`ConfluenceClient.create_page`."""
        return await self._run(
            self._core.create_page(
                space_id=space_id, title=title, body=body, parent_id=parent_id, status=status
            )
        )

    async def update_page(
        self,
        page_id: str | int,
        *,
        title: str,
        body: str,
        version: int,
        status: str = "current",
        message: str | None = None,
        parent_id: str | None = None,
    ) -> Page:
        """See :meth:`ConfluenceClient.update_page`."""
        return await self._run(
            self._core.update_page(
                page_id,
                title=title,
                body=body,
                version=version,
                status=status,
                message=message,
                parent_id=parent_id,
            )
        )

    async def get_page_versions(self, page_id: str | int, *, limit: int = 25) -> list[PageVersion]:
        """See :meth:`ConfluenceClient.get_page_versions`."""
        return await self._collect(self._core.versions_pager(page_id, limit=limit))

    async def get_labels(self, page_id: str | int) -> list[Label]:
        """See :meth:`ConfluenceClient.get_labels`."""
        return await self._collect(self._core.labels_pager(page_id))

    async def add_labels(self, page_id: str | int, names: Sequence[str]) -> list[Label]:
        """See :meth:`ConfluenceClient.add_labels`."""
        return await self._run(self._core.add_labels(page_id, names))

    async def get_children(self, page_id: str | int, *, limit: int = 25) -> list[ChildPage]:
        """See :meth:`ConfluenceClient.get_children`."""
        return await self._collect(self._core.children_pager(page_id, limit=limit))

    # -- spaces and users -------------------------------------------------------

    async def get_spaces(self, *, keys: Sequence[str] = (), ids: Sequence[str] = ()) -> list[Space]:
        """See :meth:`ConfluenceClient.get_spaces`."""
        spaces = await self._collect(self._core.spaces_pager(keys=keys, ids=ids))
        self._core.remember_spaces(spaces)
        return spaces

    async def get_space_by_key(self, key: str) -> Space:
        """See :meth:`ConfluenceClient.get_space_by_key`."""
        return await self._run(self._core.get_space_by_key(key))

    async def get_space_id(self, key: str) -> str:
        """See :meth:`ConfluenceClient.get_space_id`."""
        return (await self.get_space_by_key(key)).id

    async def get_user(self, account_id: str) -> User:
        """See :meth:`ConfluenceClient.get_user`."""
        return await self._run(self._core.get_user(account_id))

    async def get_users(self, account_ids: Sequence[str]) -> list[User]:
        """See :meth:`ConfluenceClient.get_users`."""
        return await self._run(self._core.get_users(account_ids))

    # -- lifecycle --------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
