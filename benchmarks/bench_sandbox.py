"""Sandbox figures: start-up time of ``confluence-agent sandbox serve --seed synthetic:N``
and CQL search latency over it.

The command runs as users run it (a separate process, imports included); start-up is the
time from launching it to its "Press Ctrl+C" line, which it prints once it accepts
connections. Searches then go through HTTP to that process.

Run: ``.venv/bin/python benchmarks/bench_sandbox.py``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import time

import httpx

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


def _serve(pages: int) -> tuple[subprocess.Popen[str], dict[str, str], float]:
    """Launch the CLI; returns the process, its printed settings and the start-up seconds."""
    started = time.perf_counter()
    command = ("sandbox", "serve", "--port", "0", "--seed", f"synthetic:{pages}")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from confluence_agent.cli import main; main()", *command],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    printed: dict[str, str] = {}
    for line in proc.stdout:
        key, sep, value = line.strip().partition("=")
        if sep and key.startswith("CONFLUENCE_"):
            printed[key] = value
        elif "pages:" in line:
            printed["pages"] = line.split("pages:")[1].split()[0]
        elif line.startswith("Press Ctrl+C"):
            return proc, printed, time.perf_counter() - started
    proc.wait()
    raise RuntimeError(f"sandbox serve exited with status {proc.returncode} before it was ready")


def run(pages: int = 10_000, repeats: int = 10) -> dict[str, object]:
    """Start ``sandbox serve --seed synthetic:<pages>`` and time CQL searches through HTTP.

    Returns:
        ``startup_s``, ``pages`` and per-query median/max milliseconds.
    """
    proc, printed, startup = _serve(pages)
    figures: dict[str, object] = {"pages": int(printed["pages"]), "startup_s": round(startup, 2)}
    auth = (printed["CONFLUENCE_EMAIL"], printed["CONFLUENCE_API_TOKEN"])
    try:
        with httpx.Client(base_url=printed["CONFLUENCE_URL"], auth=auth) as client:
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
        proc.send_signal(signal.SIGINT)  # the command's own clean shutdown path
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
