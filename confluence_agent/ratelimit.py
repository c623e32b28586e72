"""Rate-limit headers, retry policy and proactive pacing.

Everything here is pure: header parsing takes the current time as an argument,
backoff takes a random source, and :class:`Throttle` takes the clock reading. The
sync and async clients supply real clocks and sleeps (or test doubles).

Header families understood (confluence-api.md §8):

* ``Retry-After`` — delta seconds or HTTP-date; clamped to a day.
* ``X-RateLimit-Limit/Remaining/Reset`` (reset = ISO-8601 timestamp),
  ``X-RateLimit-NearLimit``, ``RateLimit-Reason``, DC's ``X-RateLimit-FillRate`` /
  ``X-RateLimit-Interval-Seconds``.
* IETF structured fields ``RateLimit-Policy`` / ``RateLimit`` and Atlassian's
  ``Beta-RateLimit-Policy`` / ``Beta-RateLimit`` / ``Beta-Retry-After``.
* Atlassian's ``X-Beta-RateLimit-Limit/Remaining/Reset/NearLimit/Reason`` (what
  would be throttled once a limit is enforced), kept apart in ``RateLimitState.beta``.
* Older IETF drafts ``RateLimit-Limit/Remaining/Reset`` (reset = delta seconds).

Malformed values are ignored field by field: a bad header never fails a request.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_RETRY_AFTER_SECONDS",
    "RateLimitPolicy",
    "RateLimitQuota",
    "RateLimitState",
    "RetryPolicy",
    "Throttle",
    "parse_rate_limit_headers",
    "parse_retry_after",
]

MAX_RETRY_AFTER_SECONDS = 86_400.0
"""Upper clamp for any parsed wait: servers have sent ``Retry-After: 9223372036854775807``."""


@dataclass(frozen=True)
class RateLimitPolicy:
    """One member of a ``RateLimit-Policy`` list: ``"name";q=quota;w=window``.

    Attributes:
        name: Policy name (``None`` for the older unnamed ``10;w=1`` form).
        quota: Units allowed per window.
        window: Window length in seconds.
        quota_unit: ``qu`` parameter (``requests``, ``content-bytes`` …).
        partition_key: ``pk`` parameter.
        beta: Came from a ``Beta-`` header (advisory, not enforced).
    """

    name: str | None
    quota: int | None
    window: float | None = None
    quota_unit: str | None = None
    partition_key: str | None = None
    beta: bool = False


@dataclass(frozen=True)
class RateLimitQuota:
    """One member of a ``RateLimit`` list: ``"name";r=remaining;t=reset-seconds``."""

    name: str | None
    remaining: int | None
    reset_after: float | None = None
    partition_key: str | None = None
    beta: bool = False


@dataclass(frozen=True)
class RateLimitState:
    """What the last response said about rate limits (all fields optional).

    Attributes:
        limit: ``X-RateLimit-Limit`` (or draft ``RateLimit-Limit``).
        remaining: ``X-RateLimit-Remaining`` (or draft ``RateLimit-Remaining``).
        reset_at: When the window resets (from ``X-RateLimit-Reset`` or a delta).
        near_limit: ``X-RateLimit-NearLimit: true`` (under 20 % left).
        reason: ``RateLimit-Reason`` on a 429, e.g. ``confluence-quota-tenant-based``.
        retry_after: ``Retry-After`` in seconds (clamped).
        beta_retry_after: ``Beta-Retry-After`` in seconds (advisory).
        policies: Parsed ``RateLimit-Policy`` and ``Beta-RateLimit-Policy`` members.
        quotas: Parsed ``RateLimit`` and ``Beta-RateLimit`` members.
        fill_rate: Data Center token-bucket refill per interval.
        interval_seconds: Data Center refill interval.
        beta: The ``X-Beta-RateLimit-*`` signals, when sent. Like the other ``Beta-``
            headers they are advisory (not enforced), so they never pace the client.
        observed_at: When the headers were read.
    """

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    near_limit: bool = False
    reason: str | None = None
    retry_after: float | None = None
    beta_retry_after: float | None = None
    policies: tuple[RateLimitPolicy, ...] = ()
    quotas: tuple[RateLimitQuota, ...] = ()
    fill_rate: int | None = None
    interval_seconds: float | None = None
    beta: RateLimitState | None = None
    observed_at: datetime | None = None

    @property
    def is_empty(self) -> bool:
        """True when the response carried no rate-limit information at all."""
        return self == RateLimitState(observed_at=self.observed_at)

    def seconds_until_reset(self, now: datetime | None = None) -> float | None:
        """Seconds until the window resets, from the timestamp or the smallest ``t``."""
        now = now or datetime.now(UTC)
        candidates: list[float] = []
        if self.reset_at is not None:
            candidates.append(max(0.0, (self.reset_at - now).total_seconds()))
        candidates.extend(q.reset_after for q in self.quotas if q.reset_after is not None)
        return min(candidates) if candidates else None

    def is_near_limit(self, ratio: float = 0.1) -> bool:
        """True when the server says so or less than ``ratio`` of a quota remains."""
        if self.near_limit:
            return True
        return any(left < ratio * total for left, total in self._budgets())

    def is_running_low(self, ratio: float = 0.2) -> bool:
        """True when the next request should be paced rather than sent at once.

        That is when the server flags it (``X-RateLimit-NearLimit``), at most
        ``ratio`` of a known quota remains, or nothing remains before a known reset.
        Unlike :meth:`is_near_limit` the bound is inclusive, so a small bucket
        (one left of five) is paced while a request still fits in it.
        """
        if self.near_limit:
            return True
        if any(left <= ratio * total for left, total in self._budgets()):
            return True
        # An exhausted budget with a reset time is low even when no limit is sent.
        return self.remaining == 0 and self.reset_at is not None

    def refill_interval(self, burst_window: float = 10.0) -> float | None:
        """Seconds per request at which a short-window (token-bucket) limit refills.

        Data Center sends its bucket's fill rate; a ``RateLimit-Policy`` with a window
        of at most ``burst_window`` seconds (Atlassian's per-second burst limits, the
        sandbox's bucket) refills ``quota`` requests per ``window``. Sending one
        request per refill keeps such a bucket from running dry, where spreading what
        remains over the time to a full bucket would be far slower. The strictest
        limit wins. Advisory ``Beta-`` policies are ignored: they are not enforced.

        Args:
            burst_window: Longest policy window treated as a refilling bucket; longer
                windows (hourly quotas) reset all at once instead.

        Returns:
            The spacing in seconds, or ``None`` when no refill rate is known.
        """
        spacings: list[float] = []
        if self.fill_rate and self.fill_rate > 0 and self.interval_seconds:
            spacings.append(self.interval_seconds / self.fill_rate)
        for policy in self.policies:
            if policy.beta or not policy.quota or policy.quota <= 0 or not policy.window:
                continue
            if 0 < policy.window <= burst_window:
                spacings.append(policy.window / policy.quota)
        return max(spacings) if spacings else None

    def _budgets(self) -> list[tuple[int, int]]:
        """``(remaining, total)`` for every quota whose size is known."""
        budgets: list[tuple[int, int]] = []
        # X-RateLimit-Limit: 0 has been seen live; a zero limit carries no ratio.
        if self.limit and self.remaining is not None:
            budgets.append((self.remaining, self.limit))
        for quota in self.quotas:
            total = self._quota_for(quota)
            if quota.remaining is not None and total:
                budgets.append((quota.remaining, total))
        return budgets

    def _quota_for(self, quota: RateLimitQuota) -> int | None:
        for policy in self.policies:
            if policy.name == quota.name and policy.beta == quota.beta:
                return policy.quota
        return None


# --------------------------------------------------------------------------- parsing


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After`` (delta seconds or HTTP-date) into clamped seconds.

    Args:
        value: The raw header value.
        now: Reference time for HTTP-dates (defaults to the current UTC time).

    Returns:
        Seconds in ``[0, MAX_RETRY_AFTER_SECONDS]``, or ``None`` when absent or garbage.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    seconds = _parse_float(value)
    if seconds is None:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return _clamp(seconds)


def parse_rate_limit_headers(
    headers: Mapping[str, str], *, now: datetime | None = None
) -> RateLimitState:
    """Read every known rate-limit header family into one :class:`RateLimitState`.

    Args:
        headers: Response headers (any case; ``httpx.Headers`` works directly).
        now: Reference time for relative values (defaults to the current UTC time).

    Returns:
        The parsed state; fields whose header is absent or malformed stay ``None``.
    """
    now = now or datetime.now(UTC)
    h = {k.lower(): v for k, v in headers.items()}

    limit = _parse_int(h.get("x-ratelimit-limit"))
    remaining = _parse_int(h.get("x-ratelimit-remaining"))
    reset_at = _parse_reset(h.get("x-ratelimit-reset"), now)
    # Draft -00…-06 IETF fields: same meaning, but reset is always delta seconds.
    if limit is None:
        limit = _parse_int(h.get("ratelimit-limit"))
    if remaining is None:
        remaining = _parse_int(h.get("ratelimit-remaining"))
    if reset_at is None:
        delta = _parse_float(_first_item(h.get("ratelimit-reset")))
        if delta is not None:
            reset_at = now + timedelta(seconds=_clamp(delta))

    policies = _parse_policies(h.get("ratelimit-policy"), beta=False) + _parse_policies(
        h.get("beta-ratelimit-policy"), beta=True
    )
    quotas = _parse_quotas(h.get("ratelimit"), beta=False) + _parse_quotas(
        h.get("beta-ratelimit"), beta=True
    )
    # Draft -07 used a dictionary: ``RateLimit: limit=10, remaining=1, reset=7``.
    legacy = _parse_dictionary(h.get("ratelimit"))
    if legacy:
        limit = limit if limit is not None else _parse_int(legacy.get("limit"))
        remaining = remaining if remaining is not None else _parse_int(legacy.get("remaining"))
        reset_delta = _parse_float(legacy.get("reset"))
        if reset_at is None and reset_delta is not None:
            reset_at = now + timedelta(seconds=_clamp(reset_delta))

    return RateLimitState(
        limit=limit,
        remaining=remaining,
        reset_at=reset_at,
        near_limit=_parse_flag(h.get("x-ratelimit-nearlimit")),
        reason=_parse_text(h.get("ratelimit-reason")),
        retry_after=parse_retry_after(h.get("retry-after"), now=now),
        beta_retry_after=parse_retry_after(h.get("beta-retry-after"), now=now),
        policies=policies,
        quotas=quotas,
        fill_rate=_parse_int(h.get("x-ratelimit-fillrate")),
        interval_seconds=_parse_float(h.get("x-ratelimit-interval-seconds")),
        beta=_parse_x_beta(h, now),
        observed_at=now,
    )


def _parse_x_beta(h: Mapping[str, str], now: datetime) -> RateLimitState | None:
    """The ``X-Beta-RateLimit-*`` family (lower-cased ``h``), or ``None`` when absent."""
    if not any(name.startswith("x-beta-ratelimit-") for name in h):
        return None
    return RateLimitState(
        limit=_parse_int(h.get("x-beta-ratelimit-limit")),
        remaining=_parse_int(h.get("x-beta-ratelimit-remaining")),
        reset_at=_parse_reset(h.get("x-beta-ratelimit-reset"), now),
        near_limit=_parse_flag(h.get("x-beta-ratelimit-nearlimit")),
        reason=_parse_text(h.get("x-beta-ratelimit-reason")),
        observed_at=now,
    )


def _parse_flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _parse_text(value: str | None) -> str | None:
    return (value or "").strip() or None


def _clamp(seconds: float) -> float:
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _parse_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _parse_int(value: str | None) -> int | None:
    # Draft headers sometimes carry parameters (``100;w=60``): take the leading number.
    item = _first_item(value)
    if item is None:
        return None
    number = _parse_float(item.split(";", 1)[0])
    if number is None or math.isinf(number):
        return None
    return int(number)


def _first_item(value: str | None) -> str | None:
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def _parse_reset(value: str | None, now: datetime) -> datetime | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    number = _parse_float(value)
    if number is not None:
        # Some proxies send epoch seconds, others a delta; 1e9 s is 2001.
        if number > 1e9:
            try:
                return datetime.fromtimestamp(min(number, 1e11), tz=UTC)
            except (OverflowError, OSError, ValueError):
                return None
        return now + timedelta(seconds=_clamp(number))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# Minimal RFC 8941 list parsing: enough for the rate-limit fields, tolerant of junk.
_SF_MEMBER = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9*._:/%+-]+))\s*((?:;[^,;]*)*)')


def _split_members(value: str) -> list[str]:
    members: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            members.append("".join(current))
            current = []
        else:
            current.append(char)
    members.append("".join(current))
    return [m.strip() for m in members if m.strip()]


def _parse_member(member: str) -> tuple[str | None, bool, dict[str, str]] | None:
    """Return ``(item, item_is_string, params)`` or ``None`` when unparseable."""
    match = _SF_MEMBER.fullmatch(member)
    if match is None:
        return None
    quoted, token, raw_params = match.groups()
    params: dict[str, str] = {}
    for raw in raw_params.split(";")[1:]:
        key, _, val = raw.partition("=")
        params[key.strip().lower()] = val.strip().strip('"') if val else "?1"
    return (quoted if quoted is not None else token), quoted is not None, params


def _parse_policies(value: str | None, *, beta: bool) -> tuple[RateLimitPolicy, ...]:
    if not value:
        return ()
    policies = []
    for member in _split_members(value):
        parsed = _parse_member(member)
        if parsed is None:
            continue
        item, is_string, params = parsed
        if is_string:
            quota = _parse_int(params.get("q"))
            name: str | None = item
        else:  # draft -05/-06: ``10;w=1`` — the bare item is the quota
            quota = _parse_int(item)
            name = None
            if quota is None:
                continue
        policies.append(
            RateLimitPolicy(
                name=name,
                quota=quota,
                window=_parse_float(params.get("w")),
                quota_unit=params.get("qu"),
                partition_key=params.get("pk"),
                beta=beta,
            )
        )
    return tuple(policies)


def _parse_quotas(value: str | None, *, beta: bool) -> tuple[RateLimitQuota, ...]:
    if not value:
        return ()
    quotas = []
    for member in _split_members(value):
        parsed = _parse_member(member)
        if parsed is None or not parsed[1]:
            continue  # only the named structured form; draft -07 dictionaries handled apart
        item, _, params = parsed
        reset = _parse_float(params.get("t"))
        quotas.append(
            RateLimitQuota(
                name=item,
                remaining=_parse_int(params.get("r")),
                reset_after=_clamp(reset) if reset is not None else None,
                partition_key=params.get("pk"),
                beta=beta,
            )
        )
    return tuple(quotas)


def _parse_dictionary(value: str | None) -> dict[str, str]:
    if not value or '"' in value:
        return {}
    pairs = {}
    for member in _split_members(value):
        key, sep, val = member.partition("=")
        if not sep:
            return {}
        pairs[key.strip().lower()] = val.strip()
    return pairs


# --------------------------------------------------------------------------- policy


class RetryPolicy(BaseModel):
    """How hard the client retries and how it paces itself near a limit.

    Attributes:
        max_attempts: Total attempts per request, first one included.
        max_total_wait: Upper bound on the sum of retry waits for one request (s).
        initial_backoff: First exponential backoff bound (s).
        max_backoff: Cap on one exponential backoff (s).
        max_retry_after: Cap applied to a server ``Retry-After`` hint (s).
        jitter: Full jitter on backoff, plus a small extra on ``Retry-After``.
        retry_after_jitter: Fraction added on top of a ``Retry-After`` hint, at most.
        retry_statuses: 5xx statuses retried for idempotent requests.
        pace: Slow down proactively when the last response said the budget is low
            (``False`` only sends as fast as the server answers, relying on retries).
        near_limit_ratio: Remaining/limit at or below which the client paces itself.
        near_limit_delay: Spacing between requests near a limit when neither a refill
            rate nor a reset is known.
        max_proactive_delay: Cap on that spacing.
    """

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=5, ge=1)
    max_total_wait: float = Field(default=60.0, ge=0)
    initial_backoff: float = Field(default=1.0, ge=0)
    max_backoff: float = Field(default=30.0, ge=0)
    max_retry_after: float = Field(default=120.0, ge=0)
    jitter: bool = True
    retry_after_jitter: float = Field(default=0.1, ge=0)
    retry_statuses: frozenset[int] = frozenset({502, 503, 504})
    pace: bool = True
    near_limit_ratio: float = Field(default=0.2, ge=0, le=1)
    near_limit_delay: float = Field(default=0.5, ge=0)
    max_proactive_delay: float = Field(default=5.0, ge=0)

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Exponential backoff with full jitter for the ``attempt``-th failure (1-based)."""
        bound = min(self.max_backoff, self.initial_backoff * 2.0 ** max(attempt - 1, 0))
        return bound * rng() if self.jitter else bound

    def honour_retry_after(self, hint: float, rng: Callable[[], float] = random.random) -> float:
        """Wait for a server hint: capped, never shorter, a little jitter to de-synchronise."""
        base = min(hint, self.max_retry_after)
        return base * (1 + self.retry_after_jitter * rng()) if self.jitter else base

    def pacing_interval(self, state: RateLimitState, now: datetime | None = None) -> float:
        """Spacing to keep between request starts given the last seen headers (0 = none).

        A refilling bucket (a short ``RateLimit-Policy`` window, or Data Center's fill
        rate) is paced at its refill rate; a window that resets all at once gets what
        remains spread evenly over the time left; a bare ``NearLimit`` flag gets
        ``near_limit_delay``.
        """
        if not self.pace or not state.is_running_low(self.near_limit_ratio):
            return 0.0
        interval = state.refill_interval()
        if interval is None:
            until_reset = state.seconds_until_reset(now)
            remaining = state.remaining
            if remaining is None:
                remaining = min(
                    (q.remaining for q in state.quotas if q.remaining is not None), default=None
                )
            if until_reset is not None and remaining is not None:
                interval = until_reset / max(remaining, 1)
            else:
                interval = self.near_limit_delay
        return min(interval, self.max_proactive_delay)


@dataclass
class Throttle:
    """Proactive pacing shared by every request of one client (threads or tasks).

    Every request books its start through :meth:`reserve`, paced or not, so the
    throttle knows when the previous request went out. While the budget is low each
    start is kept ``interval`` after the previous one: the first request after the
    limit gets close waits too, and concurrent callers queue up one ``interval``
    apart instead of all firing at once.
    """

    _last_start: float = -math.inf
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, interval: float, now: float) -> float:
        """Book the caller's start and return how long it must wait for it.

        Args:
            interval: Spacing from :meth:`RetryPolicy.pacing_interval` (0 = no pacing).
            now: Monotonic clock reading.

        Returns:
            Seconds to sleep before sending (0 when the request may go at once).
        """
        with self._lock:
            start = now if interval <= 0 else max(now, self._last_start + interval)
            # A booked start never moves backwards: a later caller with a stale clock
            # reading still queues behind the ones already waiting.
            self._last_start = max(start, self._last_start)
            return start - now
