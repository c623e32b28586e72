"""Client operations against httpx.MockTransport: URLs, payloads, models, pagination."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import confluence_agent.cql
from confluence_agent import (
    AsyncConfluenceClient,
    ConfluenceClient,
    InvalidCQL,
    NotFound,
    Page,
)

SAMPLES = Path("/work/shared/reference/samples/mcp-atlassian")

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeServer:
    """Answers from a queue of responses (or a handler) and records requests."""

    responses: list[httpx.Response | Handler] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        nxt = self.responses.pop(0)
        return nxt(request) if callable(nxt) else nxt

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


def page_json(page_id: str = "998877", version: int = 5, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": page_id,
        "status": "current",
        "title": "Q3 Billing Engine PRD",
        "spaceId": "1001",
        "parentId": "42",
        "parentType": "page",
        "authorId": "557058:abc",
        "ownerId": "557058:abc",
        "createdAt": "2024-05-01T12:34:56.789Z",
        "version": {
            "number": version,
            "createdAt": "2024-05-02T12:34:56.789Z",
            "message": "",
            "minorEdit": False,
            "authorId": "557058:abc",
        },
        "body": {"storage": {"representation": "storage", "value": "<p>Hello</p>"}},
        "_links": {
            "webui": f"/spaces/ENG/pages/{page_id}/Q3+Billing+Engine+PRD",
            "editui": f"/pages/resumedraft.action?draftId={page_id}",
            "tinyui": "/x/AbC",
            "base": "https://acme.atlassian.net/wiki",
        },
    }
    data.update(extra)
    return data


@pytest.fixture
def cql_ok(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Local CQL validation accepting everything; records the queries it saw."""
    seen: list[str] = []

    def validate(q: str, *, endpoint: str = "search") -> list[Any]:
        seen.append(q)
        return []

    monkeypatch.setattr(confluence_agent.cql, "validate", validate, raising=False)
    monkeypatch.setattr(confluence_agent.cql, "format_problems", lambda p: "", raising=False)
    return seen


def make_client(server: FakeServer, url: str = "https://acme.atlassian.net") -> ConfluenceClient:
    return ConfluenceClient(
        url,
        email="bot@acme.test",
        api_token="tok-ABCDEF123456",
        transport=httpx.MockTransport(server),
        sleep=lambda s: None,
    )


# --------------------------------------------------------------------------- URL forms

BASE_FORMS = [
    ("https://acme.atlassian.net", "https://acme.atlassian.net"),
    ("https://acme.atlassian.net/", "https://acme.atlassian.net"),
    ("https://acme.atlassian.net/wiki", "https://acme.atlassian.net"),
    ("https://acme.atlassian.net/wiki/", "https://acme.atlassian.net"),
    (
        "https://api.atlassian.com/ex/confluence/0f3a-cloud-id",
        "https://api.atlassian.com/ex/confluence/0f3a-cloud-id",
    ),
    ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
]


@pytest.mark.parametrize(("base", "root"), BASE_FORMS)
def test_v2_pagination_links_join_onto_each_base_form(base: str, root: str) -> None:
    first = {
        "results": [page_json("1")],
        "_links": {
            "next": "/wiki/api/v2/pages?space-id=1001&cursor=eyJpZCI6MX0%3D&limit=1",
            "base": "https://acme.atlassian.net/wiki",
        },
    }
    second = {"results": [page_json("2")], "_links": {"base": "https://acme.atlassian.net/wiki"}}
    server = FakeServer([httpx.Response(200, json=first), httpx.Response(200, json=second)])
    pages = list(make_client(server, base).iter_pages(space_id="1001", limit=1))

    assert [p.id for p in pages] == ["1", "2"]
    assert server.urls[0] == f"{root}/wiki/api/v2/pages?space-id=1001&limit=1"
    # The cursor link is followed verbatim (not re-encoded, no /wiki/wiki).
    assert server.urls[1] == (
        f"{root}/wiki/api/v2/pages?space-id=1001&cursor=eyJpZCI6MX0%3D&limit=1"
    )


@pytest.mark.parametrize(("base", "root"), BASE_FORMS)
def test_v1_search_links_join_onto_each_base_form(base: str, root: str, cql_ok: list[str]) -> None:
    sample = json.loads((SAMPLES / "confluence_mocks.MOCK_CQL_SEARCH_RESPONSE.json").read_text())
    first = dict(sample)
    first["_links"] = {
        **sample["_links"],
        "next": "/rest/api/search?cql=parent+%3D+123456789&limit=1&cursor=raNDoMsTRiNg",
    }
    server = FakeServer([httpx.Response(200, json=first), httpx.Response(200, json=sample)])
    hits = list(make_client(server, base).iter_search("parent = 123456789", limit=1))

    assert len(hits) == 2
    assert server.urls[0].startswith(f"{root}/wiki/rest/api/search?cql=parent")
    assert server.urls[1] == (
        f"{root}/wiki/rest/api/search?cql=parent+%3D+123456789&limit=1&cursor=raNDoMsTRiNg"
    )


