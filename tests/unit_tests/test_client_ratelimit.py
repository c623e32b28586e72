"""Rate-limit header parsing: every family Confluence (and the IETF drafts) send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from confluence_agent.ratelimit import (
    MAX_RETRY_AFTER_SECONDS,
    RateLimitPolicy,
    RateLimitQuota,
    RateLimitState,
    RetryPolicy,
    Throttle,
    parse_rate_limit_headers,
    parse_retry_after,
)

NOW = datetime(2025, 10, 8, 14, 30, tzinfo=UTC)


def parse(**headers: str) -> RateLimitState:
    return parse_rate_limit_headers(
        httpx.Headers({k.replace("_", "-"): v for k, v in headers.items()}), now=NOW
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1847", 1847.0),
        ("0", 0.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("9223372036854775807", MAX_RETRY_AFTER_SECONDS),
        ("Wed, 08 Oct 2025 14:31:00 GMT", 60.0),
        ("Wed, 08 Oct 2025 14:00:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_atlassian_429_headers() -> None:
    state = parse(
        Retry_After="1847",
        X_RateLimit_Limit="40000",
        X_RateLimit_Remaining="0",
        X_RateLimit_Reset="2025-10-08T15:00:00Z",
        RateLimit_Reason="confluence-quota-global-based",
    )
    assert state.retry_after == 1847
    assert (state.limit, state.remaining) == (40000, 0)
    assert state.reset_at == datetime(2025, 10, 8, 15, 0, tzinfo=UTC)
    assert state.reason == "confluence-quota-global-based"
    assert state.seconds_until_reset(NOW) == 1800
    assert state.is_near_limit()
    assert not state.is_empty


def test_older_minute_precision_reset_and_near_limit_flag() -> None:
    state = parse(X_RateLimit_Reset="2025-10-08T15:00Z", X_RateLimit_NearLimit="true")
    assert state.reset_at == datetime(2025, 10, 8, 15, 0, tzinfo=UTC)
    assert state.near_limit and state.is_near_limit()


def test_remaining_below_ten_percent_is_near_limit() -> None:
    assert parse(X_RateLimit_Limit="100", X_RateLimit_Remaining="9").is_near_limit()
    assert not parse(X_RateLimit_Limit="100", X_RateLimit_Remaining="10").is_near_limit()
    # Live anomaly: limit 0 — no ratio to compute, not "near".
    assert not parse(X_RateLimit_Limit="0", X_RateLimit_Remaining="0").is_near_limit()


def test_ietf_structured_fields_with_multiple_policies() -> None:
    state = parse(
        RateLimit_Policy=(
            '"global-app-quota";q=65000;w=3600, "confluence-burst";q=100;w=1;qu="requests"'
        ),
        RateLimit='"global-app-quota";r=120;t=600, "confluence-burst";r=5;t=1;pk=:abc=:',
    )
    assert state.policies == (
        RateLimitPolicy("global-app-quota", 65000, 3600.0),
        RateLimitPolicy("confluence-burst", 100, 1.0, quota_unit="requests"),
    )
    assert state.quotas[0] == RateLimitQuota("global-app-quota", 120, 600.0)
    assert state.quotas[1].remaining == 5 and state.quotas[1].partition_key == ":abc=:"
    assert state.seconds_until_reset(NOW) == 1.0
    # 5 of 100 left on the burst policy is under 10 %.
    assert state.is_near_limit()


def test_beta_headers_are_marked_beta() -> None:
    state = parse(
        Beta_RateLimit_Policy='"global-app-quota";q=65000;w=3600',
        Beta_RateLimit='"global-app-quota";r=1000;t=42',
        Beta_Retry_After="30",
    )
    assert state.policies[0].beta and state.quotas[0].beta
    assert state.beta_retry_after == 30
    assert state.is_near_limit()  # 1000 < 6500


def test_older_ietf_draft_delta_seconds_and_unnamed_policy() -> None:
    state = parse(
        ratelimit_limit="100",
        ratelimit_remaining="3",
        ratelimit_reset="30",
        ratelimit_policy="100;w=60, 1000;w=3600",
    )
    assert (state.limit, state.remaining) == (100, 3)
    assert state.reset_at == NOW + timedelta(seconds=30)
    assert [(p.name, p.quota, p.window) for p in state.policies] == [
        (None, 100, 60.0),
        (None, 1000, 3600.0),
    ]


def test_draft_dictionary_form() -> None:
    state = parse(RateLimit="limit=10, remaining=1, reset=7")
    assert (state.limit, state.remaining) == (10, 1)
    assert state.reset_at == NOW + timedelta(seconds=7)


def test_data_center_token_bucket_headers() -> None:
    state = parse(
        X_RateLimit_Limit="20",
        X_RateLimit_Remaining="19",
        X_RateLimit_Interval_Seconds="1",
        X_RateLimit_FillRate="2",
        Retry_After="0",
    )
    assert (state.fill_rate, state.interval_seconds, state.retry_after) == (2, 1.0, 0.0)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "", "X-RateLimit-Reset": "tomorrow"},
        {"RateLimit": '"unterminated;r=1', "RateLimit-Policy": ";;;,,,"},
        {"RateLimit-Policy": '"p";q=abc;w=x', "RateLimit": '"p";r=;t=inf'},
        {"Retry-After": "Thu, 99 Foo 2025", "X-RateLimit-NearLimit": "maybe"},
        {"X-RateLimit-Reset": "99999999999999999999"},
    ],
)
def test_malformed_values_are_ignored_not_fatal(headers: dict[str, str]) -> None:
    state = parse_rate_limit_headers(httpx.Headers(headers), now=NOW)
    assert state.limit is None and state.remaining is None
    assert not state.near_limit


def test_no_headers_means_empty_state() -> None:
    state = parse()
    assert state.is_empty and not state.is_near_limit()
    assert state.seconds_until_reset(NOW) is None


# --------------------------------------------------------------------------- policy maths


def test_full_jitter_backoff_bounds() -> None:
    policy = RetryPolicy(initial_backoff=1, max_backoff=30)
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert all(policy.backoff(n, lambda: 0.0) == 0 for n in range(1, 8))
    assert RetryPolicy(jitter=False).backoff(3, lambda: 0.0) == 4


def test_retry_after_is_capped_and_never_shortened() -> None:
    policy = RetryPolicy(max_retry_after=120, retry_after_jitter=0.1)
    assert policy.honour_retry_after(10, lambda: 0.0) == 10
    assert policy.honour_retry_after(10, lambda: 1.0) == pytest.approx(11)
    assert policy.honour_retry_after(1847, lambda: 0.0) == 120


def test_pacing_interval_spreads_remaining_over_window() -> None:
    policy = RetryPolicy(max_proactive_delay=5)
    near = parse(
        X_RateLimit_Limit="100", X_RateLimit_Remaining="4", X_RateLimit_Reset="2025-10-08T14:30:08Z"
    )
    assert policy.pacing_interval(near, NOW) == pytest.approx(2.0)
    far = parse(X_RateLimit_Limit="100", X_RateLimit_Remaining="50")
    assert policy.pacing_interval(far, NOW) == 0
    flag_only = parse(X_RateLimit_NearLimit="true")
    assert policy.pacing_interval(flag_only, NOW) == policy.near_limit_delay
    exhausted = parse(
        X_RateLimit_Limit="100", X_RateLimit_Remaining="0", X_RateLimit_Reset="2025-10-08T15:00:00Z"
    )
    assert policy.pacing_interval(exhausted, NOW) == 5  # capped


def test_pacing_interval_follows_a_short_window_bucket_refill_rate() -> None:
    policy = RetryPolicy()
    # The sandbox's five-per-second bucket with one token left (20 %): one per 200 ms,
    # not the second it takes to refill the whole bucket.
    one_left = parse(
        X_RateLimit_Limit="5",
        X_RateLimit_Remaining="1",
        X_RateLimit_Reset="2025-10-08T14:30:01Z",
        RateLimit_Policy='"burst";q=5;w=1',
        RateLimit='"burst";r=1;t=1',
    )
    assert one_left.is_running_low() and not one_left.is_near_limit()
    assert policy.pacing_interval(one_left, NOW) == pytest.approx(0.2)
    two_left = parse(X_RateLimit_Limit="5", X_RateLimit_Remaining="2")
    assert policy.pacing_interval(two_left, NOW) == 0
    # Data Center's bucket: 10 tokens every 2 s.
    dc = parse(
        X_RateLimit_Limit="20",
        X_RateLimit_Remaining="1",
        X_RateLimit_FillRate="10",
        X_RateLimit_Interval_Seconds="2",
    )
    assert policy.pacing_interval(dc, NOW) == pytest.approx(0.2)


def test_hourly_quota_spreads_what_remains_until_the_reset() -> None:
    # An hour-long window resets all at once: its refill rate would overspend it.
    state = parse(
        RateLimit_Policy='"global-app-quota";q=65000;w=3600',
        RateLimit='"global-app-quota";r=1000;t=1800',
    )
    assert state.refill_interval() is None
    assert RetryPolicy().pacing_interval(state, NOW) == pytest.approx(1.8)


def test_pacing_switched_off_or_nothing_to_go_on() -> None:
    drained = parse(X_RateLimit_Limit="5", X_RateLimit_Remaining="0", X_RateLimit_NearLimit="true")
    assert RetryPolicy(pace=False).pacing_interval(drained, NOW) == 0
    assert RetryPolicy().pacing_interval(parse(), NOW) == 0
    # Beta headers are advisory: they never slow the client down by their refill rate.
    beta = parse(Beta_RateLimit_Policy='"b";q=1;w=1', Beta_RateLimit='"b";r=0;t=1')
    assert beta.refill_interval() is None


def test_throttle_spaces_starts_from_the_previous_request() -> None:
    throttle = Throttle()
    assert throttle.reserve(0.0, now=100.0) == 0.0  # unpaced, but its start is noted
    # The first request once the limit is close already waits; queued ones line up.
    assert [throttle.reserve(0.5, now=100.0) for _ in range(3)] == [0.5, 1.0, 1.5]
    assert throttle.reserve(0.0, now=100.0) == 0.0  # limit recovered: no queue
    assert throttle.reserve(0.5, now=200.0) == 0.0  # long after the last start
    assert throttle.reserve(0.5, now=200.2) == pytest.approx(0.3)


def test_x_beta_family_is_kept_apart_and_never_paces() -> None:
    state = parse(
        X_Beta_RateLimit_Limit="100",
        X_Beta_RateLimit_Remaining="3",
        X_Beta_RateLimit_Reset="2025-10-08T15:00:00Z",
        X_Beta_RateLimit_NearLimit="true",
        X_Beta_RateLimit_Reason="confluence-quota-tenant-based",
    )
    assert state.beta == RateLimitState(
        limit=100,
        remaining=3,
        reset_at=datetime(2025, 10, 8, 15, 0, tzinfo=UTC),
        near_limit=True,
        reason="confluence-quota-tenant-based",
        observed_at=NOW,
    )
    # Would-be-throttled signals only: the enforced budget is untouched, nothing slows down.
    assert (state.limit, state.remaining, state.near_limit, state.reason) == (
        None,
        None,
        False,
        None,
    )
    assert not state.is_empty and not state.is_running_low()
    assert RetryPolicy().pacing_interval(state, NOW) == 0
    assert parse(X_RateLimit_Limit="5").beta is None
