"""Lossless edits over every sample and corpus page.

For each page: appending, inserting and replacing leave every byte outside the
edit identical to the original, ``check_preserved`` passes, and deliberately
lossy edits (dropping a macro elsewhere, a Markdown round trip) are caught.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from confluence_agent.storage import (
    MacroGuardError,
    check_preserved,
    find_section,
    guard_edit,
    insert_after_section,
    inventory,
    list_sections,
    markdown_to_storage,
    parse_storage,
    replace_section,
    to_markdown,
)
from confluence_agent.storage.scan import ElementSpan, SpanTree, element_spans
from confluence_agent.storage.sections import append_section, list_layout_cells

SAMPLES = Path("/work/shared/reference/samples/mcp-atlassian")
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "storage"
NEW_CONTENT = (
    '<p>Added by the agent &amp; checked.</p><ac:structured-macro ac:name="status" '
    'ac:schema-version="1"><ac:parameter ac:name="title">NEW</ac:parameter>'
    "</ac:structured-macro>"
)


def _pages() -> dict[str, str]:
    pages = {p.stem: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.xml"))}
    for path in sorted(SAMPLES.glob("*.xml")):
        pages[f"sample:{path.stem}"] = path.read_text(encoding="utf-8")
    mock = json.loads((SAMPLES / "confluence_mocks.MOCK_PAGE_RESPONSE.json").read_text())
    pages["sample:MOCK_PAGE_RESPONSE.json"] = mock["body"]["storage"]["value"]
    return pages


PAGES = _pages()
WITH_SECTIONS = {k: v for k, v in PAGES.items() if list_sections(v)}


def test_corpus_is_big_enough_and_covers_the_hard_cases() -> None:
    corpus = [k for k in PAGES if not k.startswith("sample:")]
    assert len(corpus) >= 20
    everything = "".join(PAGES.values())
    for needle in (
        "ac:layout-cell",
        "ac:adf-extension",
        "ri:account-id",
        "ac:task-list",
        "ac:image",
        "]]]]><![CDATA[>",
        "&nbsp;",
        'ac:name="expand"',
        "ac:inline-comment-marker",
    ):
        assert needle in everything, needle
    assert PAGES["service_inventory_500_rows"].count("<tr>") == 501


@pytest.mark.parametrize("name", sorted(PAGES))
def test_block_scanner_agrees_with_full_tokenizer_and_lxml(name: str) -> None:
    body = PAGES[name]
    tree = SpanTree.from_text(body)
    by_start = {sp.start: sp for sp in element_spans(body)}
    assert len(element_spans(body)) == len(tree.doc.elements)
    for block in tree.top:
        assert by_start[block.start] == ElementSpan(
            block.tag, block.start, block.end, block.inner_start, block.inner_end
        )
        assert body[block.start : block.end].startswith(f"<{block.tag}")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_append_keeps_the_whole_original_as_prefix(name: str) -> None:
    body = PAGES[name]
    result = append_section(body, "Agent notes", NEW_CONTENT)
    assert result.changed
    assert result.body.startswith(body)
    assert result.body[len(body) :] == "<h2>Agent notes</h2>" + NEW_CONTENT
    assert check_preserved(body, result.body, result.edited_sections) == []
    again = append_section(result.body, "agent  NOTES", NEW_CONTENT)
    assert not again.changed and again.body == result.body


@pytest.mark.parametrize("name", sorted(WITH_SECTIONS))
def test_append_under_each_section_and_cell_only_adds_at_its_end(name: str) -> None:
    body = PAGES[name]
    targets = [(s.title, s.end) for s in list_sections(body)]
    targets += [(c.ref, c.inner_end) for c in list_layout_cells(body)]
    for parent, at in targets:
        result = append_section(body, "Agent notes", NEW_CONTENT, parent=parent)
        if not result.changed:  # the page already has such a section there
            continue
        added = len(result.body) - len(body)
        assert result.body[:at] == body[:at] and result.body[at + added :] == body[at:]
        inserted = result.body[at : at + added]
        assert re.fullmatch(r"<h([1-6])>Agent notes</h\1>" + re.escape(NEW_CONTENT), inserted)
        assert check_preserved(body, result.body, result.edited_sections) == []
        parse_storage(result.body)


@pytest.mark.parametrize("name", sorted(WITH_SECTIONS))
def test_insert_after_each_section_splices_without_touching_neighbours(name: str) -> None:
    body = PAGES[name]
    for section in list_sections(body):
        result = insert_after_section(body, section.title, "Inserted", NEW_CONTENT)
        assert result.changed
        assert result.body[: section.end] == body[: section.end]
        assert result.body.endswith(body[section.end :])
        inserted = result.body[section.end : len(result.body) - (len(body) - section.end)]
        assert inserted == f"<h{section.level}>Inserted</h{section.level}>{NEW_CONTENT}"
        assert check_preserved(body, result.body, result.edited_sections) == []
        parse_storage(result.body)


@pytest.mark.parametrize("name", sorted(WITH_SECTIONS))
def test_replace_each_section_keeps_heading_and_everything_else(name: str) -> None:
    body = PAGES[name]
    for section in list_sections(body):
        result = replace_section(body, section.title, NEW_CONTENT)
        prefix, suffix = body[: section.heading_end], body[section.end :]
        if body[section.heading_end : section.end].strip() == NEW_CONTENT:
            continue
        assert result.body == prefix + NEW_CONTENT + suffix
        assert check_preserved(body, result.body, result.edited_sections) == []
        assert find_section(result.body, section.title) is not None


@pytest.mark.parametrize("name", sorted(PAGES))
def test_dropping_an_element_outside_the_edited_section_is_caught(name: str) -> None:
    body = PAGES[name]
    items = inventory(body)
    spans = element_spans(body)
    sections = list_sections(body)
    edited = sections[-1].title if sections else "nothing"
    victims = [
        sp
        for sp in spans
        if sp.tag in ("ac:structured-macro", "ac:link", "ac:image", "ac:task-list")
    ]
    if not victims:
        pytest.skip("page has no macro, link, image or task list")
    # Pick one that is not inside the edited section.
    for sp in victims:
        owner = [s for s in sections if s.start <= sp.start < s.end]
        if not any(s.title == edited for s in owner):
            break
    else:
        pytest.skip("every candidate lives in the edited section")
    lossy = body[: sp.start] + body[sp.end :]
    violations = check_preserved(body, lossy, (edited,))
    assert violations, f"dropping {sp.tag} went unnoticed"
    assert any(v.element.kind == sp.tag for v in violations)
    assert len(items) == len(inventory(body))  # inventory is deterministic
    with pytest.raises(MacroGuardError):
        guard_edit(body, lossy, (edited,))


@pytest.mark.parametrize(
    "name",
    sorted(k for k, v in PAGES.items() if "ac:structured-macro" in v or "ac:link" in v),
)
def test_markdown_round_trip_is_refused(name: str) -> None:
    body = PAGES[name]
    round_tripped = markdown_to_storage(to_markdown(body))
    parse_storage(round_tripped)
    violations = check_preserved(body, round_tripped)
    assert violations
    with pytest.raises(MacroGuardError):
        guard_edit(body, round_tripped)


def test_large_table_keeps_every_row_in_markdown_and_edits() -> None:
    body = PAGES["service_inventory_500_rows"]
    md = to_markdown(body)
    table_lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table_lines) == 502  # header + separator + 500 rows
    assert "| 500 | svc-500 |" in md
    result = replace_section(body, "Notes", "<p>Checked again.</p>")
    assert result.body.count("<tr>") == 501
    assert check_preserved(body, result.body, result.edited_sections) == []
    row = body[body.index("<tr><td><p>251</p>") : body.index("<tr><td><p>252</p>")]
    dropped = body.replace(row, "")
    assert [v.element.kind for v in check_preserved(body, dropped, ("Notes",))] == ["table"]
    # Row 250 carries a status lozenge: losing it is reported for the macro too.
    row = body[body.index("<tr><td><p>250</p>") : body.index("<tr><td><p>251</p>")]
    kinds = {v.element.kind for v in check_preserved(body, body.replace(row, ""), ("Notes",))}
    assert kinds == {"table", "ac:structured-macro"}
