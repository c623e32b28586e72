"""Handlers of the v2 API (``/wiki/api/v2``): pages, versions, labels, hierarchy, spaces,
users and footer comments."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from confluence_agent.sandbox.common import (
    check_storage,
    csv_values,
    decode_cursor,
    encode_cursor,
    link_with,
    links_of,
    parse_bool,
    parse_id,
    parse_int,
    parse_limit,
    read_object,
    readable_page,
    readable_space,
    require_write,
    store_of,
    user_of,
)
from confluence_agent.sandbox.errors import bad_request, not_found
from confluence_agent.sandbox.shapes import (
    V2_LIST_BODY_FORMATS,
    V2_SINGLE_BODY_FORMATS,
    Json,
    child_v2,
    comment_v2,
    descendant_v2,
    detailed_version_v2,
    label_v2,
    page_v2,
    page_version_v2,
    space_v2,
    user_v2,
)
from confluence_agent.sandbox.store import Page, PageQuery

_PAGE_STATUSES = ("current", "archived", "deleted", "trashed", "draft", "any")
_PAGE_SORTS = ("id", "created-date", "modified-date", "title")
_MAX_DEPTH = 10  # deepest level GET /pages/{id}/descendants accepts


def _list(
    request: Request, results: list[Json], *, has_more: bool, offset: int, limit: int
) -> JSONResponse:
    """A v2 list: ``_links.next`` (starting with ``/wiki/api/v2/``) and ``Link`` when more exist."""
    base = links_of(request).base
    links: Json = {"base": base}
    headers: dict[str, str] = {}
    if has_more:
        nxt = link_with(request, cursor=encode_cursor(offset + limit))
        links["next"] = nxt
        headers["Link"] = f'<{nxt}>; rel="next", <{base}>; rel="base"'
    return JSONResponse({"results": results, "_links": links}, headers=headers)


def _body_format(request: Request, allowed: tuple[str, ...]) -> str | None:
    fmt = request.query_params.get("body-format")
    if fmt is not None and fmt not in allowed:
        raise bad_request(f"Invalid body-format: {fmt}. Allowed values: {', '.join(allowed)}")
    return fmt


def _statuses(request: Request, default: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(csv_values(request, "status")) or default
    for value in values:
        if value not in _PAGE_STATUSES:
            raise bad_request(f"Invalid status: {value}")
    return values


def _sort(request: Request, allowed: tuple[str, ...], default: str) -> str:
    sort = request.query_params.get("sort", default)
    if sort.lstrip("-") not in allowed:
        raise bad_request(f"Invalid sort: {sort}")
    return sort


def _ids(values: list[str], name: str) -> list[int]:
    return [parse_id(v, name) for v in values]


def _write_body(data: dict[str, object]) -> str:
    """The storage value of a ``PageBodyWrite`` (flat or nested under ``storage``)."""
    body = data.get("body")
    if not isinstance(body, dict):
        raise bad_request("body is required")
    if isinstance(body.get("storage"), dict):
        body = body["storage"]
    assert isinstance(body, dict)
    representation = body.get("representation", "storage")
    value = body.get("value")
    if representation != "storage" or not isinstance(value, str):
        raise bad_request("The sandbox accepts bodies in the storage representation only")
    check_storage(value)
    return value


# ------------------------------------------------------------------------ pages


async def list_pages(request: Request) -> Response:
    """GET /pages."""
    store, user = store_of(request), user_of(request)
    limit = parse_limit(request.query_params.get("limit"))
    offset = decode_cursor(request.query_params.get("cursor"))
    fmt = _body_format(request, V2_LIST_BODY_FORMATS)
    query = PageQuery(
        ids=_ids(csv_values(request, "id"), "id"),
        space_ids=_ids(csv_values(request, "space-id"), "space-id"),
        title=request.query_params.get("title"),
        statuses=_statuses(request, ("current", "archived")),
        sort=_sort(request, _PAGE_SORTS, "id"),
    )
    pages, more = store.list_pages(
        query, readable=store.readable_space_ids(user), limit=limit, offset=offset
    )
    links = links_of(request)
    results = [page_v2(p, links, body_format=fmt, single=False) for p in pages]
    return _list(request, results, has_more=more, offset=offset, limit=limit)


async def space_pages(request: Request) -> Response:
    """GET /spaces/{id}/pages."""
    store = store_of(request)
    space = readable_space(request, store.get_space(parse_id(request.path_params["id"])))
    limit = parse_limit(request.query_params.get("limit"))
    offset = decode_cursor(request.query_params.get("cursor"))
    fmt = _body_format(request, V2_LIST_BODY_FORMATS)
    query = PageQuery(
        space_ids=[space.id],
        title=request.query_params.get("title"),
        statuses=_statuses(request, ("current", "archived")),
        sort=_sort(request, _PAGE_SORTS, "id"),
        root_only=request.query_params.get("depth") == "root",
    )
    pages, more = store.list_pages(query, readable=None, limit=limit, offset=offset)
    links = links_of(request)
    results = [page_v2(p, links, body_format=fmt, single=False) for p in pages]
    return _list(request, results, has_more=more, offset=offset, limit=limit)


async def get_page(request: Request) -> Response:
    """GET /pages/{id}."""
    store = store_of(request)
    params = request.query_params
    version = parse_int(params.get("version"), "version", 0) or None
    page = readable_page(request, request.path_params["id"], version=version)
    allowed = _statuses(request, ("current", "archived", "draft"))
    if version is None and "any" not in allowed and page.status not in allowed:
        raise not_found()
    fmt = _body_format(request, V2_SINGLE_BODY_FORMATS)
    out = page_v2(
        page,
        links_of(request),
        body_format=fmt,
        include_version=parse_bool(params.get("include-version"), True),
        labels=store.labels(page.id) if parse_bool(params.get("include-labels")) else None,
        versions=store.list_versions(page.id)
        if parse_bool(params.get("include-versions"))
        else None,
        properties=store.properties(page.id)
        if parse_bool(params.get("include-properties"))
        else None,
    )
    return JSONResponse(out)


async def create_page(request: Request) -> Response:
    """POST /pages → 200 (not 201, as Confluence does)."""
    store = store_of(request)
    data = await read_object(request)
    raw_space = data.get("spaceId")
    if raw_space is None:
        raise bad_request("spaceId is required")
    space = store.get_space(parse_id(str(raw_space), "spaceId"))
    if space is None or not store.can_read(user_of(request), space.id):
        raise not_found(f"Cannot find a space with id [{raw_space}]")
    require_write(request, space.id)
    status = str(data.get("status") or "current")
    if status not in ("current", "draft"):
        raise bad_request(f"Invalid status: {status}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad_request("Title is required for a published page")
    body = _write_body(data)
    parent_raw = data.get("parentId")
    root_level = parse_bool(request.query_params.get("root-level"))
    if parent_raw is not None and root_level:
        raise bad_request("parentId must be absent when root-level is true")
    parent_id = parse_id(str(parent_raw), "parentId") if parent_raw is not None else None
    if parent_id is None and not root_level:
        parent_id = space.homepage_id
    page = store.create_page(
        space_id=space.id,
        title=title,
        body=body,
        author_id=user_of(request).account_id,
        parent_id=parent_id,
        status=status,
    )
    return JSONResponse(page_v2(page, links_of(request), body_format="storage"))


async def update_page(request: Request) -> Response:
    """PUT /pages/{id}: version.number must be current + 1 (else 409)."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    require_write(request, page.space_id)
    data = await read_object(request)
    missing = [k for k in ("id", "status", "title", "body", "version") if data.get(k) is None]
    if missing:
        raise bad_request(f"Missing required fields: {', '.join(missing)}")
    if str(data["id"]) != str(page.id):
        raise bad_request("The id in the body does not match the id in the path")
    version = data["version"]
    if not isinstance(version, dict) or not isinstance(version.get("number"), int):
        raise bad_request("version.number is required")
    status = str(data["status"])
    title = str(data["title"])
    body = None if page.status == "trashed" and status == "current" else _write_body(data)
    parent_raw = data.get("parentId")
    updated = store.update_page(
        page.id,
        title=title,
        body=body,
        version=version["number"],
        author_id=user_of(request).account_id,
        status=status,
        message=str(version.get("message") or ""),
        parent_id=parse_id(str(parent_raw), "parentId") if parent_raw else None,
        minor_edit=bool(version.get("minorEdit", False)),
    )
    return JSONResponse(page_v2(updated, links_of(request), body_format="storage"))