def test_absolute_next_links_stay_on_the_configured_host() -> None:
    # Through the OAuth gateway, a link naming the site host must not receive our token.
    gateway = "https://api.atlassian.com/ex/confluence/cid"
    first = {
        "results": [page_json("1")],
        "_links": {"next": "https://acme.atlassian.net/wiki/api/v2/pages?cursor=abc"},
    }
    server = FakeServer(
        [httpx.Response(200, json=first), httpx.Response(200, json={"results": []})]
    )
    list(make_client(server, gateway).iter_pages())
    assert server.urls[1] == f"{gateway}/wiki/api/v2/pages?cursor=abc"


def test_link_header_is_used_when_body_has_no_next_link() -> None:
    first = httpx.Response(
        200,
        json={"results": [page_json("1")], "_links": {}},
        headers={
            "Link": '</wiki/api/v2/pages?cursor=xyz&limit=1>; rel="next", '
            '<https://acme.atlassian.net/wiki>; rel="base"'
        },
    )
    server = FakeServer([first, httpx.Response(200, json={"results": [page_json("2")]})])
    assert [p.id for p in make_client(server).iter_pages(limit=1)] == ["1", "2"]
    assert server.requests[1].url.params["cursor"] == "xyz"


# --------------------------------------------------------------------------- pages


def test_get_page_parses_the_v2_page() -> None:
    server = FakeServer([httpx.Response(200, json=page_json())])
    page = make_client(server).get_page("998877")

    assert server.requests[0].url.params["body-format"] == "storage"
    assert page.version.number == 5
    assert page.body_storage == "<p>Hello</p>"
    assert page.space_id == "1001" and page.parent_id == "42"
    assert page.author_id == "557058:abc"
    assert page.webui_url == (
        "https://acme.atlassian.net/wiki/spaces/ENG/pages/998877/Q3+Billing+Engine+PRD"
    )
    assert page.created_at is not None and page.created_at.year == 2024
    assert page.parent_type == "page"


def test_unknown_fields_are_kept() -> None:
    server = FakeServer([httpx.Response(200, json=page_json(position=3, isFavorited=True))])
    page = make_client(server).get_page("998877")
    assert page.model_extra == {"position": 3, "isFavorited": True}


def test_get_page_with_labels_and_old_version() -> None:
    data = page_json(
        labels={
            "results": [{"id": "9", "name": "prd", "prefix": "global"}],
            "meta": {"hasMore": False, "cursor": None},
        }
    )
    server = FakeServer([httpx.Response(200, json=data)])
    page = make_client(server).get_page(998877, include_labels=True, version=3)

    params = server.requests[0].url.params
    assert params["include-labels"] == "true" and params["version"] == "3"
    assert [label.name for label in page.labels] == ["prd"]


def test_list_pages_sends_filters_and_clamps_limit() -> None:
    server = FakeServer([httpx.Response(200, json={"results": [], "_links": {}})])
    result = make_client(server).list_pages(
        space_id=["1001", "2005"],
        title="Runbook",
        status=["current", "archived"],
        body_format="storage",
        sort="-modified-date",
        limit=1000,
        cursor="c1",
    )
    params = server.requests[0].url.params
    assert params["space-id"] == "1001,2005"
    assert params["status"] == "current,archived"
    assert params["title"] == "Runbook" and params["sort"] == "-modified-date"
    assert params["limit"] == "250" and params["cursor"] == "c1"
    assert result.results == [] and result.next_cursor is None


def test_list_pages_exposes_next_cursor() -> None:
    body = {
        "results": [page_json()],
        "_links": {"next": "/wiki/api/v2/pages?cursor=NEXT%3D&limit=1"},
    }
    server = FakeServer([httpx.Response(200, json=body)])
    listing = make_client(server).list_pages(limit=1)
    assert listing.next_cursor == "NEXT="
    assert listing.results[0].webui_url is not None


