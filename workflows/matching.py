"""Deterministic topic matcher used when no chat model is available.

The PRD audit must decide offline whether a page already covers a topic such as
"Stripe webhook integration". Plain substring search is too brittle for prose
written by people, so the matcher normalises both sides:

* case is ignored;
* word forms are folded by a small suffix stripper ("webhooks" → "webhook",
  "integrating"/"integration"/"integrated" → "integr");
* hyphenated and split compounds match the closed form ("web-hook", "web hook"
  and "webhook" are the same term), in both directions;
* stop-words in the topic are ignored.

A topic counts as covered when one heading or one sentence contains every topic
term: requiring co-occurrence in a single place avoids declaring coverage just
because "Stripe" and "integration" appear in unrelated paragraphs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "STOP_WORDS",
    "TopicMatch",
    "match_topic",
    "split_sentences",
    "stem",
    "term_set",
    "tokenize",
    "topic_terms",
]

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after all also an and any are as at be been being but by can could did
    do does doing for from had has have having how i if in into is it its itself me more
    most my no nor not of on or our ours out over own same should so some such than that
    the their them then there these they this those through to too under up us very was
    we were what when where which while who whom why will with would you your yours tell
    please
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_WORD_RE = re.compile(r"[0-9A-Za-z\u00C0-\u024F]+")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")

# Ordered longest first so "ations" wins over "s".
_SUFFIXES: tuple[str, ...] = (
    "ations",
    "ation",
    "ings",
    "ing",
    "ions",
    "ion",
    "ed",
    "es",
    "s",
)


def stem(word: str) -> str:
    """Fold a word to a crude stem so that common English word forms compare equal.

    Args:
        word: One token (any case).

    Returns:
        The lower-cased stem, e.g. ``"integr"`` for "integrating", "integration",
        "integrate" and "integrated"; ``"webhook"`` for "Webhooks".
    """
    w = word.lower()
    if len(w) <= 3:
        return w
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            # "ss"/"us" endings are not plurals ("process", "status").
            if suffix == "s" and w[-2] in "su":
                continue
            w = w[: -len(suffix)]
            # "logging" -> "logg" -> "log": undo the doubled consonant.
            if suffix in ("ing", "ings", "ed") and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    # Second pass folds the verb/noun tails the first pass leaves behind:
    # "integrat(e)" -> "integr", so every form of "integrate" meets in one stem.
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    if w.endswith("at") and len(w) > 5:
        w = w[:-2]
    return w


def tokenize(text: str) -> list[str]:
    """Split text into lower-cased word tokens (hyphens and punctuation separate words)."""
    return [m.group(0).lower() for m in _WORD_RE.finditer(text)]


def term_set(text: str) -> set[str]:
    """Stems of every word in ``text`` plus the stems of adjacent-word compounds.

    Joining neighbours lets "web hook" and "web-hook" match the topic term "webhook".
    """
    tokens = tokenize(text)
    terms = {stem(t) for t in tokens}
    terms.update(stem(a + b) for a, b in itertools.pairwise(tokens))
    return terms


def topic_terms(topic: str, vocabulary: Iterable[str] = ()) -> list[str]:
    """Normalised, de-duplicated content terms of a topic.

    Args:
        topic: Free text such as "Stripe web hook integration".
        vocabulary: Stems known to occur in the document. When two adjacent topic
            words form a compound present there ("web" + "hook" → "webhook"), they
            are merged into one term so a split topic still matches closed text.

    Returns:
        Stems in topic order, stop-words removed.
    """
    words = [t for t in tokenize(topic) if t not in STOP_WORDS]
    vocab = set(vocabulary)
    out: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words):
            compound = stem(words[i] + words[i + 1])
            if compound in vocab:
                out.append(compound)
                i += 2
                continue
        out.append(stem(words[i]))
        i += 1
    return list(dict.fromkeys(out))


def split_sentences(text: str) -> list[str]:
    """Split rendered page text into sentences / lines, dropping blanks."""
    return [s.strip() for s in _SENTENCE_RE.split(text) if s and s.strip()]


@dataclass(frozen=True)
class TopicMatch:
    """Result of :func:`match_topic`.

    Attributes:
        covered: ``True`` when a heading or a single sentence holds every term.
        terms: The normalised topic terms that were looked for.
        evidence: Headings (prefixed ``"Heading: "``) and sentences that hold every term.
        missing_terms: Terms that occur nowhere in the document.
        partial: Sentences holding most (but not all) terms, useful as hints.
    """

    covered: bool
    terms: list[str]
    evidence: list[str] = field(default_factory=list)
    missing_terms: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)


def match_topic(
    topic: str, text: str, headings: Sequence[str] = (), *, max_evidence: int = 5
) -> TopicMatch:
    """Decide whether ``text`` (plus ``headings``) covers ``topic``.

    Args:
        topic: The topic that must be covered.
        text: Plain text of the page (e.g. ``storage.to_text``).
        headings: Section headings of the page.
        max_evidence: Cap on the quotes returned.

    Returns:
        A :class:`TopicMatch`; ``covered`` is ``False`` for an empty topic.
    """
    doc_terms = term_set(text) | set().union(*(term_set(h) for h in headings))
    terms = topic_terms(topic, doc_terms)
    if not terms:
        return TopicMatch(covered=False, terms=[])
    wanted = set(terms)
    evidence: list[str] = []
    for heading in headings:
        if wanted <= term_set(heading):
            evidence.append(f"Heading: {heading}")
    partial: list[str] = []
    threshold = max(1, len(wanted) - 1)
    for sentence in split_sentences(text):
        found = wanted & term_set(sentence)
        if found == wanted:
            if sentence not in evidence:
                evidence.append(sentence)
        elif len(wanted) > 1 and len(found) >= threshold:
            partial.append(sentence)
    missing = [t for t in terms if t not in doc_terms]
    return TopicMatch(
        covered=bool(evidence),
        terms=terms,
        evidence=evidence[:max_evidence],
        missing_terms=missing,
        partial=partial[:max_evidence],
    )