async def update_title(request: Request) -> Response:
    """PUT /pages/{id}/title: rename without resending the body."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    require_write(request, page.space_id)
    data = await read_object(request)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad_request("title is required")
    updated = store.update_page(
        page.id,
        title=title,
        body=None,
        version=page.version + 1,
        author_id=user_of(request).account_id,
        status=page.status,
    )
    return JSONResponse(page_v2(updated, links_of(request)))


async def delete_page(request: Request) -> Response:
    """DELETE /pages/{id} → 204 (moves to trash; ``purge=true`` deletes a trashed page)."""
    store = store_of(request)
    page_id = parse_id(request.path_params["id"])
    page = store.get_page(page_id)
    if page is None or not store.can_read(user_of(request), page.space_id):
        raise not_found()
    require_write(request, page.space_id)
    store.delete_page(page_id, purge=parse_bool(request.query_params.get("purge")))
    return Response(status_code=204)


async def page_versions(request: Request) -> Response:
    """GET /pages/{id}/versions (newest first unless ``sort=modified-date``)."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    limit = parse_limit(request.query_params.get("limit"))
    offset = decode_cursor(request.query_params.get("cursor"))
    sort = _sort(request, ("modified-date",), "-modified-date")
    versions = store.list_versions(page.id, descending=sort.startswith("-"))
    chunk = versions[offset : offset + limit]
    results = [page_version_v2(v, page) for v in chunk]
    return _list(
        request, results, has_more=offset + limit < len(versions), offset=offset, limit=limit
    )


