"""Handlers of the v1 API (``/wiki/rest/api``): CQL search, legacy content CRUD (what
atlassian-python-api and mcp-atlassian call), labels, properties, users and spaces."""

from __future__ import annotations

import json
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from confluence_agent.cql import CQLSyntaxError, parse
from confluence_agent.cql.ast import And, Clause, Expr, Not, Or, Query, ValueList
from confluence_agent.sandbox.common import (
    check_storage,
    csv_values,
    decode_cursor,
    encode_cursor,
    link_with,
    links_of,
    parse_id,
    parse_int,
    parse_limit,
    read_json,
    read_object,
    readable_page,
    readable_space,
    require_write,
    store_of,
    user_of,
)
from confluence_agent.sandbox.cql_eval import compile_query
from confluence_agent.sandbox.errors import bad_request, not_found
from confluence_agent.sandbox.shapes import (
    Expand,
    Json,
    array_v1,
    content_v1,
    history_v1,
    label_v1,
    property_v1,
    search_results_v1,
    space_v1,
    user_v1,
    version_v1,
)
from confluence_agent.sandbox.store import Page, PageQuery, User

_CONTENT_DEFAULT_EXPAND = "space,history,version"
_V1_MAX_LIMIT = 1000
_MAX_START = 100_000


def _parse_cql(cql: str | None) -> Query:
    if not cql or not cql.strip():
        raise bad_request("CQL query parameter 'cql' is required")
    try:
        return parse(cql)
    except CQLSyntaxError:
        raise bad_request(f"Could not parse cql : {cql}") from None


def _statuses(request: Request) -> tuple[str, ...]:
    raw = request.query_params.get("cqlcontext")
    if raw:
        try:
            context = json.loads(raw)
        except ValueError:
            raise bad_request("cqlcontext is not valid JSON") from None
        statuses = context.get("contentStatuses") if isinstance(context, dict) else None
        if isinstance(statuses, list) and statuses:
            return tuple(str(s) for s in statuses)
    return ("current",)


def _run_cql(
    request: Request, *, default_limit: int = 25
) -> tuple[list[tuple[Page, float]], int, int, int, tuple[str, ...], Expand]:
    """Parse, compile and run ``cql``; returns (hits, total, offset, limit, terms, expand)."""
    params = request.query_params
    cql = params.get("cql")
    query = _parse_cql(cql)
    user = user_of(request)
    compiled = compile_query(query, user_id=user.account_id)
    expand = Expand.parse(params.get("expand"))
    limit = parse_limit(params.get("limit"), default=default_limit, maximum=_V1_MAX_LIMIT, cap=True)
    if any("body" in p for p in expand.paths):
        limit = min(limit, 50)  # expanding bodies caps a page of results at 50
    if params.get("cursor"):
        offset = decode_cursor(params.get("cursor"))
    else:
        offset = max(0, parse_int(params.get("start"), "start", 0))
    store = store_of(request)
    hits, total = store.search(
        compiled.where,
        compiled.params,
        order=compiled.order,
        rank_match=compiled.rank_match,
        readable=store.readable_space_ids(user),
        statuses=_statuses(request),
        limit=limit,
        offset=offset,
    )
    return hits, total, offset, limit, compiled.terms, expand


def _page_links(request: Request, offset: int, limit: int, more: bool) -> Json:
    links = links_of(request)
    out: Json = {
        "base": links.base,
        "context": links.context,
        "self": f"{links.base}{link_with(request, '/wiki')}",
    }
    if more:
        out["next"] = link_with(request, "/wiki", cursor=encode_cursor(offset + limit), limit=limit)
    if offset > 0:
        prev = max(0, offset - limit)
        out["prev"] = link_with(request, "/wiki", cursor=encode_cursor(prev), limit=limit)
    return out


