"""Macro guard: inventory, check_preserved, guard_edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_agent.storage import (
    MacroGuardError,
    append_section,
    check_preserved,
    guard_edit,
    inventory,
    replace_section,
)

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "storage"
PRD = (CORPUS / "prd_billing_engine.xml").read_text(encoding="utf-8")
ADR = (CORPUS / "adr_0012_event_bus_layout.xml").read_text(encoding="utf-8")


def test_inventory_names_elements_and_their_sections() -> None:
    items = inventory(PRD)
    kinds = {e.kind for e in items}
    assert {"ac:structured-macro", "ac:link", "ri:user", "ri:page", "ac:image"} <= kinds
    assert {"ac:task-list", "table", "h2"} <= kinds
    code = next(e for e in items if e.name == "code")
    assert code.section == "Non-functional"
    assert code.section_path == ("Requirements", "Non-functional")
    assert code.identity  # Cloud macro-id
    details = next(e for e in items if e.name == "details")
    assert details.section == "" and details.section_path == ()
    image = next(e for e in items if e.kind == "ac:image")
    assert image.name == "billing-flow.png"


def test_changing_a_macro_parameter_elsewhere_is_reported_as_changed() -> None:
    after = PRD.replace(
        '<ac:parameter ac:name="title">NICE</ac:parameter>',
        '<ac:parameter ac:name="title">DROPPED</ac:parameter>',
    )
    violations = check_preserved(PRD, after, ("Goals",))
    changed = [v for v in violations if v.kind == "changed" and v.element.name == "status"]
    assert len(changed) == 1
    assert changed[0].after is not None and "DROPPED" in changed[0].after.canonical


def test_edits_inside_edited_sections_are_allowed() -> None:
    result = replace_section(PRD, "Requirements", "<p>rewritten</p>")
    assert check_preserved(PRD, result.body, result.edited_sections) == []
    # Without declaring the edited section the same change is loss.
    assert {v.kind for v in check_preserved(PRD, result.body, ())} == {"vanished"}


def test_guard_edit_raises_unless_loss_is_allowed() -> None:
    lossy = PRD.replace('<ac:structured-macro ac:name="toc"', '<ac:structured-macro ac:name="tic"')
    with pytest.raises(MacroGuardError, match="toc") as info:
        guard_edit(PRD, lossy, ("Goals",))
    assert info.value.violations and isinstance(info.value, ValueError)
    assert guard_edit(PRD, lossy, ("Goals",), allow_loss=True)
    assert guard_edit(PRD, PRD) == []


def test_mention_turned_into_text_is_caught() -> None:
    # mcp-atlassian 0.23.1 turned mentions into "@Name" text on storage round trips.
    bob = "712020:0b8c7d6e-5f4a-4b3c-9d2e-1a0b9c8d7e6f"
    lossy = PRD.replace(f'<ac:link><ri:user ri:account-id="{bob}" /></ac:link>', "@Bob")
    kinds = {v.element.kind for v in check_preserved(PRD, lossy, ("Goals",))}
    assert {"ac:link", "ri:user"} <= kinds


def test_editing_a_section_in_a_layout_cell_does_not_flag_the_layout() -> None:
    result = replace_section(ADR, "Status", "<p>Superseded</p>")
    assert check_preserved(ADR, result.body, result.edited_sections) == []
    grown = append_section(ADR, "Notes", "<p>n</p>", parent="layout-cell:3")
    assert check_preserved(ADR, grown.body, grown.edited_sections) == []
    # Changing a layout's column type outside any edit is a layout change.
    retyped = ADR.replace('ac:type="single"', 'ac:type="two_equal"')
    assert any(v.element.kind == "ac:layout-section" for v in check_preserved(ADR, retyped))


def test_whitespace_between_tags_and_attribute_order_are_not_loss() -> None:
    before = (
        '<h2>A</h2><ac:structured-macro ac:name="info" ac:schema-version="1">'
        "<ac:rich-text-body><p>x</p></ac:rich-text-body></ac:structured-macro>"
    )
    after = (
        '<h2>A</h2>\n<ac:structured-macro ac:schema-version="1" ac:name="info">\n  '
        "<ac:rich-text-body>\n    <p>x</p>\n  </ac:rich-text-body>\n</ac:structured-macro>\n"
    )
    assert check_preserved(before, after) == []


def test_renaming_a_heading_outside_the_edit_is_caught() -> None:
    after = PRD.replace("<h2>Questions</h2>", "<h2>Open questions</h2>")
    violations = check_preserved(PRD, after, ("Goals",))
    assert any(v.element.kind == "h2" and v.element.name == "Questions" for v in violations)


# Every element kind the guard must protect, each on a corpus page that has it.
_KINDS = [
    ("ac:structured-macro", "prd_billing_engine"),
    ("ac:layout", "adr_0013_three_columns"),
    ("ac:layout-section", "adr_0012_event_bus_layout"),
    ("ac:link", "prd_billing_engine"),
    ("ri:attachment", "architecture_overview"),
    ("ri:page", "prd_billing_engine"),
    ("ri:user", "prd_billing_engine"),
    ("ac:image", "prd_billing_engine"),
    ("ac:task-list", "prd_billing_engine"),
    ("ac:emoticon", "meeting_notes"),
    ("ac:adf-extension", "security_review_adf"),
    ("ac:inline-comment-marker", "design_doc_comments"),
    ("table", "service_inventory_500_rows"),
]


@pytest.mark.parametrize(("kind", "page"), _KINDS)
def test_each_protected_kind_is_inventoried_and_its_loss_caught(kind: str, page: str) -> None:
    body = (CORPUS / f"{page}.xml").read_text(encoding="utf-8")
    assert kind in {e.kind for e in inventory(body)}
    # Drop the last element of that kind (scanning by its own start/end tags).
    start = body.rindex(f"<{kind} ") if f"<{kind} " in body else body.rindex(f"<{kind}>")
    close = f"</{kind}>"
    tag_end = body.index(">", start) + 1
    end = tag_end if body[tag_end - 2] == "/" else body.index(close, start) + len(close)
    lossy = body[:start] + body[end:]
    assert any(v.element.kind == kind for v in check_preserved(body, lossy, ("no such section",)))