def test_iter_pages_respects_max_results_without_extra_requests() -> None:
    body = {
        "results": [page_json("1"), page_json("2")],
        "_links": {"next": "/wiki/api/v2/pages?cursor=a"},
    }
    server = FakeServer([httpx.Response(200, json=body)])
    pages = list(make_client(server).iter_pages(limit=2, max_results=2))
    assert [p.id for p in pages] == ["1", "2"]
    assert len(server.requests) == 1


def test_create_page_posts_storage_body() -> None:
    server = FakeServer([httpx.Response(200, json=page_json("777", version=1))])
    page = make_client(server).create_page(
        space_id="1001", title="New", body="<p>x</p>", parent_id="42"
    )
    request = server.requests[0]
    assert request.method == "POST" and request.url.path == "/wiki/api/v2/pages"
    assert json.loads(request.content) == {
        "spaceId": "1001",
        "status": "current",
        "title": "New",
        "parentId": "42",
        "body": {"representation": "storage", "value": "<p>x</p>"},
    }
    assert page.id == "777" and page.version.number == 1


def test_update_page_sends_new_version_number() -> None:
    server = FakeServer([httpx.Response(200, json=page_json(version=6))])
    page = make_client(server).update_page(
        998877, title="T", body="<p>v6</p>", version=6, message="edit note"
    )
    request = server.requests[0]
    assert request.method == "PUT" and request.url.path == "/wiki/api/v2/pages/998877"
    sent = json.loads(request.content)
    assert sent["version"] == {"number": 6, "message": "edit note"}
    assert sent["id"] == "998877" and sent["status"] == "current"
    assert sent["body"] == {"representation": "storage", "value": "<p>v6</p>"}
    assert page.version.number == 6


def test_non_numeric_page_id_is_refused_without_a_request() -> None:
    server = FakeServer()
    with pytest.raises(Exception, match="Invalid content id"):
        make_client(server).get_page("../spaces")
    assert server.requests == []


# --------------------------------------------------------------------------- small collections


def test_versions_labels_children() -> None:
    versions = {
        "results": [
            {
                "number": 5,
                "authorId": "u1",
                "createdAt": "2024-05-05T00:00:00.000Z",
                "message": "five",
                "minorEdit": False,
                "page": {"id": "998877", "title": "T"},
            },
            {
                "number": 4,
                "authorId": "u2",
                "createdAt": "2024-05-04T00:00:00.000Z",
                "message": "",
                "minorEdit": True,
            },
        ],
        "_links": {},
    }
    labels_1 = {
        "results": [{"id": "1", "name": "prd", "prefix": "global"}],
        "_links": {"next": "/wiki/api/v2/pages/998877/labels?cursor=L2"},
    }
    labels_2 = {"results": [{"id": "2", "name": "billing", "prefix": "global"}], "_links": {}}
    children = {
        "results": [
            {
                "id": "5",
                "status": "current",
                "title": "Child",
                "type": "page",
                "spaceId": "1001",
                "childPosition": 10,
            },
            {
                "id": "6",
                "status": "current",
                "title": "Folder",
                "type": "folder",
                "spaceId": "1001",
                "childPosition": 20,
            },
        ],
        "_links": {},
    }
    server = FakeServer(
        [httpx.Response(200, json=b) for b in (versions, labels_1, labels_2, children)]
    )
    client = make_client(server)

    got_versions = client.get_page_versions(998877, limit=10)
    assert [v.number for v in got_versions] == [5, 4]
    assert got_versions[1].minor_edit is True
    assert server.requests[0].url.params["sort"] == "-modified-date"

    assert [label.name for label in client.get_labels("998877")] == ["prd", "billing"]

    kids = client.get_children(998877, limit=5)
    assert [(c.id, c.type, c.child_position) for c in kids] == [
        ("5", "page", 10),
        ("6", "folder", 20),
    ]
    assert server.requests[3].url.path == "/wiki/api/v2/pages/998877/direct-children"
    assert server.requests[3].url.params["limit"] == "5"


def test_add_labels_uses_v1_write() -> None:
    sample = json.loads((SAMPLES / "confluence_mocks.MOCK_LABELS_RESPONSE.json").read_text())
    server = FakeServer([httpx.Response(200, json=sample)])
    labels = make_client(server).add_labels("998877", ["release-notes", "my:todo"])
    request = server.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/wiki/rest/api/content/998877/label"
    assert json.loads(request.content) == [
        {"prefix": "global", "name": "release-notes"},
        {"prefix": "my", "name": "todo"},
    ]
    assert [label.name for label in labels] == ["meeting-notes", "important", "test"]


