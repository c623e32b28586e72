"""Every error status maps to one exception, with the server's words in the message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from confluence_agent import (
    AuthenticationFailed,
    ConfluenceClient,
    ConfluenceError,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RetryPolicy,
    ServerError,
    UnexpectedResponse,
    VersionConflict,
)

V1_404 = {
    "statusCode": 404,
    "data": {
        "authorized": False,
        "valid": False,
        "errors": [{"message": {"translation": "No content found with id: 1", "args": []}}],
        "successful": False,
        "allowedInReadOnlyMode": True,
    },
    "message": "com.atlassian.confluence.api.service.exceptions.NotFoundException: "
    "No content found with id: ContentId{id=1}",
    "reason": "Not Found",
}
V2_404 = {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": None}]}
V2_409 = {
    "errors": [
        {
            "status": 409,
            "code": "CONFLICT",
            "title": "Version must be incremented when updating a page. "
            "Current Version: [5]. Provided version: [5]",
            "detail": None,
        }
    ]
}
V1_409 = {
    "statusCode": 409,
    "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
    "message": "Version must be incremented on update. Current version is: 7",
    "reason": "Conflict",
}
DUPLICATE = {
    "errors": [
        {
            "status": 400,
            "code": "INVALID_REQUEST_PARAMETER",
            "title": "A page with this title already exists: "
            "A page already exists with the same TITLE in this space",
            "detail": None,
        }
    ]
}
SPRING_404 = {
    "timestamp": "2024-05-01T12:00:00.000+00:00",
    "status": 404,
    "error": "Not Found",
    "message": "No message available",
    "path": "/ex/confluence/wrong/wiki/api/v2/pages/1",
}
GATEWAY_401 = {"code": 401, "message": "Unauthorized; scope does not match"}


def client_for(response: httpx.Response) -> ConfluenceClient:
    return ConfluenceClient(
        "https://acme.atlassian.net",
        email="bot@acme.test",
        api_token="tok-ABCDEF123456",
        transport=httpx.MockTransport(lambda request: response),
        retry=RetryPolicy(max_attempts=1),
        sleep=lambda s: None,
    )


def raised(response: httpx.Response, call: str = "get") -> ConfluenceError:
    client = client_for(response)
    with pytest.raises(ConfluenceError) as info:
        if call == "update":
            client.update_page("998877", title="T", body="<p/>", version=5)
        else:
            client.get_page("998877")
    return info.value


@pytest.mark.parametrize(
    ("response", "kind", "text"),
    [
        (httpx.Response(404, json=V2_404), NotFound, "Not Found"),
        (httpx.Response(404, json=V1_404), NotFound, "No content found with id"),
        (httpx.Response(404, json=SPRING_404), NotFound, "Not Found"),
        (httpx.Response(404), NotFound, "Not Found"),
        (
            httpx.Response(
                403, json={**V1_404, "statusCode": 403, "message": "Not permitted to view"}
            ),
            PermissionDenied,
            "Not permitted to view",
        ),
        (
            httpx.Response(
                401,
                text="Basic authentication with passwords is deprecated.",
                headers={"content-type": "text/plain", "server": "AtlassianProxy"},
            ),
            AuthenticationFailed,
            "passwords is deprecated",
        ),
        (httpx.Response(401, json=GATEWAY_401), AuthenticationFailed, "scope does not match"),
        (
            httpx.Response(400, json=DUPLICATE),
            InvalidRequest,
            "A page with this title already exists",
        ),
        (
            httpx.Response(
                400,
                json={
                    "errors": [
                        {
                            "status": 400,
                            "code": "INVALID_REQUEST_PARAMETER",
                            "title": "Provided value {abc} for 'id' is not the correct type. "
                            "Expected type is ContentId",
                            "detail": None,
                        }
                    ]
                },
            ),
            InvalidRequest,
            "not the correct type",
        ),
        (
            httpx.Response(
                400,
                text="<html><head><title>400 Bad Request</title></head>"
                "<body><h1>Bad Request</h1><p>Malformed query</p></body></html>",
                headers={"content-type": "text/html"},
            ),
            InvalidRequest,
            "Malformed query",
        ),
        (
            httpx.Response(
                413,
                json={
                    **V1_404,
                    "statusCode": 413,
                    "message": "Requests for this resource can be at most 5242880 bytes",
                },
            ),
            PayloadTooLarge,
            "5242880",
        ),
        (httpx.Response(500, text="Internal Server Error"), ServerError, "Internal Server Error"),
        (
            httpx.Response(422, json={"errors": [{"status": 422, "code": "X", "title": "Nope"}]}),
            InvalidRequest,
            "Nope",
        ),
    ],
)
def test_status_maps_to_exception(
    response: httpx.Response, kind: type[Exception], text: str
) -> None:
    error = raised(response)
    assert type(error) is kind
    assert text in error.message
    assert error.status_code == response.status_code
    assert "GET /wiki/api/v2/pages/998877" in error.message


def test_v2_version_conflict_parses_versions() -> None:
    error = raised(httpx.Response(409, json=V2_409), call="update")
    assert isinstance(error, VersionConflict)
    assert error.current_version == 5 and error.attempted_version == 5


def test_v1_version_conflict_parses_current_version() -> None:
    error = raised(httpx.Response(409, json=V1_409), call="update")
    assert isinstance(error, VersionConflict)
    assert error.current_version == 7 and error.attempted_version == 5


def test_conflict_without_numbers_still_a_version_conflict() -> None:
    error = raised(
        httpx.Response(
            409, json={"errors": [{"status": 409, "code": "CONFLICT", "title": "Conflict"}]}
        )
    )
    assert isinstance(error, VersionConflict) and error.current_version is None


def test_rate_limited_after_budget_carries_hint_and_state() -> None:
    response = httpx.Response(
        429,
        text="",
        headers={
            "Retry-After": "1847",
            "X-RateLimit-Limit": "40000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "2025-10-08T15:00:00Z",
            "RateLimit-Reason": "confluence-quota-global-based",
        },
    )
    error = raised(response)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 1847
    assert error.state is not None and error.state.reason == "confluence-quota-global-based"
    assert error.state.remaining == 0
    assert "1847" in error.message


def test_error_body_is_truncated() -> None:
    error = raised(httpx.Response(500, text="x" * 5000))
    assert len(error.message) < 700


def test_non_json_success_is_unexpected_response() -> None:
    error = raised(
        httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"})
    )
    assert isinstance(error, UnexpectedResponse)


def test_wrong_shape_is_unexpected_response_naming_fields_not_values() -> None:
    error = raised(httpx.Response(200, json={"id": "1", "title": "T"}))
    assert isinstance(error, UnexpectedResponse)
    assert "version" in error.message


def test_connection_failure_is_wrapped() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    client = ConfluenceClient(
        "http://127.0.0.1:9",
        bearer_token="b-SECRET-999",
        transport=httpx.MockTransport(refuse),
        retry=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(ConnectionFailed) as info:
        client.get_page(1)
    assert info.value.request_sent is False
    assert "Connection refused" in info.value.message
    assert info.value.__cause__ is None  # the httpx request (with headers) is not attached


def test_hierarchy() -> None:
    from confluence_agent import InvalidCQL

    assert issubclass(InvalidCQL, InvalidRequest)
    for cls in (
        NotFound,
        PermissionDenied,
        AuthenticationFailed,
        InvalidRequest,
        VersionConflict,
        PayloadTooLarge,
        RateLimited,
        ServerError,
        ConnectionFailed,
    ):
        assert issubclass(cls, ConfluenceError)
    kwargs: dict[str, Any] = {}
    assert str(ServerError("boom", **kwargs)) == "boom"
