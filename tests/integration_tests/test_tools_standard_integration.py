"""langchain-tests standard integration suite for every tool, against the sandbox.

The suite invokes each tool four times with the same arguments (sync/async, with
and without a ToolCall) and requires a non-error result every time, so the write
examples are chosen to succeed repeatedly:

* create: ``tool_invoke_params_example`` is a property, evaluated once per test,
  and returns a fresh unique title each time.
* update: ``version`` stays required (it is the safety mechanism). The example
  appends a section to a page created for the test at version 1, sending
  ``version=2``. The first call writes version 2; the repeats find the section
  already present, which is a successful no-op (nothing is written, so a stale
  version cannot overwrite anything) rather than a conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.sandbox.seed_demo_pages import PRIYA_ID
from confluence_agent.tools import (
    ConfluenceCreatePage,
    ConfluenceGetPage,
    ConfluenceGetUser,
    ConfluenceListPages,
    ConfluenceSearch,
    ConfluenceUpdatePage,
)


class _SandboxTools(ToolsIntegrationTests):
    """Builds the tool's clients from the ``confluence_sandbox`` fixture."""

    sandbox: Any
    _clients: list[Any]

    @pytest.fixture(autouse=True)
    def _bind_sandbox(self, confluence_sandbox: Any) -> Iterator[None]:
        # Autouse fixtures run before the suite's `tool` fixture, so the
        # properties below can see the sandbox.
        self.sandbox = confluence_sandbox
        self._clients = []
        yield
        for client in self._clients:
            if isinstance(client, ConfluenceClient):
                client.close()

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        client = ConfluenceClient(**self.sandbox.client_kwargs())
        aclient = AsyncConfluenceClient(**self.sandbox.client_kwargs())
        self._clients += [client, aclient]
        return {"client": client, "async_client": aclient}


class TestSearchIntegration(_SandboxTools):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceSearch

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"cql": 'type = page AND space = "ENG" AND text ~ "Datadog"', "limit": 5}


class TestListPagesIntegration(_SandboxTools):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceListPages

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"space": "ENG", "limit": 5}


class TestGetPageIntegration(_SandboxTools):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceGetPage

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"page_id": "998877"}


class TestGetUserIntegration(_SandboxTools):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceGetUser

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"account_ids": [PRIYA_ID]}


class TestCreatePageIntegration(_SandboxTools):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceCreatePage

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "space": "ENG",
            "title": f"Standard test page {uuid.uuid4().hex[:12]}",
            "body": "# Purpose\n\nCreated by the **standard** tool tests.",
        }


class TestUpdatePageIntegration(_SandboxTools):
    page_id: str

    @pytest.fixture(autouse=True)
    def _fresh_page(self, _bind_sandbox: None) -> None:
        client = ConfluenceClient(**self.sandbox.client_kwargs())
        self._clients.append(client)
        space_id = client.get_space_by_key("ENG").id
        page = client.create_page(
            space_id=space_id,
            title=f"Update target {uuid.uuid4().hex[:12]}",
            body="<h2>Intro</h2><p>Seeded for the update tool tests.</p>",
        )
        assert page.version.number == 1
        self.page_id = page.id

    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceUpdatePage

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "page_id": self.page_id,
            "version": 2,
            "operations": [
                {"kind": "append_section", "title": "Rollout",
                 "content": "Enable the flag for **10%** of tenants first."}
            ],
        }
