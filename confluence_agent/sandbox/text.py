"""Text helpers: plain text for the index, search excerpts, and the read-only body formats."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache

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

# What the CQL fields ``macro`` and ``mention`` look for in a storage body.
_MACRO_REF = re.compile(r'ac:name="([^"]*)"')
_MENTION_REF = re.compile(r'ri:account-id="([^"]*)"')

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


def references(body: str) -> set[tuple[str, str]]:
    """``("macro", name)`` and ``("mention", account id)`` pairs found in a storage body.

    Any ``ac:name="..."`` counts as a macro name, as a substring search of the body
    would find it, so ``macro = code`` matches exactly the pages it matched before
    these references were indexed.
    """
    refs = {("macro", m) for m in _MACRO_REF.findall(body)}
    refs.update(("mention", m) for m in _MENTION_REF.findall(body))
    return refs


def terms_of(query_text: str) -> list[str]:
    """Lower-cased words of a text-search value, wildcards and operators dropped."""
    words = [w.lower() for w in _WORD.findall(query_text)]
    return [w for w in words if w not in {"and", "or", "not"}]


@lru_cache(maxsize=256)
def _matcher(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding every word that matches a query term, or ``None`` without terms.

    A word matches a term longer than three characters when it starts with the term
    minus its last two characters (at least three kept): a cheap stand-in for the porter
    stemmer of the index, so "guideline" highlights "guidelines". Shorter terms must match
    the whole word. Compiling this once per query keeps excerpts of long bodies in C.
    """
    alternatives = [
        re.escape(t[: max(3, len(t) - 2)]) + r"\w*" if len(t) > 3 else re.escape(t) + r"(?!\w)"
        for t in dict.fromkeys(t for t in terms if t)
    ]
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + ")", re.IGNORECASE | re.UNICODE)


def highlight(text: str, terms: Iterable[str]) -> str:
    """HTML-escape ``text`` and wrap words matching ``terms`` in ``@@@hl@@@`` markers."""
    matcher = _matcher(tuple(terms))
    if matcher is None:
        return html.escape(text, quote=False)
    out: list[str] = []
    last = 0
    for m in matcher.finditer(text):
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
    term_list = tuple(terms)
    matcher = _matcher(term_list)
    first = matcher.search(text) if matcher is not None else None
    start = max(0, first.start() - width // 4) if first is not None else 0
    window = text[start : start + width]
    if start > 0:
        window = "…" + window.split(" ", 1)[-1]
    if start + width < len(text):
        window = window.rsplit(" ", 1)[0] + "…"
    if mode.startswith("highlight"):
        return highlight(window, term_list) if mode == "highlight" else _plain_hl(window, term_list)
    return html.escape(window, quote=False) if mode == "indexed" else window


def _plain_hl(text: str, terms: tuple[str, ...]) -> str:
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
