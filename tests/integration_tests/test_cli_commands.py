"""`demo`, `discover` and `sandbox serve` run for real (subprocess or CliRunner, loopback)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from typer.testing import CliRunner

from confluence_agent.cli import CHECKPOINT_DB_ENV, app, demo_audit_request, workflow_thread_id
from confluence_agent.client import ConfluenceClient
from confluence_agent.sandbox import SandboxServer

runner = CliRunner()
PRD_ID = "998877"


def _command() -> list[str]:
    script = Path(sys.executable).parent / "confluence-agent"
    return [str(script)] if script.exists() else [sys.executable, "-m", "confluence_agent.cli"]


@pytest.fixture(autouse=True)
def checkpoint_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Workflow checkpoints go to the test's directory, never to the user's state dir."""
    path = tmp_path / "state" / "workflows.sqlite"
    monkeypatch.setenv(CHECKPOINT_DB_ENV, str(path))
    return path


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFLUENCE_")}
    return {**env, CHECKPOINT_DB_ENV: os.environ[CHECKPOINT_DB_ENV], "COLUMNS": "200", **extra}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed="demo") as sb:
        yield sb


def _env(sb: SandboxServer) -> dict[str, str]:
    return {
        "CONFLUENCE_URL": sb.url,
        "CONFLUENCE_EMAIL": sb.email,
        "CONFLUENCE_API_TOKEN": sb.api_token,
    }


def test_demo_without_confluence_runs_both_scenarios() -> None:
    done = subprocess.run(
        [*_command(), "demo"],
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "starting the embedded Confluence sandbox" in out
    assert "+<h2>Stripe webhook integration</h2>" in out  # the storage diff
    assert "version 5 → 6" in out
    assert "Priya Natarajan" in out  # discovery names the author
    for step in ("locate: 'Q3 Billing Engine PRD'", "assess (matcher): missing", "verify: ok"):
        assert step in out  # the steps are shown as they finish
    assert "Traceback" not in done.stderr


def test_demo_with_confluence_url_refuses_to_write_without_apply(
    sandbox: SandboxServer,
) -> None:
    done = subprocess.run(
        [*_command(), "demo"],
        env=_clean_env(**_env(sandbox)),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "propose mode, nothing will be written" in done.stdout
    assert "proposed" in done.stdout
    assert not any(r.startswith("PUT") for r in sandbox.stats.by_route)
    with ConfluenceClient(**_env_kwargs(sandbox)) as client:
        assert client.get_page(PRD_ID, body_format=None).version.number == 5


def test_demo_with_apply_writes(sandbox: SandboxServer, checkpoint_db: Path) -> None:
    done = subprocess.run(
        [*_command(), "demo", "--apply"],
        env=_clean_env(**_env(sandbox)),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "version 5 → 6" in done.stdout
    # Both runs were checkpointed in SQLite, by default.
    with SqliteSaver.from_conn_string(str(checkpoint_db)) as saver:
        threads = {c.config["configurable"]["thread_id"] for c in saver.list(None)}
    assert {t.split("-")[0] for t in threads} == {"prd_audit", "docs_discovery"}


class _KilledAfterPut(ConfluenceClient):
    """The process dies right after its PUT reached the server (before checkpointing)."""

    def update_page(self, *args: Any, **kwargs: Any) -> Any:
        super().update_page(*args, **kwargs)
        raise KeyboardInterrupt("killed after the write")


def test_killed_demo_resumes_from_its_checkpoint_without_a_second_write(
    sandbox: SandboxServer, checkpoint_db: Path
) -> None:
    from confluence_agent.workflows.prd_audit import run_prd_audit

    request = demo_audit_request("apply")
    thread = workflow_thread_id("prd_audit", sandbox.url, request)
    checkpoint_db.parent.mkdir(parents=True)
    with (
        SqliteSaver.from_conn_string(str(checkpoint_db)) as saver,
        _KilledAfterPut(**_env_kwargs(sandbox)) as dying,
        pytest.raises(KeyboardInterrupt),
    ):
        run_prd_audit(request, client=dying, checkpointer=saver, thread_id=thread)
    with ConfluenceClient(**_env_kwargs(sandbox)) as client:
        assert client.get_page(PRD_ID, body_format=None).version.number == 6

    done = subprocess.run(
        [*_command(), "demo", "--apply"],
        env=_clean_env(**_env(sandbox)),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "write: already applied" in done.stdout
    assert "locate:" not in done.stdout  # resumed at the write, not started over
    with ConfluenceClient(**_env_kwargs(sandbox)) as client:
        page = client.get_page(PRD_ID)
        assert page.version.number == 6  # not 7: the write was not repeated
        assert (page.body_storage or "").count("<h2>Stripe webhook integration</h2>") == 1


def _env_kwargs(sb: SandboxServer) -> dict[str, str]:
    return {"url": sb.url, "email": sb.email, "api_token": sb.api_token}


def test_discover_prints_the_briefing(sandbox: SandboxServer) -> None:
    result = runner.invoke(
        app,
        ["discover", "What are our Datadog logging rules?", "--space", "ENG"],
        env=_env(sandbox),
    )
    assert result.exit_code == 0, result.output
    assert "Datadog logging guidelines" in result.stdout
    assert "Priya Natarajan" in result.stdout


def test_discover_json(sandbox: SandboxServer) -> None:
    result = runner.invoke(
        app, ["discover", "Datadog logging rules", "--space", "ENG", "--json"], env=_env(sandbox)
    )
    assert result.exit_code == 0, result.output
    briefing = json.loads(result.stdout)
    assert briefing["pages"][0]["title"] == "Datadog logging guidelines"
    assert briefing["pages"][0]["author"] == "Priya Natarajan"


def test_sandbox_serve_prints_credentials_and_serves(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    proc = subprocess.Popen(
        [
            *_command(),
            "sandbox",
            "serve",
            "--port",
            "0",
            "--db",
            str(db),
            "--seed",
            "demo",
            "--rate-limit",
            "100",
            "--faults",
            "latency_ms=1,seed=3",
        ],
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        values: dict[str, str] = {}
        for line in proc.stdout:
            key, sep, value = line.strip().partition("=")
            if sep and key.startswith("CONFLUENCE_"):
                values[key] = value
            if line.startswith("Press Ctrl+C"):
                break
        assert {"CONFLUENCE_URL", "CONFLUENCE_EMAIL", "CONFLUENCE_API_TOKEN"} <= set(values)
        response = httpx.get(
            f"{values['CONFLUENCE_URL']}/wiki/api/v2/pages/{PRD_ID}",
            auth=(values["CONFLUENCE_EMAIL"], values["CONFLUENCE_API_TOKEN"]),
            timeout=30,
        )
        assert response.status_code == 200
        assert response.json()["title"] == "Q3 Billing Engine PRD"
        assert db.exists()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_sandbox_serve_unknown_seed_is_one_line() -> None:
    done = subprocess.run(
        [*_command(), "sandbox", "serve", "--seed", "nonsense"],
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
