"""The ``confluence-agent`` command line (typer + rich).

Commands are thin: they parse arguments and call the library (workflows, the audit
engine, the sandbox, the MCP server). Every failure ends as one line on stderr and
exit status 2, never a traceback (set ``CONFLUENCE_AGENT_DEBUG=1`` to see one).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table

from confluence_agent.config import ENV_URL
from confluence_agent.errors import ConfluenceError

__all__ = [
    "CHECKPOINT_DB_ENV",
    "app",
    "default_checkpoint_db",
    "demo_audit_request",
    "main",
    "parse_faults",
    "workflow_thread_id",
]

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
_DEBUG_ENV = "CONFLUENCE_AGENT_DEBUG"
# Values that must never be echoed, even inside an unexpected exception's text.
_SECRET_ENVS = ("CONFLUENCE_API_TOKEN", "CONFLUENCE_BEARER_TOKEN", "CONFLUENCE_MCP_TOKEN")

CHECKPOINT_DB_ENV = "CONFLUENCE_AGENT_CHECKPOINT_DB"
DEMO_TITLE = "Q3 Billing Engine PRD"
DEMO_TOPIC = "Stripe webhook integration"
DEMO_QUESTION = "What are our Datadog logging rules?"
DEMO_SPACE = "ENG"

app = typer.Typer(
    name="confluence-agent",
    help="Search, read, audit and safely update Confluence from the command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sandbox_app = typer.Typer(
    help="The Confluence-compatible sandbox server (SQLite).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(sandbox_app, name="sandbox")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


# ------------------------------------------------------------------------------ errors


def _redact(text: str) -> str:
    for name in _SECRET_ENVS:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def error_line(exc: BaseException) -> str:
    """One line describing ``exc`` for a person (no traceback, no secret)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        text = f"invalid {exc.title} {where}: {first['msg']}".replace(" :", ":")
    elif isinstance(exc, ConfluenceError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
        # Library errors read well as they are; anything else names its type.
        if type(exc).__module__.split(".")[0] not in ("confluence_agent", "builtins"):
            text = f"{type(exc).__name__}: {text}"
    return "error: " + " ".join(_redact(text).split())


def _handled(func: Callable[P, R]) -> Callable[P, R]:
    """Map any exception of a command to one stderr line and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get(_DEBUG_ENV):
                raise
            err.print(error_line(exc), markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


# ------------------------------------------------------------------------------ helpers


def parse_faults(spec: str) -> Any:
    """Parse ``p429=0.1,p503=0.05,latency_ms=20,seed=1`` into a sandbox ``FaultConfig``."""
    from confluence_agent.sandbox import FaultConfig

    try:
        return FaultConfig.parse(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None


def _split(values: list[str] | None) -> list[str] | None:
    # Accept both "--spaces ENG --spaces OPS" and "--spaces ENG,OPS".
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _sandbox_client(sb: Any) -> Any:
    from confluence_agent.client import ConfluenceClient

    return ConfluenceClient(url=sb.url, email=sb.email, api_token=sb.api_token)


@contextmanager
def _client_or_sandbox(use_sandbox: bool, say: Callable[[str], None] = err.print) -> Iterator[Any]:
    """A sync client for ``CONFLUENCE_*``, or for an embedded demo sandbox."""
    from confluence_agent.client import ConfluenceClient
    from confluence_agent.config import ConfluenceConfig

    if use_sandbox:
        from confluence_agent.sandbox import SandboxServer

        with SandboxServer(seed="demo") as sb:
            say(f"Embedded Confluence sandbox (demo data) listening on {sb.url}")
            with _sandbox_client(sb) as client:
                yield client
        return
    with ConfluenceClient(config=ConfluenceConfig.from_env()) as client:
        yield client


def default_checkpoint_db() -> Path:
    """Where workflow runs keep their checkpoints unless told otherwise.

    ``$CONFLUENCE_AGENT_CHECKPOINT_DB``, else ``$XDG_STATE_HOME`` (default
    ``~/.local/state``) ``/confluence-agent/workflows.sqlite``.
    """
    explicit = os.environ.get(CHECKPOINT_DB_ENV)
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state).expanduser() / "confluence-agent" / "workflows.sqlite"


def workflow_thread_id(workflow: str, site: str, request: BaseModel) -> str:
    """Checkpoint thread of a CLI workflow run: the same command on the same site.

    Re-running a command that was killed therefore finds its unfinished thread
    and resumes it (a PRD audit never repeats its write); a finished thread
    simply starts a new run.
    """
    canonical = json.dumps(
        {"site": site.rstrip("/"), "request": request.model_dump(mode="json")}, sort_keys=True
    )
    return f"{workflow}-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


@contextmanager
def _checkpointer(path: Path | None) -> Iterator[Any]:
    """A SQLite checkpointer on ``path`` (``None``: in memory, for a throwaway sandbox)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    target = ":memory:"
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path)
    with SqliteSaver.from_conn_string(target) as saver:
        yield saver


