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
    AuthenticationFailed,
    ConfluenceClient,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RetryPolicy,
    ServerError,
    VersionConflict,
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


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, ServerError),
        (400, InvalidRequest),
        (401, AuthenticationFailed),
        (403, PermissionDenied),
        (404, NotFound),
        (413, PayloadTooLarge),
    ],
)
def test_500_and_4xx_are_not_retried(status: int, error: type[Exception]) -> None:
    # Resending cannot change the answer: the caller gets the error after one request.
    sleeps: list[float] = []
    script = Script(httpx.Response(status), httpx.Response(200, json=page()))
    with pytest.raises(error):
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


# --------------------------------------------------------------------------- safe update

PUT = "PUT /wiki/api/v2/pages/777"
GET = "GET /wiki/api/v2/pages/777"


def conflict(current: int, provided: int) -> httpx.Response:
    title = (
        "Version must be incremented when updating a page. "
        f"Current Version: [{current}]. Provided version: [{provided}]"
    )
    return httpx.Response(
        409, json={"errors": [{"status": 409, "code": "CONFLICT", "title": title}]}
    )


def stored(version: int, title: str, body: str) -> httpx.Response:
    data = page(version=version, title=title)
    data["body"] = {"storage": {"representation": "storage", "value": body}}
    return httpx.Response(200, json=data)


def test_update_applied_before_a_503_is_recognised_on_the_retry() -> None:
    sleeps: list[float] = []
    sent = "<p>Plan</p>\n  <p>Line<br/>two</p>"
    # The server stored the body re-serialised: indentation gone, ``<br />``.
    script = Script(
        httpx.Response(503), conflict(6, 6), stored(6, "Plan", "<p>Plan</p><p>Line<br />two</p>")
    )
    result = make(script, sleeps).update_page(777, title="Plan", body=sent, version=6)
    assert result.version.number == 6 and result.title == "Plan"
    assert script.calls == [PUT, PUT, GET]
    assert script.requests[2].url.params["body-format"] == "storage"


def test_retried_update_conflicting_with_someone_elses_write_still_raises() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(503), conflict(6, 6), stored(6, "Plan", "<p>Their edit</p>"))
    with pytest.raises(VersionConflict) as info:
        make(script, sleeps).update_page(777, title="Plan", body="<p>Mine</p>", version=6)
    assert (info.value.current_version, info.value.attempted_version) == (6, 6)
    assert script.calls == [PUT, PUT, GET]


def test_retried_update_raises_when_the_page_moved_on_or_was_retitled() -> None:
    sleeps: list[float] = []
    retitled = Script(httpx.Response(502), conflict(6, 6), stored(6, "Other", "<p>Mine</p>"))
    with pytest.raises(VersionConflict):
        make(retitled, sleeps).update_page(777, title="Plan", body="<p>Mine</p>", version=6)
    # Further ahead than our version: somebody saved after us, no read needed to know.
    ahead = Script(httpx.Response(503), conflict(8, 6))
    with pytest.raises(VersionConflict) as info:
        make(ahead, sleeps).update_page(777, title="Plan", body="<p>Mine</p>", version=6)
    assert info.value.current_version == 8 and ahead.calls == [PUT, PUT]


def test_first_attempt_conflict_is_raised_without_a_read() -> None:
    # Nothing of ours can be on the server yet: the version really is taken.
    sleeps: list[float] = []
    script = Script(conflict(6, 6))
    with pytest.raises(VersionConflict) as info:
        make(script, sleeps).update_page(777, title="Plan", body="<p>Mine</p>", version=6)
    assert script.calls == [PUT] and info.value.attempts == 1


def test_conflict_stands_when_the_page_cannot_be_read_back() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(503), conflict(6, 6), httpx.Response(404))
    with pytest.raises(VersionConflict) as info:
        make(script, sleeps).update_page(777, title="Plan", body="<p>Mine</p>", version=6)
    assert info.value.attempts == 2 and script.calls == [PUT, PUT, GET]


