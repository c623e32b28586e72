"""The sync ``ConfluenceClient`` against a sandbox that limits, fails and rejects for real.

Rate limiting, local CQL validation and the create-page safety net are checked by
counting on both sides: what the client says it sent (``client.stats``) and what
the sandbox says it served (``sandbox.stats``).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from confluence_agent.client import ConfluenceClient
from confluence_agent.errors import InvalidCQL
from confluence_agent.sandbox import FaultConfig, SandboxServer

PRD = "998877"
ENG_ID = "1001"
CREATE_ROUTE = "POST /wiki/api/v2/pages"
LIST_ROUTE = "GET /wiki/api/v2/pages"

Factory = Callable[..., SandboxServer]


def _titled(sb: SandboxServer, title: str) -> list[int]:
    """Ids of the pages (any status) titled ``title``, straight from the store."""
    rows = sb.store.search(
        "p.title = ?",
        (title,),
        order="p.id",
        rank_match=None,
        readable=None,
        statuses=("current", "draft", "archived", "trashed"),
        limit=100,
        offset=0,
    )[0]
    return [page.id for page, _ in rows]


def test_twenty_reads_through_a_five_per_second_limit(confluence_sandbox_factory: Factory) -> None:
    sb = confluence_sandbox_factory(rate_limit=5, burst=5)
    with ConfluenceClient(**sb.client_kwargs()) as client:
        pages = [client.get_page(PRD, body_format=None) for _ in range(20)]
        state = client.rate_limit
    sent, served = client.stats, sb.stats
    assert [p.id for p in pages] == [PRD] * 20  # zero failures
    # Both sides agree on every request, and every extra request was a 429 retry.
    assert served.by_status[200] == 20
    assert sent.requests == served.requests == 20 + sent.retries
    assert sent.rate_limited == served.rate_limited == sent.retries
    # A burst of five cannot absorb twenty reads: the client either hit the limit and
    # retried, or paced itself ahead of it. Which one happened is in the counts.
    if sent.rate_limited == 0:
        assert sent.paced >= 1 and sent.waited > 0
    else:
        assert sent.waited > 0 and served.by_status[429] == sent.rate_limited

    # The last response's headers, as the sandbox's token bucket wrote them.
    assert state.limit == 5
    assert state.remaining is not None and 0 <= state.remaining <= 5
    assert state.reset_at is not None and state.observed_at is not None
    assert [(p.name, p.quota, p.window) for p in state.policies] == [("burst", 5, 1.0)]
    assert [q.name for q in state.quotas] == ["burst"]
    assert state.quotas[0].remaining == state.remaining


def test_headers_report_the_budget_draining(confluence_sandbox_factory: Factory) -> None:
    sb = confluence_sandbox_factory(rate_limit=0.5, burst=3)  # slow refill: exact counts
    with ConfluenceClient(**sb.client_kwargs()) as client:
        remaining = []
        for _ in range(3):
            client.get_page(PRD, body_format=None)
            remaining.append(client.rate_limit.remaining)
        assert client.rate_limit.is_near_limit()
    assert remaining == [2, 1, 0]
    assert sb.stats.rate_limited == 0


@pytest.mark.parametrize(
    "cql",
    ['title ~ "unterminated', "type = page AND", "space = ENG ORDER BY", "(label = a"],
)
def test_invalid_cql_is_rejected_without_a_request(
    confluence_sandbox: SandboxServer, cql: str
) -> None:
    sb = confluence_sandbox
    served_before = sb.stats.requests
    with ConfluenceClient(**sb.client_kwargs()) as client:
        with pytest.raises(InvalidCQL) as info:
            client.search(cql)
        with pytest.raises(InvalidCQL):
            next(client.iter_search(cql))
        assert client.stats.requests == 0
    assert sb.stats.requests == served_before
    assert info.value.problems and all(p.severity for p in info.value.problems)


def test_server_side_cql_rejection_is_invalid_cql_too(confluence_sandbox: SandboxServer) -> None:
    # Local validation only warns about sorting by text; the sandbox answers 400.
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as client:
        with pytest.raises(InvalidCQL) as info:
            client.search("type = page ORDER BY text")
        assert client.stats.requests == 1 and client.stats.retries == 0
    assert info.value.status_code == 400 and not info.value.problems
    assert "Cannot order by field 'text'" in str(info.value)


def test_create_answered_503_after_the_write_is_not_duplicated(
    confluence_sandbox_factory: Factory,
) -> None:
    sb = confluence_sandbox_factory(faults=FaultConfig(p503_after_write=1.0))
    title = "Created behind a flaky proxy"
    with ConfluenceClient(**sb.client_kwargs()) as client:
        page = client.create_page(space_id=ENG_ID, title=title, body="<p>once</p>")
    # The POST was carried out, then answered 503: the client looked the page up
    # instead of posting again.
    assert sb.stats.by_route[CREATE_ROUTE] == 1
    assert sb.stats.unavailable == 1
    assert sb.stats.by_route[LIST_ROUTE] == 1
    assert client.stats.retries == 0
    assert _titled(sb, title) == [int(page.id)]
    assert page.title == title and page.body_storage == "<p>once</p>"


def _seed_failing_first_request_only(probability: float, requests: int) -> int:
    """A fault seed whose first request draws a failure and the next ``requests`` do not.

    The gateway draws one number per request from ``random.Random(seed)``; the stats
    assertions below fail loudly should that ever change.
    """
    for seed in range(10_000):
        rnd = random.Random(seed)
        draws = [rnd.random() for _ in range(requests + 1)]
        if draws[0] < probability and all(d >= probability for d in draws[1:]):
            return seed
    raise AssertionError("no suitable seed")  # pragma: no cover


def test_create_answered_503_before_the_write_is_sent_again(
    confluence_sandbox_factory: Factory,
) -> None:
    seed = _seed_failing_first_request_only(0.5, requests=2)
    sb = confluence_sandbox_factory(faults=FaultConfig(p503=0.5, seed=seed))
    title = "Created after a refused attempt"
    with ConfluenceClient(**sb.client_kwargs()) as client:
        page = client.create_page(space_id=ENG_ID, title=title, body="<p>once</p>")
    # First POST refused (nothing written), lookup finds nothing, second POST creates.
    assert sb.stats.by_route[CREATE_ROUTE] == 2
    assert sb.stats.by_route[LIST_ROUTE] == 1
    assert sb.stats.unavailable == 1
    assert _titled(sb, title) == [int(page.id)]
