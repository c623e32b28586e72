"""No tool error ever shows a credential, whatever the server sends back.

A hostile or buggy server (or proxy) echoes the request's credentials in every
error body and header; the transport failure message carries them too. Every
tool, sync and async, basic and bearer auth, must still answer with actionable
text that contains neither the token nor the ``Authorization`` header value.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from langchain_core.messages import ToolMessage

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.ratelimit import RetryPolicy
from confluence_agent.toolkit import ConfluenceToolkit

URL = "http://127.0.0.1:9"
EMAIL = "bot@example.com"
TOKEN = "tok-3f9a7c1e5b2d4f6a8c0e"
STATUSES = (400, 401, 403, 404, 409, 413, 429, 500, 503)
ARGS: dict[str, dict[str, Any]] = {
    "confluence_search": {"cql": 'type = page AND title ~ "Q3 Billing Engine PRD"'},
    "confluence_list_pages": {"space": "ENG"},
    "confluence_get_page": {"page_id": "998877"},
    "confluence_get_user": {"account_ids": ["a1", "a2"]},
    "confluence_create_page": {"space": "ENG", "title": "Runbook", "body": "Hello"},
    "confluence_update_page": {
        "page_id": "998877", "version": 6,
        "operations": [{"kind": "append_section", "title": "S", "content": "x"}],
    },
}
AUTHS: dict[str, dict[str, str]] = {
    "basic": {"email": EMAIL, "api_token": TOKEN},
    "bearer": {"bearer_token": TOKEN},
}


def _forbidden() -> list[str]:
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    return [TOKEN, basic, f"{EMAIL}:{TOKEN}"]


class Echo:
    """Answers every request with ``status`` and the request's credentials in the body."""

    def __init__(self) -> None:
        self.status = 500
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.status == 0:
            raise httpx.ConnectError(f"refused; auth was {request.headers['Authorization']}")
        auth = request.headers["Authorization"]
        leak = f"{auth} / {TOKEN} / {EMAIL}:{TOKEN}"
        body = {"statusCode": self.status, "message": f"denied for {leak}",
                "errors": [{"status": self.status, "title": leak, "detail": leak}]}
        headers = {"Retry-After": "0", "X-Echo": auth}
        return httpx.Response(self.status, json=body, headers=headers)


def _kit(auth: str, echo: Echo) -> ConfluenceToolkit:
    # One attempt per request: this test is about what is said, not about retries.
    common: dict[str, Any] = {**AUTHS[auth], "retry": RetryPolicy(max_attempts=1)}
    transport = httpx.MockTransport(echo)
    client = ConfluenceClient(URL, transport=transport, **common)
    aclient = AsyncConfluenceClient(URL, transport=transport, **common)
    return ConfluenceToolkit(client=client, async_client=aclient, methods={"read", "write"})


def _call(name: str) -> dict[str, Any]:
    return {"name": name, "args": ARGS[name], "id": "c1", "type": "tool_call"}


def _check(msg: Any, status: int) -> None:
    assert isinstance(msg, ToolMessage)
    assert msg.status == "error", (status, msg.content)
    text = str(msg.content)
    assert text.strip() and "Traceback" not in text
    for secret in _forbidden():
        assert secret not in text, (status, text)


@pytest.mark.parametrize("auth", sorted(AUTHS))
@pytest.mark.parametrize("name", sorted(ARGS))
def test_sync_tool_errors_never_show_credentials(name: str, auth: str) -> None:
    echo = Echo()
    tool = {t.name: t for t in _kit(auth, echo).get_tools()}[name]
    for status in (*STATUSES, 0):
        echo.status = status
        _check(tool.invoke(_call(name)), status)
    assert echo.requests >= len(STATUSES) + 1  # the errors really came from the server


@pytest.mark.parametrize("auth", sorted(AUTHS))
@pytest.mark.parametrize("name", sorted(ARGS))
async def test_async_tool_errors_never_show_credentials(name: str, auth: str) -> None:
    echo = Echo()
    kit = _kit(auth, echo)
    tool = {t.name: t for t in kit.get_tools()}[name]
    for status in (*STATUSES, 0):
        echo.status = status
        _check(await tool.ainvoke(_call(name)), status)
    assert echo.requests >= len(STATUSES) + 1
    assert kit.client.stats.requests == 0  # the async path really ran natively
