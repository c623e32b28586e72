"""The edge in front of the API: request size, authentication, rate limiting, faults, stats.

One pure-ASGI middleware, so every response (including errors it produces itself)
is counted and carries the rate-limit headers, as Atlassian's edge does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from confluence_agent.sandbox.errors import error_response, unauthorized
from confluence_agent.sandbox.store import Store, User

MAX_BODY_BYTES = 5_242_880
_WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
BAD_BASIC = (
    "Basic authentication with passwords is deprecated.  For more information, see: "
    "https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/"
)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Random failures injected around the API's handling of a request.

    Attributes:
        p429: probability of a spurious 429 (with ``Retry-After``), request not handled.
        p503: probability of a 503 (with ``Retry-After``), request not handled.
        latency_ms: delay added to every request.
        seed: seed of the ``random.Random`` deciding faults, so runs are reproducible.
        p503_after_write: probability that a write (POST, PUT, DELETE, PATCH) is carried
            out and its response then replaced by a 503, as when a proxy times out after
            the origin acted: the ambiguous failure clients must not blindly retry.
    """

    p429: float = 0.0
    p503: float = 0.0
    latency_ms: int = 0
    seed: int = 0
    p503_after_write: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """Parse ``p429=0.1,p503=0.05,latency_ms=20,seed=1`` (any subset of the fields).

        Raises:
            ValueError: an unknown key, a missing ``=``, a non-number, or a
                probability outside 0..1; the message names the offending part.
        """
        kinds = {f.name: (int if f.type in ("int", int) else float) for f in fields(cls)}
        values: dict[str, float | int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, raw = (x.strip() for x in part.partition("="))
            if not sep or key not in kinds:
                raise ValueError(f"{part!r}: expected key=value with key in {', '.join(kinds)}")
            try:
                values[key] = kinds[key](raw)
            except ValueError:
                raise ValueError(f"{part!r}: not a number") from None
        for key, value in values.items():
            if key.startswith("p") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{key} must be within 0..1")
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class Stats:
    """What the server has answered since start (or the last reset).

    Attributes:
        requests: requests served (all statuses).
        by_route: requests per ``"METHOD /route/{template}"``.
        by_status: requests per HTTP status.
        rate_limited: 429 responses sent (limiter and injected faults).
        unavailable: 503 responses sent.
    """

    requests: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    unavailable: int = 0

    def record(self, route: str, status: int) -> None:
        """Count one response."""
        self.requests += 1
        self.by_route[route] += 1
        self.by_status[status] += 1
        if status == 429:
            self.rate_limited += 1
        elif status == 503:
            self.unavailable += 1

    def snapshot(self) -> Stats:
        """An independent copy (safe to read while the server keeps counting)."""
        return Stats(
            self.requests,
            Counter(self.by_route),
            Counter(self.by_status),
            self.rate_limited,
            self.unavailable,
        )


class TokenBucket:
    """Per-user token buckets: ``rate`` tokens per second, at most ``burst`` in reserve."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[bool, float]:
        """Try to spend one token; returns (allowed, tokens left afterwards)."""
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
        return allowed, tokens

    def headers(self, tokens: float, *, limited: bool) -> dict[str, str]:
        """Budget headers: Atlassian's ``X-RateLimit-*`` and the IETF ``RateLimit`` fields."""
        remaining = max(0, math.floor(tokens))
        to_full = (self.burst - tokens) / self.rate
        window = max(1, math.ceil(self.burst / self.rate))
        reset = datetime.fromtimestamp(time.time() + to_full, UTC)
        out = {
            "X-RateLimit-Limit": str(self.burst),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RateLimit-Policy": f'"burst";q={self.burst};w={window}',
            "RateLimit": f'"burst";r={remaining};t={math.ceil(to_full)}',
        }
        if remaining < 0.2 * self.burst:
            out["X-RateLimit-NearLimit"] = "true"
        if limited:
            out["Retry-After"] = str(max(1, math.ceil((1.0 - tokens) / self.rate)))
            out["RateLimit-Reason"] = "confluence-burst-based"
        return out


def _credentials(store: Store, header: str | None) -> tuple[User | None, str]:
    """The user an ``Authorization`` header names, or (None, message for the 401)."""
    if not header:
        return None, "Client must be authenticated to access this resource."
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            email, sep, token = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, BAD_BASIC
        user = store.authenticate_basic(email, token) if sep else None
        return user, BAD_BASIC
    if scheme in ("bearer", "token"):
        return store.authenticate_bearer(value.strip()), "Unauthorized"
    return None, "Unauthorized"


class Gateway:
    """ASGI middleware: 413 above 5 MB, 401 without valid credentials, 429/503 and stats.

    Args:
        app: the API (a starlette app).
        store: where users are looked up.
        routes: the API routes, used to name routes in :class:`Stats`.
        limiter: token buckets, or ``None`` for no rate limiting.
        faults: fault injection settings, or ``None``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Store,
        routes: Sequence[BaseRoute],
        limiter: TokenBucket | None = None,
        faults: FaultConfig | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.routes = routes
        self.limiter = limiter
        self.faults = faults
        self.random = random.Random(faults.seed if faults else 0)
        self.stats = Stats()
        self.stats_lock = threading.Lock()

    def reset_stats(self) -> None:
        """Start counting from zero."""
        with self.stats_lock:
            self.stats = Stats()

    def _route_name(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return f"{scope['method']} {getattr(route, 'path', '?')}"
        return f"{scope['method']} (unmatched)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        recorded = False
        extra: dict[str, str] = {}

        def record(status: int) -> None:
            nonlocal recorded
            recorded = True
            with self.stats_lock:
                self.stats.record(self._route_name(scope), status)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
                # Counted before a byte goes out: a client that has its response must
                # find the request in ``stats`` already.
                record(message["status"])
            await send(message)

        try:
            await self._handle(scope, receive, send_wrapper, extra)
        finally:
            if not recorded:  # the app failed before starting a response
                record(500)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, extra: dict[str, str]
    ) -> None:
        path: str = scope["path"]
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            message = f"Requests for this resource can be at most {MAX_BODY_BYTES} bytes"
            await error_response(path, 413, message)(scope, receive, send)
            return
        user, problem = _credentials(self.store, headers.get("authorization"))
        if user is None:
            await unauthorized(problem)(scope, receive, send)
            return
        scope["user"] = user
        if self.limiter is not None:
            allowed, tokens = self.limiter.take(user.account_id)
            extra.update(self.limiter.headers(tokens, limited=not allowed))
            if not allowed:
                await error_response(path, 429, "Rate limit exceeded")(scope, receive, send)
                return
        if self.faults is not None:
            if self.faults.latency_ms:
                await asyncio.sleep(self.faults.latency_ms / 1000)
            draw = self.random.random()
            if draw < self.faults.p429:
                extra.update(
                    {"Retry-After": "1", "RateLimit-Reason": "confluence-quota-tenant-based"}
                )
                await error_response(path, 429, "Rate limit exceeded")(scope, receive, send)
                return
            if draw < self.faults.p429 + self.faults.p503:
                extra["Retry-After"] = "1"
                await error_response(path, 503, "Service Unavailable")(scope, receive, send)
                return
            if self._fails_after_write(scope["method"]):
                await self.app(scope, receive, _discard)
                extra["Retry-After"] = "1"
                await error_response(path, 503, "Service Unavailable")(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _fails_after_write(self, method: str) -> bool:
        # Drawn only when the option is on, so existing seeded fault sequences are unchanged.
        chance = self.faults.p503_after_write if self.faults is not None else 0.0
        return chance > 0 and method in _WRITE_METHODS and self.random.random() < chance


async def _discard(message: Message) -> None:
    """An ASGI ``send`` that drops the response (the write itself has happened)."""
