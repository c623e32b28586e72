"""Safe, strict parsing of Confluence storage XHTML fragments with lxml.

Storage bodies are XML fragments: many top-level nodes, undeclared ``ac:``/``ri:``/
``at:`` prefixes and HTML named entities. We wrap them in a root element that
declares the prefixes, turn HTML named entities into numeric references and parse
with a hardened lxml parser (no DTD, no network, no entity expansion). Errors are
mapped back to line/column positions in the caller's original text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from html.entities import name2codepoint
from typing import cast

from lxml import etree

from confluence_agent.storage.errors import StorageFormatError

AC_NS = "http://www.atlassian.com/schema/confluence/4/ac/"
RI_NS = "http://www.atlassian.com/schema/confluence/4/ri/"
AT_NS = "http://www.atlassian.com/schema/confluence/4/at/"
_KNOWN_NS = {"ac": AC_NS, "ri": RI_NS, "at": AT_NS}
# Prefixes nobody declares: lxml would reject them, Confluence does not.
_UNDECLARED_NS = "urn:confluence-agent:undeclared:"
_ROOT_TAG = "confluence-storage-root"

_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
# CDATA and comments are literal: entity-looking text inside them must not change.
_ENTITY_OR_LITERAL = re.compile(r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|&([A-Za-z][A-Za-z0-9]*);", re.S)
_PREFIX_USE = re.compile(r"[<\s/]([A-Za-z_][\w.\-]*):[A-Za-z_]")
_POSITION_SUFFIX = re.compile(r", line \d+, column \d+$")
_MISMATCH = re.compile(r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)")
_UNDEFINED_PREFIX = re.compile(r"Namespace prefix (\S+)")


@dataclass(frozen=True)
class _Shift:
    """One entity replacement: where it sits in the normalised and original text."""

    norm_start: int
    norm_end: int
    orig_start: int
    orig_end: int


@dataclass
class StorageDocument:
    """A parsed storage body.

    Attributes:
        text: The caller's original text (never modified; edits splice it).
        root: lxml wrapper element whose children are the body's top-level nodes.
    """

    text: str
    root: etree._Element = field(repr=False)

    @cached_property
    def elements(self) -> list[etree._Element]:
        """Every element below the wrapper root, in document order."""
        return [el for el in self.root.iter(etree.Element) if el is not self.root]

    @property
    def top_level(self) -> list[etree._Element]:
        """Top-level elements of the fragment (comments and PIs excluded)."""
        return [el for el in self.root if isinstance(el.tag, str)]


def qname(el: etree._Element) -> str:
    """Return ``prefix:local`` (or ``local``) for an element, as written in storage.

    Args:
        el: An element from a parsed storage document.

    Returns:
        The qualified name, e.g. ``ac:structured-macro`` or ``p``.
    """
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    if tag[:1] != "{":
        return tag
    # Hot path (called for every element when rendering): plain string slicing.
    local = tag[tag.index("}") + 1 :]
    prefix = el.prefix
    return f"{prefix}:{local}" if prefix else local


def text_of(el: etree._Element) -> str:
    """All text below an element (CDATA included, tail excluded)."""
    return "".join(cast("Iterator[str]", el.itertext()))


def ac_attr(el: etree._Element, name: str) -> str | None:
    """Read an ``ac:``-namespaced attribute (falling back to an unprefixed one)."""
    value = el.get(f"{{{AC_NS}}}{name}")
    return value if value is not None else el.get(name)


def ri_attr(el: etree._Element, name: str) -> str | None:
    """Read an ``ri:``-namespaced attribute (falling back to an unprefixed one)."""
    value = el.get(f"{{{RI_NS}}}{name}")
    return value if value is not None else el.get(name)


def _normalise_entities(text: str) -> tuple[str, list[_Shift]]:
    """Replace HTML named entities with numeric references, outside CDATA/comments."""
    if "&" not in text:
        return text, []
    shifts: list[_Shift] = []
    delta = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal delta
        name = m.group(1)
        if name is None or name in _XML_ENTITIES:
            return m.group(0)
        code = name2codepoint.get(name)
        if code is None:
            # Left as is so lxml reports "Entity 'x' not defined" at the right place.
            return m.group(0)
        new = f"&#{code};"
        start = m.start() + delta
        shifts.append(_Shift(start, start + len(new), m.start(), m.end()))
        delta += len(new) - (m.end() - m.start())
        return new

    return _ENTITY_OR_LITERAL.sub(repl, text), shifts


def _root_open(extra_prefixes: frozenset[str]) -> str:
    decls = [f'xmlns:{p}="{uri}"' for p, uri in _KNOWN_NS.items()]
    decls += [f'xmlns:{p}="{_UNDECLARED_NS}{p}"' for p in sorted(extra_prefixes)]
    return f"<{_ROOT_TAG} {' '.join(decls)}>"


def _new_parser() -> etree.XMLParser:
    # A parser per call: lxml parsers must not be shared between threads, and the
    # sandbox server validates writes concurrently.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,
        strip_cdata=False,
        remove_blank_text=False,
        recover=False,
    )


def _friendly(msg: str) -> str:
    """Rephrase libxml2 messages the way Confluence phrases its own."""
    msg = _POSITION_SUFFIX.sub("", msg.strip())
    m = _MISMATCH.match(msg)
    if m:
        opened, line, closed = m.group(1), m.group(2), m.group(3)
        if opened == _ROOT_TAG:
            return f"Unexpected close tag </{closed}>; no element is open."
        if closed == _ROOT_TAG:
            return f"Unexpected end of input; expected </{opened}> (opened on line {line})."
        return f"Unexpected close tag </{closed}>; expected </{opened}>."
    if msg.startswith("EntityRef: expecting ';'") or msg.startswith("xmlParseEntityRef: no name"):
        return f"Unexpected character after '&' (write a literal & as &amp;) [{msg}]"
    if msg.startswith("Entity '") and msg.endswith("' not defined"):
        name = msg[len("Entity '") : -len("' not defined")]
        return f'Undeclared general entity "{name}"'
    if "AttValue" in msg or "attributes construct error" in msg:
        return f"Unexpected character in attribute (values must be quoted) [{msg}]"
    if "Premature end of data" in msg or "EndTag: '</' not found" in msg:
        return f"Unexpected end of input [{msg}]"
    return msg


class _PositionMap:
    """Maps (line, column) in the wrapped, normalised text back to the original."""

    def __init__(self, original: str, wrapped: str, prefix_len: int, shifts: list[_Shift]):
        self._original = original
        self._normalised = wrapped
        self._prefix_len = prefix_len
        self._shifts = shifts
        self._shift_starts = [s.norm_start for s in shifts]

    def to_original(self, line: int, column: int) -> tuple[int, int]:
        wrapped_line_starts = [0]
        wrapped_line_starts += [m.end() for m in re.finditer("\n", self._normalised)]
        line = max(1, min(line, len(wrapped_line_starts)))
        # The wrapper prefix sits on line 1 of the wrapped text: drop it.
        offset = wrapped_line_starts[line - 1] + max(column - 1, 0) - self._prefix_len
        offset = max(0, min(offset, len(self._normalised) - self._prefix_len))
        i = bisect.bisect_right(self._shift_starts, offset) - 1
        if i < 0:
            orig = offset
        else:
            s = self._shifts[i]
            orig = s.orig_start if offset < s.norm_end else offset - s.norm_end + s.orig_end
        orig = max(0, min(orig, len(self._original)))
        before = self._original[:orig]
        orig_line = before.count("\n") + 1
        orig_col = orig - (before.rfind("\n") + 1) + 1
        return orig_line, orig_col


def parse_storage(body: str) -> StorageDocument:
    """Parse and validate a storage-format body.

    Accepts everything Confluence emits: fragments with many top-level nodes,
    undeclared ``ac:``/``ri:``/``at:`` (and other) prefixes, CDATA, comments and HTML
    named entities (``&nbsp;`` …).

    Args:
        body: Storage XHTML as sent to / returned by Confluence.

    Returns:
        The parsed document (original text kept verbatim).

    Raises:
        StorageFormatError: The body is not well-formed; line/column point into
            ``body``.
    """
    if not isinstance(body, str):
        raise TypeError(f"storage body must be str, not {type(body).__name__}")
    normalised, shifts = _normalise_entities(body)
    extra: frozenset[str] = frozenset()
    for _attempt in range(2):
        prefix = _root_open(extra)
        wrapped = f"{prefix}{normalised}</{_ROOT_TAG}>"
        try:
            root = etree.fromstring(wrapped, _new_parser())
        except etree.XMLSyntaxError as exc:
            msg = exc.msg or str(exc)
            if _UNDEFINED_PREFIX.match(msg) and not extra:
                # Declare every prefix in use and retry once: cheaper than scanning
                # every body up front for the rare undeclared prefix.
                used = {m.group(1) for m in _PREFIX_USE.finditer(normalised)}
                extra = frozenset(used - set(_KNOWN_NS) - {"xml", "xmlns"})
                if extra:
                    continue
            line, column = exc.position if exc.position else (1, 1)
            pos = _PositionMap(body, wrapped, len(prefix), shifts)
            orig_line, orig_col = pos.to_original(line, column)
            raise StorageFormatError(_friendly(msg), orig_line, orig_col) from None
        return StorageDocument(text=body, root=root)
    raise AssertionError("unreachable")  # pragma: no cover


def is_valid_storage(body: str) -> bool:
    """Return True when ``body`` parses as storage format."""
    try:
        parse_storage(body)
    except StorageFormatError:
        return False
    return True