async def test_async_update_recognises_its_own_applied_write() -> None:
    async def no_sleep(seconds: float) -> None:
        return None

    script = Script(httpx.Response(503), conflict(6, 6), stored(6, "Plan", "<p>Mine</p>"))
    async with AsyncConfluenceClient(
        "https://acme.atlassian.net",
        bearer_token="b-TOKEN-123",
        transport=httpx.MockTransport(script),
        sleep=no_sleep,
    ) as client:
        result = await client.update_page(777, title="Plan", body="<p>Mine</p>", version=6)
    assert result.version.number == 6 and script.calls == [PUT, PUT, GET]


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


def bucket(remaining: int, *, limit: int = 5) -> httpx.Response:
    """A 200 carrying the headers of a ``limit``-per-second token bucket (as the sandbox)."""
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "RateLimit-Policy": f'"burst";q={limit};w=1',
        "RateLimit": f'"burst";r={remaining};t=1',
    }
    return httpx.Response(200, json=page(), headers=headers)


class FakeTime:
    """A monotonic clock that moves only when the client sleeps or a response takes time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def taking(self, seconds: float, response: httpx.Response) -> Handler:
        """A scripted outcome that advances the clock by ``seconds`` of latency."""

        def handler(request: httpx.Request) -> httpx.Response:
            self.now += seconds
            return response

        return handler


def paced_client(script: Script, time: FakeTime, **policy: object) -> ConfluenceClient:
    return ConfluenceClient(
        "https://acme.atlassian.net",
        bearer_token="b-TOKEN-123",
        transport=httpx.MockTransport(script),
        sleep=time.sleep,
        clock=time.clock,
        retry=RetryPolicy(**policy),
    )


def test_client_slows_down_before_429_when_near_limit() -> None:
    time = FakeTime()
    script = Script(near_limit(page()), near_limit(page()), httpx.Response(200, json=page()))
    client = paced_client(script, time, near_limit_delay=0.5)
    client.get_page(1)
    assert time.sleeps == [] and client.rate_limit.near_limit
    client.get_page(1)  # the very first request after the warning already waits
    assert time.sleeps == [0.5]
    client.get_page(1)  # the warning on the second response still applies
    assert time.sleeps == [0.5, 0.5]
    assert client.stats.paced == 2 and client.stats.rate_limited == 0
    assert not client.rate_limit.near_limit


def test_draining_bucket_paces_at_its_refill_rate_from_the_previous_start() -> None:
    # Each response takes 50 ms; the bucket refills 5 per second, one per 200 ms.
    time = FakeTime()
    script = Script(*[time.taking(0.05, bucket(left)) for left in (4, 3, 2, 1, 1, 0, 3)])
    client = paced_client(script, time)
    for _ in range(7):
        client.get_page(1)
    # Nothing waits while 2 of 5 remain; from 1 left (20 %) every start is kept 200 ms
    # after the previous one, of which the 50 ms response time has already passed.
    assert time.sleeps == pytest.approx([0.15, 0.15, 0.15])
    assert client.stats.paced == 3 and client.stats.requests == 7
    assert client.stats.waited == pytest.approx(0.45)


def test_exhausted_budget_with_a_reset_paces_without_a_limit_header() -> None:
    time = FakeTime()
    drained = httpx.Response(
        200, json=page(), headers={"X-RateLimit-Remaining": "0", "RateLimit-Reset": "3"}
    )
    script = Script(drained, httpx.Response(200, json=page()))
    client = paced_client(script, time, max_proactive_delay=5)
    client.get_page(1)
    client.get_page(1)
    assert len(time.sleeps) == 1 and 2.5 < time.sleeps[0] <= 3.0  # the window's remainder
    assert client.stats.paced == 1


def test_pacing_can_be_switched_off() -> None:
    time = FakeTime()
    script = Script(*[bucket(left) for left in (1, 0, 0)])
    client = paced_client(script, time, pace=False)
    for _ in range(3):
        client.get_page(1)
    assert time.sleeps == [] and client.stats.paced == 0


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
    # Three concurrent tasks queue behind one another (and behind the first request)
    # instead of firing together.
    assert sorted(sleeps) == [0.5, 1.0, 1.5]
    assert client.stats.paced == 3


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
