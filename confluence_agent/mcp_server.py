"""MCP server exposing the Confluence toolkit to Claude Desktop and other MCP clients.

The server is built on the official ``mcp`` SDK's low-level ``Server`` so that each
LangChain tool's own JSON schema (``tool_call_schema``) is published verbatim and
calls go through the tool itself (validation, safe editing, ``ToolException``
handling) instead of a re-implementation.

Transports:

* ``stdio`` for local clients (Claude Desktop spawns ``confluence-agent mcp``).
* ``http`` (streamable HTTP at ``/mcp``) for remote connectors, optionally guarded
  by a bearer token (only its SHA-256 digest is kept) and an expiry instant.

Tool calls take the async path (``ainvoke`` with the toolkit's
``AsyncConfluenceClient``), so concurrent calls share the server's event loop
instead of occupying worker threads.

Every tool result carries the last Confluence rate-limit reading as IETF
``ratelimit-*`` fields in ``_meta``; 429s are absorbed by the client's bounded
retries, so a call that succeeded after a retry is a success for the MCP client.

The ``mcp`` package is an optional extra (``confluence-agent[mcp]``); this module
imports it only inside functions, so importing it (e.g. from the CLI) never fails.
"""

from __future__ import annotations

import argparse
import logging
import math
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from confluence_agent._mcp_auth import (
    TOKEN_ENV_VAR,
    BearerAuthMiddleware,
    TokenGuard,
    hash_token,
    parse_expires_at,
)

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool
    from mcp.server.lowlevel import Server
    from mcp.types import CallToolRequestParams, CallToolResult, ListToolsResult, Tool
    from starlette.applications import Starlette

    from confluence_agent.ratelimit import RateLimitState

__all__ = [
    "MCP_PATH",
    "TOKEN_ENV_VAR",
    "ConfluenceMCP",
    "TokenGuard",
    "build_http_app",
    "build_mcp_server",
    "hash_token",
    "main",
    "rate_limit_meta",
    "run_mcp_server",
    "run_stdio",
    "serve_http",
]

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
"""Path of the streamable HTTP endpoint."""

SERVER_NAME = "confluence-agent"
META_PREFIX = "confluence-agent/"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_INSTALL_HINT = "The MCP server needs the optional extra: pip install 'confluence-agent[mcp]'"


class _ToolkitLike(Protocol):
    def get_tools(self) -> list[BaseTool]: ...


class _HasRateLimit(Protocol):
    @property
    def rate_limit(self) -> RateLimitState: ...


class _FreshestRateLimit:
    """The newest rate-limit reading among several clients.

    A toolkit has a sync and an async client, each with its own reading; the
    one that saw the latest response describes the budget best.
    """

    def __init__(self, sources: Sequence[_HasRateLimit]) -> None:
        self.sources = tuple(sources)

    @property
    def rate_limit(self) -> RateLimitState:
        states = [source.rate_limit for source in self.sources]
        never = datetime.min.replace(tzinfo=UTC)
        return max(states, key=lambda state: state.observed_at or never)


def _rate_limit_source(client: _HasRateLimit | None,
                       toolkit: object) -> _HasRateLimit | None:
    sources: list[_HasRateLimit] = [] if client is None else [client]
    for name in ("async_client", "client"):
        candidate = getattr(toolkit, name, None)
        if candidate is not None and all(candidate is not known for known in sources):
            sources.append(candidate)
    if len(sources) <= 1:
        return sources[0] if sources else None
    return _FreshestRateLimit(sources)


def _require_mcp() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(_INSTALL_HINT) from exc


# --------------------------------------------------------------------------- rate limits


def _fmt_seconds(value: float) -> int:
    # IETF fields carry non-negative integer delta-seconds; round up so a client
    # never retries a fraction of a second too early.
    return max(0, math.ceil(value))


