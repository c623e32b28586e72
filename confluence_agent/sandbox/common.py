"""Request helpers shared by the v1 and v2 handlers (no SQL, no response shapes)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import cast
from urllib.parse import urlencode

from starlette.requests import Request

from confluence_agent.sandbox.errors import ApiError, bad_request, not_found
from confluence_agent.sandbox.gateway import MAX_BODY_BYTES
from confluence_agent.sandbox.shapes import Links
from confluence_agent.sandbox.store import Page, Space, Store, User
from confluence_agent.storage import StorageFormatError, parse_storage


def store_of(request: Request) -> Store:
    """The store behind the app."""
    return cast(Store, request.app.state.store)


def user_of(request: Request) -> User:
    """The authenticated caller (set by the gateway)."""
    return cast(User, request.scope["user"])


def links_of(request: Request) -> Links:
    """Absolute ``.../wiki`` base of the site as the caller reached it."""
    return Links(base=f"{request.url.scheme}://{request.url.netloc}/wiki")


async def read_json(request: Request) -> object:
    """The JSON body (400 if it is not JSON, 413 above 5 MB)."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"Requests for this resource can be at most {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None


async def read_object(request: Request) -> dict[str, object]:
    """The JSON body, which must be an object."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise bad_request("Request body must be a JSON object")
    return data


def parse_int(raw: str | None, name: str, default: int) -> int:
    """An integer query parameter (400 when not a number)."""
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(
            f"Provided value {{{raw}}} for '{name}' is not the correct type. Expected type is int"
        ) from None


def parse_limit(
    raw: str | None, *, default: int = 25, maximum: int = 250, cap: bool = False
) -> int:
    """``limit``: v2 rejects values outside 1..maximum with 400; v1 (``cap``) clamps them."""
    limit = parse_int(raw, "limit", default)
    if cap:
        return max(0, min(limit, maximum))
    if not 1 <= limit <= maximum:
        raise bad_request(f"Limit must be between 1 and {maximum}, was: {limit}")
    return limit


def parse_bool(raw: str | None, default: bool = False) -> bool:
    """A boolean query parameter."""
    if raw is None:
        return default
    return raw.strip().lower() in ("true", "1", "yes")


def csv_values(request: Request, name: str) -> list[str]:
    """A multi-value filter: comma-separated and/or repeated (``?id=1,2&id=3``)."""
    return [
        v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()
    ]


def parse_id(raw: str, name: str = "id") -> int:
    """A content id from the path (400 like Confluence when not numeric)."""
    if not raw.isdigit():
        raise bad_request(
            f"Provided value {{{raw}}} for '{name}' is not the correct type. "
            "Expected type is ContentId"
        )
    return int(raw)


def encode_cursor(offset: int) -> str:
    """An opaque cursor (base64 of a small JSON document)."""
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> int:
    """The offset inside a cursor from :func:`encode_cursor` (400 when malformed)."""
    if not raw:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        offset = int(data["o"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_request(f"Invalid cursor: {raw}") from None
    if offset < 0:
        raise bad_request(f"Invalid cursor: {raw}")
    return offset


def link_with(request: Request, prefix: str = "", **changes: str | int) -> str:
    """The request's path and query with parameters replaced (for ``next`` links).

    Args:
        request: the current request.
        prefix: leading path part to cut (``/wiki`` for v1 links relative to ``_links.base``).
        **changes: query parameters to set.
    """
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    items.extend((k, str(v)) for k, v in changes.items())
    path = request.url.path
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    return f"{path}?{urlencode(items)}"


def readable_page(request: Request, raw_id: str, *, version: int | None = None) -> Page:
    """A page the caller may read, else 404 (missing and forbidden look the same)."""
    store = store_of(request)
    page = store.get_page(parse_id(raw_id), version=version)
    if page is None or page.status == "deleted":
        raise not_found()
    if not store.can_read(user_of(request), page.space_id):
        raise not_found()
    return page


def require_write(request: Request, space_id: int) -> None:
    """404 on v2 / 403 on v1 unless the caller may edit in the space."""
    store = store_of(request)
    user = user_of(request)
    if not store.can_read(user, space_id):
        raise not_found()
    if not store.can_write(user, space_id):
        raise ApiError(
            404,
            "Not Found",
            v1_status=403,
            v1_message=f"User not permitted to edit content in space {space_id}",
        )


def readable_space(request: Request, space: Space | None) -> Space:
    """``space`` if the caller may read it, else 404."""
    if space is None or not store_of(request).can_read(user_of(request), space.id):
        raise not_found()
    return space


def check_storage(body: str) -> None:
    """400 ``Error parsing xhtml: ...`` with row/col for a body Confluence would reject."""
    try:
        parse_storage(body)
    except StorageFormatError as exc:
        raise bad_request(
            f"Error parsing xhtml: {exc.message}\n at [row,col {{unknown-source}}]: "
            f"[{exc.line},{exc.column}]"
        ) from None


def query_string(params: dict[str, str]) -> str:
    """URL-encode query parameters."""
    return urlencode(params)
