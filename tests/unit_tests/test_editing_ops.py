"""Pure parts of confluence_agent.editing: ops, guard policy, diffs, summaries."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from confluence_agent import storage
from confluence_agent.editing import (
    EditConflict,
    EditOp,
    _plan,
    apply_ops,
    storage_diff,
    summarize_change,
)
from confluence_agent.errors import VersionConflict
from confluence_agent.models import Page

JIRA = (
    '<ac:structured-macro ac:name="jira" ac:schema-version="1" ac:macro-id="m-1">'
    '<ac:parameter ac:name="key">BILL-1</ac:parameter></ac:structured-macro>'
)
STATUS = (
    '<ac:structured-macro ac:name="status" ac:schema-version="1" ac:macro-id="m-2">'
    '<ac:parameter ac:name="title">DRAFT</ac:parameter></ac:structured-macro>'
)
BODY = (
    f"<p>Intro {STATUS}</p>"
    "<h2>Goals</h2><p>Ship it.</p>"
    f"<h2>Tracking</h2><p>Epic {JIRA}</p>"
    "<h2>Risks</h2><p>None yet.</p>"
)


def _page(body: str, version: int = 5) -> Page:
    return Page.model_validate(
        {"id": "1", "title": "PRD", "spaceId": "9", "version": {"number": version},
         "body": {"storage": {"value": body, "representation": "storage"}}}
    )


def test_append_section_markdown_is_converted_and_idempotent() -> None:
    op = EditOp(kind="append_section", title="Rollout", content="Roll out **slowly**.")
    first = apply_ops(BODY, [op])
    assert first.changed
    assert first.body.startswith(BODY)
    assert "<h2>Rollout</h2>" in first.body
    assert "<strong>slowly</strong>" in first.body
    again = apply_ops(first.body, [op])
    assert not again.changed
    assert again.body == first.body


def test_insert_after_and_replace_section() -> None:
    ops = [
        EditOp(kind="insert_after_section", after="Goals", title="Non-goals", content="Tax."),
        EditOp(kind="replace_section", title="Risks", content="<p>Vendor lock-in.</p>",
               content_format="storage"),
    ]
    result = apply_ops(BODY, ops)
    assert result.changed
    body = result.body
    assert body.index("<h2>Non-goals</h2>") < body.index("<h2>Tracking</h2>")
    assert "Vendor lock-in." in body and "None yet." not in body
    assert set(result.edited_sections) >= {"Non-goals", "Risks"}
    assert JIRA in body and STATUS in body


def test_ops_validation() -> None:
    with pytest.raises(ValidationError):
        EditOp(kind="delete_everything", content="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="title"):
        apply_ops(BODY, [EditOp(kind="append_section", content="x")])
    with pytest.raises(storage.SectionNotFoundError):
        apply_ops(BODY, [EditOp(kind="replace_section", title="Nope", content="x")])
    with pytest.raises(storage.StorageFormatError):
        apply_ops(BODY, [EditOp(kind="append_section", title="T", content="<p>unclosed",
                                content_format="storage")])


def test_guard_refuses_replace_section_that_drops_a_macro() -> None:
    # The replaced section's Jira macro is not exempt: a Markdown rewrite must not drop it.
    op = EditOp(kind="replace_section", title="Tracking", content="Epic is BILL-1.")
    with pytest.raises(storage.MacroGuardError, match="jira"):
        _plan("1", _page(BODY), [op], None, allow_loss=False)
    plan = _plan("1", _page(BODY), [op], None, allow_loss=True)
    assert plan.result.changed and JIRA not in plan.result.body


def test_guard_refuses_lossy_replace_body_but_allows_preserving_one() -> None:
    lossy = EditOp(kind="replace_body", content="Everything is new.")
    with pytest.raises(storage.MacroGuardError):
        _plan("1", _page(BODY), [lossy], None, allow_loss=False)
    keeps = EditOp(kind="replace_body", content=BODY + "<p>More.</p>", content_format="storage")
    assert _plan("1", _page(BODY), [keeps], None, allow_loss=False).result.changed


def test_plan_marks_stale_reads_but_noops_win() -> None:
    op = EditOp(kind="append_section", title="Goals", content="dup")
    plan = _plan("1", _page(BODY, version=7), [op], read_version=5, allow_loss=False)
    assert plan.stale and not plan.result.changed
    fresh = _plan("1", _page(BODY, version=5), [op], read_version=5, allow_loss=False)
    assert not fresh.stale


def test_storage_diff_is_per_element() -> None:
    after = apply_ops(BODY, [EditOp(kind="append_section", title="Rollout", content="x")]).body
    diff = storage_diff(BODY, after)
    assert "+<h2>Rollout</h2>" in diff
    assert storage_diff(BODY, BODY) == ""


def test_summarize_change_names_sections() -> None:
    after = BODY.replace("Ship it.", "Ship it twice.") + "<h2>New</h2><p>n</p>"
    text = summarize_change(BODY, after)
    assert "'New'" in text and "sections added" in text
    assert "'Goals'" in text and "sections changed" in text


def test_edit_conflict_is_a_version_conflict() -> None:
    exc = EditConflict("m", page_id="1", read_version=5, current_version=6,
                       attempted_version=6, summary="s")
    assert isinstance(exc, VersionConflict)
    assert exc.current_version == 6 and exc.status_code == 409


def test_version_from_the_future_is_rejected_with_the_right_number() -> None:
    op = EditOp(kind="append_section", title="New", content="x")
    with pytest.raises(ValueError, match="Send version=6"):
        _plan("1", _page(BODY, version=5), [op], read_version=6, allow_loss=False)
