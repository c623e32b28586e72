"""Bearer-token guard for the MCP server's HTTP transport.

The guard keeps only the SHA-256 digest of the expected token (in a ``bytearray``
so it can be overwritten in place), compares digests in constant time, and
refuses everything after an optional expiry instant, zeroing the digest the
first time it notices the expiry. It has no dependency on the ``mcp`` SDK so it
can be unit-tested and reused by the CLI without the optional extra.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TOKEN_ENV_VAR = "CONFLUENCE_MCP_TOKEN"  # noqa: S105 - a variable name, not a secret
"""Environment variable the HTTP transport reads its bearer token from."""

HASH_PREFIX = "sha256:"
"""A ``require_token`` value with this prefix is a hex SHA-256 digest, not a token."""

FROM_ENV = "env"
"""A ``require_token`` value meaning "read the token from ``CONFLUENCE_MCP_TOKEN``".

Both command lines accept it (``confluence-agent mcp`` needs a value after
``--require-token``), so the documented ``--require-token env`` works everywhere.
"""

Clock = Callable[[], datetime]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    """Return the ``sha256:<hex>`` form of a token, usable as ``require_token``.

    Lets operators keep only the hash in configuration files or process arguments.

    Args:
        token: The plaintext bearer token.

    Returns:
        ``"sha256:"`` followed by the lowercase hex digest of the UTF-8 token.
    """
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_expires_at(value: str | datetime | None) -> datetime | None:
    """Parse an ISO-8601 expiry instant into an aware UTC datetime.

    Naive values are taken as UTC: a server's local zone is rarely what an
    operator means when typing a deadline into a config file.

    Args:
        value: ISO-8601 text (``2025-01-31T18:00:00Z``, offsets allowed), a
            datetime, or ``None``.

    Returns:
        The instant in UTC, or ``None`` when no expiry was given.

    Raises:
        ValueError: If the text is not ISO-8601.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(
                f"--expires-at must be an ISO-8601 date-time such as 2025-01-31T18:00:00Z, "
                f"got {value!r}"
            ) from exc
    else:
        parsed = value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def resolve_token_digest(require_token: str | None, *, env: MutableMapping[str, str] | None = None,
                         consume_env: bool = True) -> bytearray | None:
    """Turn the configured token (plaintext, ``sha256:`` hash or env) into a digest.

    Resolution order: an explicit ``require_token``; otherwise (``None``, ``""`` or
    ``"env"``) ``CONFLUENCE_MCP_TOKEN``.
    When the env var is used and ``consume_env`` is true it is removed from the
    environment so that child processes (and later ``/proc/self/environ``
    readers of this process's env copy) do not inherit the secret.

    Args:
        require_token: Plaintext token, ``sha256:<64 hex>`` digest, ``""``/``"env"``
            (the env var, which must then be set) or ``None`` (the env var if set).
        env: The environment mapping to read (default ``os.environ``).
        consume_env: Remove the env var after reading it.

    Returns:
        The 32-byte digest in a mutable buffer, or ``None`` when no token is configured.

    Raises:
        ValueError: If the token is empty or a ``sha256:`` value is not 64 hex digits.
    """
    environ = os.environ if env is None else env
    value = require_token
    if value is None or value in ("", FROM_ENV):
        value = environ.get(TOKEN_ENV_VAR) or None
        if value is not None and consume_env:
            environ.pop(TOKEN_ENV_VAR, None)
        if value is None:
            if require_token is not None:
                raise ValueError(
                    f"--require-token reads the token from {TOKEN_ENV_VAR}, which is not set"
                )
            return None
    value = value.strip()
    if value.lower().startswith(HASH_PREFIX):
        hex_digest = value[len(HASH_PREFIX):]
        try:
            digest = bytes.fromhex(hex_digest)
        except ValueError as exc:
            raise ValueError("a sha256: token hash must be 64 hexadecimal digits") from exc
        if len(digest) != hashlib.sha256().digest_size:
            raise ValueError("a sha256: token hash must be 64 hexadecimal digits")
        return bytearray(digest)
    if not value:
        raise ValueError("the bearer token must not be empty")
    return bytearray(hashlib.sha256(value.encode("utf-8")).digest())


@dataclass(frozen=True)
class AuthDecision:
    """Outcome of checking one request.

    Attributes:
        allowed: Whether the request may proceed.
        error: RFC 6750 error code (``invalid_request`` / ``invalid_token``) when refused.
        description: Human-readable reason when refused (never contains the token).
    """

    allowed: bool
    error: str = ""
    description: str = ""