def _checkpoint_option(help_text: str) -> Any:
    return typer.Option(
        "--checkpoint-db",
        envvar=CHECKPOINT_DB_ENV,
        help=help_text + " Default: $XDG_STATE_HOME/confluence-agent/workflows.sqlite.",
        show_default=False,
    )


# ---------------------------------------------------------------------------------- demo


def _print_event(event: Any) -> None:
    if event.phase == "finished":
        out.print(f"  [green]✓[/] {event.detail or event.node}", highlight=False)
    elif event.phase == "interrupted":
        out.print(f"  [yellow]…[/] {event.detail or event.node}")
    elif event.phase == "failed":
        out.print(f"  [red]✗[/] {event.detail or event.node}")


def demo_audit_request(mode: str) -> Any:
    """The PRD audit the demo runs (also what its checkpoint thread is derived from)."""
    from confluence_agent.workflows.prd_audit import PrdAuditInput

    return PrdAuditInput.model_validate({"title": DEMO_TITLE, "topic": DEMO_TOPIC, "mode": mode})


def _run_demo(client: Any, mode: str, checkpointer: Any) -> int:
    from confluence_agent.workflows.docs_discovery import DocsDiscoveryInput, run_docs_discovery
    from confluence_agent.workflows.prd_audit import run_prd_audit

    site = client.config.url
    out.rule(f"1. PRD audit: does {DEMO_TITLE!r} cover {DEMO_TOPIC!r}? (mode: {mode})")
    request = demo_audit_request(mode)
    audit = run_prd_audit(
        request,
        client=client,
        checkpointer=checkpointer,
        thread_id=workflow_thread_id("prd_audit", site, request),
        on_event=_print_event,
    )
    if audit.diff:
        out.print("\nStorage diff:")
        out.print(Syntax(audit.diff, "diff", theme="ansi_dark", word_wrap=True))
    if audit.status == "applied":
        out.print(
            f"\n[bold]{audit.title}[/]: version {audit.version_before} → {audit.version_after} "
            f"(section {audit.section_title!r} added, {audit.request_count} HTTP requests)"
        )
    else:
        out.print(
            f"\n[bold]{audit.title or DEMO_TITLE}[/]: {audit.status}"
            + (f" at version {audit.version_before}" if audit.version_before else "")
            + (f" — {audit.error}" if audit.error else "")
        )

    out.rule(f"2. Docs discovery: {DEMO_QUESTION!r} (space {DEMO_SPACE})")
    question = DocsDiscoveryInput(question=DEMO_QUESTION, spaces=[DEMO_SPACE])
    briefing = run_docs_discovery(
        question,
        client=client,
        checkpointer=checkpointer,
        thread_id=workflow_thread_id("docs_discovery", site, question),
        on_event=_print_event,
    )
    out.print()
    out.print(Markdown(briefing.answer_markdown or briefing.answer or "(no answer)"))
    authors = ", ".join(a.display_name or a.account_id for a in briefing.authors)
    if authors:
        out.print(f"\nWritten by: [bold]{authors}[/]")
    if audit.status == "error" or briefing.error:
        return EXIT_ERROR
    return (
        EXIT_OK if audit.status in ("applied", "covered", "proposed", "missing") else EXIT_FINDINGS
    )