async def page_version(request: Request) -> Response:
    """GET /pages/{id}/versions/{version}: one ``DetailedVersion``."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    number = parse_id(request.path_params["version"], "version-number")
    version = store.get_version(page.id, number)
    if version is None:
        raise not_found(f"Cannot find version {number} of content {page.id}")
    return JSONResponse(detailed_version_v2(version, page.version))


async def page_labels(request: Request) -> Response:
    """GET /pages/{id}/labels."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    limit = parse_limit(request.query_params.get("limit"))
    offset = decode_cursor(request.query_params.get("cursor"))
    labels = store.labels(page.id)
    prefix = request.query_params.get("prefix")
    if prefix:
        labels = [lb for lb in labels if lb.prefix == prefix]
    chunk = labels[offset : offset + limit]
    return _list(
        request,
        [label_v2(lb) for lb in chunk],
        has_more=offset + limit < len(labels),
        offset=offset,
        limit=limit,
    )


async def _children(request: Request, *, typed: bool) -> Response:
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    limit = parse_limit(request.query_params.get("limit"))
    offset = decode_cursor(request.query_params.get("cursor"))
    sort = request.query_params.get("sort", "child-position")
    query = PageQuery(parent_id=page.id, statuses=("current", "archived"), sort=sort)
    kids, more = store.list_pages(query, readable=None, limit=limit, offset=offset)
    results = [child_v2(k, typed=typed) for k in kids]
    return _list(request, results, has_more=more, offset=offset, limit=limit)


async def page_children(request: Request) -> Response:
    """GET /pages/{id}/children (deprecated upstream; pages only)."""
    return await _children(request, typed=False)


async def page_direct_children(request: Request) -> Response:
    """GET /pages/{id}/direct-children."""
    return await _children(request, typed=True)


