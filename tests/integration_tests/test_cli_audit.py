"""`confluence-agent audit` against the sandbox on loopback: modes, reports, exit codes, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from confluence_agent.audit import CRASH_AFTER_WRITES_ENV, CRASH_EXIT_STATUS
from confluence_agent.cli import app
from confluence_agent.client import ConfluenceClient
from confluence_agent.sandbox import FaultConfig, SandboxServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "audit.toml"
PRD_ID = "998877"
runner = CliRunner()

PRD_ONLY = """
[audit]
name = "PRD audit"

[[rules]]
name = "prds"
cql = 'type = page and space = "PROD" and label = "prd"'
require_owner_label = true

  [[rules.topics]]
  topic = "Stripe webhook integration"
  section = "Stripe calls `POST /webhooks/stripe`; events are deduplicated by id."
"""

ENG_SECTIONS = """
[audit]
name = "Ownership sections"
concurrency = 1

[[rules]]
name = "eng-ownership"
cql = 'type = page and space = "ENG"'

  [[rules.topics]]
  topic = "Service ownership escalation matrix"
  section = "Escalate to the owning team's on-call first, then to the platform lead."
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed="demo") as sb:
        yield sb


def _env(sb: SandboxServer) -> dict[str, str]:
    return {
        "CONFLUENCE_URL": sb.url,
        "CONFLUENCE_EMAIL": sb.email,
        "CONFLUENCE_API_TOKEN": sb.api_token,
        "CONFLUENCE_BEARER_TOKEN": "",
    }


def _puts(sb: SandboxServer) -> int:
    return sum(n for route, n in sb.stats.by_route.items() if route.startswith("PUT"))


