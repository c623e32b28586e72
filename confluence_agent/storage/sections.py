"""Section model over storage bodies and lossless section edits.

A section starts at a heading (``h1``–``h6``) and runs until the next heading of
the same or a higher level in the same container. Containers are the body itself
and each ``ac:layout-cell`` (a heading inside a cell starts a section scoped to
that cell). Edits splice the original string at element boundaries, so every
byte outside the edited span is returned unchanged.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

from confluence_agent.storage.errors import SectionNotFoundError
from confluence_agent.storage.parse import parse_storage, text_of
from confluence_agent.storage.scan import Block, SpanTree

_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CELL_REF = re.compile(r"^\s*layout-cell\s*:\s*(\d+)\s*$", re.I)
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Section:
    """One heading-delimited section.

    Attributes:
        title: Heading text, whitespace collapsed.
        level: Heading level 1–6.
        start: Offset of the heading's ``<hN``.
        heading_end: Offset just after ``</hN>``: the content starts here.
        end: Offset just after the section's last block (subsections included);
            trailing whitespace before the next heading is not part of it.
        container: ``None`` for the body, ``"layout-cell:K"`` (1-based, document
            order) for a section inside a layout cell.
        path: Titles of the enclosing sections, outermost first (sections of the
            body enclose the sections of the layout cells below them).
        index: Position in document order.
    """

    title: str
    level: int
    start: int
    heading_end: int
    end: int
    container: str | None
    path: tuple[str, ...]
    index: int

    @property
    def full_path(self) -> tuple[str, ...]:
        """``path`` plus this section's own title."""
        return (*self.path, self.title)

    def contains(self, other: Section) -> bool:
        """True when ``other`` is a (nested) subsection of this section."""
        return other is not self and self.heading_end <= other.start < self.end


@dataclass(frozen=True)
class LayoutCell:
    """A layout cell that can receive appended sections.

    Attributes:
        ref: ``"layout-cell:K"``, usable as ``parent=`` of :func:`append_section`.
        inner_start: Offset just after ``<ac:layout-cell>``.
        inner_end: Offset of ``</ac:layout-cell>``.
    """

    ref: str
    inner_start: int
    inner_end: int


@dataclass(frozen=True)
class EditResult:
    """Outcome of a section edit.

    Attributes:
        body: The new storage body (the input itself when nothing changed).
        changed: False when the edit was a no-op (e.g. the section already exists).
        edited_sections: Titles of every section whose content the edit touched
            (pass them to ``check_preserved``/``guard_edit``).
    """

    body: str
    changed: bool
    edited_sections: tuple[str, ...]


def normalize_title(title: str) -> str:
    """Normalise a heading for matching: entities, case, Unicode and whitespace.

    Args:
        title: Heading text, possibly with entities (``R&amp;D``) or ``&nbsp;``.

    Returns:
        A casefolded, NFKC-normalised, whitespace-collapsed key.
    """
    text = unicodedata.normalize("NFKC", html.unescape(title))
    return _WS.sub(" ", text).strip().casefold()


