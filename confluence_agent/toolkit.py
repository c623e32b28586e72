"""``ConfluenceToolkit``: the Confluence tools with read/write, space and group filters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.config import ConfluenceConfig
from confluence_agent.tools import (
    ConfluenceCreatePage,
    ConfluenceGetPage,
    ConfluenceGetUser,
    ConfluenceListPages,
    ConfluenceSearch,
    ConfluenceUpdatePage,
    _ConfluenceTool,
    _norm_keys,
)

__all__ = ["GROUPS", "METHODS", "TOOL_SPECS", "ConfluenceToolkit", "ToolSpec"]

Method = Literal["read", "write"]
Group = Literal["search", "pages", "users", "write"]
METHODS: tuple[Method, ...] = ("read", "write")
GROUPS: tuple[Group, ...] = ("search", "pages", "users", "write")

ToolSpec = tuple[type[_ConfluenceTool], Method, Group]

# One table drives the toolkit and (through each tool's metadata) the MCP server,
# so both filter the same way.
TOOL_SPECS: tuple[ToolSpec, ...] = (
    (ConfluenceSearch, "read", "search"),
    (ConfluenceListPages, "read", "pages"),
    (ConfluenceGetPage, "read", "pages"),
    (ConfluenceGetUser, "read", "users"),
    (ConfluenceCreatePage, "write", "write"),
    (ConfluenceUpdatePage, "write", "write"),
)


class _LoopLocalTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncHTTPTransport`` (connection pool) per event loop.

    Pooled connections belong to the loop that opened them: reusing one after
    that loop closed (a second ``asyncio.run`` in a script) fails with "Event
    loop is closed". The toolkit creates its async client implicitly, so that
    client must work from whichever loop the caller happens to use. Created on
    first use, so sync-only callers never pay for an async pool.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: httpx.AsyncHTTPTransport | None = None

    def _current(self) -> httpx.AsyncHTTPTransport:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            # The old pool's sockets belong to another (normally closed) loop and
            # cannot be closed from this one: drop it and start afresh.
            self._loop, self._pool = loop, httpx.AsyncHTTPTransport()
        return self._pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the current loop's pool."""
        return await self._current().handle_async_request(request)

    async def aclose(self) -> None:
        """Close the pool if it belongs to the running loop; forget it either way."""
        pool, loop = self._pool, self._loop
        self._pool = self._loop = None
        if pool is not None and loop is asyncio.get_running_loop():
            await pool.aclose()


def _owned_async_client(config: ConfluenceConfig) -> AsyncConfluenceClient:
    return AsyncConfluenceClient(config=config, transport=_LoopLocalTransport())


