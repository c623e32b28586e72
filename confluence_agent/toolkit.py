"""``ConfluenceToolkit``: the Confluence tools with read/write, space and group filters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field, field_validator

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.tools import (
    ConfluenceCreatePage,
    ConfluenceGetPage,
    ConfluenceGetUser,
    ConfluenceListPages,
    ConfluenceSearch,
    ConfluenceUpdatePage,
    _ConfluenceTool,
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
            Sync client shared by the tools.
        async_client: AsyncConfluenceClient | None
            Async client for native ``ainvoke`` (optional).
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
    methods: frozenset[Method] = Field(default=frozenset({"read"}))
    spaces: tuple[str, ...] | None = None
    tags: frozenset[Group] | None = None

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
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        return tuple(k.strip().upper() for k in value if k.strip())

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
                "tags": [method, group],
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
