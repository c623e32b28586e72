"""Behaviour of the real service the sandbox reproduces: conflicts, validation, auth,
permissions, rate limits, injected faults and concurrent human edits."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from confluence_agent.sandbox import FaultConfig, SandboxServer

PRD = "998877"
ENG_SPACE = "1001"


def _client(sb: SandboxServer, email: str | None = None, token: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=sb.url, auth=(email or sb.email, token or sb.api_token))


def _put_v2(
    client: httpx.Client, page_id: str, version: int, body: str = "<p>x</p>"
) -> httpx.Response:
    page = client.get(f"/wiki/api/v2/pages/{page_id}").json()
    return client.put(
        f"/wiki/api/v2/pages/{page_id}",
        json={
            "id": page_id,
            "status": "current",
            "title": page["title"],
            "body": {"representation": "storage", "value": body},
            "version": {"number": version},
        },
    )


def test_stale_version_gets_409_with_confluence_wording(confluence_sandbox: SandboxServer) -> None:
    with _client(confluence_sandbox) as c:
        v2 = _put_v2(c, PRD, 5)
        assert v2.status_code == 409
        assert v2.json()["errors"][0] == {
            "status": 409,
            "code": "CONFLICT",
            "title": "Version must be incremented when updating a page. "
            "Current Version: [5]. Provided version: [5]",
            "detail": None,
        }
        v1 = c.put(
            f"/wiki/rest/api/content/{PRD}",
            json={
                "type": "page",
                "title": "Q3 Billing Engine PRD",
                "version": {"number": 9},
                "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}},
            },
        )
        assert v1.status_code == 409
        assert (
            v1.json()["message"] == "Version must be incremented on update. Current version is: 5"
        )
        assert v1.json()["statusCode"] == 409


def test_duplicate_title_in_space_is_400(confluence_sandbox: SandboxServer) -> None:
    with _client(confluence_sandbox) as c:
        existing = c.get(f"/wiki/api/v2/spaces/{ENG_SPACE}/pages").json()["results"][0]["title"]
        resp = c.post(
            "/wiki/api/v2/pages",
            json={
                "spaceId": ENG_SPACE,
                "title": existing,
                "body": {"representation": "storage", "value": "<p>x</p>"},
            },
        )
        assert resp.status_code == 400
        assert "A page with this title already exists" in resp.json()["errors"][0]["title"]


def test_malformed_storage_is_400_with_row_and_column(confluence_sandbox: SandboxServer) -> None:
    with _client(confluence_sandbox) as c:
        resp = c.post(
            "/wiki/rest/api/content",
            json={
                "type": "page",
                "title": "Broken",
                "space": {"key": "ENG"},
                "body": {
                    "storage": {"value": "<p>ok</p>\n<p>bad<br></p>", "representation": "storage"}
                },
            },
        )
        assert resp.status_code == 400
        message = resp.json()["message"]
        assert (
            message.startswith("Error parsing xhtml: ")
            and "[row,col {unknown-source}]: [2," in message
        )
        v2 = _put_v2(c, PRD, 6, "<p>unclosed")
        assert v2.status_code == 400 and "Error parsing xhtml" in v2.json()["errors"][0]["title"]
        assert (
            c.get(f"/wiki/api/v2/pages/{PRD}").json()["version"]["number"] == 5
        )  # nothing written


@pytest.mark.parametrize(
    ("cql", "message"),
    [
        ('title ~ "x" AND AND', "Could not parse cql : "),
        ("grill = 3", "No field exists with the name: 'grill'"),
        ('user.fullname ~ "x"', "/wiki/rest/api/search/user"),
    ],
)
def test_bad_cql_is_400_v1_envelope(
    confluence_sandbox: SandboxServer, cql: str, message: str
) -> None:
    with _client(confluence_sandbox) as c:
        resp = c.get("/wiki/rest/api/search", params={"cql": cql})
    assert resp.status_code == 400
    assert message in resp.json()["message"] and resp.json()["reason"] == "Bad Request"


def test_missing_or_bad_credentials_get_plain_text_401(confluence_sandbox: SandboxServer) -> None:
    anonymous = httpx.get(f"{confluence_sandbox.url}/wiki/api/v2/pages")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"].startswith(
        "text/plain"
    )
    with _client(confluence_sandbox, token="wrong") as c:
        assert c.get("/wiki/rest/api/space").status_code == 401
    bearer = confluence_sandbox.bearer_token or confluence_sandbox.api_token
    ok = httpx.get(
        f"{confluence_sandbox.url}/wiki/api/v2/pages", headers={"Authorization": f"Bearer {bearer}"}
    )
    assert ok.status_code == 200


def _restricted(sb: SandboxServer) -> tuple[str, object]:
    """A (space id, user) pair where the user may not read the space, from the demo seed."""
    for space in sb.seed.spaces:
        if space.readers is not None:
            outsider = next(
                u for u in sb.seed.users if not u.is_admin and u.account_id not in space.readers
            )
            return space.id, outsider
    pytest.skip("the demo seed has no restricted space")


def test_forbidden_space_looks_missing(confluence_sandbox: SandboxServer) -> None:
    space_id, outsider = _restricted(confluence_sandbox)
    with _client(confluence_sandbox) as admin:
        page = admin.get("/wiki/api/v2/pages", params={"space-id": space_id}).json()["results"][0]
    with _client(confluence_sandbox, outsider.email, outsider.api_token) as c:  # type: ignore[attr-defined]
        assert c.get(f"/wiki/api/v2/pages/{page['id']}").status_code == 404
        assert c.get(f"/wiki/rest/api/content/{page['id']}").status_code == 404
        assert c.get(f"/wiki/api/v2/spaces/{space_id}").status_code == 404
        listed = c.get("/wiki/api/v2/pages", params={"limit": 250}).json()["results"]
        assert page["id"] not in {p["id"] for p in listed}
        hits = c.get("/wiki/rest/api/search", params={"cql": f"id = {page['id']}"}).json()
        assert hits["totalSize"] == 0


def test_write_without_permission_is_404_on_v2_and_403_on_v1(
    confluence_sandbox: SandboxServer,
) -> None:
    target = next(
        (s, u)
        for s in confluence_sandbox.seed.spaces
        if s.writers is not None
        for u in confluence_sandbox.seed.users
        if not u.is_admin
        and u.account_id not in s.writers
        and (s.readers is None or u.account_id in s.readers)
    )
    space, reader = target
    with _client(confluence_sandbox, reader.email, reader.api_token) as c:
        v2 = c.post(
            "/wiki/api/v2/pages",
            json={
                "spaceId": space.id,
                "title": "nope",
                "body": {"representation": "storage", "value": "<p/>"},
            },
        )
        assert v2.status_code == 404
        v1 = c.post(
            "/wiki/rest/api/content",
            json={
                "type": "page",
                "title": "nope",
                "space": {"key": space.key},
                "body": {"storage": {"value": "<p/>", "representation": "storage"}},
            },
        )
        assert v1.status_code == 403


def test_payload_over_5mb_is_413(confluence_sandbox: SandboxServer) -> None:
    with _client(confluence_sandbox) as c:
        resp = c.post(
            "/wiki/api/v2/pages",
            content=b"x" * 5_242_881,
            headers={"Content-Type": "application/json"},
        )
    assert resp.status_code == 413


def test_rate_limiter_answers_429_with_headers(
    confluence_sandbox_factory: Callable[..., SandboxServer],
) -> None:
    sb = confluence_sandbox_factory(rate_limit=0.01, burst=3)  # no refill during the test
    with _client(sb) as c:
        statuses = [c.get("/wiki/rest/api/space") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    first, limited = statuses[0], statuses[3]
    assert (
        first.headers["X-RateLimit-Limit"] == "3" and first.headers["X-RateLimit-Remaining"] == "2"
    )
    assert first.headers["RateLimit-Policy"] == '"burst";q=3;w=300'
    assert statuses[2].headers["X-RateLimit-NearLimit"] == "true"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Reason"] and limited.headers["X-RateLimit-Reset"].endswith(
        "Z"
    )
    assert sb.stats.rate_limited == 1


def test_every_answer_to_a_known_user_carries_the_budget_headers(
    confluence_sandbox_factory: Callable[..., SandboxServer],
) -> None:
    # A refill of one token per 100 s keeps the counts exact however slow the run is.
    sb = confluence_sandbox_factory(rate_limit=0.01, burst=10)
    with _client(sb) as c:
        answers = [
            c.get("/wiki/api/v2/pages/424242"),  # 404, v2
            c.get("/wiki/rest/api/search", params={"cql": "title ~"}),  # 400, v1
            _put_v2(c, PRD, 2),  # a GET (200), then a stale PUT (409)
            c.post("/wiki/api/v2/pages", content=b"not json"),  # 400
        ]
    assert [r.status_code for r in answers] == [404, 400, 409, 400]
    # Each request spent one token (the helper's GET too), whatever its outcome.
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["9", "8", "6", "5"]
    assert all(r.headers["X-RateLimit-Limit"] == "10" and "RateLimit" in r.headers for r in answers)
    assert all("Retry-After" not in r.headers for r in answers)


def test_fault_injection_is_deterministic(
    confluence_sandbox_factory: Callable[..., SandboxServer],
) -> None:
    def run() -> list[int]:
        sb = confluence_sandbox_factory(faults=FaultConfig(p429=0.2, p503=0.2, seed=7))
        with _client(sb) as c:
            codes = [c.get("/wiki/rest/api/space").status_code for _ in range(30)]
        assert sb.stats.rate_limited == codes.count(429) and sb.stats.unavailable == codes.count(
            503
        )
        return codes

    first, second = run(), run()
    assert first == second
    assert {200, 429, 503} == set(first)


def test_concurrent_edit_makes_next_write_stale(confluence_sandbox: SandboxServer) -> None:
    with _client(confluence_sandbox) as c:
        confluence_sandbox.arm_concurrent_edit(PRD)
        resp = _put_v2(c, PRD, 6, "<p>agent edit</p>")
        assert (
            resp.status_code == 409 and "Current Version: [6]" in resp.json()["errors"][0]["title"]
        )
        page = c.get(f"/wiki/api/v2/pages/{PRD}", params={"body-format": "storage"}).json()
        assert "Edited in the browser" in page["body"]["storage"]["value"]
        assert _put_v2(c, PRD, 7, "<p>agent edit</p>").status_code == 200  # re-read + retry works
        confluence_sandbox.human_edit(PRD, "<p>Added by Priya.</p>")
        after = c.get(f"/wiki/api/v2/pages/{PRD}", params={"body-format": "storage"}).json()
        assert after["version"]["number"] == 8 and after["body"]["storage"]["value"].endswith(
            "<p>Added by Priya.</p>"
        )


def test_v1_property_put_requires_the_next_version(confluence_sandbox: SandboxServer) -> None:
    url = f"/wiki/rest/api/content/{PRD}/property/review-state"
    with _client(confluence_sandbox) as c:
        # A missing key is created only by version 1, as on Confluence Cloud.
        assert c.put(url, json={"value": "x", "version": {"number": 2}}).status_code == 404
        created = c.put(url, json={"value": {"state": "draft"}, "version": {"number": 1}})
        assert created.status_code == 200 and created.json()["version"]["number"] == 1
        for stale in (1, 3):
            resp = c.put(url, json={"value": {"state": "lost"}, "version": {"number": stale}})
            assert resp.status_code == 409
            assert resp.json()["statusCode"] == 409
            assert resp.json()["message"] == (
                "Version must be incremented on update. Current version is: 1"
            )
        missing = c.put(url, json={"value": {"state": "lost"}})
        assert missing.status_code == 400 and missing.json()["statusCode"] == 400
        assert c.get(url).json()["value"] == {"state": "draft"}  # rejected writes changed nothing
        bumped = c.put(url, json={"value": {"state": "approved"}, "version": {"number": 2}})
        assert bumped.status_code == 200
        assert bumped.json()["version"]["number"] == 2
        assert c.get(url).json()["value"] == {"state": "approved"}
