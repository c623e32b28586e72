"""CLI surface without a server: --help everywhere, argument parsing, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from confluence_agent.cli import (
    CHECKPOINT_DB_ENV,
    app,
    default_checkpoint_db,
    demo_audit_request,
    error_line,
    parse_faults,
    workflow_thread_id,
)
from confluence_agent.errors import ConfigurationError, NotFound
from confluence_agent.sandbox import FaultConfig

runner = CliRunner()
COMMANDS = [[], ["demo"], ["audit"], ["discover"], ["sandbox"], ["sandbox", "serve"], ["mcp"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help_works_for_every_command(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_root_help_lists_commands() -> None:
    output = runner.invoke(app, ["--help"]).output
    for name in ("demo", "audit", "discover", "sandbox", "mcp"):
        assert name in output


def test_parse_faults() -> None:
    assert parse_faults("p429=0.1,p503=0.05,latency_ms=20,seed=1") == FaultConfig(0.1, 0.05, 20, 1)
    assert parse_faults("p429=0.5") == FaultConfig(p429=0.5)
    assert parse_faults("p503_after_write=1") == FaultConfig(p503_after_write=1.0)
    for bad in ("p999=1", "p429", "p429=abc", "p503=2"):
        with pytest.raises(typer.BadParameter):
            parse_faults(bad)


def test_error_line_is_one_line_and_redacts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", "s3cr3t-token-value")
    assert error_line(NotFound("Page 1\nnot found", status_code=404)) == "error: Page 1 not found"
    line = error_line(RuntimeError("failed with s3cr3t-token-value inside"))
    assert "s3cr3t" not in line and "***" in line and "\n" not in line
    assert error_line(FileNotFoundError(2, "No such file or directory", "x.toml")) == (
        "error: No such file or directory: x.toml"
    )
    assert error_line(ConfigurationError("No Confluence URL")) == "error: No Confluence URL"


def test_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: cannot read audit config")
    assert "Traceback" not in result.output


def test_invalid_cql_in_config_is_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('[[rules]]\nname = "r"\ncql = \'space = "ENG" and\'\n')
    result = runner.invoke(app, ["audit", str(cfg)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "rules.0.cql" in lines[0] and "invalid CQL" in lines[0]


def test_discover_without_url_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFLUENCE_URL", raising=False)
    result = runner.invoke(app, ["discover", "anything"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: No Confluence URL: set CONFLUENCE_URL or pass url=."


def test_mcp_token_on_stdio_is_one_line() -> None:
    result = runner.invoke(app, ["mcp", "--transport", "stdio", "--require-token", "abc"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "stdio" in lines[0]


def test_bad_faults_option_exits_2() -> None:
    result = runner.invoke(app, ["sandbox", "serve", "--faults", "p999=1"])
    assert result.exit_code == 2
    assert "p999" in result.output


def test_unknown_audit_mode_is_a_usage_error() -> None:
    result = runner.invoke(app, ["audit", "x.toml", "--mode", "delete"])
    assert result.exit_code == 2


def test_checkpoint_db_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CHECKPOINT_DB_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_checkpoint_db() == tmp_path / "confluence-agent" / "workflows.sqlite"
    monkeypatch.setenv(CHECKPOINT_DB_ENV, str(tmp_path / "x.sqlite"))
    assert default_checkpoint_db() == tmp_path / "x.sqlite"


def test_thread_id_is_the_same_command_on_the_same_site() -> None:
    apply, propose = demo_audit_request("apply"), demo_audit_request("propose")
    one = workflow_thread_id("prd_audit", "https://a.atlassian.net/", apply)
    assert one == workflow_thread_id("prd_audit", "https://a.atlassian.net", apply)
    assert one.startswith("prd_audit-")
    assert one != workflow_thread_id("prd_audit", "https://b.atlassian.net", apply)
    assert one != workflow_thread_id("prd_audit", "https://a.atlassian.net", propose)


def test_mcp_refuses_an_open_http_server_off_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFLUENCE_MCP_TOKEN", raising=False)
    monkeypatch.setenv("CONFLUENCE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CONFLUENCE_EMAIL", "a@example.com")
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", "not-used")
    result = runner.invoke(app, ["mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "without a bearer token" in result.output
