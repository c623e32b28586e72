"""Configuration from arguments and environment, and the no-secret-leak guarantee."""

from __future__ import annotations

import base64
import logging
import pickle
import traceback

import httpx
import pytest
from pydantic import SecretStr

from confluence_agent import (
    AsyncConfluenceClient,
    ConfigurationError,
    ConfluenceClient,
    ConfluenceConfig,
    ConfluenceError,
    RetryPolicy,
)

TOKEN = "ATATT3xFfGF0-very-secret-token-value"
BEARER = "eyJhbGciOi-secret-bearer-value"
EMAIL = "bot@acme.test"
BASIC = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CONFLUENCE_URL",
        "CONFLUENCE_EMAIL",
        "CONFLUENCE_API_TOKEN",
        "CONFLUENCE_BEARER_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- config


def test_from_env_basic_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFLUENCE_URL", "https://acme.atlassian.net/wiki/")
    monkeypatch.setenv("CONFLUENCE_EMAIL", EMAIL)
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", TOKEN)
    client = ConfluenceClient()
    assert client.config.api_root == "https://acme.atlassian.net"
    assert client.config.v2_base == "https://acme.atlassian.net/wiki/api/v2"
    assert client.config.v1_base == "https://acme.atlassian.net/wiki/rest/api"
    assert isinstance(client.config.api_token, SecretStr)
    assert client.config.auth_scheme == "basic"
    assert client.config.authorization_header() == f"Basic {BASIC}"


def test_from_env_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFLUENCE_URL", "https://api.atlassian.com/ex/confluence/cid")
    monkeypatch.setenv("CONFLUENCE_BEARER_TOKEN", BEARER)
    config = ConfluenceConfig.from_env()
    assert config.auth_scheme == "bearer"
    assert config.v2_base == "https://api.atlassian.com/ex/confluence/cid/wiki/api/v2"


def test_arguments_override_env_and_explicit_credentials_replace_env_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONFLUENCE_URL", "https://env.atlassian.net")
    monkeypatch.setenv("CONFLUENCE_BEARER_TOKEN", BEARER)
    client = ConfluenceClient(
        email=EMAIL, api_token=TOKEN, timeout=5, retry=RetryPolicy(max_attempts=2)
    )
    assert client.config.url == "https://env.atlassian.net"
    assert client.config.auth_scheme == "basic"  # env bearer ignored: we passed basic creds
    assert client.config.timeout == 5 and client.config.retry.max_attempts == 2


def test_explicit_config_object() -> None:
    config = ConfluenceConfig(url="http://127.0.0.1:8765", bearer_token=SecretStr(BEARER))
    client = ConfluenceClient(config=config, timeout=3)
    assert client.config.timeout == 3 and client.config.url == config.url


@pytest.mark.parametrize(
    ("kwargs", "env_var"),
    [
        ({}, "CONFLUENCE_URL"),
        ({"url": "https://acme.atlassian.net"}, "CONFLUENCE_API_TOKEN"),
        ({"url": "https://acme.atlassian.net"}, "CONFLUENCE_BEARER_TOKEN"),
        ({"url": "https://acme.atlassian.net", "api_token": TOKEN}, "CONFLUENCE_EMAIL"),
        ({"url": "ftp://acme", "bearer_token": BEARER}, "CONFLUENCE_URL"),
        ({"url": "   ", "bearer_token": BEARER}, "CONFLUENCE_URL"),
        ({"url": "https://acme.atlassian.net?x=1", "bearer_token": BEARER}, "CONFLUENCE_URL"),
    ],
)
def test_missing_or_bad_settings_name_the_variable(kwargs: dict[str, str], env_var: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ConfluenceClient(**kwargs)  # type: ignore[arg-type]
    assert env_var in str(info.value)
    assert TOKEN not in str(info.value) and BEARER not in str(info.value)


def test_invalid_field_values_do_not_echo_input() -> None:
    with pytest.raises(ConfigurationError) as info:
        ConfluenceClient("https://acme.atlassian.net", bearer_token=BEARER, timeout=-1)
    assert "timeout" in str(info.value) and BEARER not in str(info.value)


def test_async_client_reads_env_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFLUENCE_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("CONFLUENCE_BEARER_TOKEN", BEARER)
    assert AsyncConfluenceClient().config.auth_scheme == "bearer"


# --------------------------------------------------------------------------- secrets


def _all_text(obj: object) -> str:
    parts = [repr(obj), str(obj)]
    if isinstance(obj, BaseException):
        parts += [repr(a) for a in obj.args]
        parts += traceback.format_exception(obj)
        parts += [repr(v) for v in vars(obj).values()]
    return "\n".join(parts)


def _assert_clean(text: str) -> None:
    for secret in (TOKEN, BEARER, BASIC, "Authorization", "authorization:"):
        assert secret not in text, f"{secret!r} leaked"


def test_reprs_never_show_secrets() -> None:
    basic = ConfluenceClient("https://acme.atlassian.net", email=EMAIL, api_token=TOKEN)
    bearer = AsyncConfluenceClient("https://acme.atlassian.net", bearer_token=BEARER)
    for obj in (
        basic,
        bearer,
        basic.config,
        bearer.config,
        basic.config.model_dump(),
        basic.config.model_dump_json(),
        basic._core,
    ):
        _assert_clean(repr(obj) + str(obj))


def test_errors_and_logs_never_contain_secrets(caplog: pytest.LogCaptureFixture) -> None:
    echo = f"Bad credentials: Basic {BASIC} for token {TOKEN}"
    responses = [
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(401, text=echo, headers={"content-type": "text/plain"}),
        httpx.Response(400, json={"errors": [{"status": 400, "title": echo}]}),
        httpx.Response(
            500, text=f"<html><title>{TOKEN}</title></html>", headers={"content-type": "text/html"}
        ),
        httpx.Response(409, json={"message": f"Current version is: 3 ({BASIC})"}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return responses.pop(0)

    client = ConfluenceClient(
        "https://acme.atlassian.net",
        email=EMAIL,
        api_token=TOKEN,
        transport=httpx.MockTransport(handler),
        sleep=lambda s: None,
    )
    errors: list[ConfluenceError] = []
    with caplog.at_level(logging.DEBUG):
        for _ in range(4):
            with pytest.raises(ConfluenceError) as info:
                client.update_page(1, title="t", body="b", version=4)
            errors.append(info.value)
    assert [type(e).__name__ for e in errors] == [
        "AuthenticationFailed",
        "InvalidRequest",
        "ServerError",
        "VersionConflict",
    ]
    assert "[redacted]" in errors[0].message
    for error in errors:
        _assert_clean(_all_text(error))
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert type(copy) is type(error) and copy.message == error.message
        _assert_clean(_all_text(copy))
    logged = "\n".join(
        record.getMessage() + repr(record.args) + str(record.__dict__) for record in caplog.records
    )
    assert "Retrying" in logged
    _assert_clean(logged)
    _assert_clean(caplog.text)


def test_connection_errors_never_carry_the_request() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            f"cannot connect (auth {request.headers['authorization'][:3]}…)", request=request
        )

    client = ConfluenceClient(
        "https://acme.atlassian.net",
        bearer_token=BEARER,
        transport=httpx.MockTransport(fail),
        retry=RetryPolicy(max_attempts=2),
        sleep=lambda s: None,
    )
    with pytest.raises(ConfluenceError) as info:
        client.get_page(1)
    _assert_clean(_all_text(info.value))