@app.command()
@_handled
def demo(
    apply: Annotated[
        bool,
        typer.Option(
            "--apply", help="With CONFLUENCE_URL set: really write (default: propose only)."
        ),
    ] = False,
    checkpoint_db: Annotated[
        Path | None,
        _checkpoint_option(
            "With CONFLUENCE_URL set: SQLite checkpoints; re-running a killed demo resumes it."
        ),
    ] = None,
) -> None:
    """Run the two demo scenarios (PRD audit + docs discovery).

    Without CONFLUENCE_URL an embedded sandbox with demo data is started and the
    PRD audit writes to it. With CONFLUENCE_URL set nothing is written unless
    --apply is given, and the runs are checkpointed in SQLite.
    """
    if not os.environ.get(ENV_URL):
        out.print(
            f"No {ENV_URL} set: starting the embedded Confluence sandbox (demo data, in memory)."
        )
        # A throwaway server: nothing to resume later, so the checkpoints stay in memory.
        with _client_or_sandbox(True, say=out.print) as client, _checkpointer(None) as saver:
            out.print()
            code = _run_demo(client, "apply", saver)
        raise typer.Exit(code)
    mode = "apply" if apply else "propose"
    if not apply:
        out.print(
            f"{ENV_URL} is set: running in propose mode, nothing will be written "
            "(pass --apply to write)."
        )
    with (
        _client_or_sandbox(False) as client,
        _checkpointer(checkpoint_db or default_checkpoint_db()) as saver,
    ):
        code = _run_demo(client, mode, saver)
    raise typer.Exit(code)


# --------------------------------------------------------------------------------- audit


class AuditMode(StrEnum):
    """Audit modes."""

    check = "check"
    propose = "propose"
    apply = "apply"


def _summary_table(report: Any) -> Table:
    table = Table(title=report.name, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("mode", report.mode)
    table.add_row("pages audited", str(len(report.pages)))
    resumed = sum(1 for p in report.pages if p.resumed)
    if resumed:
        table.add_row("resumed from checkpoint", str(resumed))
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(report.counts.items())) or "none"
    table.add_row("findings", f"{len(report.findings)} ({by_kind})")
    table.add_row("pages written", str(len(report.written)))
    table.add_row("errors", str(len(report.failed) + len(report.errors)))
    table.add_row("HTTP requests", f"{report.requests} (429 received: {report.rate_limited})")
    table.add_row("duration", f"{report.duration_s:.1f} s")
    return table