class Outline:
    """Sections and layout cells of one body (shared with the macro guard).

    Attributes:
        tree: Block spans aligned with the lxml tree.
        sections: Sections in document order.
        cells: Layout cells in document order.
        blocks: Offset of every block the section model saw (top-level elements and
            children of layout cells), keyed by its lxml element.
    """

    def __init__(self, body: str) -> None:
        self.tree = SpanTree(parse_storage(body))
        self.sections: list[Section] = []
        self.cells: list[LayoutCell] = []
        self.blocks: dict[etree._Element, int] = {}
        self._walk(self.tree.top, None, (), len(body))
        self.sections.sort(key=lambda s: s.start)
        self.sections = [
            Section(s.title, s.level, s.start, s.heading_end, s.end, s.container, s.path, i)
            for i, s in enumerate(self.sections)
        ]
        self._starts = [s.start for s in self.sections]

    def section_at(self, offset: int) -> Section | None:
        """The innermost section containing ``offset`` (None before any heading)."""
        i = bisect.bisect_right(self._starts, offset) - 1
        while i >= 0:
            s = self.sections[i]
            if s.start <= offset < max(s.end, s.heading_end):
                return s
            i -= 1
        return None

    def _walk(
        self, blocks: list[Block], container: str | None, outer: tuple[str, ...], limit: int
    ) -> None:
        text = self.tree.doc.text
        # Open sections as (level, title, start, heading_end, path); closed on the next
        # heading of the same or higher level, or at the container's end.
        stack: list[tuple[int, str, int, int, tuple[str, ...]]] = []
        last_end = -1

        def close_until(level: int) -> None:
            while stack and stack[-1][0] >= level:
                lvl, title, start, h_end, path = stack.pop()
                self.sections.append(
                    Section(title, lvl, start, h_end, max(last_end, h_end), container, path, 0)
                )

        def text_end(a: int, b: int) -> int:
            # Non-blank text between blocks is content too; trailing blanks are not.
            gap = text[a:b]
            return a + len(gap.rstrip()) if gap.strip() and a >= 0 else last_end

        for block in blocks:
            self.blocks[block.element] = block.start
            last_end = text_end(last_end, block.start)
            level = _HEADINGS.get(block.tag)
            if level is not None:
                close_until(level)
                path = outer + tuple(s[1] for s in stack)
                title = _WS.sub(" ", text_of(block.element).replace("\xa0", " ")).strip()
                stack.append((level, title, block.start, block.end, path))
            elif block.tag == "ac:layout":
                cur = outer + tuple(s[1] for s in stack)
                for layout_section in self.tree.children(block):
                    for cell in self.tree.children(layout_section):
                        if cell.tag != "ac:layout-cell":
                            continue
                        ref = f"layout-cell:{len(self.cells) + 1}"
                        self.cells.append(LayoutCell(ref, cell.inner_start, cell.inner_end))
                        self._walk(self.tree.children(cell), ref, cur, cell.inner_end)
            last_end = block.end
        last_end = text_end(last_end, limit)
        close_until(0)

    def find(self, title: str, within: Section | None = None) -> Section | None:
        key = normalize_title(title)
        for s in self.sections:
            if normalize_title(s.title) == key and (within is None or within.contains(s)):
                return s
        return None

    def require(self, title: str) -> Section:
        found = self.find(title)
        if found is None:
            raise SectionNotFoundError(title, [s.title for s in self.sections])
        return found

    def subsections(self, section: Section) -> list[Section]:
        return [s for s in self.sections if section.contains(s)]


def list_sections(body: str) -> list[Section]:
    """List every section of a body in document order.

    Args:
        body: Storage XHTML.

    Returns:
        Sections, including those inside layout cells.

    Raises:
        StorageFormatError: The body is malformed.
    """
    return Outline(body).sections


def list_layout_cells(body: str) -> list[LayoutCell]:
    """List the layout cells of a body (targets for ``append_section(parent=...)``)."""
    return Outline(body).cells


def find_section(body: str, title: str) -> Section | None:
    """Find the first section whose heading matches ``title``.

    Matching ignores case, entities (``&amp;``, ``&nbsp;``) and whitespace runs.

    Args:
        body: Storage XHTML.
        title: Heading text to look for.

    Returns:
        The section, or None.
    """
    return Outline(body).find(title)


def _heading(title: str, level: int) -> str:
    if not 1 <= level <= 6:
        raise ValueError(f"heading level must be 1-6, got {level}")
    clean = _WS.sub(" ", title).strip()
    if not clean:
        raise ValueError("section title must not be empty")
    return f"<h{level}>{escape(clean)}</h{level}>"


def _new_titles(content_storage: str) -> tuple[str, ...]:
    return tuple(s.title for s in Outline(content_storage).sections)


