"""API errors raised by the sandbox and their Confluence-shaped bodies (v1 and v2 envelopes)."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import JSONResponse, PlainTextResponse, Response

_V2_CODES = {
    400: "INVALID_REQUEST_PARAMETER",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "REQUEST_ENTITY_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


class ApiError(Exception):
    """An error answer.

    Args:
        status: HTTP status.
        title: message for the v2 envelope (``errors[0].title``), also the v1 message
            unless ``v1_message`` is given.
        v1_message: the v1 wording when it differs from v2 (409 does).
        code: v2 ``errors[0].code``; derived from the status when omitted.
        v1_status: the status on v1 when it differs (write without permission: 404 on
            v2, 403 on v1).
    """

    def __init__(
        self,
        status: int,
        title: str,
        *,
        v1_message: str | None = None,
        code: str | None = None,
        v1_status: int | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.v1_message = v1_message if v1_message is not None else title
        self.code = code or _V2_CODES.get(status, HTTPStatus(status).name)
        self.v1_status = v1_status or status


def not_found(title: str = "Not Found") -> ApiError:
    """A 404 (also used for "exists but you may not see it", as Confluence does)."""
    return ApiError(404, title)


def bad_request(title: str) -> ApiError:
    """A 400 with ``title`` as message."""
    return ApiError(400, title)


def version_conflict(current: int, provided: int) -> ApiError:
    """The 409 a stale or non-incremented version number gets, in both wordings."""
    return ApiError(
        409,
        "Version must be incremented when updating a page. "
        f"Current Version: [{current}]. Provided version: [{provided}]",
        v1_message=f"Version must be incremented on update. Current version is: {current}",
    )


def v2_body(status: int, title: str, code: str | None = None) -> dict[str, object]:
    """The v2 envelope ``{"errors": [{status, code, title, detail}]}``."""
    return {
        "errors": [
            {
                "status": status,
                "code": code or _V2_CODES.get(status, HTTPStatus(status).name),
                "title": title,
                "detail": None,
            }
        ]
    }


def v1_body(status: int, message: str) -> dict[str, object]:
    """The v1 envelope ``{statusCode, data, message, reason}``."""
    return {
        "statusCode": status,
        "data": {
            "authorized": status not in (401, 403),
            "valid": status != 400,
            "allowedInReadOnlyMode": True,
            "errors": [],
            "successful": False,
        },
        "message": message,
        "reason": HTTPStatus(status).phrase,
    }


def is_v2(path: str) -> bool:
    """Whether ``path`` belongs to the v2 API (its errors use the v2 envelope)."""
    return path.startswith("/wiki/api/v2")


def error_response(
    path: str, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """A JSON error in the envelope of the API ``path`` belongs to."""
    content = v2_body(status, message) if is_v2(path) else v1_body(status, message)
    return JSONResponse(content, status_code=status, headers=headers)


def render(path: str, exc: ApiError) -> Response:
    """Turn an :class:`ApiError` into the response the matching API version gives."""
    if is_v2(path):
        return JSONResponse(v2_body(exc.status, exc.title, exc.code), status_code=exc.status)
    return JSONResponse(v1_body(exc.v1_status, exc.v1_message), status_code=exc.v1_status)


def unauthorized(message: str) -> Response:
    """The edge proxy's 401: ``text/plain``, not JSON."""
    return PlainTextResponse(
        message,
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="Protected", Bearer', "Server": "AtlassianProxy"},
    )
