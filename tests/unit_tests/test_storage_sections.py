"""Section model and section edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_agent.storage import (
    SectionNotFoundError,
    StorageFormatError,
    append_section,
    find_section,
    insert_after_section,
    list_layout_cells,
    list_sections,
    replace_section,
)

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "storage"
ADR = (CORPUS / "adr_0012_event_bus_layout.xml").read_text(encoding="utf-8")

BODY = (
    "<p>intro</p>"
    "<h1>Plan</h1><p>p</p>"
    "<h2>Goals</h2><ul><li>g</li></ul>"
    "<h3>Stretch</h3><p>s</p>"
    "<h2>R&amp;D&nbsp;notes</h2><p>r</p>"
    "<h1>Appendix</h1><p>a</p>"
)


def test_sections_nest_by_level_and_run_to_the_next_same_or_higher_heading() -> None:
    sections = {s.title: s for s in list_sections(BODY)}
    assert list(sections) == ["Plan", "Goals", "Stretch", "R&D notes", "Appendix"]
    goals = sections["Goals"]
    assert BODY[goals.heading_end : goals.end] == "<ul><li>g</li></ul><h3>Stretch</h3><p>s</p>"
    assert sections["Stretch"].path == ("Plan", "Goals")
    plan = sections["Plan"]
    assert BODY[plan.end :] == "<h1>Appendix</h1><p>a</p>"


@pytest.mark.parametrize("query", ["r&d notes", "  R&amp;D   NOTES ", "R&D\xa0Notes"])
def test_find_section_ignores_case_whitespace_and_entities(query: str) -> None:
    found = find_section(BODY, query)
    assert found is not None and found.title == "R&D notes"


def test_find_section_returns_none_when_missing() -> None:
    assert find_section(BODY, "Nope") is None


def test_headings_inside_layout_cells_are_scoped_to_their_cell() -> None:
    sections = {s.title: s for s in list_sections(ADR)}
    cells = list_layout_cells(ADR)
    assert len(cells) == 5
    context = sections["Context"]
    assert context.container == "layout-cell:1"
    # "Context" (h2) ends with its cell although the next cell also has an h2.
    assert context.end <= cells[0].inner_end
    assert sections["Forces"].path == ("Context",)
    assert sections["Status"].container == "layout-cell:2"


def test_append_into_a_layout_cell_lands_at_the_end_of_that_cell() -> None:
    cells = list_layout_cells(ADR)
    result = append_section(ADR, "Risks", "<p>r</p>", parent="layout-cell:2")
    at = cells[1].inner_end
    assert result.body == ADR[:at] + "<h2>Risks</h2><p>r</p>" + ADR[at:]
    assert find_section(result.body, "Risks").container == "layout-cell:2"  # type: ignore[union-attr]
    assert not append_section(result.body, "risks", "<p>x</p>", parent="layout-cell:2").changed
    with pytest.raises(ValueError, match="layout cells"):
        append_section(ADR, "X", "<p/>", parent="layout-cell:99")


def test_append_under_a_parent_section_nests_below_it() -> None:
    result = append_section(BODY, "Metrics", "<p>m</p>", parent="goals")
    goals = find_section(BODY, "Goals")
    assert goals is not None
    # Level is raised to parent + 1 so the new section belongs to "Goals".
    assert result.body == BODY[: goals.end] + "<h3>Metrics</h3><p>m</p>" + BODY[goals.end :]
    assert find_section(result.body, "Metrics").path == ("Plan", "Goals")  # type: ignore[union-attr]


def test_append_is_idempotent_and_escapes_the_title() -> None:
    result = append_section(BODY, "Q&A <live>", "<p>x</p>")
    assert result.body.endswith("<h2>Q&amp;A &lt;live&gt;</h2><p>x</p>")
    assert result.edited_sections == ("Q&A <live>",)
    again = append_section(result.body, "q&amp;a <LIVE>", "<p>other</p>")
    assert (again.changed, again.body, again.edited_sections) == (False, result.body, ())


def test_insert_after_goes_after_subsections_and_reuses_the_level() -> None:
    result = insert_after_section(BODY, "Goals", "Risks", "<p>k</p>")
    assert "<h3>Stretch</h3><p>s</p><h2>Risks</h2><p>k</p><h2>R&amp;D" in result.body
    assert not insert_after_section(result.body, "Goals", "RISKS", "<p>k</p>").changed


def test_replace_keeps_heading_and_reports_removed_subsections() -> None:
    result = replace_section(BODY, "goals", "<p>new</p>")
    assert "<h2>Goals</h2><p>new</p><h2>R&amp;D" in result.body
    assert result.edited_sections == ("Goals", "Stretch")
    same = replace_section(result.body, "Goals", "<p>new</p>")
    assert not same.changed


def test_missing_section_lists_what_exists() -> None:
    with pytest.raises(SectionNotFoundError) as info:
        replace_section(BODY, "Budget", "<p/>")
    assert "Goals" in str(info.value) and info.value.available[0] == "Plan"


def test_malformed_new_content_is_rejected_before_editing() -> None:
    with pytest.raises(StorageFormatError) as info:
        append_section(BODY, "New", "<p>ok</p>\n<p>broken")
    assert info.value.line == 2


def test_heading_text_with_markup_and_preamble() -> None:
    body = (CORPUS / "preamble_and_empty_sections.xml").read_text(encoding="utf-8")
    titles = [s.title for s in list_sections(body)]
    assert titles == ["Empty section", "Bold & styled heading", "Deep heading", "Trailing"]
    empty = find_section(body, "empty section")
    assert empty is not None and empty.end == empty.heading_end
    trailing = find_section(body, "Trailing")
    assert trailing is not None and body[trailing.heading_end : trailing.end] == (
        "Loose text at the end."
    )
    result = replace_section(body, "Trailing", "<p>done</p>")
    assert result.body.endswith("<h2>Trailing</h2><p>done</p>")
