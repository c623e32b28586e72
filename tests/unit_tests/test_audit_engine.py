"""The pure parts of the audit engine: page audit, prefilter, journal, report, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluence_agent.workflows.matching import match_topic

from confluence_agent import storage
from confluence_agent.audit import AuditItem, AuditJournal, _may_cover, _squash, audit_page
from confluence_agent.audit_config import AuditRule, AuditSettings, parse_audit_config
from confluence_agent.audit_report import AuditReport, Finding, PageAudit
from confluence_agent.errors import ConfigurationError
from confluence_agent.models import SearchResult
from confluence_agent.sandbox.seed import load_seed

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SETTINGS = AuditSettings()
BODY = (
    "<h2>Overview</h2><p>The billing engine charges customers monthly.</p>"
    "<h2>Payments</h2><p>We receive Stripe webhooks for every invoice integration event.</p>"
)


def _item(
    body: str = BODY, *, labels: tuple[str, ...] = ("owner-team-x",), modified: datetime = NOW
) -> AuditItem:
    return AuditItem(
        rule="r",
        page_id="1",
        title="PRD",
        version=5,
        body=body,
        labels=labels,
        space_key="PROD",
        url="http://x/1",
        last_modified=modified,
    )


def _rule(**kw: object) -> AuditRule:
    return AuditRule.model_validate({"name": "r", "cql": "type = page", **kw})


def test_covered_topic_has_no_finding() -> None:
    result, ops = audit_page(
        _item(), _rule(topics=[{"topic": "Stripe webhook integration"}]), SETTINGS, now=NOW
    )
    assert result.status == "clean" and result.findings == [] and ops == []


def test_missing_topic_yields_append_op_and_propose_diff() -> None:
    rule = _rule(topics=[{"topic": "Disaster recovery", "section": "Restore from backups."}])
    result, ops = audit_page(_item(), rule, SETTINGS, now=NOW, mode="propose")
    assert [f.kind for f in result.findings] == ["missing_topic"]
    assert result.findings[0].action == "proposed"
    assert ops[0].kind == "append_section" and ops[0].title == "Disaster recovery"
    assert "+<h2>Disaster recovery</h2>" in result.diff
    check, _ = audit_page(_item(), rule, SETTINGS, now=NOW, mode="check")
    assert check.diff == "" and check.findings[0].action == "reported"


def test_existing_heading_counts_as_covered_and_resume_reports_applied() -> None:
    body = BODY + "<h2>Disaster recovery</h2><p>x</p>"
    rule = _rule(topics=[{"topic": "Disaster recovery"}])
    fresh, _ = audit_page(_item(body), rule, SETTINGS, now=NOW)
    assert fresh.findings == []
    resumed, ops = audit_page(
        _item(body), rule, SETTINGS, now=NOW, written_before=["Disaster recovery"]
    )
    assert ops == []
    assert resumed.status == "fixed" and resumed.findings[0].action == "applied"
    assert resumed.version_after == 5


def test_stale_and_owner_label_checks() -> None:
    rule = _rule(stale_after_days=30, require_owner_label=True)
    old = _item(labels=("prd",), modified=NOW - timedelta(days=45))
    result, _ = audit_page(old, rule, SETTINGS, now=NOW)
    assert sorted(f.kind for f in result.findings) == ["no_owner_label", "stale"]
    fresh, _ = audit_page(_item(modified=NOW - timedelta(days=10)), rule, SETTINGS, now=NOW)
    assert fresh.findings == []
    custom = AuditSettings(owner_label_prefix="team:")
    labelled, _ = audit_page(_item(labels=("team:sre",)), rule, custom, now=NOW)
    assert labelled.findings == []


def test_unparseable_body_is_a_page_error() -> None:
    result, ops = audit_page(
        _item("<p>unclosed"), _rule(topics=[{"topic": "x y"}]), SETTINGS, now=NOW
    )
    assert result.status == "error" and "parse" in (result.error or "") and ops == []


def test_prefilter_never_rejects_what_the_matcher_accepts() -> None:
    # Soundness of the cheap prefilter over every demo page and a set of topics.
    topics = [
        "Stripe webhook integration",
        "Datadog logging",
        "web hook",
        "Kafka retention",
        "structured JSON logs",
        "on-call rotation",
        "rollback steps",
        "PII in logs",
    ]
    seed = load_seed("demo")
    checked = 0
    for page in seed.pages:
        body = page.versions[-1].body
        headings = [s.title for s in storage.list_sections(body)]
        text = storage.to_text(body)
        squashed = _squash(text + " " + " ".join(headings))
        for topic in topics:
            if match_topic(topic, text, headings).covered:
                checked += 1
                assert _may_cover(topic, squashed), (page.title, topic)
    assert checked > 0


def test_item_from_search_reads_bulk_fields() -> None:
    hit = SearchResult.model_validate(
        {
            "content": {
                "id": "7",
                "type": "page",
                "title": "T",
                "space": {"key": "ENG"},
                "version": {"number": 3, "when": "2026-01-01T00:00:00Z"},
                "body": {"storage": {"value": "<p>b</p>"}},
                "metadata": {"labels": {"results": [{"name": "owner-a"}, {"name": "x"}]}},
            },
            "title": "T",
            "lastModified": "2026-02-01T00:00:00Z",
            "url": "/spaces/ENG/pages/7",
        }
    )
    item = AuditItem.from_search("r", hit)
    assert item is not None
    assert (item.page_id, item.version, item.body, item.space_key) == ("7", 3, "<p>b</p>", "ENG")
    assert item.labels == ("owner-a", "x")
    assert item.last_modified == datetime(2026, 2, 1, tzinfo=UTC)
    space_hit = SearchResult.model_validate({"space": {"key": "ENG"}, "title": "ENG"})
    assert AuditItem.from_search("r", space_hit) is None


def test_journal_resume_reset_and_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    page = PageAudit(
        rule="r",
        page_id="1",
        title="P",
        status="findings",
        findings=[Finding(kind="stale", detail="old")],
    )
    with AuditJournal.open(path, "fp1") as journal:
        assert journal.resumed == 0
        journal.record_intent("r", "2", ["Section"], 4)
        journal.record(page)
    with AuditJournal.open(path, "fp1") as journal:
        assert journal.resumed == 1
        done = journal.done("r", "1")
        assert done is not None and done.resumed and done.findings[0].detail == "old"
        assert journal.done("r", "2") is None
        assert journal.intended("r", "2") == ["Section"]
    with pytest.raises(ConfigurationError, match="another config or mode"):
        AuditJournal.open(path, "fp2")
    with AuditJournal.open(path, "fp1") as journal:
        journal.complete()
    with AuditJournal.open(path, "fp2") as journal:  # completed: a new run starts afresh
        assert journal.resumed == 0 and journal.intended("r", "2") == []


def test_journal_rejects_a_non_journal_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not sqlite at all, just some text that is long enough" * 20)
    with pytest.raises(ConfigurationError, match="not an audit journal"):
        AuditJournal.open(path, "fp")


def _report(mode: str, *pages: PageAudit, errors: list[str] | None = None) -> AuditReport:
    return AuditReport(
        name="Audit",
        mode=mode,
        started_at=NOW,  # type: ignore[arg-type]
        pages=list(pages),
        errors=errors or [],
    )


def test_exit_codes() -> None:
    clean = PageAudit(rule="r", page_id="1", title="A")
    finding = PageAudit(
        rule="r",
        page_id="2",
        title="B",
        status="findings",
        findings=[Finding(kind="stale", detail="old")],
    )
    failed = PageAudit(rule="r", page_id="3", title="C", status="error", error="boom")
    assert _report("check", clean).exit_code == 0
    assert _report("check", clean, finding).exit_code == 1
    assert _report("propose", finding).exit_code == 1
    assert _report("apply", finding).exit_code == 0
    assert _report("apply", failed).exit_code == 2
    assert _report("check", clean, errors=["rule 'r': 500"]).exit_code == 2


def test_reports_json_and_markdown(tmp_path: Path) -> None:
    written = PageAudit(
        rule="prds",
        page_id="9",
        title="PRD | Q3",
        url="http://x/9",
        version=5,
        version_after=6,
        status="fixed",
        diff="+<h2>S</h2>",
        findings=[
            Finding(kind="missing_topic", topic="S", detail="does not cover 'S'", action="applied")
        ],
    )
    report = _report("apply", written)
    report.write(json_path=tmp_path / "r.json", md_path=tmp_path / "r.md")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["summary"]["written"] == 1 and data["summary"]["exit_code"] == 0
    assert data["pages"][0]["version_after"] == 6
    md = (tmp_path / "r.md").read_text()
    assert "## Rule `prds`" in md
    assert "[PRD \\| Q3](http://x/9)" in md
    assert "version 5 → 6" in md and "```diff" in md


def test_parse_config_used_by_engine_has_rules_by_name() -> None:
    config = parse_audit_config({"rules": [{"name": "a", "cql": "type = page"}]})
    assert config.rules[0].name == "a"