def test_spaces_by_key_are_resolved_and_cached() -> None:
    body = {
        "results": [
            {
                "id": "1001",
                "key": "ENG",
                "name": "Engineering",
                "type": "global",
                "status": "current",
                "homepageId": "5",
                "_links": {"webui": "/spaces/ENG"},
            }
        ],
        "_links": {"base": "https://acme.atlassian.net/wiki"},
    }
    server = FakeServer([httpx.Response(200, json=body)])
    client = make_client(server)
    space = client.get_space_by_key("ENG")
    assert (space.id, space.homepage_id) == ("1001", "5")
    assert space.webui_url == "https://acme.atlassian.net/wiki/spaces/ENG"
    assert client.get_space_id("ENG") == "1001"
    assert len(server.requests) == 1  # second lookup from cache
    assert server.requests[0].url.params["keys"] == "ENG"


def test_unknown_space_key_is_not_found() -> None:
    server = FakeServer([httpx.Response(200, json={"results": [], "_links": {}})])
    with pytest.raises(NotFound, match="NOPE"):
        make_client(server).get_space_by_key("NOPE")


def test_get_spaces_by_keys_and_ids() -> None:
    sample = json.loads((SAMPLES / "confluence_mocks.MOCK_SPACES_RESPONSE.json").read_text())
    sample["_links"].pop("next")
    server = FakeServer([httpx.Response(200, json=sample)])
    spaces = make_client(server).get_spaces(keys=["PROJ", "~user1"], ids=["1"])
    assert [s.key for s in spaces] == ["~user1", "PROJ"]
    assert spaces[1].id == "22222222"  # v1 numeric ids become strings
    params = server.requests[0].url.params
    assert params["keys"] == "PROJ,~user1" and params["ids"] == "1"


def test_users() -> None:
    v1_user = {
        "type": "known",
        "accountId": "557058:abc",
        "accountType": "atlassian",
        "email": "",
        "publicName": "Ada",
        "displayName": "Ada Lovelace",
        "timeZone": "Europe/London",
    }
    bulk = {
        "results": [
            {
                "accountId": "a1",
                "accountType": "atlassian",
                "accountStatus": "active",
                "displayName": "A One",
                "publicName": "A",
                "email": "a@x.test",
            },
        ],
        "_links": {},
    }
    server = FakeServer([httpx.Response(200, json=v1_user), httpx.Response(200, json=bulk)])
    client = make_client(server)
    user = client.get_user("557058:abc")
    assert user.display_name == "Ada Lovelace" and user.email is None
    assert server.requests[0].url.path == "/wiki/rest/api/user"
    assert server.requests[0].url.params["accountId"] == "557058:abc"

    users = client.get_users(["a1", "a1", "b2"])
    assert [u.account_id for u in users] == ["a1"]
    assert json.loads(server.requests[1].content) == {"accountIds": ["a1", "b2"]}
    assert server.requests[1].url.path == "/wiki/api/v2/users-bulk"


# --------------------------------------------------------------------------- search


def test_search_parses_real_shaped_response(cql_ok: list[str]) -> None:
    sample = json.loads((SAMPLES / "confluence_mocks.MOCK_CQL_SEARCH_RESPONSE.json").read_text())
    server = FakeServer([httpx.Response(200, json=sample)])
    result = make_client(server).search(
        "parent = 123456789", limit=10, expand=["content.space", "content.version"]
    )
    params = server.requests[0].url.params
    assert params["cql"] == "parent = 123456789" and params["excerpt"] == "highlight"
    assert params["expand"] == "content.space,content.version" and params["limit"] == "10"
    assert cql_ok == ["parent = 123456789"]
    assert result.total_size == 1 and result.next_cursor is None
    hit = result.results[0]
    assert (hit.id, hit.type, hit.space_key) == ("123456789", "page", "TEAM")
    assert hit.webui_url == (
        "https://example.atlassian.net/wiki/spaces/TEAM/pages/123456789/"
        "2024-01-01+Team+Progress+Meeting+01"
    )
    assert hit.content is not None and hit.content.id == "123456789"
    assert hit.last_modified is not None


def test_search_highlight_markers_and_cursor(cql_ok: list[str]) -> None:
    body = {
        "results": [
            {
                "content": {"id": "1", "type": "page", "title": "Billing"},
                "title": "@@@hl@@@Billing@@@endhl@@@ &amp; invoices",
                "excerpt": "the @@@hl@@@billing@@@endhl@@@ engine &lt;v2&gt;",
                "url": "/spaces/ENG/pages/1/Billing",
                "lastModified": "2024-01-01T00:00:00.000Z",
            }
        ],
        "totalSize": 40,
        "_links": {
            "base": "https://acme.atlassian.net/wiki",
            "next": "/rest/api/search?cql=x&cursor=CUR%2B1&limit=1",
        },
    }
    server = FakeServer([httpx.Response(200, json=body)])
    page = make_client(server).search("title ~ billing", limit=1, cursor="prev")
    assert server.requests[0].url.params["cursor"] == "prev"
    assert page.next_cursor == "CUR+1"
    assert page.results[0].excerpt_text == "the billing engine <v2>"
    assert page.results[0].title_text == "Billing & invoices"


