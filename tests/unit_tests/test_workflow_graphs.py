"""Workflow wiring that needs no server: exports, langgraph.json, inputs, pure helpers."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluence_agent.workflows.common import strip_fences, strip_highlight
from confluence_agent.workflows.cqlutil import page_search_cql, question_terms, text_search_cql
from confluence_agent.workflows.docs_discovery import _extract, _section_chunks
from confluence_agent.workflows.prd_audit import (
    PrdAuditInput,
    _drop_leading_heading,
    _section_title,
)
from pydantic import ValidationError

from confluence_agent import storage
from confluence_agent.sandbox.seed_demo_pages import datadog_body

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_points_at_importable_uncheckpointed_graphs() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert set(config["graphs"]) == {"prd_audit", "docs_discovery"}
    for spec in config["graphs"].values():
        module_name, attr = spec.split(":")
        assert "/" not in module_name  # module syntax, never a file path
        graph = getattr(importlib.import_module(module_name), attr)
        assert graph.checkpointer is None


def test_import_needs_no_credentials() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFLUENCE_")}
    code = (
        "import confluence_agent.workflows.prd_audit as a, "
        "confluence_agent.workflows.docs_discovery as d; "
        "print(sorted(a.graph.get_graph().nodes), sorted(d.graph.get_graph().nodes))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "'locate'" in proc.stdout and "'verify'" in proc.stdout
    assert "'build_query'" in proc.stdout and "'authors'" in proc.stdout


def test_graph_shapes() -> None:
    from confluence_agent.workflows.docs_discovery import graph as discovery
    from confluence_agent.workflows.prd_audit import graph as audit

    audit_edges = {(e.source, e.target) for e in audit.get_graph().edges}
    for a, b in [("locate", "read"), ("review", "write"), ("write", "verify")]:
        assert (a, b) in audit_edges
    assert ("locate", "__end__") in audit_edges  # ambiguous / not found stop early
    mermaid = discovery.get_graph().draw_mermaid()
    assert "summarise" in mermaid


def test_input_needs_a_locator() -> None:
    with pytest.raises(ValidationError):
        PrdAuditInput(topic="x")
    assert PrdAuditInput(topic="x", page_id="1").mode == "check"


def test_section_title_sources() -> None:
    assert _section_title(PrdAuditInput(topic="stripe webhooks", page_id="1")) == "Stripe webhooks"
    given = PrdAuditInput(topic="t", page_id="1", section_markdown="## Payments hooks\n\nBody")
    assert _section_title(given) == "Payments hooks"
    assert _drop_leading_heading("## Payments hooks\n\nBody") == "Body"


def test_cql_is_built_and_escaped() -> None:
    assert question_terms("What are our Datadog logging rules?") == ["datadog", "logging", "rules"]
    cql = page_search_cql(title='Q3 "PRD"', space_keys=["PROD"])
    assert cql == 'type = "page" AND title ~ "Q3 \\"PRD\\"" AND space = "PROD"'
    assert text_search_cql(["a", "b"], space_keys=["ENG", "OPS"]).endswith(
        'AND space IN ("ENG", "OPS")'
    )


def test_extractive_summary_takes_the_rules_section() -> None:
    page = {"id": "665544", "title": "Datadog logging guidelines", "body": datadog_body(3)}
    headings = [h for h, _ in _section_chunks(page["body"])]
    assert "Rules" in headings
    quotes = [q for _, q in _extract(page, {"datadog", "log", "rul"}, 20)]
    rules = [q["text"] for q in quotes if q["section"] == "Rules"]
    assert len(rules) == 6
    assert rules[0].startswith("**Structured JSON only.**")
    assert quotes[0]["citation"] == "Datadog logging guidelines › Rules"


def test_layout_before_any_heading_is_chunked_whole() -> None:
    # Headings only inside layout cells: the page text outside them (layout
    # skeleton included) is one preamble chunk, and every chunk renders.
    body = (
        "<p>Intro.</p>"
        '<ac:layout><ac:layout-section ac:type="two_equal">'
        "<ac:layout-cell><p>Left.</p><h2>Left rules</h2><ul><li>Rule A</li></ul>"
        "</ac:layout-cell><ac:layout-cell><h2>Right rules</h2><p>Rule B.</p>"
        "</ac:layout-cell></ac:layout-section></ac:layout><p>Outro.</p>"
    )
    chunks = _section_chunks(body)
    rendered = [(heading, storage.to_markdown(chunk).split()) for heading, chunk in chunks]
    assert rendered == [
        (None, ["Intro.", "Left.", "Outro."]),
        ("Left rules", ["-", "Rule", "A"]),
        ("Right rules", ["Rule", "B."]),
    ]


def test_text_helpers() -> None:
    assert strip_fences("```markdown\n- a\n```") == "- a"
    assert strip_fences("plain") == "plain"
    assert strip_highlight("@@@hl@@@Billing@@@endhl@@@ glossary") == "Billing glossary"