class TokenGuard:
    """Checks ``Authorization: Bearer`` headers against a stored SHA-256 digest.

    Args:
        digest: 32-byte SHA-256 of the expected token, or ``None`` for no token
            check (expiry still applies).
        expires_at: Instant after which every request is refused.
        clock: Returns the current aware datetime; injectable for tests.
    """

    def __init__(self, digest: bytearray | bytes | None, *, expires_at: datetime | None = None,
                 clock: Clock = _utcnow) -> None:
        self._digest: bytearray | None = bytearray(digest) if digest is not None else None
        self._expires_at = parse_expires_at(expires_at)
        self._clock = clock
        self._expired = False

    @classmethod
    def from_config(cls, require_token: str | None, *, expires_at: str | datetime | None = None,
                    clock: Clock = _utcnow) -> TokenGuard:
        """Build a guard from CLI/env configuration (see `resolve_token_digest`)."""
        digest = resolve_token_digest(require_token)
        guard = cls(digest, expires_at=parse_expires_at(expires_at), clock=clock)
        if digest is not None:
            # Wipe the temporary buffer; the guard holds its own copy.
            digest[:] = bytes(len(digest))
        return guard

    @property
    def requires_token(self) -> bool:
        """Whether a bearer token was configured."""
        return self._digest is not None or self._expired

    @property
    def expires_at(self) -> datetime | None:
        """The configured expiry instant (UTC), if any."""
        return self._expires_at

    @property
    def active(self) -> bool:
        """Whether the guard refuses anything at all (token or expiry configured)."""
        return self.requires_token or self._expires_at is not None

    def is_expired(self) -> bool:
        """Return whether the expiry passed; on first detection, zero the digest."""
        if self._expired:
            return True
        if self._expires_at is not None and self._clock() >= self._expires_at:
            self._expired = True
            if self._digest is not None:
                # Overwrite in place so the secret-derived bytes do not linger in memory.
                self._digest[:] = bytes(len(self._digest))
                self._digest = None
            return True
        return False

    def check(self, authorization: str | None) -> AuthDecision:
        """Decide whether a request with this ``Authorization`` header may proceed.

        Args:
            authorization: The raw header value, or ``None`` when absent.

        Returns:
            The decision; refusals carry RFC 6750 error fields.
        """
        if self.is_expired():
            return AuthDecision(False, "invalid_token", "the server's access window has expired")
        if self._digest is None:
            return AuthDecision(True)
        if not authorization:
            return AuthDecision(False, "invalid_request", "a bearer token is required")
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            return AuthDecision(False, "invalid_request", "use the Bearer authorization scheme")
        presented = hashlib.sha256(credentials.encode("utf-8")).digest()
        # Comparing fixed-length digests keeps timing independent of the token's
        # length and of where the first differing byte is.
        if hmac.compare_digest(presented, bytes(self._digest)):
            return AuthDecision(True)
        return AuthDecision(False, "invalid_token", "the bearer token is not valid")


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class BearerAuthMiddleware:
    """ASGI middleware refusing HTTP requests that `TokenGuard` does not allow.

    Every HTTP request (any path, any method) is checked; refusals are ``401``
    with ``WWW-Authenticate: Bearer`` and a small JSON body. Lifespan events
    pass through so the wrapped app can start its session manager.

    Args:
        app: The wrapped ASGI application.
        guard: The token guard.
        realm: The ``realm`` reported in ``WWW-Authenticate``.
    """

    def __init__(self, app: ASGIApp, guard: TokenGuard, *, realm: str = "confluence-agent") -> None:
        self.app = app
        self.guard = guard
        self.realm = realm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        authorization: str | None = None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                authorization = value.decode("latin-1")
                break
        decision = self.guard.check(authorization)
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        challenge = (
            f'Bearer realm="{_quote(self.realm)}", error="{decision.error}", '
            f'error_description="{_quote(decision.description)}"'
        )
        body = json.dumps({"error": decision.error, "error_description": decision.description})
        payload = body.encode("utf-8")
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode("ascii")),
                (b"www-authenticate", challenge.encode("latin-1")),
                (b"cache-control", b"no-store"),
            ],
        })
        await send({"type": "http.response.body", "body": payload})