def rate_limit_meta(state: RateLimitState | None, *,
                    now: datetime | None = None) -> dict[str, Any]:
    """Render a client's rate-limit reading as IETF ``RateLimit`` fields for ``_meta``.

    Emits both families a client may know (confluence-api.md §8.4):

    * draft -06 style ``ratelimit-limit`` / ``ratelimit-remaining`` /
      ``ratelimit-reset`` (delta seconds);
    * draft -08+ structured fields ``ratelimit-policy`` (``"name";q=..;w=..``) and
      ``ratelimit`` (``"name";r=..;t=..``), taken from Confluence's own policies
      when it sent them, else synthesised from the limit/remaining/reset values;

    plus ``confluence-agent/ratelimit``, a plain object with the same numbers and
    Atlassian's ``near_limit`` / ``reason`` / ``retry_after`` signals.

    Args:
        state: The client's ``rate_limit`` (``None`` or empty → ``{}``).
        now: Reference time for converting a reset timestamp into seconds.

    Returns:
        A dict suitable for ``CallToolResult._meta`` (empty when nothing is known).
    """
    if state is None or state.is_empty:
        return {}
    now = now or datetime.now(UTC)
    reset = state.seconds_until_reset(now)
    meta: dict[str, Any] = {}
    if state.limit is not None:
        meta["ratelimit-limit"] = state.limit
    if state.remaining is not None:
        meta["ratelimit-remaining"] = state.remaining
    if reset is not None:
        meta["ratelimit-reset"] = _fmt_seconds(reset)

    policies = [p for p in state.policies if not p.beta]
    quotas = [q for q in state.quotas if not q.beta]
    if policies:
        parts = []
        for policy in policies:
            item = f'"{policy.name or "confluence"}"'
            if policy.quota is not None:
                item += f";q={policy.quota}"
            if policy.window is not None:
                item += f";w={_fmt_seconds(policy.window)}"
            if policy.quota_unit:
                item += f';qu="{policy.quota_unit}"'
            parts.append(item)
        meta["ratelimit-policy"] = ", ".join(parts)
    elif state.limit is not None:
        meta["ratelimit-policy"] = f'"confluence";q={state.limit}'
    if quotas:
        parts = []
        for quota in quotas:
            item = f'"{quota.name or "confluence"}"'
            if quota.remaining is not None:
                item += f";r={quota.remaining}"
            if quota.reset_after is not None:
                item += f";t={_fmt_seconds(quota.reset_after)}"
            parts.append(item)
        meta["ratelimit"] = ", ".join(parts)
    elif state.remaining is not None:
        item = f'"confluence";r={state.remaining}'
        if reset is not None:
            item += f";t={_fmt_seconds(reset)}"
        meta["ratelimit"] = item

    summary: dict[str, Any] = {
        "limit": state.limit,
        "remaining": state.remaining,
        "reset_seconds": None if reset is None else _fmt_seconds(reset),
        "reset_at": state.reset_at.isoformat() if state.reset_at else None,
        "near_limit": state.is_near_limit(),
        "reason": state.reason,
        "retry_after": state.retry_after,
    }
    meta[META_PREFIX + "ratelimit"] = summary
    return meta


def _near_limit_note(state: RateLimitState | None) -> str | None:
    # _meta rarely reaches the model; when the budget is nearly gone the model
    # should know, so it can batch or stop rather than trigger 429s.
    if state is None or state.is_empty or not state.is_near_limit():
        return None
    reset = state.seconds_until_reset()
    left = f"{state.remaining} of {state.limit}" if state.limit else f"{state.remaining}"
    when = f"; resets in {_fmt_seconds(reset)} s" if reset is not None else ""
    return f"[Confluence rate limit nearly exhausted: {left} requests left{when}.]"


# --------------------------------------------------------------------------- tools → MCP


def _tool_methods(tool: BaseTool) -> str:
    metadata = tool.metadata or {}
    value = metadata.get("methods")
    return value if isinstance(value, str) else "write"


def _input_schema(tool: BaseTool) -> dict[str, Any]:
    schema_source = tool.tool_call_schema
    if isinstance(schema_source, dict):
        schema = dict(schema_source)
    elif isinstance(schema_source, type) and issubclass(schema_source, BaseModel):
        schema = schema_source.model_json_schema()
    else:  # pragma: no cover - langchain only produces the two forms above
        schema = {"type": "object", "properties": {}}
    # MCP requires an object schema at the root; pydantic always produces one,
    # a hand-written dict schema might omit "type".
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema


def _mcp_tool(tool: BaseTool) -> Tool:
    from mcp.types import Tool, ToolAnnotations

    read_only = _tool_methods(tool) == "read"
    metadata = tool.metadata or {}
    annotations = ToolAnnotations(
        title=tool.name.replace("confluence_", "Confluence ").replace("_", " "),
        read_only_hint=read_only,
        # Creating a page only adds; updates can replace a section or the body.
        destructive_hint=None if read_only else "create" not in tool.name,
        idempotent_hint=True if read_only else None,
        open_world_hint=True,
    )
    meta = {
        META_PREFIX + "methods": _tool_methods(tool),
        META_PREFIX + "group": metadata.get("group"),
    }
    return Tool(
        name=tool.name,
        description=tool.description,
        input_schema=_input_schema(tool),
        annotations=annotations,
        _meta={k: v for k, v in meta.items() if v is not None},
    )


def _structured(artifact: Any) -> dict[str, Any] | None:
    if artifact is None:
        return None
    value = to_jsonable_python(artifact, fallback=str, by_alias=False)
    if isinstance(value, dict):
        return value
    # structuredContent must be a JSON object on 2025-06-18 / 2025-11-25 sessions.
    return {"result": value}


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            else:
                parts.append(str(to_jsonable_python(block, fallback=str)))
        return "\n".join(parts)
    return str(content)


