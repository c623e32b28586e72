"""PRD audit workflow against the demo sandbox (real HTTP over loopback)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from confluence_agent.workflows.common import ProgressEvent, WorkflowContext
from confluence_agent.workflows.prd_audit import (
    PrdAuditInput,
    build_prd_audit_graph,
    run_prd_audit,
)
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from confluence_agent import storage
from confluence_agent.client import ConfluenceClient
from confluence_agent.errors import ConnectionFailed
from confluence_agent.models import Page
from confluence_agent.sandbox import SandboxServer

PRD_ID = "998877"
PRD_TITLE = "Q3 Billing Engine PRD"
TOPIC = "Stripe webhook integration"
HUMAN_TEXT = "Edited in the browser by a teammate while you were working."


class ToolCallingFake(GenericFakeChatModel):
    """Scripted chat model that accepts ``bind_tools`` (structured output)."""

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kw: Any) -> Any:
        return self


def _request(**overrides: Any) -> PrdAuditInput:
    base: dict[str, Any] = {"title": PRD_TITLE, "space_key": "PROD", "topic": TOPIC}
    base.update(overrides)
    return PrdAuditInput.model_validate(base)


@pytest.fixture
def client(confluence_sandbox: SandboxServer) -> Iterator[ConfluenceClient]:
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as c:
        yield c


def _page(client: ConfluenceClient) -> Page:
    return client.get_page(PRD_ID, body_format="storage")


def _puts(sb: SandboxServer) -> int:
    return sum(n for route, n in sb.stats.by_route.items() if route.startswith("PUT"))


def test_check_mode_never_writes(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    result = run_prd_audit(_request(mode="check"), client=client)
    assert result.status == "missing"
    assert result.page_id == PRD_ID
    assert result.covered is False
    assert result.version_before == 5
    # search + read, nothing else: no PUT was sent
    assert result.request_count == 2
    assert _puts(confluence_sandbox) == 0
    assert _page(client).version.number == 5


def test_propose_mode_drafts_without_writing(client: ConfluenceClient) -> None:
    result = run_prd_audit(_request(mode="propose"), client=client)
    assert result.status == "proposed"
    assert f"<h2>{TOPIC}</h2>" in result.diff
    assert result.request_count == 2
    assert _page(client).version.number == 5


def test_apply_adds_section_keeps_macros_and_is_idempotent(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    before = _page(client).body_storage or ""
    events: list[ProgressEvent] = []
    sent, served = client.stats.requests, confluence_sandbox.stats.requests
    result = run_prd_audit(_request(mode="apply"), client=client, on_event=events.append)
    assert result.status == "applied", result.error
    assert (result.version_before, result.version_after) == (5, 6)
    assert result.verified is True
    # search, read, PUT (based on that read, not a second one), verification read
    assert result.request_count == 4
    assert client.stats.requests - sent == 4
    assert confluence_sandbox.stats.requests - served == 4
    write = next(e for e in events if e.node == "write" and e.phase == "finished")
    assert write.requests == 1
    after = _page(client).body_storage or ""
    assert storage.find_section(after, TOPIC) is not None
    assert storage.check_preserved(before, after, (TOPIC,)) == []
    # Every macro, mention, link and image of version 5 is still there, byte-for-byte.
    macros_before = Counter(e.canonical for e in storage.inventory(before))
    macros_after = Counter(e.canonical for e in storage.inventory(after))
    assert macros_before
    assert macros_before <= macros_after
    nodes = [e.node for e in events if e.phase == "finished"]
    assert nodes == ["locate", "read", "assess", "draft", "review", "write", "verify"]

    again = run_prd_audit(_request(mode="apply"), client=client)
    assert again.status == "covered"
    assert again.version_after == 6
    assert again.request_count == 2
    assert _puts(confluence_sandbox) == 1
    assert _page(client).version.number == 6


def test_survives_concurrent_human_edit(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    confluence_sandbox.arm_concurrent_edit(PRD_ID)
    result = run_prd_audit(_request(mode="apply"), client=client)
    assert result.status == "applied", result.error
    assert result.conflicts >= 1
    assert result.version_after == 7  # the human's 6, then ours
    body = _page(client).body_storage or ""
    assert HUMAN_TEXT in body
    assert storage.find_section(body, TOPIC) is not None


def test_survives_injected_429s(confluence_sandbox_factory: Any) -> None:
    from confluence_agent.sandbox import FaultConfig

    sb = confluence_sandbox_factory(seed="demo", faults=FaultConfig(p429=0.4, seed=7))
    with ConfluenceClient(**sb.client_kwargs()) as c:
        result = run_prd_audit(_request(mode="apply"), client=c)
        assert result.status == "applied", result.error
        assert c.stats.rate_limited > 0
        assert result.request_count > 5  # retries are counted
        page = c.get_page(PRD_ID, body_format="storage")
    assert page.version.number == 6
    assert storage.find_section(page.body_storage or "", TOPIC) is not None


def test_ambiguous_and_not_found(client: ConfluenceClient) -> None:
    amb = run_prd_audit(_request(title="Billing", mode="apply"), client=client)
    assert amb.status == "ambiguous"
    assert {c.title for c in amb.candidates} >= {PRD_TITLE, "Billing glossary"}
    assert amb.page_id is None
    missing = run_prd_audit(_request(title="No such page anywhere"), client=client)
    assert missing.status == "not_found"
    assert _page(client).version.number == 5


def test_exact_title_wins_over_partial_matches(client: ConfluenceClient) -> None:
    result = run_prd_audit(_request(title="Q3 Billing Engine PRD", space_key=None), client=client)
    assert result.page_id == PRD_ID
    assert result.candidates[0].exact_title


def test_with_scripted_model(client: ConfluenceClient) -> None:
    model = ToolCallingFake(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": "CoverageAssessment",
                            "args": {
                                "covered": False,
                                "evidence": [],
                                "missing_points": ["webhook signature checks", "retries"],
                            },
                            "id": "call_1",
                            "type": "tool_call",
                        }
                    ],
                ),
                AIMessage(
                    content="```markdown\nVerify the `Stripe-Signature` header on every "
                    "webhook.\n\n- Retry with backoff for 3 days\n```"
                ),
            ]
        )
    )
    result = run_prd_audit(_request(mode="apply"), client=client, model=model)
    assert result.status == "applied", result.error
    assert result.assessed_by == "model"
    assert result.missing_points == ["webhook signature checks", "retries"]
    body = _page(client).body_storage or ""
    assert "Stripe-Signature" in body and "```" not in body
    # Second run: the heading is found before any model call (the fake is exhausted).
    again = run_prd_audit(_request(mode="apply"), client=client, model=model)
    assert again.status == "covered"
    assert again.assessed_by == "heading"


class _CrashAfterPut(ConfluenceClient):
    """A client whose process 'dies' right after the PUT reached the server."""

    def update_page(self, *args: Any, **kwargs: Any) -> Page:
        super().update_page(*args, **kwargs)
        raise KeyboardInterrupt("killed after the write")


def test_crash_after_write_resumes_without_second_write(
    confluence_sandbox: SandboxServer, client: ConfluenceClient, tmp_path: Path
) -> None:
    db = str(tmp_path / "audit.sqlite")
    with (
        SqliteSaver.from_conn_string(db) as cp,
        _CrashAfterPut(**confluence_sandbox.client_kwargs()) as crashing,
        pytest.raises(KeyboardInterrupt),
    ):
        run_prd_audit(_request(mode="apply"), client=crashing, checkpointer=cp, thread_id="t1")
    assert _page(client).version.number == 6  # the write landed before the "crash"
    with SqliteSaver.from_conn_string(db) as cp:
        result = run_prd_audit(None, client=client, checkpointer=cp, thread_id="t1")
    assert result.status == "applied", result.error
    assert result.already_applied is True
    assert result.version_after == 6  # not 7: nothing written twice
    body = _page(client).body_storage or ""
    assert storage.find_section(body, TOPIC) is not None


def test_stop_after_write_resumes_in_new_graph(client: ConfluenceClient, tmp_path: Path) -> None:
    db = str(tmp_path / "audit.sqlite")
    cfg: Any = {"configurable": {"thread_id": "t2"}}
    ctx = WorkflowContext(client=client)
    payload = {"request": _request(mode="apply").model_dump()}
    with SqliteSaver.from_conn_string(db) as cp:
        first = build_prd_audit_graph().compile(checkpointer=cp, interrupt_after=["write"])
        first.invoke(payload, cfg, context=ctx)
        assert first.get_state(cfg).next == ("verify",)
    assert _page(client).version.number == 6
    with SqliteSaver.from_conn_string(db) as cp:
        # A brand-new graph instance and saver on the same file, same thread id.
        out = build_prd_audit_graph().compile(checkpointer=cp).invoke(None, cfg, context=ctx)
    assert out["status"] == "applied"
    assert out["version_after"] == 6
    assert _page(client).version.number == 6


_RESUME_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from langgraph.checkpoint.sqlite import SqliteSaver
    from confluence_agent.client import ConfluenceClient
    from confluence_agent.workflows.prd_audit import run_prd_audit

    kwargs, db, thread, approved = json.loads(sys.argv[1])
    with SqliteSaver.from_conn_string(db) as cp, ConfluenceClient(**kwargs) as client:
        result = run_prd_audit(
            None, client=client, checkpointer=cp, thread_id=thread,
            resume={"approved": approved},
        )
    print(result.model_dump_json())
    """
)