@app.command()
@_handled
def audit(
    config: Annotated[Path, typer.Argument(help="Audit configuration (TOML).", metavar="CONFIG")],
    mode: Annotated[
        AuditMode, typer.Option(help="check: report; propose: diffs; apply: write.")
    ] = (AuditMode.check),
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the Markdown report here.")] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=64, help="Pages in flight (default: config).")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Journal file: resume an interrupted run, never write twice."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Audit pages in bulk against CONFIG.toml rules.

    A scheduled documentation audit: CQL selections, required topics, stale pages,
    owner labels, old drafts; JSON/Markdown reports; resumable with --checkpoint.

    Exit status: 0 clean, 1 findings (check/propose), 2 errors.
    """
    from confluence_agent.audit import AuditProgress, run_audit
    from confluence_agent.audit_config import load_audit_config

    cfg = load_audit_config(config)
    show_bar = not quiet and err.is_terminal
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not show_bar,
        transient=True,
    )
    task = progress.add_task("auditing", total=0)

    def on_progress(event: AuditProgress) -> None:
        if event.kind == "total":
            progress.update(task, total=(progress.tasks[0].total or 0) + event.count)
        elif event.kind == "page":
            progress.advance(task, event.count)
        elif not quiet:
            err.print(event.detail, markup=False)

    with progress:
        result = run_audit(
            cfg,
            mode=mode.value,
            checkpoint=checkpoint,
            concurrency=concurrency,
            on_progress=on_progress,
        )
    result.write(json_path=report, md_path=markdown)
    out.print(_summary_table(result))
    for page, finding in result.findings[:50]:
        out.print(
            f"  {finding.kind:<15} {finding.action:<9} {page.title} ({page.page_id}): "
            f"{finding.detail}",
            markup=False,
            soft_wrap=True,
        )
    if len(result.findings) > 50:
        out.print(f"  … {len(result.findings) - 50} more in the reports")
    for page in result.failed:
        err.print(f"error: {page.title} ({page.page_id}): {page.error}", markup=False)
    for message in result.errors:
        err.print(f"error: {message}", markup=False)
    raise typer.Exit(result.exit_code)


# ------------------------------------------------------------------------------ discover


@app.command()
@_handled
def discover(
    question: Annotated[str, typer.Argument(help="What you want to know.")],
    space: Annotated[
        list[str] | None, typer.Option("--space", help="Space key to search (repeatable).")
    ] = None,
    max_pages: Annotated[int, typer.Option(min=1, max=10, help="Pages to read.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the briefing as JSON.")] = False,
    sandbox: Annotated[
        bool,
        typer.Option("--sandbox", help="Ask an embedded demo sandbox instead of CONFLUENCE_URL."),
    ] = False,
    checkpoint_db: Annotated[
        Path | None, _checkpoint_option("SQLite checkpoints of the run (not with --sandbox).")
    ] = None,
) -> None:
    """Answer a question from Confluence (briefing with citations)."""
    from confluence_agent.workflows.docs_discovery import DocsDiscoveryInput, run_docs_discovery

    request = DocsDiscoveryInput(question=question, spaces=_split(space) or [], max_pages=max_pages)
    db = None if sandbox else (checkpoint_db or default_checkpoint_db())
    with _client_or_sandbox(sandbox) as client, _checkpointer(db) as saver:
        briefing = run_docs_discovery(
            request,
            client=client,
            checkpointer=saver,
            thread_id=workflow_thread_id("docs_discovery", client.config.url, request),
        )
    if as_json:
        out.print_json(briefing.model_dump_json())
    else:
        out.print(Markdown(briefing.answer_markdown or briefing.answer or "(no answer)"))
        authors = ", ".join(a.display_name or a.account_id for a in briefing.authors)
        if authors:
            out.print(f"\nAuthors: {authors}")
    if briefing.error:
        err.print(f"error: {briefing.error}", markup=False)
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_OK if briefing.pages else EXIT_FINDINGS)


# ------------------------------------------------------------------------------- sandbox


@sandbox_app.command("serve")
@_handled
def sandbox_serve(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port (0: any free port).")
    ] = 8765,
    db: Annotated[str, typer.Option(help="SQLite file (default: in memory).")] = ":memory:",
    seed: Annotated[str, typer.Option(help="demo, synthetic:N or empty.")] = "demo",
    rate_limit: Annotated[
        float | None, typer.Option(min=0.001, help="Requests per second per user.")
    ] = None,
    burst: Annotated[int | None, typer.Option(min=1, help="Token bucket size.")] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Fault injection, e.g. p429=0.1,p503=0.05,latency_ms=20,seed=1"
            " (also p503_after_write: a write is done, then answered 503)."
        ),
    ] = None,
) -> None:
    """Run the sandbox in the foreground (prints URL and credentials)."""
    from confluence_agent.sandbox import serve

    fault_config = parse_faults(faults) if faults else None
    # An unknown seed name raises ValueError before the server starts: one line, exit 2.
    serve(port, db, seed, rate_limit, burst, fault_config)


# ----------------------------------------------------------------------------------- mcp


class Transport(StrEnum):
    """MCP transports."""

    stdio = "stdio"
    http = "http"


@app.command()
@_handled
def mcp(
    transport: Annotated[Transport, typer.Option(help="stdio (local clients) or http.")] = (
        Transport.stdio
    ),
    read_only: Annotated[bool, typer.Option("--read-only", help="Expose read tools only.")] = False,
    tags: Annotated[
        list[str] | None, typer.Option(help="Tool tags to expose (repeatable).")
    ] = None,
    spaces: Annotated[
        list[str] | None, typer.Option(help="Space keys the tools may touch (repeatable).")
    ] = None,
    host: Annotated[str, typer.Option(help="HTTP bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="HTTP port.")] = 8765,
    require_token: Annotated[
        str | None,
        typer.Option(
            help="HTTP bearer token or sha256:<hex> digest; 'env' reads CONFLUENCE_MCP_TOKEN.",
        ),
    ] = None,
    expires_at: Annotated[
        str | None, typer.Option(help="ISO-8601 instant after which every request is refused.")
    ] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option(
            "--allow-unauthenticated",
            help="Permit HTTP on a non-loopback host without a token (not recommended).",
        ),
    ] = False,
) -> None:
    """Serve the Confluence tools over MCP.

    For Claude Desktop, IDEs and agents: stdio for a local client, http (streamable)
    with a bearer token for anything else.
    """
    from confluence_agent.mcp_server import run_mcp_server

    run_mcp_server(
        transport=transport.value,
        host=host,
        port=port,
        read_only=read_only,
        tags=_split(tags),
        spaces=_split(spaces),
        require_token=require_token,
        expires_at=expires_at,
        allow_unauthenticated=allow_unauthenticated,
    )


# ---------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="confluence-agent")


if __name__ == "__main__":  # pragma: no cover
    main()
