"""Character spans of storage blocks in the caller's original text.

Edits splice the original string, so untouched blocks are re-emitted
byte-for-byte. The scanner finds element boundaries while respecting comments,
CDATA, processing instructions and quoted attribute values. It assumes
well-formed input: it always runs after :func:`parse_storage`, and every level it
scans is checked against the lxml children (same count, same tags, same order).

Only the levels the section model needs are scanned (top-level blocks, and the
layout → layout-section → layout-cell chain): finding an element's end means
searching for its own tag name only, which keeps 2 MB pages fast.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from confluence_agent.storage.parse import StorageDocument, parse_storage, qname

_START_TAG = re.compile(r"""<([^\s/>!?][^\s/>]*)(?:[^"'>]+|"[^"]*"|'[^']*')*>""")
_OPAQUE = re.compile(r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>", re.S)
_TOKEN = re.compile(
    r"""<(?:
        !--.*?-->                                  # comment
      | !\[CDATA\[.*?\]\]>                         # CDATA section
      | \?.*?\?>                                   # processing instruction
      | /([^\s>]+)\s*>                             # end tag (1)
      | ([^\s/>!?][^\s/>]*)(?:[^"'>]+|"[^"]*"|'[^']*')*>   # start tag (2)
    )""",
    re.S | re.X,
)


@dataclass(frozen=True)
class ElementSpan:
    """Where one element sits in the original text.

    Attributes:
        tag: Qualified name as written (``ac:layout-cell``, ``h2``).
        start: Offset of ``<`` of the start tag.
        end: Offset just after the end tag (or the self-closing tag).
        inner_start: Offset just after the start tag.
        inner_end: Offset of the end tag (``== inner_start`` when self-closing).
    """

    tag: str
    start: int
    end: int
    inner_start: int
    inner_end: int


@dataclass(frozen=True)
class Block(ElementSpan):
    """An element span together with its lxml element.

    Attributes:
        element: The matching element of the parsed document.
    """

    element: etree._Element


@lru_cache(maxsize=256)
def _tag_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<(/?){re.escape(name)}(?=[\s/>])")


class SpanTree:
    """Block spans of a parsed document, aligned with its lxml tree.

    Attributes:
        doc: The parsed document.
        top: Top-level element blocks, in order.
    """

    def __init__(self, doc: StorageDocument) -> None:
        self.doc = doc
        text = doc.text
        opaque = [m.span() for m in _OPAQUE.finditer(text)] if "<!" in text or "<?" in text else []
        self._opaque_starts = [a for a, _ in opaque]
        self._opaque_ends = [b for _, b in opaque]
        self.top = self._level(doc.root, 0, len(text))

    @classmethod
    def from_text(cls, body: str) -> SpanTree:
        """Parse ``body`` (raising StorageFormatError if malformed) and scan it."""
        return cls(parse_storage(body))

    def children(self, block: Block) -> list[Block]:
        """Child element blocks of ``block``."""
        return self._level(block.element, block.inner_start, block.inner_end)

    def _opaque(self, pos: int) -> bool:
        i = bisect.bisect_right(self._opaque_starts, pos) - 1
        return i >= 0 and pos < self._opaque_ends[i]

    def _close(self, name: str, pos: int) -> tuple[int, int]:
        """Find the end tag matching an open ``name`` whose start tag ends at ``pos``."""
        text = self.doc.text
        depth = 1
        for m in _tag_pattern(name).finditer(text, pos):
            if self._opaque_starts and self._opaque(m.start()):
                continue
            if m.group(1):
                depth -= 1
                if depth == 0:
                    return m.start(), text.index(">", m.end()) + 1
            else:
                start_tag = _START_TAG.match(text, m.start())
                if start_tag is not None and text[start_tag.end() - 2] != "/":
                    depth += 1
        raise RuntimeError(f"storage scanner found no end tag for <{name}>")

    def _level(self, parent: etree._Element, start: int, stop: int) -> list[Block]:
        text = self.doc.text
        elements = [c for c in parent if isinstance(c.tag, str)]
        blocks: list[Block] = []
        pos = start
        while True:
            i = text.find("<", pos, stop)
            if i < 0:
                break
            if text.startswith("<!", i) or text.startswith("<?", i):
                pos = self._opaque_ends[bisect.bisect_right(self._opaque_starts, i) - 1]
                continue
            m = _START_TAG.match(text, i)
            if m is None or len(blocks) >= len(elements):
                raise RuntimeError("storage scanner disagrees with the XML parser")
            name, tag_end = m.group(1), m.end()
            if text[tag_end - 2] == "/":
                inner_end = end = tag_end
            else:
                inner_end, end = self._close(name, tag_end)
            el = elements[len(blocks)]
            if qname(el) != name:
                # Never edit on a guess: the spans must describe the parsed tree.
                raise RuntimeError("storage scanner disagrees with the XML parser")
            blocks.append(Block(name, i, end, tag_end, inner_end, el))
            pos = end
        if len(blocks) != len(elements):
            raise RuntimeError("storage scanner disagrees with the XML parser")
        return blocks


def element_spans(text: str) -> list[ElementSpan]:
    """Spans of every element of a well-formed body, in document order.

    A full tokenizer (slower than :class:`SpanTree`, which scans only the levels
    edits need); handy for tooling and for cross-checking.

    Args:
        text: Storage XHTML that already passed :func:`parse_storage`.

    Returns:
        One span per element; index ``i`` matches ``StorageDocument.elements[i]``.
    """
    tags: list[str] = []
    starts: list[int] = []
    inner_starts: list[int] = []
    ends: list[int] = []
    inner_ends: list[int] = []
    stack: list[int] = []
    for m in _TOKEN.finditer(text):
        name = m.group(2)
        if name is None:
            if m.group(1) is not None:
                idx = stack.pop()
                inner_ends[idx] = m.start()
                ends[idx] = m.end()
            continue
        idx = len(tags)
        tags.append(name)
        start, end = m.span()
        starts.append(start)
        inner_starts.append(end)
        if text[end - 2] == "/":
            inner_ends.append(end)
            ends.append(end)
        else:
            inner_ends.append(-1)
            ends.append(-1)
            stack.append(idx)
    return [
        ElementSpan(tags[i], starts[i], ends[i], inner_starts[i], inner_ends[i])
        for i in range(len(tags))
    ]