async def search(request: Request) -> Response:
    """GET /search: CQL search with excerpts, ``totalSize`` and cursor paging."""
    started = time.perf_counter()
    hits, total, offset, limit, terms, expand = _run_cql(request)
    links = links_of(request)
    mode = request.query_params.get("excerpt", "highlight")
    store = store_of(request)
    results = search_results_v1(hits, store, links, expand=expand, terms=terms, excerpt_mode=mode)
    more = offset + len(results) < total and len(results) == limit
    return JSONResponse(
        {
            "results": results,
            "start": offset,
            "limit": limit,
            "size": len(results),
            "totalSize": total,
            "cqlQuery": request.query_params.get("cql", ""),
            "searchDuration": int((time.perf_counter() - started) * 1000),
            "_links": _page_links(request, offset, limit, more),
        }
    )


async def content_search(request: Request) -> Response:
    """GET /content/search: CQL search returning plain ``Content`` objects."""
    hits, total, offset, limit, _, expand = _run_cql(request)
    store, links = store_of(request), links_of(request)
    results = [content_v1(page, store, links, expand) for page, _ in hits]
    more = offset + len(results) < total and len(results) == limit
    return JSONResponse(
        {
            "results": results,
            "start": offset,
            "limit": limit,
            "size": len(results),
            "_links": _page_links(request, offset, limit, more),
        }
    )


# ---------------------------------------------------------------------- content


async def list_content(request: Request) -> Response:
    """GET /content (``spaceKey``, ``title``, ``type``, ``status``; offset paging)."""
    params = request.query_params
    store, user, links = store_of(request), user_of(request), links_of(request)
    limit = parse_limit(params.get("limit"), maximum=_V1_MAX_LIMIT, cap=True)
    start = parse_int(params.get("start"), "start", 0)
    if start > _MAX_START:
        raise bad_request(
            "Start of this size is no longer supported, please use the cursor-based pagination"
        )
    content_type = params.get("type", "page")
    space_ids: list[int] = []
    if params.get("spaceKey"):
        space = store.get_space_by_key(params["spaceKey"])
        if space is None or not store.can_read(user, space.id):
            return JSONResponse(array_v1([], links, start, limit))
        space_ids = [space.id]
    if content_type != "page":
        return JSONResponse(array_v1([], links, start, limit))
    statuses = tuple(csv_values(request, "status")) or ("current",)
    query = PageQuery(space_ids=space_ids, title=params.get("title"), statuses=statuses)
    pages, more = store.list_pages(
        query, readable=store.readable_space_ids(user), limit=limit, offset=start
    )
    expand = Expand.parse(params.get("expand"))
    results = [content_v1(p, store, links, expand) for p in pages]
    nxt = (
        link_with(request, "/wiki", start=start + limit, limit=limit, next="true") if more else None
    )
    return JSONResponse(array_v1(results, links, start, limit, next_link=nxt))


def _v1_body(data: dict[str, object]) -> str:
    body = data.get("body")
    storage = body.get("storage") if isinstance(body, dict) else None
    if not isinstance(storage, dict) or not isinstance(storage.get("value"), str):
        raise bad_request("body.storage.value is required (the sandbox stores storage format)")
    representation = storage.get("representation", "storage")
    if representation != "storage":
        raise bad_request("The sandbox accepts bodies in the storage representation only")
    value = str(storage["value"])
    check_storage(value)
    return value


def _ancestor(data: dict[str, object]) -> int | None:
    ancestors = data.get("ancestors")
    if isinstance(ancestors, list) and ancestors and isinstance(ancestors[-1], dict):
        return parse_id(str(ancestors[-1].get("id")), "ancestors")
    return None


