"""Bulk documentation audit of synthetic pages through a rate-limited sandbox.

The sandbox serves ``synthetic:N`` pages and allows ``RATE`` requests per second
(token bucket, burst = rate). Two phases, both through :func:`confluence_agent.audit.arun_audit`:

1. ``check``: every synthetic page is read *with its body* in bulk (CQL search,
   50 bodies per request) and audited for a topic, staleness and an owner label.
2. ``apply``: the same topic is required on one space's pages and the missing
   section is written (one safe update per page: just the PUT, based on the body
   read in bulk; a stale copy would cost a 409 and a re-read).

Reported: wall time against the rate-limit bound ((requests − burst) ÷ rate), pages/s, 429s
received, pages failed (must be 0), and that a second ``apply`` writes nothing.

Run: ``.venv/bin/python benchmarks/bench_bulk_audit.py [--pages N] [--rate R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bench_third_party import settled_stats

from confluence_agent.audit import arun_audit
from confluence_agent.audit_config import AuditConfig, parse_audit_config
from confluence_agent.audit_report import AuditReport
from confluence_agent.client import AsyncConfluenceClient
from confluence_agent.sandbox import SandboxServer

TOPIC = "Disaster recovery plan"
SYNTHETIC_SPACES = ("PLAT", "DATA", "MOB", "WEB", "SRE", "SUP", "MKT", "FIN", "PEOPLE", "QA")
WRITE_SPACE = "QA"


def _config(cql: str, *, owner: bool, concurrency: int) -> AuditConfig:
    return parse_audit_config(
        {
            "audit": {"name": "bench", "concurrency": concurrency},
            "rules": [
                {
                    "name": "bench",
                    "cql": cql,
                    "stale_after_days": 365,
                    "require_owner_label": owner,
                    "topics": [{"topic": TOPIC}],
                }
            ],
        }
    )


async def _run(sb: SandboxServer, config: AuditConfig, mode: str) -> tuple[AuditReport, float]:
    async with AsyncConfluenceClient(url=sb.url, email=sb.email, api_token=sb.api_token) as client:
        t0 = time.perf_counter()
        report = await arun_audit(config, client, mode=mode)  # type: ignore[arg-type]
        return report, time.perf_counter() - t0


def _phase(sb: SandboxServer, config: AuditConfig, mode: str, rate: float) -> dict[str, Any]:
    sb.reset_stats()
    report, wall = asyncio.run(_run(sb, config, mode))
    served = settled_stats(sb)
    ok_requests = served.requests - served.rate_limited
    # The token bucket starts full: the first `burst` requests cost no time.
    bound = max(0, ok_requests - int(rate)) / rate
    return {
        "mode": mode,
        "pages": len(report.pages),
        "pages_written": len(report.written),
        "pages_failed": len(report.failed) + len(report.errors),
        "findings": len(report.findings),
        "requests_needed": ok_requests,
        "requests_sent": served.requests,
        "rate_limited_429": served.rate_limited,
        "client_retries": report.retries,
        "wall_s": round(wall, 2),
        "bound_s": round(bound, 2),
        "wall_over_bound": round(wall / bound, 2) if bound else None,
        "pages_per_s": round(len(report.pages) / wall, 1) if wall else None,
    }


def run(pages: int = 5000, rate: float = 50.0, concurrency: int = 8) -> dict[str, Any]:
    """Run both phases on a fresh ``synthetic:pages`` sandbox limited to ``rate`` req/s."""
    t0 = time.perf_counter()
    sandbox = SandboxServer(f"synthetic:{pages}", rate_limit=rate)
    startup = time.perf_counter() - t0
    spaces = ", ".join(f'"{k}"' for k in SYNTHETIC_SPACES)
    everything = _config(
        f"type = page and space in ({spaces})", owner=True, concurrency=concurrency
    )
    one_space = _config(
        f'type = page and space = "{WRITE_SPACE}"', owner=False, concurrency=concurrency
    )
    with sandbox:
        check = _phase(sandbox, everything, "check", rate)
        apply = _phase(sandbox, one_space, "apply", rate)
        again = _phase(sandbox, one_space, "apply", rate)
    return {
        "benchmark": "bulk_audit",
        "synthetic_pages": pages,
        "rate_limit_per_s": rate,
        "burst": int(rate),
        "concurrency": concurrency,
        "sandbox_startup_s": round(startup, 2),
        "check_all": check,
        "apply_one_space": apply,
        "apply_again": again,
        "pages_failed": check["pages_failed"] + apply["pages_failed"] + again["pages_failed"],
        "no_duplicate_writes": again["pages_written"] == 0,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(json.dumps(run(args.pages, args.rate, args.concurrency), indent=2))