def append_section(
    body: str,
    title: str,
    content_storage: str,
    *,
    level: int = 2,
    parent: str | None = None,
) -> EditResult:
    """Append a new section at the end of the body, of a section or of a layout cell.

    Idempotent: when a section with this title already exists (anywhere on the page
    when ``parent`` is None, among the parent's subsections or in the cell
    otherwise) the body is returned unchanged with ``changed=False``.

    Args:
        body: Storage XHTML.
        title: Heading text of the new section (plain text, escaped here).
        content_storage: Storage XHTML of the content (validated).
        level: Heading level; under a parent section it is raised to at least the
            parent's level + 1 so the new section nests inside it.
        parent: A section title, or ``"layout-cell:K"`` from :func:`list_layout_cells`
            / ``Section.container``.

    Returns:
        The edit result.

    Raises:
        StorageFormatError: ``body`` or ``content_storage`` is malformed.
        SectionNotFoundError: ``parent`` names no section.
        ValueError: Bad level, empty title or unknown layout cell.
    """
    parse_storage(content_storage)
    outline = Outline(body)
    key = normalize_title(title)
    if parent is None:
        if any(normalize_title(s.title) == key for s in outline.sections):
            return EditResult(body, False, ())
        at = len(body)
    elif (cell_match := _CELL_REF.match(parent)) is not None:
        k = int(cell_match.group(1))
        if not 1 <= k <= len(outline.cells):
            raise ValueError(f"no {parent!r}: the page has {len(outline.cells)} layout cells")
        cell = outline.cells[k - 1]
        if any(
            normalize_title(s.title) == key and s.container == cell.ref for s in outline.sections
        ):
            return EditResult(body, False, ())
        at = cell.inner_end
    else:
        parent_section = outline.require(parent)
        if outline.find(title, within=parent_section) is not None:
            return EditResult(body, False, ())
        level = min(6, max(level, parent_section.level + 1))
        at = parent_section.end
    insert = _heading(title, level) + content_storage
    new_body = body[:at] + insert + body[at:]
    return EditResult(new_body, True, (_WS.sub(" ", title).strip(), *_new_titles(content_storage)))


def insert_after_section(
    body: str,
    after_title: str,
    title: str,
    content_storage: str,
    *,
    level: int | None = None,
) -> EditResult:
    """Insert a new section right after an existing section (and its subsections).

    Idempotent like :func:`append_section`: if a section titled ``title`` already
    exists on the page, nothing changes.

    Args:
        body: Storage XHTML.
        after_title: Title of the section to insert after.
        title: Heading text of the new section.
        content_storage: Storage XHTML of the content (validated).
        level: Heading level; defaults to the level of ``after_title``.

    Returns:
        The edit result.

    Raises:
        StorageFormatError: ``body`` or ``content_storage`` is malformed.
        SectionNotFoundError: ``after_title`` names no section.
    """
    parse_storage(content_storage)
    outline = Outline(body)
    anchor = outline.require(after_title)
    if outline.find(title) is not None:
        return EditResult(body, False, ())
    insert = _heading(title, level or anchor.level) + content_storage
    new_body = body[: anchor.end] + insert + body[anchor.end :]
    return EditResult(new_body, True, (_WS.sub(" ", title).strip(), *_new_titles(content_storage)))


def replace_section(body: str, title: str, content_storage: str) -> EditResult:
    """Replace a section's content (subsections included), keeping its heading.

    Args:
        body: Storage XHTML.
        title: Title of the section to rewrite.
        content_storage: New storage XHTML content (validated).

    Returns:
        The edit result; ``changed`` is False when the content is already identical.

    Raises:
        StorageFormatError: ``body`` or ``content_storage`` is malformed.
        SectionNotFoundError: No section has that title.
    """
    parse_storage(content_storage)
    outline = Outline(body)
    section = outline.require(title)
    old = body[section.heading_end : section.end]
    if old.strip() == content_storage.strip():
        return EditResult(body, False, ())
    new_body = body[: section.heading_end] + content_storage + body[section.end :]
    edited = (
        section.title,
        *(s.title for s in outline.subsections(section)),
        *_new_titles(content_storage),
    )
    return EditResult(new_body, True, tuple(dict.fromkeys(edited)))
