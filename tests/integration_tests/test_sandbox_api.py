"""Every sandbox endpoint over real HTTP, with each 2xx body validated against Atlassian's
OpenAPI documents (v2, current v1, and the 2021 v1 snapshot for legacy content CRUD)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from confluence_agent.sandbox import SandboxServer

SPECS = Path("/work/shared/reference/openapi")
PRD = "998877"
ENG_SPACE = "1001"


def _patched(name: str) -> OpenAPI:
    """Load a spec, fixing the upstream defects SOURCES.md lists (bad parameter defaults)."""
    doc = json.loads((SPECS / name).read_text())
    for item in doc["paths"].values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            for param in op.get("parameters", []):
                schema = param.get("schema", {})
                default = schema.get("default", ...)
                if default is None or ("enum" in schema and default not in (..., *schema["enum"])):
                    schema.pop("default")
    # Validate paths, not hosts: every document gets the sandbox origin as its server.
    doc["servers"] = [{"url": "http://sandbox/wiki/api/v2" if "v2" in name else "http://sandbox"}]
    return OpenAPI.from_dict(doc)


@pytest.fixture(scope="session")
def specs() -> dict[str, OpenAPI]:
    """The three documents, loaded once per session (each takes seconds)."""
    return {
        "v2": _patched("openapi-v2.v3.json"),
        "v1": _patched("swagger.v3.json"),
        "v1-2021": _patched("swagger.v3.2021-11-23.json"),
    }


Validate = Callable[[httpx.Response], Any]


@pytest.fixture
def api(
    confluence_sandbox: SandboxServer, specs: dict[str, OpenAPI]
) -> Iterator[tuple[httpx.Client, Validate]]:
    """An admin httpx client on the demo sandbox and ``ok(resp)`` that checks the schema."""
    client = httpx.Client(
        base_url=confluence_sandbox.url,
        auth=(confluence_sandbox.email, confluence_sandbox.api_token),
    )

    def ok(resp: httpx.Response) -> Any:
        assert resp.is_success, (resp.status_code, resp.text[:500])
        path = resp.request.url.path
        order = ["v2"] if path.startswith("/wiki/api/v2") else ["v1", "v1-2021"]
        req = MockRequest(
            "http://sandbox",
            resp.request.method.lower(),
            path,
            args=dict(resp.request.url.params),
            data=resp.request.content or None,
        )
        body = resp.content or b""
        mock = MockResponse(body, status_code=resp.status_code, content_type="application/json")
        errors = []
        for key in order:
            try:
                specs[key].validate_response(req, mock)
                break
            except Exception as exc:  # path missing from this document, or a real mismatch
                errors.append(f"{key}: {exc!r}"[:2000])
        else:
            pytest.fail("response does not match the OpenAPI schema:\n" + "\n".join(errors))
        return resp.json() if body else None

    yield client, ok
    client.close()


def test_v2_pages_list_paginates_with_cursor_and_link_header(
    api: tuple[httpx.Client, Validate],
) -> None:
    client, ok = api
    first = client.get("/wiki/api/v2/pages", params={"limit": 2, "body-format": "storage"})
    data = ok(first)
    assert len(data["results"]) == 2
    assert all(isinstance(p["id"], str) and "storage" in p["body"] for p in data["results"])
    nxt = data["_links"]["next"]
    assert nxt.startswith("/wiki/api/v2/pages?") and "cursor=" in nxt and "limit=2" in nxt
    assert first.headers["Link"].startswith(f'<{nxt}>; rel="next"')
    second = ok(client.get(nxt))
    assert {p["id"] for p in second["results"]}.isdisjoint({p["id"] for p in data["results"]})


def test_v2_pages_filters(api: tuple[httpx.Client, Validate]) -> None:
    client, ok = api
    by_title = ok(client.get("/wiki/api/v2/pages", params={"title": "Q3 Billing Engine PRD"}))
    assert [p["id"] for p in by_title["results"]] == [PRD]
    by_ids = ok(client.get("/wiki/api/v2/pages", params={"id": f"{PRD},5543210"}))
    assert {p["id"] for p in by_ids["results"]} == {PRD, "5543210"}
    in_space = ok(client.get("/wiki/api/v2/pages", params={"space-id": ENG_SPACE, "limit": 250}))
    assert in_space["results"] and all(p["spaceId"] == ENG_SPACE for p in in_space["results"])
    assert "next" not in in_space["_links"]
    by_title_sorted = ok(client.get("/wiki/api/v2/pages", params={"sort": "-title", "limit": 250}))
    titles = [p["title"].lower() for p in by_title_sorted["results"]]
    assert titles == sorted(titles, reverse=True)


@pytest.mark.parametrize("limit", ["0", "251", "abc"])
def test_v2_limit_out_of_range_is_400(api: tuple[httpx.Client, Validate], limit: str) -> None:
    client, _ = api
    resp = client.get("/wiki/api/v2/pages", params={"limit": limit})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["status"] == 400


def test_v2_get_page_with_body_formats_labels_and_old_version(
    api: tuple[httpx.Client, Validate],
) -> None:
    client, ok = api
    page = ok(
        client.get(
            f"/wiki/api/v2/pages/{PRD}",
            params={"body-format": "storage", "include-labels": "true", "include-versions": "true"},
        )
    )
    assert page["title"] == "Q3 Billing Engine PRD" and page["version"]["number"] == 5
    assert page["body"]["storage"]["representation"] == "storage"
    assert page["labels"]["results"] and page["_links"]["base"].endswith("/wiki")
    assert page["versions"]["results"][0]["number"] == 5
    old = ok(
        client.get(f"/wiki/api/v2/pages/{PRD}", params={"version": 1, "body-format": "storage"})
    )
    assert old["version"]["number"] == 1
    assert old["body"]["storage"]["value"] != page["body"]["storage"]["value"]
    view = ok(client.get(f"/wiki/api/v2/pages/{PRD}", params={"body-format": "view"}))
    assert "ac:" not in view["body"]["view"]["value"]
    adf = ok(client.get(f"/wiki/api/v2/pages/{PRD}", params={"body-format": "atlas_doc_format"}))
    assert json.loads(adf["body"]["atlas_doc_format"]["value"])["type"] == "doc"
    bare = ok(client.get(f"/wiki/api/v2/pages/{PRD}", params={"include-version": "false"}))
    assert "version" not in bare and bare["body"] == {}


def test_v2_create_update_delete_roundtrip(api: tuple[httpx.Client, Validate]) -> None:
    client, ok = api
    created_resp = client.post(
        "/wiki/api/v2/pages",
        json={
            "spaceId": ENG_SPACE,
            "status": "current",
            "title": "Sandbox test page",
            "body": {"representation": "storage", "value": "<p>first</p>"},
        },
    )
    assert created_resp.status_code == 200
    created = ok(created_resp)
    page_id = created["id"]
    assert int(page_id) > 5543210 and created["version"]["number"] == 1
    assert created["parentId"]  # defaults to the space homepage
    updated = ok(
        client.put(
            f"/wiki/api/v2/pages/{page_id}",
            json={
                "id": page_id,
                "status": "current",
                "title": "Sandbox test page (renamed)",
                "body": {"storage": {"representation": "storage", "value": "<p>second</p>"}},
                "version": {"number": 2, "message": "edit note"},
            },
        )
    )
    assert updated["version"] == {**updated["version"], "number": 2, "message": "edit note"}
    versions = ok(client.get(f"/wiki/api/v2/pages/{page_id}/versions"))
    assert [v["number"] for v in versions["results"]] == [2, 1]
    first = ok(
        client.get(f"/wiki/api/v2/pages/{page_id}", params={"version": 1, "body-format": "storage"})
    )
    assert first["body"]["storage"]["value"] == "<p>first</p>"  # history keeps every version
    assert client.delete(f"/wiki/api/v2/pages/{page_id}").status_code == 204
    assert client.get(f"/wiki/api/v2/pages/{page_id}").status_code == 404
    trashed = ok(client.get(f"/wiki/api/v2/pages/{page_id}", params={"status": "trashed"}))
    assert trashed["status"] == "trashed"


def test_v2_hierarchy_labels_comments(api: tuple[httpx.Client, Validate]) -> None:
    client, ok = api
    parent = ok(client.get(f"/wiki/api/v2/pages/{PRD}"))["parentId"]
    children = ok(client.get(f"/wiki/api/v2/pages/{parent}/children"))
    assert PRD in {c["id"] for c in children["results"]}
    direct = ok(client.get(f"/wiki/api/v2/pages/{parent}/direct-children"))
    assert all(c["type"] == "page" for c in direct["results"])
    labels = ok(client.get(f"/wiki/api/v2/pages/{PRD}/labels"))
    assert all({"id", "name", "prefix"} <= set(lb) for lb in labels["results"])
    created = client.post(
        "/wiki/api/v2/footer-comments",
        json={"pageId": PRD, "body": {"representation": "storage", "value": "<p>LGTM</p>"}},
    )
    assert created.status_code == 201 and created.headers["Location"].endswith(created.json()["id"])
    ok(created)
    comments = ok(
        client.get(f"/wiki/api/v2/pages/{PRD}/footer-comments", params={"body-format": "storage"})
    )
    assert "<p>LGTM</p>" in [c["body"]["storage"]["value"] for c in comments["results"]]


def test_v2_version_details(api: tuple[httpx.Client, Validate]) -> None:
    client, ok = api
    listed = ok(client.get(f"/wiki/api/v2/pages/{PRD}/versions"))["results"]
    assert [v["number"] for v in listed] == [5, 4, 3, 2, 1]
    for summary in listed:
        detail = ok(client.get(f"/wiki/api/v2/pages/{PRD}/versions/{summary['number']}"))
        for key in ("number", "authorId", "message", "createdAt", "minorEdit"):
            assert detail[key] == summary[key]
        assert detail["collaborators"] == [summary["authorId"]]
        assert detail["contentTypeModified"] is False
    latest = ok(client.get(f"/wiki/api/v2/pages/{PRD}/versions/5"))
    assert latest["prevVersion"] == 4 and "nextVersion" not in latest
    first = ok(client.get(f"/wiki/api/v2/pages/{PRD}/versions/1"))
    assert first["nextVersion"] == 2 and "prevVersion" not in first
    assert client.get(f"/wiki/api/v2/pages/{PRD}/versions/6").status_code == 404
    assert client.get(f"/wiki/api/v2/pages/{PRD}/versions/x").status_code == 400
    assert client.get("/wiki/api/v2/pages/123/versions/1").status_code == 404


def _walk(client: httpx.Client, ok: Validate, path: str, **params: object) -> list[Any]:
    """Every result of a v2 listing, following ``_links.next``."""
    body = ok(client.get(path, params=params))
    results = list(body["results"])
    while "next" in body["_links"]:
        body = ok(client.get(body["_links"]["next"]))
        results.extend(body["results"])
    return results


def test_v2_descendants_depth_order_and_paging(
    api: tuple[httpx.Client, Validate], confluence_sandbox: SandboxServer
) -> None:
    client, ok = api
    home = confluence_sandbox.store.get_space(int(ENG_SPACE))
    assert home is not None and home.homepage_id is not None
    path = f"/wiki/api/v2/pages/{home.homepage_id}/descendants"
    everything = ok(client.get(path, params={"depth": 10, "limit": 250}))["results"]
    # The same set as CQL's ``ancestor`` (no depth limit) over current and archived pages.
    cql = ok(
        client.get(
            "/wiki/rest/api/content/search",
            params={
                "cql": f"ancestor = {home.homepage_id}",
                "cqlcontext": json.dumps({"contentStatuses": ["current", "archived"]}),
                "limit": 250,
            },
        )
    )
    assert {d["id"] for d in everything} == {c["id"] for c in cql["results"]}
    # Top to bottom: depth never decreases, and each parent sits one level up.
    depth_of = {str(home.homepage_id): 0} | {d["id"]: d["depth"] for d in everything}
    assert [d["depth"] for d in everything] == sorted(d["depth"] for d in everything)
    assert max(depth_of.values()) >= 2
    assert all(depth_of[d["parentId"]] == d["depth"] - 1 for d in everything)
    assert all(d["type"] == "page" for d in everything)
    assert {d["status"] for d in everything} == {"current", "archived"}

    children = ok(client.get(f"/wiki/api/v2/pages/{home.homepage_id}/children"))["results"]
    level_one = ok(client.get(path, params={"depth": 1}))["results"]
    assert [d["id"] for d in level_one] == [c["id"] for c in children]  # child order
    default = ok(client.get(path))["results"]  # depth defaults to 2
    assert default == [d for d in everything if d["depth"] <= 2][:25]
    assert _walk(client, ok, path, depth=10, limit=2) == everything
    for bad in ("0", "11", "deep"):
        assert client.get(path, params={"depth": bad}).status_code == 400


def test_v2_spaces_and_users(
    api: tuple[httpx.Client, Validate], confluence_sandbox: SandboxServer
) -> None:
    client, ok = api
    spaces = ok(client.get("/wiki/api/v2/spaces"))
    keys = {s["key"] for s in spaces["results"]}
    assert {"ENG", "PROD"} <= keys
    eng = ok(client.get("/wiki/api/v2/spaces", params={"keys": "ENG"}))["results"]
    assert [s["id"] for s in eng] == [ENG_SPACE]
    assert ok(client.get("/wiki/api/v2/spaces", params={"keys": "NOPE"}))["results"] == []
    assert ok(client.get(f"/wiki/api/v2/spaces/{ENG_SPACE}"))["key"] == "ENG"
    pages = ok(client.get(f"/wiki/api/v2/spaces/{ENG_SPACE}/pages", params={"depth": "root"}))
    assert pages["results"]
    ids = [u.account_id for u in confluence_sandbox.seed.users[:3]]
    users = ok(client.post("/wiki/api/v2/users-bulk", json={"accountIds": ids}))
    assert [u["accountId"] for u in users["results"]] == ids


def test_v1_search_highlight_cursor_and_expand(api: tuple[httpx.Client, Validate]) -> None:
    client, ok = api
    cql = 'text ~ "logging" ORDER BY title'
    data = ok(
        client.get(
            "/wiki/rest/api/search",
            params={"cql": cql, "limit": 1, "expand": "content.body.storage,content.version"},
        )
    )
    assert data["totalSize"] >= 2 and data["size"] == 1 and data["cqlQuery"] == cql
    hit = data["results"][0]
    assert "@@@hl@@@" in hit["title"] + hit["excerpt"]
    assert hit["content"]["body"]["storage"]["value"] and hit["content"]["version"]["number"]
    nxt = data["_links"]["next"]
    assert nxt.startswith("/rest/api/search?") and "cursor=" in nxt
    second = ok(client.get(data["_links"]["base"] + nxt))
    assert second["results"][0]["content"]["id"] != hit["content"]["id"]


def test_v1_content_search_and_listing(api: tuple[httpx.Client, Validate]) -> None:
    client, ok = api
    found = ok(
        client.get("/wiki/rest/api/content/search", params={"cql": "space = ENG", "limit": 2})
    )
    assert found["size"] == 2 and found["_links"]["next"].startswith("/rest/api/content/search?")
    by_title = ok(
        client.get(
            "/wiki/rest/api/content",
            params={
                "spaceKey": "PROD",
                "title": "Q3 Billing Engine PRD",
                "expand": "body.storage,version",
            },
        )
    )
    assert [c["id"] for c in by_title["results"]] == [PRD]
    assert by_title["results"][0]["version"]["number"] == 5


def test_v1_content_crud_history_labels_properties(api: tuple[httpx.Client, Validate]) -> None:
    client, ok = api
    created = ok(
        client.post(
            "/wiki/rest/api/content",
            json={
                "type": "page",
                "title": "v1 page",
                "space": {"key": "ENG"},
                "ancestors": [{"id": "665544"}],
                "body": {"storage": {"value": "<p>v1</p>", "representation": "storage"}},
            },
        )
    )
    page_id = created["id"]
    got = ok(
        client.get(
            f"/wiki/rest/api/content/{page_id}",
            params={"expand": "body.storage,version,space,history,ancestors"},
        )
    )
    assert got["space"]["key"] == "ENG" and got["ancestors"][-1]["id"] == "665544"
    assert ok(client.get(f"/wiki/rest/api/content/{page_id}/history"))["lastUpdated"]["number"] == 1
    updated = ok(
        client.put(
            f"/wiki/rest/api/content/{page_id}",
            json={
                "id": page_id,
                "type": "page",
                "title": "v1 page",
                "version": {"number": 2},
                "body": {"storage": {"value": "<p>v1 again</p>", "representation": "storage"}},
            },
        )
    )
    assert updated["version"]["number"] == 2
    labels = ok(
        client.post(
            f"/wiki/rest/api/content/{page_id}/label",
            json=[{"prefix": "global", "name": "Runbook"}],
        )
    )
    assert [lb["name"] for lb in labels["results"]] == ["runbook"]
    assert ok(client.get(f"/wiki/rest/api/content/{page_id}/label"))["size"] == 1
    assert ok(client.get(f"/wiki/rest/api/content/{page_id}/property"))["results"] == []
    kids = ok(client.get("/wiki/rest/api/content/665544/child/page"))
    assert page_id in {k["id"] for k in kids["results"]}
    assert client.delete(f"/wiki/rest/api/content/{page_id}").status_code == 204


def test_v1_users_and_spaces(
    api: tuple[httpx.Client, Validate], confluence_sandbox: SandboxServer
) -> None:
    client, ok = api
    me = ok(client.get("/wiki/rest/api/user/current"))
    assert me["email"] == confluence_sandbox.email
    other = confluence_sandbox.seed.users[1]
    assert (
        ok(client.get("/wiki/rest/api/user", params={"accountId": other.account_id}))["displayName"]
        == other.display_name
    )
    bulk = ok(
        client.get(
            "/wiki/rest/api/user/bulk", params={"accountId": [me["accountId"], other.account_id]}
        )
    )
    assert bulk["size"] == 2
    first_name = other.display_name.split()[0]
    people = ok(
        client.get("/wiki/rest/api/search/user", params={"cql": f'user.fullname ~ "{first_name}"'})
    )
    assert other.account_id in {r["user"]["accountId"] for r in people["results"]}
    spaces = ok(client.get("/wiki/rest/api/space"))
    assert "ENG" in {s["key"] for s in spaces["results"]}
    assert ok(client.get("/wiki/rest/api/space/ENG"))["name"]
    assert client.get("/wiki/rest/api/space/NOPE").status_code == 404


def test_stats_count_requests_per_route(confluence_sandbox: SandboxServer) -> None:
    with httpx.Client(
        base_url=confluence_sandbox.url,
        auth=(confluence_sandbox.email, confluence_sandbox.api_token),
    ) as c:
        confluence_sandbox.reset_stats()
        c.get(f"/wiki/api/v2/pages/{PRD}")
        c.get(f"/wiki/api/v2/pages/{PRD}")
        c.get("/wiki/rest/api/space")
    stats = confluence_sandbox.stats
    assert stats.requests == 3
    assert stats.by_route["GET /wiki/api/v2/pages/{id}"] == 2


def test_secondary_routes_rename_ancestors_versions_labels_properties(
    api: tuple[httpx.Client, Validate],
) -> None:
    client, ok = api
    created = ok(
        client.post(
            "/wiki/api/v2/pages",
            json={
                "spaceId": ENG_SPACE,
                "title": "Secondary routes",
                "parentId": "665544",
                "body": {"representation": "storage", "value": "<p>x</p>"},
            },
        )
    )
    page_id = created["id"]
    renamed = ok(
        client.put(
            f"/wiki/api/v2/pages/{page_id}/title",
            json={"status": "current", "title": "Secondary routes (renamed)"},
        )
    )
    assert renamed["title"] == "Secondary routes (renamed)" and renamed["version"]["number"] == 2
    ancestors = ok(client.get(f"/wiki/api/v2/pages/{page_id}/ancestors"))
    assert ancestors["results"][-1]["id"] == "665544"
    versions = ok(client.get(f"/wiki/rest/api/content/{page_id}/version"))
    assert [v["number"] for v in versions["results"]] == [2, 1]

    ok(client.post(f"/wiki/rest/api/content/{page_id}/label", json=[{"name": "a"}, {"name": "b"}]))
    assert client.delete(f"/wiki/rest/api/content/{page_id}/label/a").status_code == 204
    assert (
        client.delete(f"/wiki/rest/api/content/{page_id}/label", params={"name": "b"}).status_code
        == 204
    )
    assert ok(client.get(f"/wiki/rest/api/content/{page_id}/label"))["size"] == 0

    prop = {"key": "audit", "value": {"state": "checked"}}
    ok(client.post(f"/wiki/rest/api/content/{page_id}/property", json=prop))
    assert ok(client.get(f"/wiki/rest/api/content/{page_id}/property/audit"))["value"] == {
        "state": "checked"
    }
    replaced = ok(
        client.put(
            f"/wiki/rest/api/content/{page_id}/property/audit",
            json={"key": "audit", "value": {"state": "stale"}, "version": {"number": 2}},
        )
    )
    assert replaced["value"] == {"state": "stale"}
    missing = client.get(f"/wiki/rest/api/content/{page_id}/property/nope")
    assert missing.status_code == 404 and missing.json()["statusCode"] == 404
