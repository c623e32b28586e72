"""Unit tests for confluence_agent.mcp_server with stand-in tools (in-process MCP client)."""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from langchain_core.tools import BaseTool, ToolException
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS
from pydantic import BaseModel, Field

from confluence_agent._mcp_auth import TokenGuard
from confluence_agent.mcp_server import build_mcp_server, main, rate_limit_meta
from confluence_agent.ratelimit import RateLimitPolicy, RateLimitQuota, RateLimitState

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class EchoInput(BaseModel):
    text: str = Field(description="What to echo.")
    times: int = Field(default=1, ge=1, le=3)


class Echo(BaseTool):
    name: str = "confluence_echo"
    description: str = "Echo text back."
    args_schema: type[BaseModel] = EchoInput
    response_format: str = "content_and_artifact"
    handle_tool_error: bool = True
    metadata: dict[str, Any] | None = {"methods": "read", "group": "pages"}  # noqa: RUF012

    def _run(self, text: str, times: int = 1, **_: Any) -> tuple[str, dict[str, Any]]:
        if text == "fail":
            raise ToolException("Page 42 was not found. Search with confluence_search first.")
        return text * times, {"text": text, "times": times, "when": NOW}


class Crash(BaseTool):
    """A bug inside a tool, whose message happens to carry a secret."""

    name: str = "confluence_crash"
    description: str = "Always fails unexpectedly."
    metadata: dict[str, Any] | None = {"methods": "read", "group": "pages"}  # noqa: RUF012

    def _run(self, **_: Any) -> str:
        raise RuntimeError("connection to https://bot:hunter2-secret@example.com failed")


class Write(BaseTool):
    name: str = "confluence_write"
    description: str = "Pretend to write."
    args_schema: type[BaseModel] = EchoInput
    response_format: str = "content_and_artifact"
    metadata: dict[str, Any] | None = {"methods": "write", "group": "pages"}  # noqa: RUF012

    def _run(self, text: str, times: int = 1, **_: Any) -> tuple[str, list[str]]:
        return "written", [text]


class Unlabelled(BaseTool):
    """No methods metadata: must count as a write tool in read-only mode."""

    name: str = "confluence_mystery"
    description: str = "Unknown effects."

    def _run(self, **_: Any) -> str:
        return "?"


class FakeClient:
    def __init__(self, state: RateLimitState) -> None:
        self.rate_limit = state


class FakeToolkit:
    """Like ConfluenceToolkit: a sync and an async client, each with its own reading."""

    def __init__(self, sync_state: RateLimitState, async_state: RateLimitState) -> None:
        self.client = FakeClient(sync_state)
        self.async_client = FakeClient(async_state)

    def get_tools(self) -> list[BaseTool]:
        return _tools()


def _tools() -> list[BaseTool]:
    return [Echo(), Write(), Unlabelled()]


async def test_lists_tools_with_their_json_schema() -> None:
    server = build_mcp_server(_tools())
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"confluence_echo", "confluence_write", "confluence_mystery"}
    echo = tools["confluence_echo"]
    assert echo.description == "Echo text back."
    assert echo.input_schema["type"] == "object"
    assert echo.input_schema["required"] == ["text"]
    assert echo.input_schema["properties"]["times"]["maximum"] == 3
    assert echo.annotations is not None and echo.annotations.read_only_hint is True
    assert tools["confluence_write"].annotations.read_only_hint is False  # type: ignore[union-attr]
    assert echo.meta == {"confluence-agent/methods": "read", "confluence-agent/group": "pages"}


async def test_read_only_filters_list_and_refuses_calls() -> None:
    server = build_mcp_server(_tools(), read_only=True)
    async with Client(server, mode="legacy") as client:
        assert client.instructions is not None and "READ-ONLY" in client.instructions
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["confluence_echo"]
        for hidden in ("confluence_write", "confluence_mystery", "no_such_tool"):
            with pytest.raises(MCPError) as info:
                await client.call_tool(hidden, {"text": "x"})
            assert info.value.code == INVALID_PARAMS
            assert "confluence_echo" in info.value.message


async def test_success_result_has_text_and_structured_artifact() -> None:
    async with Client(build_mcp_server(_tools())) as client:
        result = await client.call_tool("confluence_echo", {"text": "ab", "times": 2})
    assert not result.is_error
    assert [c.text for c in result.content] == ["abab"]  # type: ignore[union-attr]
    assert result.structured_content == {"text": "ab", "times": 2, "when": "2030-01-01T12:00:00Z"}


async def test_non_object_artifact_is_wrapped() -> None:
    async with Client(build_mcp_server(_tools())) as client:
        result = await client.call_tool("confluence_write", {"text": "z"})
    assert result.structured_content == {"result": ["z"]}


async def test_tool_exception_is_an_error_result() -> None:
    async with Client(build_mcp_server(_tools())) as client:
        result = await client.call_tool("confluence_echo", {"text": "fail"})
    assert result.is_error
    assert "confluence_search" in result.content[0].text  # type: ignore[union-attr]
    assert result.structured_content is None


async def test_unexpected_failure_is_an_error_result_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Client(build_mcp_server([Crash()])) as client:
        result = await client.call_tool("confluence_crash", {})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "confluence_crash failed unexpectedly (RuntimeError)" in text
    assert "hunter2" not in text
    assert "hunter2" in caplog.text  # the operator still sees it in the server log


async def test_invalid_arguments_are_an_error_result() -> None:
    async with Client(build_mcp_server(_tools())) as client:
        result = await client.call_tool("confluence_echo", {"text": "x", "times": 9})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "times" in text and "Invalid arguments for confluence_echo" in text


