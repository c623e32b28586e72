"""ConfluenceToolkit selection: methods, tags, metadata and scope wiring."""

from __future__ import annotations

import pytest

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.toolkit import ConfluenceToolkit
from confluence_agent.tools import _ConfluenceTool

CLIENT = ConfluenceClient("http://127.0.0.1:9", email="a@example.com", api_token="t")
WRITE = {"confluence_create_page", "confluence_update_page"}
ALL = {
    "confluence_search", "confluence_list_pages", "confluence_get_page",
    "confluence_get_user", *WRITE,
}


def _names(toolkit: ConfluenceToolkit) -> set[str]:
    return {t.name for t in toolkit.get_tools()}


def test_default_is_read_only() -> None:
    assert _names(ConfluenceToolkit(client=CLIENT)) == ALL - WRITE


def test_read_only_has_no_write_tool() -> None:
    tools = ConfluenceToolkit(client=CLIENT, methods={"read"}).get_tools()
    assert not WRITE & {t.name for t in tools}
    assert all(t.metadata == {"methods": "read", "group": t.metadata["group"]} for t in tools
               if t.metadata)


def test_read_write_has_all_six_with_metadata() -> None:
    tools = ConfluenceToolkit(client=CLIENT, methods={"read", "write"}).get_tools()
    assert {t.name for t in tools} == ALL
    by_name = {t.name: t for t in tools}
    assert by_name["confluence_update_page"].metadata == {"methods": "write", "group": "write"}
    assert by_name["confluence_search"].metadata == {"methods": "read", "group": "search"}
    assert by_name["confluence_get_user"].tags == ["read", "users"]
    assert by_name["confluence_update_page"].tags == ["write"]


def test_tags_select_groups() -> None:
    kit = ConfluenceToolkit(client=CLIENT, methods={"read", "write"}, tags={"search", "users"})
    assert _names(kit) == {"confluence_search", "confluence_get_user"}
    pages = ConfluenceToolkit(client=CLIENT, methods={"read"}, tags=["pages", "write"])
    assert _names(pages) == {"confluence_list_pages", "confluence_get_page"}


def test_spaces_are_passed_to_every_tool_and_described() -> None:
    tools = ConfluenceToolkit(client=CLIENT, methods={"read", "write"},
                              spaces=["eng", "PROD"]).get_tools()
    for tool in tools:
        assert isinstance(tool, _ConfluenceTool)
        assert tool.spaces == ("ENG", "PROD")
        assert "Only these spaces are accessible: ENG, PROD." in tool.description
        assert tool.client is CLIENT
        assert tool.handle_tool_error is True
        assert tool.response_format == "content_and_artifact"


def test_async_client_is_made_from_the_sync_clients_config() -> None:
    kit = ConfluenceToolkit(client=CLIENT, methods={"read", "write"})
    assert kit.async_client is not None
    assert kit.async_client.config == CLIENT.config
    for tool in kit.get_tools():
        assert isinstance(tool, _ConfluenceTool)
        assert tool.async_client is kit.async_client


def test_a_given_async_client_is_used_as_is() -> None:
    aclient = AsyncConfluenceClient("http://127.0.0.1:9", email="a@example.com", api_token="t")
    kit = ConfluenceToolkit(client=CLIENT, async_client=aclient)
    assert kit.async_client is aclient
    assert all(getattr(t, "async_client", None) is aclient for t in kit.get_tools())


def test_from_env_builds_both_clients_from_one_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFLUENCE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CONFLUENCE_EMAIL", "bot@example.com")
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", "env-token")
    monkeypatch.delenv("CONFLUENCE_BEARER_TOKEN", raising=False)
    with ConfluenceToolkit.from_env(methods={"read", "write"}, spaces=["eng"]) as kit:
        assert kit.client.config.email == "bot@example.com"
        assert kit.async_client is not None and kit.async_client.config == kit.client.config
        tools = kit.get_tools()
        assert len(tools) == len(ALL)
        for tool in tools:
            assert isinstance(tool, _ConfluenceTool)
            assert tool.client is kit.client and tool.async_client is kit.async_client
            assert tool.spaces == ("ENG",)
