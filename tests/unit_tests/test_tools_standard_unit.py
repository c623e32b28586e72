"""langchain-tests standard unit suite for every Confluence tool (no network)."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.tools import (
    ConfluenceCreatePage,
    ConfluenceGetPage,
    ConfluenceGetUser,
    ConfluenceListPages,
    ConfluenceSearch,
    ConfluenceUpdatePage,
)

# Nothing listens here: constructing clients sends no request.
URL = "http://127.0.0.1:9"


def _params() -> dict[str, Any]:
    return {
        "client": ConfluenceClient(URL, email="bot@example.com", api_token="unit-token"),
        "async_client": AsyncConfluenceClient(URL, email="bot@example.com", api_token="unit-token"),
    }


class _Base(ToolsUnitTests):
    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return _params()


class TestSearchUnit(_Base):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceSearch

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"cql": 'type = page AND title ~ "Q3 Billing Engine PRD"', "limit": 5}


class TestListPagesUnit(_Base):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceListPages

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"space": "ENG", "limit": 10}


class TestGetPageUnit(_Base):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceGetPage

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"page_id": "998877"}


class TestCreatePageUnit(_Base):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceCreatePage

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"space": "ENG", "title": "Runbook", "body": "# Steps\n\n1. Page the on-call."}


class TestUpdatePageUnit(_Base):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceUpdatePage

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "page_id": "998877",
            "version": 6,
            "operations": [
                {"kind": "append_section", "title": "Stripe webhook integration",
                 "content": "Verify every webhook signature."}
            ],
        }


class TestGetUserUnit(_Base):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ConfluenceGetUser

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"account_ids": ["5b10ac8d82e05b22cc7d4ef5"]}
