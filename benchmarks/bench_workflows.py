"""Request counts of the two workflows against a fresh demo sandbox.

Targets: the PRD audit with the topic missing sends 4 requests in total: search,
read, PUT, verification read (safe_update reuses the page the audit just read
instead of reading it again; it sent 5 before). The second run only locates and
reads (2); ``check`` mode never writes (2). Docs discovery sends 1 search + one
read per page + 1 bulk user lookup.

Run: ``.venv/bin/python benchmarks/bench_workflows.py`` (prints JSON).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from confluence_agent.workflows.docs_discovery import DocsDiscoveryInput, run_docs_discovery
from confluence_agent.workflows.prd_audit import PrdAuditInput, PrdAuditResult, run_prd_audit

from confluence_agent.client import ConfluenceClient
from confluence_agent.sandbox import SandboxServer

TOPIC = "Stripe webhook integration"


def _audit(client: ConfluenceClient, mode: Literal["check", "apply"]) -> PrdAuditResult:
    return run_prd_audit(
        PrdAuditInput(title="Q3 Billing Engine PRD", space_key="PROD", topic=TOPIC, mode=mode),
        client=client,
    )


def _client(sb: SandboxServer) -> ConfluenceClient:
    kwargs: dict[str, Any] = dict(sb.client_kwargs())
    return ConfluenceClient(**kwargs)


def _writes(sb: SandboxServer) -> int:
    return sum(n for route, n in sb.stats.by_route.items() if route.startswith("PUT"))


def run() -> dict[str, Any]:
    """Run each scenario once on a fresh sandbox and return request counts."""
    out: dict[str, Any] = {}
    with SandboxServer(seed="demo") as sb, _client(sb) as client:
        check = _audit(client, "check")
        apply = _audit(client, "apply")
        again = _audit(client, "apply")
        out["prd_audit"] = {
            "check": {"status": check.status, "requests": check.request_count},
            "apply_topic_missing": {
                "status": apply.status,
                "requests": apply.request_count,
                "versions": [apply.version_before, apply.version_after],
                "target": "search + read + PUT + verification read = 4",
                "within_target": apply.request_count <= 4,
            },
            "second_run": {"status": again.status, "requests": again.request_count},
            "client_requests_total": client.stats.requests,
            "puts_served": _writes(sb),
        }
    with SandboxServer(seed="demo") as sb, _client(sb) as client:
        briefing = run_docs_discovery(
            DocsDiscoveryInput(question="What are our Datadog logging rules?", spaces=["ENG"]),
            client=client,
        )
        pages = len(briefing.pages)
        out["docs_discovery"] = {
            "status": briefing.status,
            "requests": briefing.request_count,
            "pages_read": pages,
            "target": f"1 search + {pages} reads + 1 user lookup = {pages + 2}",
            "within_target": briefing.request_count == pages + 2,
            "server_requests": sb.stats.requests,
            "top_page": briefing.pages[0].title if briefing.pages else None,
            "author": briefing.pages[0].author if briefing.pages else None,
        }
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
