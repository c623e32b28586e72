"""Text helpers: plain text for the index, search excerpts, and the read-only body formats."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime

_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# Inline elements vanish without a trace; any other tag separates words.
_INLINE = re.compile(
    r"</?(strong|em|b|i|u|s|span|a|code|sub|sup|time|ac:link|ac:plain-text-link-body|"
    r"ac:link-body|ri:[\w-]+)\b[^>]*>",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+", re.UNICODE)
_MACRO_OPEN = re.compile(r'<ac:structured-macro\b[^>]*\bac:name="([^"]*)"[^>]*>')
_PARAM = re.compile(r"<ac:parameter\b[^>]*>.*?</ac:parameter>", re.DOTALL)

HL_START = "@@@hl@@@"
HL_END = "@@@endhl@@@"


def now_iso() -> str:
    """Return the current UTC time as Confluence writes it (ISO-8601, milliseconds, ``Z``)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def storage_to_text(body: str) -> str:
    """Plain text of a storage-format body (tags dropped, CDATA kept, entities decoded).

    Regex-based on purpose: it indexes ten thousand seed pages in well under a second and
    never fails on the odd fragment that a strict XML parser would reject.
    """
    text = _CDATA.sub(lambda m: html.escape(m.group(1)), body)
    # Macro parameters (``toc`` levels, ``code`` language) are not page text.
    text = _PARAM.sub(" ", text)
    text = _INLINE.sub("", text)
    text = _TAG.sub(" ", text)
    return _SPACE.sub(" ", html.unescape(text)).strip()


def terms_of(query_text: str) -> list[str]:
    """Lower-cased words of a text-search value, wildcards and operators dropped."""
    words = [w.lower() for w in _WORD.findall(query_text)]
    return [w for w in words if w not in {"and", "or", "not"}]


def _matches(word: str, terms: Iterable[str]) -> bool:
    low = word.lower()
    # Prefix match approximates the porter stemmer used by the index
    # ("guideline" highlights "guidelines").
    return any(low.startswith(t[: max(3, len(t) - 2)]) if len(t) > 3 else low == t for t in terms)


def highlight(text: str, terms: Iterable[str]) -> str:
    """HTML-escape ``text`` and wrap words matching ``terms`` in ``@@@hl@@@`` markers."""
    term_list = [t for t in terms if t]
    out: list[str] = []
    last = 0
    for m in _WORD.finditer(text):
        if term_list and _matches(m.group(0), term_list):
            out.append(html.escape(text[last : m.start()], quote=False))
            out.append(HL_START + html.escape(m.group(0), quote=False) + HL_END)
            last = m.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def excerpt(text: str, terms: Iterable[str], *, mode: str = "highlight", width: int = 240) -> str:
    """A search excerpt of ``text`` around the first matching term.

    Args:
        text: plain body text.
        terms: lower-cased query words.
        mode: the ``excerpt`` query parameter (``highlight``, ``indexed``, ``none``, ...).
        width: maximum excerpt length in characters.

    Returns:
        The excerpt; ``""`` when mode is ``none``.
    """
    if mode == "none":
        return ""
    term_list = list(terms)
    start = 0
    if term_list:
        for m in _WORD.finditer(text):
            if _matches(m.group(0), term_list):
                start = max(0, m.start() - width // 4)
                break
    window = text[start : start + width]
    if start > 0:
        window = "…" + window.split(" ", 1)[-1]
    if start + width < len(text):
        window = window.rsplit(" ", 1)[0] + "…"
    if mode.startswith("highlight"):
        return highlight(window, term_list) if mode == "highlight" else _plain_hl(window, term_list)
    return html.escape(window, quote=False) if mode == "indexed" else window


def _plain_hl(text: str, terms: list[str]) -> str:
    # highlight_unescaped: markers without HTML escaping.
    return html.unescape(highlight(text, terms))


def storage_to_view(body: str) -> str:
    """A rough ``view`` (rendered HTML) representation of a storage body.

    Macros become ``<div class="conf-macro" data-macro-name="...">`` and ``ac:``/``ri:``
    markup is dropped, which is what read-only consumers of ``body.view`` need.
    """
    text = _CDATA.sub(lambda m: html.escape(m.group(1)), body)
    text = _PARAM.sub("", text)
    text = _MACRO_OPEN.sub(r'<div class="conf-macro output-block" data-macro-name="\1">', text)
    text = text.replace("</ac:structured-macro>", "</div>")
    text = re.sub(r"</?(ac|ri):[^>]*>", "", text)
    return text


def storage_to_adf(body: str) -> str:
    """A minimal Atlassian Document Format rendering (serialized JSON string), one paragraph."""
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": storage_to_text(body)}]}
        ],
    }
    return json.dumps(doc)
