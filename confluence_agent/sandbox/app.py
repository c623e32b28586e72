"""The ASGI application: every route of the sandbox in one table, behind the gateway."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from confluence_agent.sandbox import api_v1, api_v2
from confluence_agent.sandbox.errors import ApiError, error_response, render
from confluence_agent.sandbox.gateway import FaultConfig, Gateway, TokenBucket
from confluence_agent.sandbox.store import Store

V2 = "/wiki/api/v2"
V1 = "/wiki/rest/api"

ROUTES: list[Route] = [
    # v2
    Route(f"{V2}/pages", api_v2.list_pages, methods=["GET"]),
    Route(f"{V2}/pages", api_v2.create_page, methods=["POST"]),
    Route(f"{V2}/pages/{{id}}", api_v2.get_page, methods=["GET"]),
    Route(f"{V2}/pages/{{id}}", api_v2.update_page, methods=["PUT"]),
    Route(f"{V2}/pages/{{id}}", api_v2.delete_page, methods=["DELETE"]),
    Route(f"{V2}/pages/{{id}}/title", api_v2.update_title, methods=["PUT"]),
    Route(f"{V2}/pages/{{id}}/versions", api_v2.page_versions, methods=["GET"]),
    Route(f"{V2}/pages/{{id}}/versions/{{version}}", api_v2.page_version, methods=["GET"]),
    Route(f"{V2}/pages/{{id}}/labels", api_v2.page_labels, methods=["GET"]),
    Route(f"{V2}/pages/{{id}}/children", api_v2.page_children, methods=["GET"]),
    Route(f"{V2}/pages/{{id}}/direct-children", api_v2.page_direct_children, methods=["GET"]),
    Route(f"{V2}/pages/{{id}}/descendants", api_v2.page_descendants, methods=["GET"]),
    Route(f"{V2}/pages/{{id}}/ancestors", api_v2.page_ancestors, methods=["GET"]),
    Route(f"{V2}/pages/{{id}}/footer-comments", api_v2.page_footer_comments, methods=["GET"]),
    Route(f"{V2}/footer-comments", api_v2.create_footer_comment, methods=["POST"]),
    Route(f"{V2}/spaces", api_v2.list_spaces, methods=["GET"]),
    Route(f"{V2}/spaces/{{id}}", api_v2.get_space, methods=["GET"]),
    Route(f"{V2}/spaces/{{id}}/pages", api_v2.space_pages, methods=["GET"]),
    Route(f"{V2}/users-bulk", api_v2.users_bulk, methods=["POST"]),
    # v1
    Route(f"{V1}/search", api_v1.search, methods=["GET"]),
    Route(f"{V1}/search/user", api_v1.search_users, methods=["GET"]),
    Route(f"{V1}/content/search", api_v1.content_search, methods=["GET"]),
    Route(f"{V1}/content", api_v1.list_content, methods=["GET"]),
    Route(f"{V1}/content", api_v1.create_content, methods=["POST"]),
    Route(f"{V1}/content/{{id}}", api_v1.get_content, methods=["GET"]),
    Route(f"{V1}/content/{{id}}", api_v1.update_content, methods=["PUT"]),
    Route(f"{V1}/content/{{id}}", api_v1.delete_content, methods=["DELETE"]),
    Route(f"{V1}/content/{{id}}/history", api_v1.content_history, methods=["GET"]),
    Route(f"{V1}/content/{{id}}/version", api_v1.content_versions, methods=["GET"]),
    Route(f"{V1}/content/{{id}}/child/page", api_v1.child_pages, methods=["GET"]),
    Route(f"{V1}/content/{{id}}/label", api_v1.get_labels, methods=["GET"]),
    Route(f"{V1}/content/{{id}}/label", api_v1.add_labels, methods=["POST"]),
    Route(f"{V1}/content/{{id}}/label", api_v1.remove_label, methods=["DELETE"]),
    Route(f"{V1}/content/{{id}}/label/{{label}}", api_v1.remove_label, methods=["DELETE"]),
    Route(f"{V1}/content/{{id}}/property", api_v1.list_properties, methods=["GET"]),
    Route(f"{V1}/content/{{id}}/property", api_v1.set_property, methods=["POST"]),
    Route(f"{V1}/content/{{id}}/property/{{key}}", api_v1.get_property, methods=["GET"]),
    Route(f"{V1}/content/{{id}}/property/{{key}}", api_v1.set_property, methods=["PUT"]),
    Route(f"{V1}/user", api_v1.get_user, methods=["GET"]),
    Route(f"{V1}/user/current", api_v1.current_user, methods=["GET"]),
    Route(f"{V1}/user/bulk", api_v1.bulk_users, methods=["GET"]),
    Route(f"{V1}/space", api_v1.list_spaces, methods=["GET"]),
    Route(f"{V1}/space/{{key}}", api_v1.get_space, methods=["GET"]),
]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return render(request.url.path, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods still answer in the API's own envelope.
    assert isinstance(exc, HTTPException)
    return error_response(request.url.path, exc.status_code, str(exc.detail))


def create_app(
    store: Store,
    *,
    rate_limit: float | None = None,
    burst: int | None = None,
    faults: FaultConfig | None = None,
) -> Gateway:
    """Build the ASGI app.

    Args:
        store: the data.
        rate_limit: requests per second per user (``None`` = unlimited).
        burst: bucket size (defaults to ``max(1, rate_limit)``).
        faults: fault injection, or ``None``.

    Returns:
        The gateway wrapping the API; ``.stats``/``.reset_stats()`` report traffic.
    """
    api = Starlette(
        routes=ROUTES,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    api.state.store = store
    limiter = None
    if rate_limit is not None:
        limiter = TokenBucket(rate_limit, burst if burst is not None else max(1, int(rate_limit)))
    return Gateway(api, store=store, routes=ROUTES, limiter=limiter, faults=faults)
