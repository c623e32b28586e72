"""Retry decisions, backoff bounds, safe create, and proactive pacing (sync and async).

Sleeps are recorded through the injected ``sleep``; nothing here waits for real.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import httpx
import pytest

from confluence_agent import (
    AsyncConfluenceClient,
    ConfluenceClient,
    ConnectionFailed,
    RateLimited,
    RetryPolicy,
    ServerError,
)

Handler = Callable[[httpx.Request], httpx.Response]


def page(page_id: str = "777", version: int = 1, title: str = "New") -> dict[str, object]:
    return {
        "id": page_id,
        "title": title,
        "status": "current",
        "spaceId": "1001",
        "version": {"number": version},
        "_links": {"webui": f"/spaces/ENG/pages/{page_id}"},
    }


class Script:
    """Plays scripted outcomes (responses or exceptions) and records requests."""

    def __init__(self, *outcomes: httpx.Response | Exception | Handler) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            if isinstance(outcome, httpx.RequestError):
                outcome.request = request
            raise outcome
        if callable(outcome):
            return outcome(request)
        return outcome

    @property
    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def make(script: Script, sleeps: list[float], **policy: object) -> ConfluenceClient:
    return ConfluenceClient(
        "https://acme.atlassian.net",
        email="bot@acme.test",
        api_token="tok-ABCDEF123456",
        transport=httpx.MockTransport(script),
        retry=RetryPolicy(**policy),
        sleep=sleeps.append,
        rng=lambda: 1.0,  # upper bound of every jitter range
    )


def r429(retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(429, headers=headers)


# --------------------------------------------------------------------------- 429


def test_429_waits_for_retry_after_then_succeeds() -> None:
    sleeps: list[float] = []
    script = Script(r429("7"), httpx.Response(200, json=page()))
    client = make(script, sleeps, retry_after_jitter=0.0)
    assert client.get_page(777).id == "777"
    assert sleeps == [7.0]
    assert (client.stats.requests, client.stats.retries, client.stats.rate_limited) == (2, 1, 1)
    assert client.stats.waited == 7.0


def test_429_without_hint_backs_off_exponentially_within_bounds() -> None:
    sleeps: list[float] = []
    script = Script(*[r429() for _ in range(5)])
    client = make(script, sleeps, initial_backoff=1, max_backoff=4, max_total_wait=60)
    with pytest.raises(RateLimited):
        client.get_page(777)
    assert sleeps == [1, 2, 4, 4]  # doubling, capped; rng=1.0 is the top of full jitter
    assert client.stats.requests == 5 and client.stats.rate_limited == 5


def test_full_jitter_can_go_down_to_zero() -> None:
    sleeps: list[float] = []
    script = Script(r429(), r429(), httpx.Response(200, json=page()))
    client = ConfluenceClient(
        "https://acme.atlassian.net",
        bearer_token="b-TOKEN-123",
        transport=httpx.MockTransport(script),
        sleep=sleeps.append,
        rng=lambda: 0.25,
    )
    client.get_page(1)
    assert sleeps == [0.25, 0.5]


def test_total_wait_is_bounded() -> None:
    sleeps: list[float] = []
    script = Script(r429("50"), r429("50"), httpx.Response(200, json=page()))
    client = make(script, sleeps, retry_after_jitter=0.0, max_total_wait=60)
    with pytest.raises(RateLimited) as info:
        client.get_page(777)
    assert sleeps == [50.0]  # a second 50 s wait would exceed 60 s in total
    assert info.value.retry_after == 50
    assert len(script.requests) == 2


def test_absurd_retry_after_is_clamped_and_not_waited_for() -> None:
    sleeps: list[float] = []
    script = Script(r429("9223372036854775807"))
    client = make(script, sleeps)
    with pytest.raises(RateLimited) as info:
        client.get_page(777)
    assert sleeps == []  # capped to 120 s, still over the 60 s budget: give up at once
    assert info.value.retry_after == 86_400


def test_max_attempts_is_respected() -> None:
    sleeps: list[float] = []
    script = Script(r429("1"), r429("1"), httpx.Response(200, json=page()))
    client = make(script, sleeps, max_attempts=2, retry_after_jitter=0.0)
    with pytest.raises(RateLimited):
        client.get_page(777)
    assert len(script.requests) == 2 and sleeps == [1.0]


def test_429_on_create_is_retried_because_the_server_did_not_act() -> None:
    sleeps: list[float] = []
    script = Script(r429("2"), httpx.Response(200, json=page()))
    client = make(script, sleeps, retry_after_jitter=0.0)
    assert client.create_page(space_id="1001", title="New", body="<p/>").id == "777"
    assert script.calls == ["POST /wiki/api/v2/pages", "POST /wiki/api/v2/pages"]


# --------------------------------------------------------------------------- 5xx and network


@pytest.mark.parametrize("status", [502, 503, 504])
def test_transient_5xx_is_retried_for_reads(status: int) -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(status), httpx.Response(200, json=page()))
    client = make(script, sleeps)
    client.get_page(777)
    assert len(script.requests) == 2 and sleeps == [1.0]


def test_503_retry_after_is_honoured() -> None:
    sleeps: list[float] = []
    script = Script(
        httpx.Response(503, headers={"Retry-After": "3"}), httpx.Response(200, json=page())
    )
    make(script, sleeps, retry_after_jitter=0.0).get_page(777)
    assert sleeps == [3.0]


def test_500_and_4xx_are_not_retried() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(500))
    with pytest.raises(ServerError):
        make(script, sleeps).get_page(777)
    assert len(script.requests) == 1 and sleeps == []


def test_put_update_is_idempotent_and_retried() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(502), httpx.Response(200, json=page(version=2)))
    result = make(script, sleeps).update_page(777, title="New", body="<p/>", version=2)
    assert result.version.number == 2 and len(script.requests) == 2


def test_read_only_post_users_bulk_is_retried() -> None:
    sleeps: list[float] = []
    script = Script(
        httpx.Response(503), httpx.Response(200, json={"results": [{"accountId": "a"}]})
    )
    assert [u.account_id for u in make(script, sleeps).get_users(["a"])] == ["a"]
    assert script.calls == ["POST /wiki/api/v2/users-bulk"] * 2


def test_connection_errors_on_reads_are_retried_then_raised() -> None:
    sleeps: list[float] = []
    script = Script(*[httpx.ReadTimeout("timed out") for _ in range(3)])
    client = make(script, sleeps, max_attempts=3)
    with pytest.raises(ConnectionFailed) as info:
        client.get_page(777)
    assert info.value.request_sent is True
    assert len(script.requests) == 3 and sleeps == [1.0, 2.0]


# --------------------------------------------------------------------------- safe create


def _lookup(found: list[dict[str, object]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET" and request.url.path == "/wiki/api/v2/pages"
        assert request.url.params["space-id"] == "1001"
        assert request.url.params["title"] == "New"
        return httpx.Response(200, json={"results": found, "_links": {}})

    return handler


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(502), httpx.ReadTimeout("read timed out"), httpx.RemoteProtocolError("eof")],
)
def test_ambiguous_create_failure_returns_the_page_if_it_was_created(
    failure: httpx.Response | Exception,
) -> None:
    sleeps: list[float] = []
    script = Script(failure, _lookup([page("777")]))
    created = make(script, sleeps).create_page(space_id="1001", title="New", body="<p/>")
    assert created.id == "777"
    assert script.calls == ["POST /wiki/api/v2/pages", "GET /wiki/api/v2/pages"]


def test_ambiguous_create_failure_retries_once_when_page_absent() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(503), _lookup([]), httpx.Response(200, json=page()))
    created = make(script, sleeps).create_page(space_id="1001", title="New", body="<p/>")
    assert created.id == "777"
    assert script.calls == [
        "POST /wiki/api/v2/pages",
        "GET /wiki/api/v2/pages",
        "POST /wiki/api/v2/pages",
    ]
    sent = [json.loads(r.content) for r in script.requests if r.method == "POST"]
    assert sent[0] == sent[1]


def test_create_is_never_sent_a_third_time() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(503), _lookup([]), httpx.Response(503))
    with pytest.raises(ServerError):
        make(script, sleeps).create_page(space_id="1001", title="New", body="<p/>")
    assert [c for c in script.calls if c.startswith("POST")] == ["POST /wiki/api/v2/pages"] * 2


def test_create_retries_connect_errors_without_lookup() -> None:
    # A refused connection never reached the server: plain retry is safe.
    sleeps: list[float] = []
    script = Script(httpx.ConnectError("refused"), httpx.Response(200, json=page()))
    make(script, sleeps).create_page(space_id="1001", title="New", body="<p/>")
    assert script.calls == ["POST /wiki/api/v2/pages"] * 2


def test_create_lookup_ignores_other_titles() -> None:
    sleeps: list[float] = []
    script = Script(
        httpx.Response(504), _lookup([page("1", title="new")]), httpx.Response(200, json=page())
    )
    assert make(script, sleeps).create_page(space_id="1001", title="New", body="").id == "777"


# --------------------------------------------------------------------------- logging


def test_each_retry_is_logged_at_info_with_reason_and_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sleeps: list[float] = []
    script = Script(r429("4"), httpx.Response(200, json=page()))
    with caplog.at_level(logging.INFO, logger="confluence_agent"):
        make(script, sleeps, retry_after_jitter=0.0).get_page(777)
    retries = [r for r in caplog.records if r.getMessage().startswith("Retrying")]
    assert len(retries) == 1 and retries[0].levelno == logging.INFO
    message = retries[0].getMessage()
    assert "GET /wiki/api/v2/pages/777" in message and "4.00s" in message
    assert "RateLimited" in message


# --------------------------------------------------------------------------- pacing


def near_limit(body: dict[str, object]) -> httpx.Response:
    return httpx.Response(200, json=body, headers={"X-RateLimit-NearLimit": "true"})


def test_client_slows_down_before_429_when_near_limit() -> None:
    sleeps: list[float] = []
    script = Script(near_limit(page()), near_limit(page()), httpx.Response(200, json=page()))
    client = ConfluenceClient(
        "https://acme.atlassian.net",
        bearer_token="b-TOKEN-123",
        transport=httpx.MockTransport(script),
        sleep=sleeps.append,
        clock=lambda: 100.0,
        retry=RetryPolicy(near_limit_delay=0.5),
    )
    client.get_page(1)
    assert sleeps == [] and client.rate_limit.near_limit
    client.get_page(1)  # first paced request gets the first slot
    client.get_page(1)
    assert sleeps == [0.5]
    assert client.stats.paced == 1 and client.stats.rate_limited == 0
    assert not client.rate_limit.near_limit


async def test_async_tasks_share_one_pacer() -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    script = Script(*[near_limit(page()) for _ in range(4)])
    async with AsyncConfluenceClient(
        "https://acme.atlassian.net",
        bearer_token="b-TOKEN-123",
        transport=httpx.MockTransport(script),
        sleep=record,
        clock=lambda: 100.0,
        retry=RetryPolicy(near_limit_delay=0.5),
    ) as client:
        await client.get_page(1)
        await asyncio.gather(*(client.get_page(1) for _ in range(3)))
    # Three concurrent tasks queue behind one another instead of firing together.
    assert sorted(sleeps) == [0.5, 1.0]
    assert client.stats.paced == 2


async def test_async_retry_and_safe_create() -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    script = Script(r429("2"), httpx.Response(502), _lookup([page()]))
    async with AsyncConfluenceClient(
        "https://acme.atlassian.net",
        email="bot@acme.test",
        api_token="tok-ABCDEF123456",
        transport=httpx.MockTransport(script),
        sleep=record,
        rng=lambda: 0.0,
    ) as client:
        created = await client.create_page(space_id="1001", title="New", body="<p/>")
    assert created.id == "777"
    assert sleeps == [2.0]
    assert script.calls == ["POST /wiki/api/v2/pages"] * 2 + ["GET /wiki/api/v2/pages"]
    assert client.stats.requests == 3 and client.stats.rate_limited == 1
