"""Unit tests for the MCP HTTP bearer-token guard (confluence_agent._mcp_auth)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from confluence_agent._mcp_auth import (
    TOKEN_ENV_VAR,
    BearerAuthMiddleware,
    TokenGuard,
    hash_token,
    parse_expires_at,
    resolve_token_digest,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_hash_token_is_prefixed_sha256() -> None:
    assert hash_token("s3cret") == "sha256:" + hashlib.sha256(b"s3cret").hexdigest()


def test_resolve_plain_and_hashed_token_give_same_digest() -> None:
    plain = resolve_token_digest("s3cret", env={})
    hashed = resolve_token_digest(hash_token("s3cret"), env={})
    assert plain == hashed == bytearray(hashlib.sha256(b"s3cret").digest())


def test_resolve_reads_and_consumes_env_var() -> None:
    env = {TOKEN_ENV_VAR: "from-env"}
    digest = resolve_token_digest(None, env=env)
    assert digest == bytearray(hashlib.sha256(b"from-env").digest())
    assert TOKEN_ENV_VAR not in env


def test_resolve_none_without_env_means_no_token() -> None:
    assert resolve_token_digest(None, env={}) is None


@pytest.mark.parametrize("from_env", ["", "env"])
def test_env_keyword_reads_the_env_var(from_env: str) -> None:
    # "env" is what `confluence-agent mcp --require-token env` passes (typer needs a value).
    env = {TOKEN_ENV_VAR: "from-env"}
    digest = resolve_token_digest(from_env, env=env)
    assert digest == bytearray(hashlib.sha256(b"from-env").digest())
    assert TOKEN_ENV_VAR not in env


@pytest.mark.parametrize("from_env", ["", "env"])
def test_flag_without_value_and_without_env_is_an_error(from_env: str) -> None:
    with pytest.raises(ValueError, match=TOKEN_ENV_VAR):
        resolve_token_digest(from_env, env={})


@pytest.mark.parametrize("bad", ["sha256:abc", "sha256:" + "zz" * 32, "   "])
def test_resolve_rejects_bad_values(bad: str) -> None:
    with pytest.raises(ValueError):
        resolve_token_digest(bad, env={})


def test_parse_expires_at_forms() -> None:
    assert parse_expires_at("2030-01-01T12:00:00Z") == T0
    assert parse_expires_at("2030-01-01T13:00:00+01:00") == T0
    assert parse_expires_at("2030-01-01T12:00:00") == T0  # naive = UTC
    assert parse_expires_at(T0.astimezone(timezone(timedelta(hours=-5)))) == T0
    assert parse_expires_at(None) is None
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_expires_at("next tuesday")


def test_guard_decisions() -> None:
    guard = TokenGuard(resolve_token_digest("s3cret", env={}))
    assert guard.check("Bearer s3cret").allowed
    assert guard.check("bearer   s3cret ").allowed
    missing = guard.check(None)
    assert (missing.allowed, missing.error) == (False, "invalid_request")
    assert guard.check("Basic czNjcmV0").error == "invalid_request"
    assert guard.check("Bearer ").error == "invalid_request"
    wrong = guard.check("Bearer s3cret2")
    assert (wrong.allowed, wrong.error) == (False, "invalid_token")
    assert "s3cret" not in wrong.description


def test_guard_without_token_allows_everything_until_expiry() -> None:
    clock = FakeClock(T0 - timedelta(seconds=1))
    guard = TokenGuard(None, expires_at=T0, clock=clock)
    assert guard.check(None).allowed
    clock.now = T0
    assert not guard.check(None).allowed


def test_expiry_refuses_the_right_token_and_zeroes_the_digest() -> None:
    clock = FakeClock(T0 - timedelta(minutes=5))
    guard = TokenGuard.from_config("s3cret", expires_at="2030-01-01T12:00:00Z", clock=clock)
    assert guard.check("Bearer s3cret").allowed
    held = guard._digest
    assert held is not None and any(held)

    clock.now = T0 + timedelta(seconds=1)
    decision = guard.check("Bearer s3cret")
    assert (decision.allowed, decision.error) == (False, "invalid_token")
    assert "expired" in decision.description
    assert held == bytearray(32)  # overwritten in place, not just dropped
    assert guard._digest is None
    # Stays expired even if the clock goes backwards.
    clock.now = T0 - timedelta(days=1)
    assert not guard.check("Bearer s3cret").allowed


def _app(guard: TokenGuard) -> BearerAuthMiddleware:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/mcp", hello, methods=["GET", "POST"])])
    return BearerAuthMiddleware(app, guard)


async def test_middleware_401_with_www_authenticate() -> None:
    clock = FakeClock(T0 - timedelta(minutes=1))
    guard = TokenGuard(resolve_token_digest("s3cret", env={}), expires_at=T0, clock=clock)
    transport = httpx.ASGITransport(app=_app(guard))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        no_token = await http.post("/mcp")
        assert no_token.status_code == 401
        assert no_token.headers["www-authenticate"].startswith("Bearer ")
        assert 'error="invalid_request"' in no_token.headers["www-authenticate"]

        bad = await http.post("/mcp", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["www-authenticate"]
        assert bad.json()["error"] == "invalid_token"

        # Unknown paths are guarded too (no probing without a token).
        assert (await http.get("/other")).status_code == 401

        ok = await http.get("/mcp", headers={"Authorization": "Bearer s3cret"})
        assert (ok.status_code, ok.text) == (200, "ok")

        clock.now = T0
        expired = await http.get("/mcp", headers={"Authorization": "Bearer s3cret"})
        assert expired.status_code == 401
        assert "expired" in expired.headers["www-authenticate"]