def _version(sb: SandboxServer, page_id: str) -> int:
    with ConfluenceClient(url=sb.url, email=sb.email, api_token=sb.api_token) as client:
        return client.get_page(page_id, body_format=None).version.number


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_check_reports_findings_exit_1(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    report, markdown = tmp_path / "r.json", tmp_path / "r.md"
    result = runner.invoke(
        app,
        ["audit", str(EXAMPLE), "--report", str(report), "--markdown", str(markdown)],
        env=_env(sandbox),
    )
    assert result.exit_code == 1, result.output
    data = json.loads(report.read_text())
    kinds = data["summary"]["by_kind"]
    assert {"missing_topic", "stale", "no_owner_label", "old_draft"} <= set(kinds)
    assert data["summary"]["written"] == 0 and data["summary"]["failed"] == 0
    prd = next(p for p in data["pages"] if p["page_id"] == PRD_ID)
    assert prd["findings"][0]["kind"] == "missing_topic"
    md = markdown.read_text()
    assert md.startswith("# Weekly documentation audit")
    assert "## Rule `prds-cover-stripe-webhooks`" in md and "## Rule `drafts`" in md
    assert _puts(sandbox) == 0
    # Bodies came in bulk: a handful of searches, not one read per page.
    assert sandbox.stats.by_route.get("GET /wiki/api/v2/pages/{id}", 0) == 0
    searches = sandbox.stats.by_route.get("GET /wiki/rest/api/search", 0)
    assert searches == 3  # one per rule: every selection fits in one page of 50
    assert data["summary"]["pages"] > searches
    # Not a terminal: no progress bar drawn into the captured stderr.
    assert "auditing" not in result.stderr and "\r" not in result.stderr


def test_propose_writes_nothing_and_shows_the_diff(sandbox: SandboxServer, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = runner.invoke(
        app,
        ["audit", str(_config(tmp_path, PRD_ONLY)), "--mode", "propose", "--report", str(report)],
        env=_env(sandbox),
    )
    assert result.exit_code == 1, result.output
    page = json.loads(report.read_text())["pages"][0]
    assert page["findings"][0]["action"] == "proposed"
    assert "+<h2>Stripe webhook integration</h2>" in page["diff"]
    assert _puts(sandbox) == 0 and _version(sandbox, PRD_ID) == 5


def test_apply_writes_once_then_check_is_clean(sandbox: SandboxServer, tmp_path: Path) -> None:
    config = str(_config(tmp_path, PRD_ONLY))
    report = tmp_path / "r.json"
    applied = runner.invoke(
        app, ["audit", config, "--mode", "apply", "--report", str(report)], env=_env(sandbox)
    )
    assert applied.exit_code == 0, applied.output
    page = json.loads(report.read_text())["pages"][0]
    assert (page["version"], page["version_after"], page["status"]) == (5, 6, "fixed")
    assert _version(sandbox, PRD_ID) == 6
    checked = runner.invoke(app, ["audit", config], env=_env(sandbox))
    assert checked.exit_code == 0, checked.output
    again = runner.invoke(app, ["audit", config, "--mode", "apply"], env=_env(sandbox))
    assert again.exit_code == 0
    assert _puts(sandbox) == 1 and _version(sandbox, PRD_ID) == 6


def test_unreachable_server_exits_2_with_one_line_per_error(tmp_path: Path) -> None:
    env = {
        "CONFLUENCE_URL": "http://127.0.0.1:9",
        "CONFLUENCE_EMAIL": "a@b.c",
        "CONFLUENCE_API_TOKEN": "tok-abcdef",
    }
    result = runner.invoke(app, ["audit", str(_config(tmp_path, PRD_ONLY))], env=env)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors and all("prds" in line for line in errors)
    assert "Traceback" not in result.output and "tok-abcdef" not in result.output


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "confluence-agent"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "confluence_agent.cli"]
    return subprocess.run(
        [*command, *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_resume_after_a_killed_run_never_writes_twice(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = str(_config(tmp_path, ENG_SECTIONS))
    journal, report = tmp_path / "audit.journal", tmp_path / "r.json"
    with ConfluenceClient(
        url=sandbox.url, email=sandbox.email, api_token=sandbox.api_token
    ) as client:
        before = {
            h.id: h.content.version.number  # type: ignore[union-attr]
            for h in client.iter_search('type = page and space = "ENG"', expand=["content.version"])
        }
    assert len(before) >= 5
    args = [
        "audit",
        config,
        "--mode",
        "apply",
        "--checkpoint",
        str(journal),
        "--report",
        str(report),
    ]

    # Run 1 dies right after its 3rd PUT, before journaling it (the worst moment).
    crashed = _cli(args, {**_env(sandbox), CRASH_AFTER_WRITES_ENV: "3"})
    assert crashed.returncode == CRASH_EXIT_STATUS, crashed.stderr
    assert _puts(sandbox) == 3 and not report.exists()

    # Run 2 resumes from the journal and finishes the job.
    resumed = _cli(args, _env(sandbox))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _puts(sandbox) == len(before)  # every page written exactly once
    data = json.loads(report.read_text())
    assert data["summary"]["resumed"] == 2
    assert data["summary"]["written"] == len(before)
    in_flight = [
        p
        for p in data["pages"]
        if p["findings"] and "interrupted run" in p["findings"][0]["detail"]
    ]
    assert len(in_flight) == 1
    with ConfluenceClient(
        url=sandbox.url, email=sandbox.email, api_token=sandbox.api_token
    ) as client:
        for page_id, version in before.items():
            assert client.get_page(page_id, body_format=None).version.number == version + 1

    # Run 3: the journal was completed, so this is a fresh scheduled run: nothing to do.
    third = _cli(args, _env(sandbox))
    assert third.returncode == 0
    assert _puts(sandbox) == len(before)


def test_apply_over_a_concurrent_human_edit_keeps_both(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # The bulk-read copy goes stale before the write: 409, re-read, re-apply, no loss.
    sandbox.arm_concurrent_edit(PRD_ID)
    report = tmp_path / "r.json"
    result = runner.invoke(
        app,
        ["audit", str(_config(tmp_path, PRD_ONLY)), "--mode", "apply", "--report", str(report)],
        env=_env(sandbox),
    )
    assert result.exit_code == 0, result.output
    page = json.loads(report.read_text())["pages"][0]
    assert page["conflicts"] >= 1
    assert page["version_after"] == 7  # 5 → 6 (the person) → 7 (the audit)
    with ConfluenceClient(
        url=sandbox.url, email=sandbox.email, api_token=sandbox.api_token
    ) as client:
        body = client.get_page(PRD_ID).body_storage or ""
        history = client.get_page_versions(PRD_ID, limit=50)
    assert body.count("<h2>Stripe webhook integration</h2>") == 1
    assert len(history) == 7


def test_apply_within_the_rate_limit_absorbs_429s(tmp_path: Path) -> None:
    # A low per-user rate plus injected 429s: the client paces and retries, so
    # every page is still audited and written once, and the report says so.
    faults = FaultConfig(p429=0.25, seed=11)
    with SandboxServer(seed="demo", rate_limit=20, burst=4, faults=faults) as sb:
        report = tmp_path / "r.json"
        result = runner.invoke(
            app,
            [
                "audit",
                str(_config(tmp_path, ENG_SECTIONS)),
                "--mode",
                "apply",
                "--concurrency",
                "8",
                "--report",
                str(report),
            ],
            env=_env(sb),
        )
        assert result.exit_code == 0, result.output
        data = json.loads(report.read_text())
        assert data["summary"]["failed"] == 0
        assert data["rate_limited"] > 0  # 429s were received and absorbed
        written = data["summary"]["written"]
        assert written == data["summary"]["pages"] >= 5


def _stderr_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; return (status, what it drew there)."""
    import pty

    script = Path(sys.executable).parent / "confluence-agent"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "confluence_agent.cli"]
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*command, *args],
        env={**os.environ, **env, "COLUMNS": "120", "TERM": "xterm"},
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    return proc.wait(timeout=300), drawn.decode("utf-8", "replace")


def test_progress_bar_is_drawn_on_a_terminal_only(sandbox: SandboxServer, tmp_path: Path) -> None:
    config = str(_config(tmp_path, PRD_ONLY))
    status, drawn = _stderr_on_a_terminal(["audit", config], _env(sandbox))
    assert status == 1
    assert "auditing" in drawn
    quiet_status, quiet = _stderr_on_a_terminal(["audit", config, "--quiet"], _env(sandbox))
    assert quiet_status == 1
    assert "auditing" not in quiet
    piped = _cli(["audit", config], _env(sandbox))  # stderr is a pipe, as under cron
    assert piped.returncode == 1
    assert "auditing" not in piped.stderr