def test_invalid_cql_is_refused_without_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass
    class Problem:
        message: str
        severity: str

    problems = [Problem("Unknown field 'Grill'", "error"), Problem("slow", "warning")]
    monkeypatch.setattr(confluence_agent.cql, "validate", lambda q, **k: problems, raising=False)
    monkeypatch.setattr(
        confluence_agent.cql,
        "format_problems",
        lambda ps: "\n".join(p.message for p in ps),
        raising=False,
    )
    server = FakeServer()
    client = make_client(server)
    with pytest.raises(InvalidCQL) as info:
        client.search("Grill = 1")
    assert info.value.problems == tuple(problems)
    assert "Unknown field 'Grill'" in str(info.value)
    with pytest.raises(InvalidCQL):
        next(client.iter_search("Grill = 1"))
    assert server.requests == [] and client.stats.requests == 0


def test_warnings_alone_do_not_block_search(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass
    class Problem:
        message: str
        severity: str = "warning"

    monkeypatch.setattr(
        confluence_agent.cql, "validate", lambda q, **k: [Problem("w")], raising=False
    )
    server = FakeServer([httpx.Response(200, json={"results": [], "_links": {}})])
    assert make_client(server).search("type = page").results == []


def test_server_side_cql_error_is_invalid_cql(cql_ok: list[str]) -> None:
    body = {
        "statusCode": 400,
        "data": {
            "authorized": False,
            "valid": True,
            "allowedInReadOnlyMode": True,
            "errors": [],
            "successful": False,
        },
        "message": "Could not parse cql : space.key=X +and+expand=",
        "reason": "Bad Request",
    }
    server = FakeServer([httpx.Response(400, json=body)])
    with pytest.raises(InvalidCQL, match="Could not parse cql") as info:
        make_client(server).search("space.key=X")
    assert info.value.problems == () and info.value.status_code == 400


# --------------------------------------------------------------------------- async


async def test_async_client_runs_the_same_operations(cql_ok: list[str]) -> None:
    first = {"results": [page_json("1")], "_links": {"next": "/wiki/api/v2/pages?cursor=a"}}
    second = {"results": [page_json("2")], "_links": {}}
    search = {
        "results": [
            {"content": {"id": "3", "type": "page"}, "title": "t", "excerpt": "", "url": "/x"}
        ],
        "_links": {},
    }
    server = FakeServer(
        [
            httpx.Response(200, json=page_json()),
            httpx.Response(200, json=first),
            httpx.Response(200, json=second),
            httpx.Response(200, json=search),
            httpx.Response(200, json=page_json(version=6)),
        ]
    )

    async def no_sleep(seconds: float) -> None:
        return None

    async with AsyncConfluenceClient(
        "https://acme.atlassian.net/wiki",
        bearer_token="oauth-SECRET-xyz",
        transport=httpx.MockTransport(server),
        sleep=no_sleep,
    ) as client:
        page = await client.get_page(998877)
        assert isinstance(page, Page) and page.version.number == 5
        assert [p.id async for p in client.aiter_pages(space_id="1001")] == ["1", "2"]
        assert [h.id async for h in client.aiter_search("type = page")] == ["3"]
        updated = await client.update_page(
            page.id, title=page.title, body="<p>n</p>", version=page.version.number + 1
        )
        assert updated.version.number == 6
        assert client.stats.requests == 5
    assert server.requests[0].headers["authorization"] == "Bearer oauth-SECRET-xyz"


def test_real_cql_validator_blocks_broken_query_without_a_request() -> None:
    # Uses confluence_agent.cql as shipped (no monkeypatching): the contract end to end.
    server = FakeServer([httpx.Response(200, json={"results": [], "_links": {}})])
    client = make_client(server)
    with pytest.raises(InvalidCQL) as info:
        client.search("title ~ AND ((")
    assert info.value.problems and all(p.message for p in info.value.problems)
    assert server.requests == []
    assert client.search('space = ENG AND title ~ "billing"').results == []
    assert len(server.requests) == 1