async def create_content(request: Request) -> Response:
    """POST /content: create a page (v1 shape, 200)."""
    store = store_of(request)
    data = await read_object(request)
    if data.get("type", "page") != "page":
        raise bad_request("The sandbox can only create content of type 'page'")
    space_ref = data.get("space")
    key = space_ref.get("key") if isinstance(space_ref, dict) else None
    space = store.get_space_by_key(str(key)) if key else None
    if space is None:
        raise bad_request(f"Space with key '{key}' does not exist or you cannot see it")
    readable_space(request, space)
    require_write(request, space.id)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad_request("Title is required")
    body = _v1_body(data)
    status = str(data.get("status") or "current")
    version = data.get("version")
    message = str(version.get("message") or "") if isinstance(version, dict) else ""
    page = store.create_page(
        space_id=space.id,
        title=title,
        body=body,
        author_id=user_of(request).account_id,
        parent_id=_ancestor(data),
        status=status,
        message=message,
    )
    return JSONResponse(
        content_v1(
            page, store, links_of(request), Expand.parse(_CONTENT_DEFAULT_EXPAND + ",body.storage")
        )
    )


async def get_content(request: Request) -> Response:
    """GET /content/{id} (``expand``, ``version``, ``status``)."""
    params = request.query_params
    version = parse_int(params.get("version"), "version", 0) or None
    page = readable_page(request, request.path_params["id"], version=version)
    statuses = tuple(csv_values(request, "status")) or ("current", "archived", "draft")
    if version is None and "any" not in statuses and page.status not in statuses:
        raise not_found()
    expand = Expand.parse(params.get("expand"), _CONTENT_DEFAULT_EXPAND)
    return JSONResponse(content_v1(page, store_of(request), links_of(request), expand))


async def update_content(request: Request) -> Response:
    """PUT /content/{id}: version.number must be current + 1 (else 409)."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    require_write(request, page.space_id)
    data = await read_object(request)
    version = data.get("version")
    if not isinstance(version, dict) or not isinstance(version.get("number"), int):
        raise bad_request("Must supply an incremented version when updating Content.")
    if not data.get("type"):
        raise bad_request("Content type is required")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad_request("Title is required")
    status = str(data.get("status") or request.query_params.get("status") or "current")
    restoring = page.status == "trashed" and status == "current"
    body = None if restoring or data.get("body") is None else _v1_body(data)
    updated = store.update_page(
        page.id,
        title=title,
        body=body,
        version=version["number"],
        author_id=user_of(request).account_id,
        status=status,
        message=str(version.get("message") or ""),
        parent_id=_ancestor(data),
        minor_edit=bool(version.get("minorEdit", False)),
    )
    expand = Expand.parse(_CONTENT_DEFAULT_EXPAND + ",body.storage")
    return JSONResponse(content_v1(updated, store, links_of(request), expand))


async def delete_content(request: Request) -> Response:
    """DELETE /content/{id} → 204 (trash; ``status=trashed`` purges)."""
    store = store_of(request)
    page_id = parse_id(request.path_params["id"])
    page = store.get_page(page_id)
    if page is None or not store.can_read(user_of(request), page.space_id):
        raise not_found()
    require_write(request, page.space_id)
    store.delete_page(page_id, purge=request.query_params.get("status") == "trashed")
    return Response(status_code=204)


async def content_history(request: Request) -> Response:
    """GET /content/{id}/history (``lastUpdated.number`` is the current version)."""
    page = readable_page(request, request.path_params["id"])
    return JSONResponse(history_v1(page, store_of(request), links_of(request)))


async def content_versions(request: Request) -> Response:
    """GET /content/{id}/version (newest first, offset paging)."""
    store, links = store_of(request), links_of(request)
    page = readable_page(request, request.path_params["id"])
    limit = parse_limit(request.query_params.get("limit"), default=200, maximum=200, cap=True)
    start = parse_int(request.query_params.get("start"), "start", 0)
    versions = store.list_versions(page.id)
    chunk = versions[start : start + limit]
    results = [
        version_v1(
            v.number,
            v.created_at,
            store.get_user(v.author_id),
            v.author_id,
            v.message,
            v.minor_edit,
            links,
            page.id,
        )
        for v in chunk
    ]
    return JSONResponse(array_v1(results, links, start, limit))


async def child_pages(request: Request) -> Response:
    """GET /content/{id}/child/page."""
    store, links = store_of(request), links_of(request)
    page = readable_page(request, request.path_params["id"])
    limit = parse_limit(request.query_params.get("limit"), maximum=_V1_MAX_LIMIT, cap=True)
    start = parse_int(request.query_params.get("start"), "start", 0)
    query = PageQuery(parent_id=page.id, statuses=("current",), sort="child-position")
    kids, more = store.list_pages(query, readable=None, limit=limit, offset=start)
    expand = Expand.parse(request.query_params.get("expand"))
    nxt = link_with(request, "/wiki", start=start + limit, limit=limit) if more else None
    return JSONResponse(
        array_v1(
            [content_v1(k, store, links, expand) for k in kids], links, start, limit, next_link=nxt
        )
    )


# ----------------------------------------------------------- labels, properties


async def get_labels(request: Request) -> Response:
    """GET /content/{id}/label."""
    page = readable_page(request, request.path_params["id"])
    labels = [label_v1(lb) for lb in store_of(request).labels(page.id)]
    return JSONResponse(array_v1(labels, links_of(request), 0, 200))


async def add_labels(request: Request) -> Response:
    """POST /content/{id}/label: a ``LabelCreate`` or a list of them; adds, never removes."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    require_write(request, page.space_id)
    data = await read_json(request)
    items = data if isinstance(data, list) else [data]
    names: list[str] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad_request("Each label needs a name")
        names.append(item["name"])
    labels = store.add_labels(page.id, names)
    return JSONResponse(array_v1([label_v1(lb) for lb in labels], links_of(request), 0, 200))