def _resume_in_subprocess(sb: SandboxServer, db: str, thread: str, approved: bool) -> Any:
    kwargs = {k: str(v) if v is not None else None for k, v in sb.client_kwargs().items()}
    proc = subprocess.run(
        [sys.executable, "-c", _RESUME_SCRIPT, json.dumps([kwargs, db, thread, approved])],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_approval_interrupt_and_resume_in_fresh_process(
    confluence_sandbox: SandboxServer, client: ConfluenceClient, tmp_path: Path
) -> None:
    db = str(tmp_path / "audit.sqlite")
    with SqliteSaver.from_conn_string(db) as cp:
        paused = run_prd_audit(
            _request(mode="apply", require_approval=True),
            client=client,
            checkpointer=cp,
            thread_id="approve-1",
        )
    assert paused.status == "awaiting_approval"
    assert paused.pending_approval is not None
    assert TOPIC in paused.pending_approval["diff"]
    assert _page(client).version.number == 5

    result = _resume_in_subprocess(confluence_sandbox, db, "approve-1", True)
    assert result["status"] == "applied", result
    assert result["version_after"] == 6
    assert _page(client).version.number == 6


def test_rejection_writes_nothing(client: ConfluenceClient, tmp_path: Path) -> None:
    db = str(tmp_path / "audit.sqlite")
    with SqliteSaver.from_conn_string(db) as cp:
        paused = run_prd_audit(
            _request(mode="apply", require_approval=True),
            client=client,
            checkpointer=cp,
            thread_id="reject-1",
        )
        assert paused.status == "awaiting_approval"
        # Re-sending the same request does not restart: still waiting.
        again = run_prd_audit(
            _request(mode="apply", require_approval=True),
            client=client,
            checkpointer=cp,
            thread_id="reject-1",
        )
        assert again.status == "awaiting_approval"
        assert again.request_count == paused.request_count
    with SqliteSaver.from_conn_string(db) as cp:
        result = run_prd_audit(
            None, client=client, checkpointer=cp, thread_id="reject-1", resume={"approved": False}
        )
    assert result.status == "rejected"
    assert _page(client).version.number == 5


def test_stream_custom_events(client: ConfluenceClient) -> None:
    compiled = build_prd_audit_graph(client=client).compile()
    chunks = list(
        compiled.stream(
            {"request": _request(mode="check").model_dump()},
            stream_mode=["updates", "custom"],
        )
    )
    custom = [c for mode, c in chunks if mode == "custom"]
    updates = [c for mode, c in chunks if mode == "updates"]
    assert [(e["node"], e["phase"]) for e in custom][:2] == [
        ("locate", "started"),
        ("locate", "finished"),
    ]
    assert [next(iter(u)) for u in updates] == ["locate", "read", "assess"]


def test_exported_graph_uses_env_config(
    confluence_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``langgraph dev`` runs: the module graph, no context, CONFLUENCE_* from env."""
    from confluence_agent.workflows import common
    from confluence_agent.workflows.prd_audit import graph

    kwargs = confluence_sandbox.client_kwargs()
    monkeypatch.setenv("CONFLUENCE_URL", kwargs["url"])
    monkeypatch.setenv("CONFLUENCE_EMAIL", kwargs["email"])
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", kwargs["api_token"])
    monkeypatch.setattr(common, "_ENV_CLIENT", None)
    try:
        out = graph.invoke({"request": _request(mode="check").model_dump()})
    finally:
        if common._ENV_CLIENT is not None:
            common._ENV_CLIENT.close()
    assert out["status"] == "missing"
    assert out["page_id"] == PRD_ID


async def test_async_variant(client: ConfluenceClient) -> None:
    from confluence_agent.workflows.prd_audit import arun_prd_audit
    from langgraph.checkpoint.memory import InMemorySaver

    result = await arun_prd_audit(
        _request(mode="apply"), client=client, checkpointer=InMemorySaver()
    )
    assert result.status == "applied", result.error
    assert result.version_after == 6
    assert result.thread_id


class _FailAfterPut(ConfluenceClient):
    """The PUT reaches the server, then the connection drops (a transient error)."""

    def update_page(self, *args: Any, **kwargs: Any) -> Page:
        super().update_page(*args, **kwargs)
        raise ConnectionFailed("connection reset after the write", request_sent=True)


async def test_async_resending_the_request_resumes_the_unfinished_run(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    from confluence_agent.workflows.prd_audit import arun_prd_audit
    from langgraph.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    with (
        _FailAfterPut(**confluence_sandbox.client_kwargs()) as failing,
        pytest.raises(ConnectionFailed),
    ):
        await arun_prd_audit(
            _request(mode="apply"), client=failing, checkpointer=saver, thread_id="a1"
        )
    assert _page(client).version.number == 6  # the write landed

    # The same request again: resumed at the write, not started over.
    sent = client.stats.requests
    result = await arun_prd_audit(
        _request(mode="apply"), client=client, checkpointer=saver, thread_id="a1"
    )
    assert result.status == "applied", result.error
    assert result.already_applied is True
    assert result.version_after == 6
    nodes = [step.split(":")[0].split(" ")[0] for step in result.steps]
    assert nodes == ["locate", "read", "assess", "draft", "review", "write", "verify"]
    # No search or read again: the stale copy's PUT is refused (409), the
    # re-read finds the section, then the verification read.
    assert client.stats.requests - sent == 3
    assert _page(client).version.number == 6


async def test_async_resending_the_request_while_awaiting_approval_reports_it(
    client: ConfluenceClient,
) -> None:
    from confluence_agent.workflows.prd_audit import arun_prd_audit
    from langgraph.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    request = _request(mode="apply", require_approval=True)
    paused = await arun_prd_audit(request, client=client, checkpointer=saver, thread_id="a2")
    assert paused.status == "awaiting_approval"
    sent = client.stats.requests
    again = await arun_prd_audit(request, client=client, checkpointer=saver, thread_id="a2")
    assert again.status == "awaiting_approval"
    assert again.pending_approval == paused.pending_approval
    assert client.stats.requests == sent  # not restarted: nothing searched or read
    done = await arun_prd_audit(
        None, client=client, checkpointer=saver, thread_id="a2", resume={"approved": True}
    )
    assert done.status == "applied", done.error
    assert _page(client).version.number == 6


class _HumanEditsFirst(ConfluenceClient):
    """Before each of our PUTs a person saves a new version (``human_edit`` on the store)."""

    def __init__(self, sandbox: SandboxServer, fragments: list[str]) -> None:
        super().__init__(**sandbox.client_kwargs())
        self._sandbox = sandbox
        self._fragments = fragments

    def update_page(self, *args: Any, **kwargs: Any) -> Page:
        if self._fragments:
            self._sandbox.human_edit(PRD_ID, self._fragments.pop(0))
        return super().update_page(*args, **kwargs)


def test_conflict_reassesses_and_keeps_a_human_edit_that_covers_the_topic(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    covering = "<p>Stripe webhook integration: events are verified and deduplicated by id.</p>"
    with _HumanEditsFirst(confluence_sandbox, [covering]) as racing:
        result = run_prd_audit(_request(mode="apply"), client=racing)
    assert result.status == "covered", result.error
    assert result.conflicts == 1
    assert result.assessed_by == "matcher"
    assert any("deduplicated by id" in e for e in result.evidence)
    assert result.version_after == 6  # the person's version; ours was never sent again
    page = _page(client)
    assert page.version.number == 6
    assert storage.find_section(page.body_storage or "", TOPIC) is None


def test_conflicts_are_bounded_and_nothing_is_lost(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    edits = [f"<p>Teammate edit {i}.</p>" for i in range(3)]
    with _HumanEditsFirst(confluence_sandbox, list(edits)) as racing:
        result = run_prd_audit(_request(mode="apply", max_conflict_retries=1), client=racing)
    assert result.status == "error"
    assert result.error is not None and "gave up after 2 version conflict(s)" in result.error
    assert _puts(confluence_sandbox) == 2  # both refused with a 409
    page = _page(client)
    assert page.version.number == 7  # the two human edits, nothing of ours
    assert all(e in (page.body_storage or "") for e in edits[:2])
    assert storage.find_section(page.body_storage or "", TOPIC) is None


def test_locate_by_cql_is_restricted_to_the_space(client: ConfluenceClient) -> None:
    cql = 'title ~ "Q3 Billing Engine PRD" OR title ~ "Incident response runbook"'
    # Two pages in two spaces: reported, not guessed.
    wide = run_prd_audit(_request(title=None, cql=cql, space_key=None), client=client)
    assert wide.status == "ambiguous"
    assert {c.space_key for c in wide.candidates} == {"PROD", "SEC"}
    # The same CQL within PROD: one page.
    narrowed = run_prd_audit(_request(title=None, cql=cql, space_key="PROD"), client=client)
    assert narrowed.status == "missing", narrowed.error
    assert narrowed.page_id == PRD_ID
    assert [c.space_key for c in narrowed.candidates] == ["PROD"]


def test_invalid_cql_is_refused_before_sending(
    confluence_sandbox: SandboxServer, client: ConfluenceClient
) -> None:
    served = confluence_sandbox.stats.requests
    result = run_prd_audit(_request(title=None, cql='title ~ "unterminated'), client=client)
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("invalid CQL")
    assert confluence_sandbox.stats.requests == served


def test_page_id_and_given_section_text(client: ConfluenceClient) -> None:
    text = "## Payment webhooks\n\nStripe posts signed events to `POST /webhooks/stripe`."
    result = run_prd_audit(
        _request(title=None, page_id=PRD_ID, mode="apply", section_markdown=text), client=client
    )
    assert result.status == "applied", result.error
    assert result.section_title == "Payment webhooks"
    assert result.request_count == 3  # no search: read, PUT, verification read
    section = storage.find_section(_page(client).body_storage or "", "Payment webhooks")
    assert section is not None


def _assessment(covered: bool, evidence: list[str]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[
            {
                "name": "CoverageAssessment",
                "args": {"covered": covered, "evidence": evidence, "missing_points": []},
                "id": "call_1",
                "type": "tool_call",
            }
        ],
    )


def test_model_quotes_must_be_on_the_page(client: ConfluenceClient) -> None:
    real = "Invoices issued within 5 minutes of a billing cycle closing."
    model = ToolCallingFake(
        messages=iter(
            [
                _assessment(True, [real, "Stripe webhooks are verified with HMAC."]),
                _assessment(True, ["Stripe webhooks are verified with HMAC."]),
            ]
        )
    )
    trusted = run_prd_audit(
        _request(mode="check", topic="invoice timing"), client=client, model=model
    )
    assert (trusted.status, trusted.assessed_by) == ("covered", "model")
    assert trusted.evidence == [real]  # the invented quote is dropped
    # A "covered" claim backed by no quote from the page is not trusted.
    unbacked = run_prd_audit(_request(mode="check"), client=client, model=model)
    assert unbacked.status == "missing"
    assert unbacked.assessed_by.startswith("matcher")