async def test_rate_limit_fields_in_meta_and_near_limit_note() -> None:
    reset_at = datetime.now(UTC) + timedelta(seconds=30)
    state = RateLimitState(limit=100, remaining=5, reset_at=reset_at)
    server = build_mcp_server(_tools(), client=FakeClient(state))
    async with Client(server) as client:
        result = await client.call_tool("confluence_echo", {"text": "x"})
    assert result.meta is not None
    assert result.meta["ratelimit-limit"] == 100
    assert result.meta["ratelimit-remaining"] == 5
    assert 0 < result.meta["ratelimit-reset"] <= 30
    assert result.meta["ratelimit-policy"] == '"confluence";q=100'
    assert result.meta["ratelimit"].startswith('"confluence";r=5;t=')
    assert result.meta["confluence-agent/ratelimit"]["near_limit"] is True
    assert "rate limit nearly exhausted" in result.content[-1].text  # type: ignore[union-attr]


async def test_meta_reports_the_newest_reading_of_the_toolkits_clients() -> None:
    older = RateLimitState(limit=100, remaining=90, observed_at=NOW)
    newer = RateLimitState(limit=100, remaining=7, observed_at=NOW + timedelta(seconds=5))
    for sync_state, async_state in ((older, newer), (newer, older)):
        async with Client(build_mcp_server(FakeToolkit(sync_state, async_state))) as client:
            result = await client.call_tool("confluence_echo", {"text": "x"})
        assert result.meta is not None
        assert result.meta["ratelimit-remaining"] == 7


def test_rate_limit_meta_uses_confluence_policies() -> None:
    state = RateLimitState(
        limit=40000, remaining=39000, reset_at=NOW + timedelta(seconds=90.2),
        policies=(RateLimitPolicy("global-app-quota", 65000, 3600),
                  RateLimitPolicy("beta-only", 1, 1, beta=True)),
        quotas=(RateLimitQuota("global-app-quota", 64000, 120.0),),
    )
    meta = rate_limit_meta(state, now=NOW)
    assert meta["ratelimit-reset"] == 91  # rounded up
    assert meta["ratelimit-policy"] == '"global-app-quota";q=65000;w=3600'
    assert meta["ratelimit"] == '"global-app-quota";r=64000;t=120'
    assert rate_limit_meta(RateLimitState(), now=NOW) == {}
    assert rate_limit_meta(None) == {}


async def test_expiry_stops_tool_calls_on_stdio_style_server() -> None:
    now = [NOW - timedelta(seconds=1)]
    guard = TokenGuard(None, expires_at=NOW, clock=lambda: now[0])
    async with Client(build_mcp_server(_tools(), expiry=guard)) as client:
        assert not (await client.call_tool("confluence_echo", {"text": "x"})).is_error
        now[0] = NOW
        with pytest.raises(MCPError, match="expired"):
            await client.call_tool("confluence_echo", {"text": "x"})


def test_cli_rejects_token_on_stdio(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--transport", "stdio", "--require-token", "abc"]) == 2
    assert "http transport only" in capsys.readouterr().err


def test_cli_rejects_public_http_without_token(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFLUENCE_MCP_TOKEN", raising=False)
    assert main(["--transport", "http", "--host", "0.0.0.0"]) == 2
    assert "without a bearer token" in capsys.readouterr().err


def test_cli_rejects_past_expiry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--transport", "http", "--require-token", "t",
                 "--expires-at", "2000-01-01T00:00:00Z"]) == 2
    assert "already in the past" in capsys.readouterr().err


# ------------------------------------------------------------- documented command lines

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mcp.md"


def _documented_argvs() -> list[list[str]]:
    """Every `confluence-agent mcp …` line of docs/mcp.md, and the JSON configs' args."""
    text = DOCS.read_text(encoding="utf-8")
    argvs = [
        shlex.split(line.strip())[1:]
        for line in text.replace("\\\n", " ").splitlines()
        if line.strip().startswith("confluence-agent mcp ")
    ]
    for block in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL):
        for server in json.loads(block)["mcpServers"].values():
            if server["command"] == "confluence-agent":
                argvs.append(list(server["args"]))
    return argvs


def test_docs_show_both_client_setups() -> None:
    argvs = _documented_argvs()
    assert ["mcp", "--read-only"] in argvs  # Claude Desktop, stdio
    assert any("http" in argv and "--require-token" in argv for argv in argvs)  # remote


@pytest.mark.parametrize("argv", _documented_argvs(), ids=" ".join)
def test_documented_command_lines_mean_what_they_say(argv: list[str]) -> None:
    # A flag swallowed as another flag's value (e.g. `--require-token --read-only`
    # making "--read-only" the token) would silently serve a writable server.
    from typer.testing import CliRunner

    from confluence_agent import cli, mcp_server

    flags = argv[1:]
    with mock.patch.object(mcp_server, "run_mcp_server") as run:
        result = CliRunner().invoke(cli.app, argv)
        assert result.exit_code == 0, result.output
        assert main(flags) == 0
    assert run.call_count == 2
    for call in run.call_args_list:
        kwargs = call.kwargs
        assert kwargs["read_only"] is ("--read-only" in flags)
        assert kwargs["transport"] == ("http" if "http" in flags else "stdio")
        for value in (kwargs["require_token"], kwargs["expires_at"]):
            assert value is None or not value.startswith("-")
        if "--require-token" in flags:
            assert kwargs["require_token"] in ("", "env")  # from CONFLUENCE_MCP_TOKEN
