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
from confluence_agent.errors import InvalidCQL, VersionConflict
from confluence_agent.ratelimit import RetryPolicy
from confluence_agent.sandbox import FaultConfig, SandboxServer

PRD = "998877"
ENG_ID = "1001"
CREATE_ROUTE = "POST /wiki/api/v2/pages"
LIST_ROUTE = "GET /wiki/api/v2/pages"
UPDATE_ROUTE = "PUT /wiki/api/v2/pages/{id}"
READ_ROUTE = "GET /wiki/api/v2/pages/{id}"

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


def _twenty_reads(sb: SandboxServer, *, pace: bool) -> ConfluenceClient:
    with ConfluenceClient(**sb.client_kwargs(), retry=RetryPolicy(pace=pace)) as client:
        pages = [client.get_page(PRD, body_format=None) for _ in range(20)]
    assert [p.id for p in pages] == [PRD] * 20  # zero failures either way
    return client


def test_twenty_reads_through_a_five_per_second_limit(confluence_sandbox_factory: Factory) -> None:
    sb = confluence_sandbox_factory(rate_limit=5, burst=5)
    client = _twenty_reads(sb, pace=True)
    sent, served, state = client.stats, sb.stats.snapshot(), client.rate_limit
    # Both sides agree on every request, and every extra request was a 429 retry.
    assert served.by_status[200] == 20
    assert sent.requests == served.requests == 20 + sent.retries
    assert sent.rate_limited == served.rate_limited == sent.retries
    # The client saw the budget run low and slowed down before the server said 429.
    assert sent.paced >= 1 and sent.waited > 0

    # The same reads sent as fast as the server answers: the burst of five runs dry.
    unpaced_sb = confluence_sandbox_factory(rate_limit=5, burst=5)
    unpaced = _twenty_reads(unpaced_sb, pace=False).stats
    assert unpaced.paced == 0 and unpaced.rate_limited == unpaced_sb.stats.rate_limited >= 1
    assert sent.rate_limited < unpaced.rate_limited

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


def _seed_failing_first_write_only(probability: float) -> int:
    """A fault seed whose first PUT is answered 503 after the write and the second is not.

    With only ``p503_after_write`` set the gateway draws twice per write (the 429/503
    draw, then the after-write draw), so the after-write draws are numbers 2 and 4.
    """
    for seed in range(10_000):
        rnd = random.Random(seed)
        draws = [rnd.random() for _ in range(4)]
        if draws[1] < probability <= draws[3]:
            return seed
    raise AssertionError("no suitable seed")  # pragma: no cover


def test_update_answered_503_after_the_write_is_not_a_conflict(
    confluence_sandbox_factory: Factory,
) -> None:
    seed = _seed_failing_first_write_only(0.5)
    sb = confluence_sandbox_factory(faults=FaultConfig(p503_after_write=0.5, seed=seed))
    before = sb.store.get_page(int(PRD))
    assert before is not None
    body = before.body + "<p>Written behind a flaky proxy.</p>"
    with ConfluenceClient(**sb.client_kwargs()) as client:
        page = client.update_page(PRD, title=before.title, body=body, version=before.version + 1)
    # The first PUT was carried out and answered 503; its retry met the write as a 409,
    # and one read showed the write was the client's own.
    assert (sb.stats.by_route[UPDATE_ROUTE], sb.stats.by_route[READ_ROUTE]) == (2, 1)
    assert sb.stats.by_status[503] == 1 and sb.stats.by_status[409] == 1
    assert page.version.number == before.version + 1 and page.body_storage == body
    # Exactly one new version, not two.
    versions = [v.number for v in sb.store.list_versions(int(PRD))]
    assert versions[0] == before.version + 1 and versions.count(before.version + 1) == 1
    assert len(versions) == len(set(versions)) and before.version + 2 not in versions


def test_update_meeting_someone_elses_write_after_a_503_still_conflicts(
    confluence_sandbox_factory: Factory,
) -> None:
    # The first PUT is refused before the write; a teammate saves before the retry lands.
    seed = _seed_failing_first_request_only(0.5, requests=2)
    sb = confluence_sandbox_factory(faults=FaultConfig(p503=0.5, seed=seed))
    before = sb.store.get_page(int(PRD))
    assert before is not None
    sb.arm_concurrent_edit(PRD)
    with (
        ConfluenceClient(**sb.client_kwargs()) as client,
        pytest.raises(VersionConflict) as info,
    ):
        client.update_page(PRD, title=before.title, body="<p>Mine</p>", version=before.version + 1)
    # The teammate's version took the number: read back, it is not ours, so it conflicts.
    assert info.value.current_version == info.value.attempted_version == before.version + 1
    assert (sb.stats.by_route[UPDATE_ROUTE], sb.stats.by_route[READ_ROUTE]) == (2, 1)
    after = sb.store.get_page(int(PRD))
    assert after is not None and after.version == before.version + 1
    assert "<p>Mine</p>" not in after.body