async def remove_label(request: Request) -> Response:
    """DELETE /content/{id}/label/{label} or /content/{id}/label?name=… → 204."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    require_write(request, page.space_id)
    name = request.path_params.get("label") or request.query_params.get("name")
    if not name:
        raise bad_request("Label name is required")
    store.remove_label(page.id, name)
    return Response(status_code=204)


async def list_properties(request: Request) -> Response:
    """GET /content/{id}/property."""
    page = readable_page(request, request.path_params["id"])
    links = links_of(request)
    props = [property_v1(p, links) for p in store_of(request).properties(page.id)]
    return JSONResponse(array_v1(props, links, 0, 10))


async def get_property(request: Request) -> Response:
    """GET /content/{id}/property/{key}."""
    page = readable_page(request, request.path_params["id"])
    key = request.path_params["key"]
    for prop in store_of(request).properties(page.id):
        if prop.key == key:
            return JSONResponse(property_v1(prop, links_of(request)))
    raise not_found(f"Cannot find content property with key: {key}")


async def set_property(request: Request) -> Response:
    """POST /content/{id}/property ``{key, value}`` (creates or replaces).

    PUT /content/{id}/property/{key} ``{value, version: {number}}`` updates: the
    number must be the current version + 1 (409 otherwise, 400 when missing), or 1
    to create a key that does not exist yet.
    """
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    require_write(request, page.space_id)
    data = await read_object(request)
    # On PUT the key in the path names the property; POST carries it in the body.
    key = request.path_params.get("key") or data.get("key")
    if not isinstance(key, str) or not key:
        raise bad_request("Property key is required")
    number: int | None = None
    if request.method == "PUT":
        version = data.get("version")
        raw = version.get("number") if isinstance(version, dict) else None
        # bool is an int in Python; JSON true is not a version number.
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise bad_request(
                "Must supply an incremented version when updating a content property."
            )
        number = raw
    prop = store.set_property(page.id, key, data.get("value"), version=number)
    return JSONResponse(property_v1(prop, links_of(request)))


# ------------------------------------------------------------------------ users


async def get_user(request: Request) -> Response:
    """GET /user?accountId=…."""
    account_id = request.query_params.get("accountId")
    if not account_id:
        raise bad_request("accountId is required")
    user = store_of(request).get_user(account_id)
    if user is None:
        raise not_found(f"No user found with accountId: {account_id}")
    return JSONResponse(user_v1(user, links_of(request)))


async def current_user(request: Request) -> Response:
    """GET /user/current."""
    return JSONResponse(user_v1(user_of(request), links_of(request)))


async def bulk_users(request: Request) -> Response:
    """GET /user/bulk?accountId=a&accountId=b (at most 100 returned)."""
    ids = csv_values(request, "accountId")[:100]
    links = links_of(request)
    users = [user_v1(u, links) for u in store_of(request).get_users(ids)]
    return JSONResponse(array_v1(users, links, 0, 100))


def _user_matches(user: User, expr: Expr) -> bool:
    if isinstance(expr, And):
        return all(_user_matches(user, e) for e in expr.items)
    if isinstance(expr, Or):
        return any(_user_matches(user, e) for e in expr.items)
    if isinstance(expr, Not):
        return not _user_matches(user, expr.item)
    return _user_clause(user, expr)


def _user_clause(user: User, clause: Clause) -> bool:
    field = clause.canonical_field
    values = clause.value.items if isinstance(clause.value, ValueList) else (clause.value,)
    texts = [str(getattr(v, "value", v.to_cql())) for v in values]
    if field == "type":
        hit = "user" in texts
    elif field in ("user", "user.accountid"):
        hit = user.account_id in texts
    elif field == "user.fullname":
        hit = all(w.lower() in user.display_name.lower() for t in texts for w in t.split())
    else:
        raise bad_request(
            f"The field '{clause.field}' is not supported by /wiki/rest/api/search/user"
        )
    return not hit if clause.op in ("!=", "!~", "NOT IN") else hit


async def search_users(request: Request) -> Response:
    """GET /search/user?cql=… (user fields only; offset paging)."""
    started = time.perf_counter()
    cql = request.query_params.get("cql")
    query = _parse_cql(cql)
    limit = parse_limit(request.query_params.get("limit"), maximum=_V1_MAX_LIMIT, cap=True)
    start = parse_int(request.query_params.get("start"), "start", 0)
    users = store_of(request).find_users()
    if query.where is not None:
        users = [u for u in users if _user_matches(u, query.where)]
    links = links_of(request)
    chunk = users[start : start + limit]
    results = [
        {
            "user": user_v1(u, links),
            "title": u.display_name,
            "excerpt": "",
            "url": f"/people/{u.account_id}",
            "breadcrumbs": [],
            "entityType": "user",
            "iconCssClass": "aui-icon content-type-profile",
            "lastModified": "2024-01-01T00:00:00.000Z",
            "score": 0.0,
        }
        for u in chunk
    ]
    return JSONResponse(
        {
            "results": results,
            "start": start,
            "limit": limit,
            "size": len(results),
            "totalSize": len(users),
            "cqlQuery": cql,
            "searchDuration": int((time.perf_counter() - started) * 1000),
            "_links": {"base": links.base, "context": links.context},
        }
    )


# ----------------------------------------------------------------------- spaces


async def list_spaces(request: Request) -> Response:
    """GET /space (``spaceKey`` filter, offset paging)."""
    store, links = store_of(request), links_of(request)
    limit = parse_limit(request.query_params.get("limit"), maximum=_V1_MAX_LIMIT, cap=True)
    start = parse_int(request.query_params.get("start"), "start", 0)
    spaces = store.list_spaces(
        user_of(request), keys=csv_values(request, "spaceKey"), types=csv_values(request, "type")
    )
    chunk = spaces[start : start + limit]
    nxt = (
        link_with(request, "/wiki", start=start + limit, limit=limit)
        if start + limit < len(spaces)
        else None
    )
    return JSONResponse(
        array_v1([space_v1(s, links) for s in chunk], links, start, limit, next_link=nxt)
    )


async def get_space(request: Request) -> Response:
    """GET /space/{key}."""
    store = store_of(request)
    space = readable_space(request, store.get_space_by_key(request.path_params["key"]))
    return JSONResponse(space_v1(space, links_of(request)))
