"""Sandbox figures: start-up time with ``synthetic:10000`` and CQL search latency over it.

Run: ``.venv/bin/python benchmarks/bench_sandbox.py``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import statistics
import time

import httpx

from confluence_agent.sandbox import SandboxServer

# (label, CQL, extra query parameters); every search asks for 25 results.
QUERIES: tuple[tuple[str, str, dict[str, object]], ...] = (
    ('text ~ "logging"', 'text ~ "logging"', {}),
    ('text ~ "logging" start=1400', 'text ~ "logging"', {"start": 1400}),
    (
        'text ~ "deployment rollback" AND type = page',
        'text ~ "deployment rollback" AND type = page',
        {},
    ),
    (
        'title ~ "guide*" ORDER BY lastmodified DESC',
        'title ~ "guide*" ORDER BY lastmodified DESC',
        {},
    ),
    ("label = runbook OR macro = code", "label = runbook OR macro = code", {}),
    (
        "mention = currentUser() OR contributor = currentUser()",
        "mention = currentUser() OR contributor = currentUser()",
        {},
    ),
)


def run(pages: int = 10_000, repeats: int = 10) -> dict[str, object]:
    """Start a ``synthetic:<pages>`` sandbox and time CQL searches through HTTP.

    Returns:
        ``startup_s``, ``pages`` and per-query median/max milliseconds.
    """
    started = time.perf_counter()
    sandbox = SandboxServer(f"synthetic:{pages}")
    sandbox.start()
    startup = time.perf_counter() - started
    figures: dict[str, object] = {
        "pages": sandbox.store.counts()["pages"],
        "startup_s": round(startup, 2),
    }
    try:
        with httpx.Client(base_url=sandbox.url, auth=(sandbox.email, sandbox.api_token)) as client:
            for label, cql, extra in QUERIES:
                times, total = [], 0
                params = {"cql": cql, "limit": 25, **extra}
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    resp = client.get("/wiki/rest/api/search", params=params)
                    times.append((time.perf_counter() - t0) * 1000)
                    resp.raise_for_status()
                    total = resp.json()["totalSize"]
                figures[label] = {
                    "median_ms": round(statistics.median(times), 1),
                    "max_ms": round(max(times), 1),
                    "total_size": total,
                }
    finally:
        sandbox.stop()
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