async def page_descendants(request: Request) -> Response:
    """GET /pages/{id}/descendants (``depth`` 1-10, default 2; top to bottom)."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    limit = parse_limit(request.query_params.get("limit"))
    offset = decode_cursor(request.query_params.get("cursor"))
    depth = parse_int(request.query_params.get("depth"), "depth", 2)
    if not 1 <= depth <= _MAX_DEPTH:
        raise bad_request(f"Depth must be between 1 and {_MAX_DEPTH}, was: {depth}")
    found, more = store.descendants(
        page.id, max_depth=depth, statuses=("current", "archived"), limit=limit, offset=offset
    )
    results = [descendant_v2(p, d) for p, d in found]
    return _list(request, results, has_more=more, offset=offset, limit=limit)


async def page_ancestors(request: Request) -> Response:
    """GET /pages/{id}/ancestors (top-most first, no cursor)."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    chain = store.ancestors(page.id)
    return JSONResponse(
        {
            "results": [{"id": str(a.id), "type": "page"} for a in chain],
            "_links": {"base": links_of(request).base},
        }
    )


# ----------------------------------------------------------------------- spaces


async def list_spaces(request: Request) -> Response:
    """GET /spaces (``ids``, ``keys``, ``type`` filters)."""
    store = store_of(request)
    limit = parse_limit(request.query_params.get("limit"))
    offset = decode_cursor(request.query_params.get("cursor"))
    spaces = store.list_spaces(
        user_of(request),
        ids=_ids(csv_values(request, "ids"), "ids"),
        keys=csv_values(request, "keys"),
        types=csv_values(request, "type"),
    )
    sort = request.query_params.get("sort", "id")
    key = sort.lstrip("-")
    if key not in ("id", "key", "name"):
        raise bad_request(f"Invalid sort: {sort}")
    spaces.sort(key=lambda s: getattr(s, key), reverse=sort.startswith("-"))
    chunk = spaces[offset : offset + limit]
    return _list(
        request,
        [space_v2(s) for s in chunk],
        has_more=offset + limit < len(spaces),
        offset=offset,
        limit=limit,
    )


async def get_space(request: Request) -> Response:
    """GET /spaces/{id}."""
    store = store_of(request)
    space = readable_space(request, store.get_space(parse_id(request.path_params["id"])))
    return JSONResponse(space_v2(space))


# ------------------------------------------------------------------------ users


async def users_bulk(request: Request) -> Response:
    """POST /users-bulk ``{"accountIds": [...]}``."""
    data = await read_object(request)
    ids = data.get("accountIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 250:
        raise bad_request("accountIds must hold between 1 and 250 account ids")
    users = store_of(request).get_users([str(i) for i in ids])
    return JSONResponse({"results": [user_v2(u) for u in users], "_links": {}})


# --------------------------------------------------------------------- comments


async def page_footer_comments(request: Request) -> Response:
    """GET /pages/{id}/footer-comments."""
    store = store_of(request)
    page = readable_page(request, request.path_params["id"])
    limit = parse_limit(request.query_params.get("limit"))
    offset = decode_cursor(request.query_params.get("cursor"))
    fmt = _body_format(request, V2_LIST_BODY_FORMATS)
    comments = store.comments(page.id)
    if request.query_params.get("sort", "created-date").startswith("-"):
        comments.reverse()
    chunk = comments[offset : offset + limit]
    results = [comment_v2(c, page, body_format=fmt) for c in chunk]
    return _list(
        request, results, has_more=offset + limit < len(comments), offset=offset, limit=limit
    )


async def create_footer_comment(request: Request) -> Response:
    """POST /footer-comments → 201 with a ``Location`` header."""
    store = store_of(request)
    data = await read_object(request)
    raw_page = data.get("pageId")
    if raw_page is None:
        raise bad_request("pageId is required (the sandbox supports comments on pages only)")
    page: Page = readable_page(request, str(raw_page))
    body = _write_body(data)
    comment = store.create_comment(page.id, body, user_of(request).account_id)
    out = comment_v2(comment, page, body_format="storage")
    location = f"{links_of(request).base}/api/v2/footer-comments/{comment.id}"
    return JSONResponse(out, status_code=201, headers={"Location": location})
