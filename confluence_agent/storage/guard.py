"""Macro guard: detect edits that lose or alter rich elements outside edited sections.

``inventory`` lists the elements that markdown round trips and careless rewrites
destroy (macros, layouts, links and resource identifiers, images, task lists,
emoticons, ADF extensions, inline comment markers, headings and tables), each
with the section it belongs to and a canonical serialisation. ``check_preserved``
compares the multisets of those serialisations per section, ignoring the sections
that were meant to change.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from confluence_agent.storage.errors import MacroGuardError
from confluence_agent.storage.parse import AC_NS, RI_NS, ac_attr, qname, ri_attr, text_of
from confluence_agent.storage.sections import Outline, normalize_title

_TRACKED = frozenset(
    {
        "ac:structured-macro",
        "ac:macro",
        "ac:layout",
        "ac:layout-section",
        "ac:layout-cell",
        "ac:link",
        "ac:image",
        "ac:task-list",
        "ac:emoticon",
        "ac:adf-extension",
        "ac:inline-comment-marker",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    }
)
_ITER_TAGS = (
    *(f"{{{AC_NS}}}{t[3:]}" if t.startswith("ac:") else t for t in sorted(_TRACKED)),
    f"{{{RI_NS}}}*",
)
# Layout containers hold whole sections (which may be edited): compare only their
# own shape, their content is covered by the elements inside them.
_SHALLOW = frozenset({"ac:layout", "ac:layout-section", "ac:layout-cell"})
_INTER_TAG_WS = re.compile(rb">\s+<")
_RI_NAME_ATTRS = (
    "content-title",
    "filename",
    "account-id",
    "userkey",
    "username",
    "value",
    "space-key",
    "content-id",
    "key",
)


@dataclass(frozen=True)
class PreservedElement:
    """One element the guard protects.

    Attributes:
        kind: Qualified tag, e.g. ``ac:structured-macro``, ``ri:user``, ``table``.
        name: Macro name, resource name (title, file, account id…) or ``ac:type``.
        identity: ``ac:macro-id`` / ``ac:local-id`` when present.
        canonical: Exclusive-C14N serialisation with whitespace between tags removed
            (layout containers: their tag and attributes only).
        section: Title of the innermost enclosing section ("" before any heading).
        section_path: Titles of all enclosing sections, outermost first.
    """

    kind: str
    name: str
    identity: str | None
    canonical: str
    section: str
    section_path: tuple[str, ...]

    def describe(self) -> str:
        """Short human/LLM-readable label."""
        where = " > ".join(self.section_path) or "(before the first heading)"
        label = f"{self.kind} {self.name!r}" if self.name else self.kind
        if self.identity:
            label += f" [{self.identity}]"
        return f"{label} in section {where}"


@dataclass(frozen=True)
class GuardViolation:
    """An element outside the edited sections that vanished or changed.

    Attributes:
        kind: ``"vanished"`` (fewer copies after the edit) or ``"changed"`` (an
            element of the same kind/name/identity exists but differs).
        element: The element as it was before the edit.
        after: For ``changed``: the element as it is after the edit.
    """

    kind: Literal["vanished", "changed"]
    element: PreservedElement
    after: PreservedElement | None = None

    def describe(self) -> str:
        """One line for error messages and tool results."""
        return f"{self.kind}: {self.element.describe()}"


def _name(el: etree._Element, kind: str) -> str:
    if kind in ("ac:structured-macro", "ac:macro", "ac:emoticon"):
        return ac_attr(el, "name") or ""
    if kind == "ac:layout-section":
        return ac_attr(el, "type") or ""
    if kind.startswith("ri:"):
        for attr in _RI_NAME_ATTRS:
            value = ri_attr(el, attr)
            if value:
                return value
        return ""
    if kind == "ac:image":
        for child in el:
            if isinstance(child.tag, str) and qname(child).startswith("ri:"):
                return _name(child, qname(child))
        return ac_attr(el, "alt") or ""
    if kind.startswith("h") and len(kind) == 2:
        return " ".join(text_of(el).split())
    return ""


def _canonical(el: etree._Element, kind: str) -> str:
    if kind in _SHALLOW:
        attrs = " ".join(f"{k}={v}" for k, v in sorted((str(k), str(v)) for k, v in el.items()))
        if kind == "ac:layout-cell":
            # Cells gain and lose blocks whenever a section inside them is edited.
            return f"<{kind} {attrs}>"
        children = [qname(c) for c in el if isinstance(c.tag, str)]
        return f"<{kind} {attrs} children={','.join(children)}>"
    raw = etree.tostring(el, method="c14n", exclusive=True, with_comments=False)
    return _INTER_TAG_WS.sub(b"><", raw).decode("utf-8")


def inventory(body: str) -> list[PreservedElement]:
    """List every protected element of a body with the section it belongs to.

    Args:
        body: Storage XHTML.

    Returns:
        Elements in document order.

    Raises:
        StorageFormatError: The body is malformed.
    """
    outline = Outline(body)
    root = outline.tree.doc.root
    result: list[PreservedElement] = []
    for el in root.iter(*_ITER_TAGS):
        kind = qname(el)
        # The block holding the element (a top-level element or a layout-cell
        # child) tells which section it belongs to.
        block = el
        parent = block.getparent()
        while parent is not None and parent is not root and qname(parent) != "ac:layout-cell":
            block = parent
            parent = block.getparent()
        offset = outline.blocks.get(block)
        section = outline.section_at(offset) if offset is not None else None
        title, path = (section.title, section.full_path) if section else ("", ())
        identity = ac_attr(el, "macro-id") or ac_attr(el, "local-id") or el.get("local-id")
        result.append(
            PreservedElement(kind, _name(el, kind), identity, _canonical(el, kind), title, path)
        )
    return result


def _key(e: PreservedElement) -> tuple[tuple[str, ...], str, str]:
    return (tuple(normalize_title(t) for t in e.section_path), e.kind, e.canonical)


def check_preserved(
    before: str, after: str, edited_sections: Iterable[str] = ()
) -> list[GuardViolation]:
    """Report protected elements outside the edited sections that vanished or changed.

    Elements are compared as multisets of exact canonical serialisations per
    section path. Elements in an edited section (or any section nested in one)
    are ignored; additions are not reported.

    Args:
        before: The body as read.
        after: The body about to be written.
        edited_sections: Titles of the sections the edit was meant to change.

    Returns:
        Violations; an empty list means the edit is safe.

    Raises:
        StorageFormatError: Either body is malformed.
    """
    edited = {normalize_title(t) for t in edited_sections}

    def outside(items: list[PreservedElement]) -> list[PreservedElement]:
        return [e for e in items if not edited.intersection(map(normalize_title, e.section_path))]

    old = outside(inventory(before))
    new = outside(inventory(after))
    old_count = Counter(_key(e) for e in old)
    new_count = Counter(_key(e) for e in new)
    missing = old_count - new_count
    extra = new_count - old_count
    extras: list[PreservedElement] = []
    for e in new:
        if extra[_key(e)] > 0:
            extra[_key(e)] -= 1
            extras.append(e)
    violations: list[GuardViolation] = []
    for e in old:
        if missing[_key(e)] <= 0:
            continue
        missing[_key(e)] -= 1
        match = _pair(e, extras)
        if match is not None:
            extras.remove(match)
            violations.append(GuardViolation("changed", e, match))
        else:
            violations.append(GuardViolation("vanished", e))
    return violations


def _pair(e: PreservedElement, candidates: Sequence[PreservedElement]) -> PreservedElement | None:
    """Find the altered copy of ``e``: same identity, else same place, kind and name."""
    if e.identity:
        for c in candidates:
            if c.identity == e.identity and c.kind == e.kind:
                return c
    for c in candidates:
        if (c.kind, c.name, c.section_path) == (e.kind, e.name, e.section_path) and (
            not e.identity or not c.identity
        ):
            return c
    return None


def guard_edit(
    before: str,
    after: str,
    edited_sections: Iterable[str] = (),
    *,
    allow_loss: bool = False,
) -> list[GuardViolation]:
    """Refuse an edit that loses or alters protected elements outside edited sections.

    Args:
        before: The body as read.
        after: The body about to be written.
        edited_sections: Titles of the sections the edit was meant to change.
        allow_loss: Return the violations instead of raising.

    Returns:
        The violations (empty when safe, possibly non-empty with ``allow_loss``).

    Raises:
        MacroGuardError: There are violations and ``allow_loss`` is False.
        StorageFormatError: Either body is malformed.
    """
    violations = check_preserved(before, after, edited_sections)
    if violations and not allow_loss:
        raise MacroGuardError(violations)
    return violations