def _format_validation_error(name: str, exc: ValidationError) -> str:
    lines = [f"Invalid arguments for {name}:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(arguments)"
        lines.append(f"- {loc}: {err.get('msg', 'invalid')}")
    lines.append("Fix the arguments to match the tool's input schema and call it again.")
    return "\n".join(lines)


class ConfluenceMCP:
    """The tool registry and request handlers behind the MCP server.

    Holds the filtered tools, turns them into MCP ``Tool`` definitions and runs
    calls through LangChain's tool-call path.

    Args:
        tools: The tools to expose (already filtered by the toolkit).
        read_only: Drop every tool whose ``metadata["methods"]`` is not ``"read"``
            (tools without that metadata count as writes: fail closed).
        rate_limit_source: Object whose ``rate_limit`` is read after each call
            (normally the Confluence client).
        expiry: Optional guard whose expiry also stops tool calls (stdio has no
            HTTP layer to refuse requests, so the handlers do it).
    """

    def __init__(self, tools: Iterable[BaseTool], *, read_only: bool = False,
                 rate_limit_source: _HasRateLimit | None = None,
                 expiry: TokenGuard | None = None) -> None:
        selected: dict[str, BaseTool] = {}
        for tool in tools:
            if read_only and _tool_methods(tool) != "read":
                continue
            if tool.name in selected:
                raise ValueError(f"duplicate tool name {tool.name!r}")
            selected[tool.name] = tool
        self.tools: dict[str, BaseTool] = selected
        self.read_only = read_only
        self.rate_limit_source = rate_limit_source
        self.expiry = expiry

    def _check_expiry(self) -> None:
        from mcp.shared.exceptions import MCPError
        from mcp.types import INVALID_REQUEST

        if self.expiry is not None and self.expiry.is_expired():
            raise MCPError(INVALID_REQUEST, "This MCP server's access window has expired.")

    async def list_tools(self, ctx: Any, params: Any) -> ListToolsResult:
        """Handle ``tools/list``: only the tools that survived the filters."""
        from mcp.types import ListToolsResult

        self._check_expiry()
        return ListToolsResult(tools=[_mcp_tool(tool) for tool in self.tools.values()])

    async def call_tool(self, ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        """Handle ``tools/call``.

        Unknown or filtered-out tools are a protocol error (JSON-RPC -32602), never
        a result: a read-only server must not even appear to attempt a write.
        Tool failures (``ToolException``, invalid arguments, Confluence errors) are
        ``isError`` results carrying the actionable text.
        """
        from mcp.shared.exceptions import MCPError
        from mcp.types import INVALID_PARAMS

        self._check_expiry()
        tool = self.tools.get(params.name)
        if tool is None:
            available = ", ".join(sorted(self.tools)) or "none"
            raise MCPError(
                INVALID_PARAMS,
                f"Unknown tool: {params.name!r} is not available on this server "
                f"(available: {available}).",
                data={"tool": params.name, "available": sorted(self.tools)},
            )
        return await self._invoke(tool, dict(params.arguments or {}))

    async def _invoke(self, tool: BaseTool, arguments: dict[str, Any]) -> CallToolResult:
        from langchain_core.messages import ToolMessage
        from langchain_core.tools import ToolException

        from confluence_agent.errors import ConfluenceError

        call = {"type": "tool_call", "id": f"mcp-{uuid.uuid4().hex}", "name": tool.name,
                "args": arguments}
        try:
            message = await tool.ainvoke(call)
        except ValidationError as exc:
            return self._result(_format_validation_error(tool.name, exc), None, is_error=True)
        except (ToolException, ConfluenceError) as exc:
            return self._result(str(exc) or type(exc).__name__, None, is_error=True)
        except Exception as exc:
            # Unexpected failures are still reported to the model as a failed call
            # (MCP: tool-originated errors belong in the result) and logged here.
            # Their text is not passed on: unlike the tools' own errors it was never
            # redacted, and a bug's message is not something the model can act on.
            logger.exception("tool %s failed", tool.name)
            return self._result(
                f"{tool.name} failed unexpectedly ({type(exc).__name__}); nothing more is "
                "known to the client. Do not retry the same call; the server log has details.",
                None, is_error=True)
        if isinstance(message, ToolMessage):
            is_error = message.status == "error"
            return self._result(_message_text(message.content),
                                None if is_error else message.artifact, is_error=is_error)
        # A tool without content_and_artifact returns its output directly.
        return self._result(_message_text(message), None, is_error=False)

    def _result(self, text: str, artifact: Any, *, is_error: bool) -> CallToolResult:
        from mcp.types import CallToolResult, TextContent

        state = self.rate_limit_source.rate_limit if self.rate_limit_source else None
        content = [TextContent(text=text)]
        note = _near_limit_note(state)
        if note:
            content.append(TextContent(text=note))
        meta = rate_limit_meta(state)
        return CallToolResult(
            content=list(content),
            structured_content=_structured(artifact),
            is_error=is_error,
            _meta=meta or None,
        )


def _instructions(names: Sequence[str], *, read_only: bool, spaces: Sequence[str] | None,
                  tags: Sequence[str] | None) -> str:
    lines = [
        "Tools for searching, reading, creating and safely updating Confluence pages.",
        "Search with CQL (confluence_search), then read a page by id before editing it; "
        "updates are section-level edits that preserve macros and use optimistic locking.",
        f"Tools available: {', '.join(names) or 'none'}.",
    ]
    if read_only:
        lines.append("This server is READ-ONLY: no tool can create or change pages.")
    if spaces:
        lines.append(f"Restricted to spaces: {', '.join(spaces)}.")
    if tags:
        lines.append(f"Tool tags enabled: {', '.join(tags)}.")
    return "\n".join(lines)


def build_mcp_server(toolkit: _ToolkitLike | Iterable[BaseTool], *, read_only: bool = False,
                     client: _HasRateLimit | None = None, spaces: Sequence[str] | None = None,
                     tags: Sequence[str] | None = None, expiry: TokenGuard | None = None,
                     name: str = SERVER_NAME) -> Server[Any]:
    """Build a low-level MCP ``Server`` that serves a toolkit's tools.

    Args:
        toolkit: A ``ConfluenceToolkit`` (anything with ``get_tools()``) or the tools.
        read_only: Additionally drop write tools here (defence in depth on top of
            the toolkit's own ``methods`` filter).
        client: Source of ``rate_limit`` for result ``_meta``. A toolkit's own
            clients (``async_client``, which serves the calls, and ``client``)
            are consulted too; the newest reading wins.
        spaces: Space keys the toolkit is scoped to (reported in ``instructions``).
        tags: Tags the toolkit was filtered by (reported in ``instructions``).
        expiry: Guard whose expiry makes ``tools/list``/``tools/call`` fail.
        name: Server name reported in ``initialize``.

    Returns:
        The server; run it with ``run_stdio`` or ``build_http_app``.
    """
    _require_mcp()
    from mcp.server.lowlevel import Server

    from confluence_agent import __version__

    if hasattr(toolkit, "get_tools"):
        tools = list(toolkit.get_tools())
        rate_limits = _rate_limit_source(client, toolkit)
    else:
        tools = list(toolkit)
        rate_limits = client
    registry = ConfluenceMCP(tools, read_only=read_only, rate_limit_source=rate_limits,
                             expiry=expiry)
    server: Server[Any] = Server(
        name,
        version=__version__ or "0",
        title="Confluence (confluence-agent)",
        instructions=_instructions(list(registry.tools), read_only=read_only, spaces=spaces,
                                   tags=tags),
        on_list_tools=registry.list_tools,
        on_call_tool=registry.call_tool,
    )
    # Keep the registry reachable for callers and tests (e.g. to inspect tools).
    server.confluence_registry = registry  # type: ignore[attr-defined]
    return server


# --------------------------------------------------------------------------- transports


def build_http_app(server: Server[Any], *, guard: TokenGuard | None = None,
                   host: str = "127.0.0.1", path: str = MCP_PATH,
                   on_shutdown: Callable[[], Awaitable[None]] | None = None,
                   ) -> BearerAuthMiddleware:
    """Wrap a server in the streamable HTTP ASGI app, behind the bearer-token guard.

    The guard sits outside the SDK app, so every request on every path, including
    the session-establishing ``initialize`` POST, the SSE GET and the session
    DELETE, is checked before the SDK sees it.

    Args:
        server: From `build_mcp_server`. Each app can be started once (the SDK's
            session manager is single-use), so build a new server per app.
        guard: Token/expiry guard; ``None`` disables checks.
        host: The bind host; loopback hosts get the SDK's DNS-rebinding protection.
        path: Endpoint path.
        on_shutdown: Awaited when the app's lifespan ends, on the loop that served
            the requests (e.g. to close the async Confluence client's connections).

    Returns:
        An ASGI application (run it with uvicorn).
    """
    app: Starlette = server.streamable_http_app(streamable_http_path=path, host=host)
    if on_shutdown is not None:
        sdk_lifespan = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(inner: Any) -> AsyncIterator[Any]:
            try:
                async with sdk_lifespan(inner) as state:
                    yield state
            finally:
                await on_shutdown()

        app.router.lifespan_context = lifespan
    return BearerAuthMiddleware(app, guard or TokenGuard(None))


def _bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listen now, before the address is announced: a client that connects between
    # the announcement and uvicorn's start-up waits in the backlog instead of
    # being refused.
    sock.listen(2048)
    return sock


def serve_http(app: BearerAuthMiddleware, *, host: str, port: int,
               on_ready: Callable[[str], None] | None = None) -> None:
    """Run the HTTP app with uvicorn until interrupted.

    The socket is bound here (not by uvicorn) so ``port=0`` works: the chosen
    port is reported as the full endpoint URL on stderr and to ``on_ready``.
    """
    import uvicorn

    sock = _bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}{MCP_PATH}"
    print(f"confluence-agent MCP server listening on {url}", file=sys.stderr, flush=True)
    if on_ready is not None:
        on_ready(url)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


async def run_stdio(server: Server[Any], *,
                    on_shutdown: Callable[[], Awaitable[None]] | None = None) -> None:
    """Serve one MCP connection over this process's stdin/stdout.

    Args:
        server: From `build_mcp_server`.
        on_shutdown: Awaited when the connection ends, on the serving loop.
    """
    from mcp.server.stdio import stdio_server

    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        if on_shutdown is not None:
            await on_shutdown()


def run_mcp_server(*, transport: Literal["stdio", "http"] = "stdio", host: str = "127.0.0.1",
                   port: int = 8765, read_only: bool = False, tags: Sequence[str] | None = None,
                   spaces: Sequence[str] | None = None, require_token: str | None = None,
                   expires_at: datetime | str | None = None, client: Any = None,
                   allow_unauthenticated: bool = False, async_client: Any = None) -> None:
    """Run the Confluence MCP server (blocking). Entry point for ``confluence-agent mcp``.

    Args:
        transport: ``"stdio"`` for local clients, ``"http"`` for streamable HTTP at ``/mcp``.
        host: HTTP bind address.
        port: HTTP port (``0`` picks a free one; the URL is printed on stderr).
        read_only: Expose read tools only.
        tags: Toolkit tag filter.
        spaces: Space keys to scope the tools to.
        require_token: HTTP bearer token, ``sha256:<hex>`` digest of one, or ``""`` /
            ``"env"`` to read ``CONFLUENCE_MCP_TOKEN``. When ``None`` the env var is still
            used if set.
        expires_at: After this instant every request is refused (HTTP: 401) and the
            token digest is zeroed. ISO-8601 text or datetime; naive means UTC.
        client: A ``ConfluenceClient``; default: built from ``CONFLUENCE_*`` env vars.
            It is closed when the server stops.
        allow_unauthenticated: Permit HTTP on a non-loopback host without a token.
        async_client: The ``AsyncConfluenceClient`` that serves the tool calls;
            default: made from ``client``'s config (and closed by the server).

    Raises:
        ValueError: Bad configuration (token on stdio, no token on a public bind, ...).
    """
    _require_mcp()
    if transport not in ("stdio", "http"):
        raise ValueError(f"transport must be 'stdio' or 'http', got {transport!r}")
    expiry_at = parse_expires_at(expires_at)
    if transport == "stdio":
        if require_token:
            raise ValueError("--require-token applies to the http transport only; "
                             "a stdio server is reachable only by the process that spawned it")
        guard = TokenGuard(None, expires_at=expiry_at)
    else:
        guard = TokenGuard.from_config(require_token, expires_at=expiry_at)
        if not guard.requires_token and host not in _LOOPBACK_HOSTS and not allow_unauthenticated:
            raise ValueError(
                f"refusing to serve Confluence over HTTP on {host} without a bearer token: "
                f"pass --require-token or set {TOKEN_ENV_VAR}"
            )
    if expiry_at is not None and guard.is_expired():
        raise ValueError(f"--expires-at {expiry_at.isoformat()} is already in the past")

    if client is None:
        from confluence_agent.client import ConfluenceClient
        from confluence_agent.config import ConfluenceConfig

        client = ConfluenceClient(config=ConfluenceConfig.from_env())
    from confluence_agent.toolkit import ConfluenceToolkit

    methods = {"read"} if read_only else {"read", "write"}
    # Without async_client the toolkit makes one from client.config; it serves
    # every call and toolkit.aclose() closes it on the serving loop at shutdown.
    toolkit = ConfluenceToolkit(client=client, async_client=async_client, methods=methods,
                                spaces=list(spaces or []) or None, tags=list(tags or []) or None)
    server = build_mcp_server(toolkit, read_only=read_only, spaces=spaces, tags=tags,
                              expiry=guard)
    try:
        if transport == "stdio":
            import anyio

            anyio.run(lambda: run_stdio(server, on_shutdown=toolkit.aclose))
        else:
            app = build_http_app(server, guard=guard, host=host, on_shutdown=toolkit.aclose)
            serve_http(app, host=host, port=port)
    finally:
        toolkit.client.close()


# --------------------------------------------------------------------------- CLI


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m confluence_agent.mcp_server",
        description="Serve the confluence-agent tools over MCP (stdio or streamable HTTP). "
                    "Confluence credentials come from CONFLUENCE_URL, CONFLUENCE_EMAIL, "
                    "CONFLUENCE_API_TOKEN (or CONFLUENCE_BEARER_TOKEN).",
    )
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--read-only", action="store_true", help="expose read tools only")
    parser.add_argument("--tags", type=_csv, action="extend", default=None,
                        help="comma-separated tool tags to enable (repeatable)")
    parser.add_argument("--spaces", type=_csv, action="extend", default=None,
                        help="comma-separated space keys to scope the tools to (repeatable)")
    parser.add_argument("--require-token", nargs="?", const="", default=None, metavar="TOKEN",
                        help=f"require this bearer token on HTTP (or sha256:<hex>); 'env' or "
                             f"no value reads it from {TOKEN_ENV_VAR}, which is also used when "
                             f"the flag is absent")
    parser.add_argument("--expires-at", default=None, metavar="ISO-8601",
                        help="refuse every request after this instant (naive = UTC)")
    parser.add_argument("--allow-unauthenticated", action="store_true",
                        help="allow HTTP on a non-loopback host without a token")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``python -m confluence_agent.mcp_server``)."""
    from confluence_agent.errors import ConfigurationError

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        run_mcp_server(
            transport=args.transport, host=args.host, port=args.port, read_only=args.read_only,
            tags=args.tags, spaces=args.spaces, require_token=args.require_token,
            expires_at=args.expires_at, allow_unauthenticated=args.allow_unauthenticated,
        )
    except (ValueError, ImportError, ConfigurationError) as exc:
        # Configuration problems get one line on stderr, not a traceback: the MCP
        # client (e.g. Claude Desktop) shows this text in its server log.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