class ConfluenceToolkit(BaseToolkit):
    """Confluence tools for an agent: search, list, read, create, update, users.

    **Security Note**: this toolkit contains tools that can read *and modify*
    Confluence pages with the permissions of the configured credentials. Give
    it credentials scoped to what the agent needs, use ``methods={"read"}`` for
    read-only agents (no write tool is even created), and restrict ``spaces``.
    The space allow-list is enforced by the tools on every call (search is
    ANDed with ``space IN (...)``; a page in another space is reported as not
    found), not merely described to the model. Updates never overwrite
    concurrent edits and refuse lossy bodies unless explicitly allowed; for
    unattended writes, consider human approval on ``confluence_update_page``.
    See https://python.langchain.com/docs/security for more information.

    Setup:
        ```bash
        pip install confluence-agent
        export CONFLUENCE_URL=https://SITE.atlassian.net
        export CONFLUENCE_EMAIL=me@example.com CONFLUENCE_API_TOKEN=...
        ```

    Key init args:
        client: ConfluenceClient
            Sync client shared by the tools (``invoke``).
        async_client: AsyncConfluenceClient | None
            Async client shared by the tools (``ainvoke``). When omitted, the
            toolkit creates one from ``client.config`` (not from ``client``'s
            transport: pass your own when you use a custom transport), so async
            calls are native rather than run in threads.
        methods: set[str]
            ``{"read"}`` or ``{"read", "write"}`` (default: read only).
        spaces: list[str] | None
            Space keys the tools may touch (default: all).
        tags: set[str] | None
            Tool groups to expose: ``search``, ``pages``, ``users``, ``write``.

    Instantiate:
        ```python
        from confluence_agent import ConfluenceClient
        from confluence_agent.toolkit import ConfluenceToolkit

        toolkit = ConfluenceToolkit(
            client=ConfluenceClient(), methods={"read", "write"}, spaces=["ENG", "PROD"]
        )
        # or: both clients from CONFLUENCE_* variables, closed with the toolkit
        with ConfluenceToolkit.from_env(methods={"read"}) as toolkit:
            ...
        ```

    Tools:
        ```python
        [t.name for t in toolkit.get_tools()]
        # ['confluence_search', 'confluence_list_pages', 'confluence_get_page',
        #  'confluence_get_user', 'confluence_create_page', 'confluence_update_page']
        ```

    Use within an agent:
        ```python
        from confluence_agent.agent import create_confluence_agent

        agent = create_confluence_agent(model, toolkit)
        agent.invoke({"messages": [("user", "Add a rollout section to the Q3 PRD")]})
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: ConfluenceClient
    async_client: AsyncConfluenceClient | None = None
    """Filled in from ``client.config`` when not given (see the class docstring)."""
    methods: frozenset[Method] = Field(default=frozenset({"read"}))
    spaces: tuple[str, ...] | None = None
    tags: frozenset[Group] | None = None

    # Clients this toolkit created, hence closes; a caller's clients are the caller's.
    _owned: list[ConfluenceClient | AsyncConfluenceClient] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        """Create the async client from the sync client's config when none was given."""
        if self.async_client is None:
            self.async_client = _owned_async_client(self.client.config)
            self._owned.append(self.async_client)

    @classmethod
    def from_config(cls, config: ConfluenceConfig, **kwargs: Any) -> Self:
        """Build a toolkit that owns a sync and an async client made from ``config``.

        Args:
            config: Where Confluence is and how to authenticate.
            **kwargs: Other toolkit fields (``methods``, ``spaces``, ``tags``).

        Returns:
            The toolkit; :meth:`close` / :meth:`aclose` (or ``with`` /
            ``async with``) close both clients.
        """
        client = ConfluenceClient(config=config)
        aclient = _owned_async_client(config)
        kit = cls(client=client, async_client=aclient, **kwargs)
        kit._owned += [client, aclient]
        return kit

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Like :meth:`from_config`, with the config read from ``CONFLUENCE_*`` variables.

        Args:
            **kwargs: Toolkit fields (``methods``, ``spaces``, ``tags``).

        Raises:
            ConfigurationError: URL or credentials missing, naming the variable to set.
        """
        return cls.from_config(ConfluenceConfig.from_env(), **kwargs)

    def close(self) -> None:
        """Close the sync client if this toolkit created it.

        An owned async client cannot be closed without its event loop: use
        :meth:`aclose` from async code (its connections are otherwise dropped
        when the toolkit is garbage collected).
        """
        for client in self._owned:
            if isinstance(client, ConfluenceClient):
                client.close()

    async def aclose(self) -> None:
        """Close every client this toolkit created (sync and async)."""
        for client in self._owned:
            if isinstance(client, ConfluenceClient):
                client.close()
            else:
                await client.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @field_validator("methods", "tags", mode="before")
    @classmethod
    def _as_set(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset({value})
        if isinstance(value, Iterable):
            return frozenset(value)
        return value

    @field_validator("spaces", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        # Same normalisation as the tools, which enforce the list.
        return _norm_keys([value] if isinstance(value, str) else value)

    def _selected(self) -> list[ToolSpec]:
        return [
            spec
            for spec in TOOL_SPECS
            if spec[1] in self.methods and (self.tags is None or spec[2] in self.tags)
        ]

    def get_tools(self) -> list[BaseTool]:
        """Build the selected tools, all sharing this toolkit's clients and scope.

        Returns:
            The tools, read tools first; no write tool unless ``"write"`` is in
            ``methods``.
        """
        tools: list[BaseTool] = []
        for cls, method, group in self._selected():
            # name/description are defaults of each concrete class, hence the dict.
            init: dict[str, Any] = {
                "client": self.client,
                "async_client": self.async_client,
                "spaces": self.spaces,
                "tags": list(dict.fromkeys((method, group))),  # write tools: ["write"]
                "metadata": {"methods": method, "group": group},
            }
            tool = cls(**init)
            if self.spaces is not None:
                # Tell the model about the scope so it does not waste calls on it.
                tool.description += (
                    "\nOnly these spaces are accessible: " + ", ".join(self.spaces) + "."
                )
            tools.append(tool)
        return tools
