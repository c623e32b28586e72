"""CQL the workflows send, built with the CQL builder (never by string pasting).

Values are always quoted by the builder, so a title such as ``Q3 "Billing"`` or a
question with CQL keywords in it cannot change the query's structure.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluence_agent.workflows.matching import STOP_WORDS, tokenize

from confluence_agent.cql.ast import And
from confluence_agent.cql.builder import (
    CQL,
    Condition,
    Field,
    Space,
    Text,
    Title,
    Type,
    any_of,
)
from confluence_agent.cql.parser import parse

__all__ = [
    "QUESTION_WORDS",
    "page_search_cql",
    "question_terms",
    "restrict_to_spaces",
    "text_search_cql",
]

# Words that frame a question but say nothing about its subject.
QUESTION_WORDS: frozenset[str] = frozenset(
    """
    find show list give explain describe know need want use using used anything
    something everything documented document documentation docs page pages
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def question_terms(question: str, *, max_terms: int = 6) -> list[str]:
    """Content words of a question, stop-words and question framing removed.

    Args:
        question: Free text.
        max_terms: Cap (longer questions keep their first terms).

    Returns:
        Lower-cased words in question order, de-duplicated.
    """
    out: list[str] = []
    for word in tokenize(question):
        if word in STOP_WORDS or word in QUESTION_WORDS or len(word) < 2 or word in out:
            continue
        out.append(word)
    return out[:max_terms]


def _space_filter(space_keys: Sequence[str]) -> Condition | None:
    keys = list(dict.fromkeys(k for k in space_keys if k))
    if not keys:
        return None
    return Space(keys[0]) if len(keys) == 1 else Field("space").in_(keys)


def page_search_cql(*, title: str | None, space_keys: Sequence[str] = ()) -> str:
    """CQL finding pages by title (``title ~``), optionally within spaces.

    Args:
        title: Title words to match (fuzzy; exact matches are ranked by the caller).
        space_keys: Space keys to restrict to.

    Returns:
        The CQL text.
    """
    expr = Type("page")
    if title:
        expr = expr & Title(title)
    space = _space_filter(space_keys)
    if space is not None:
        expr = expr & space
    return expr.to_cql()


def text_search_cql(terms: Sequence[str], *, space_keys: Sequence[str] = ()) -> str:
    """CQL matching pages whose text holds any of ``terms``, optionally within spaces.

    Any-term matching keeps recall high (a question's wording rarely matches a
    page exactly); the workflow ranks the hits by term coverage itself.

    Args:
        terms: Search words.
        space_keys: Space keys to restrict to.

    Returns:
        The CQL text.
    """
    expr = Type("page")
    if terms:
        expr = expr & any_of(*(Text(t) for t in terms))
    space = _space_filter(space_keys)
    if space is not None:
        expr = expr & space
    return expr.to_cql()


def restrict_to_spaces(cql: str, space_keys: Sequence[str]) -> str:
    """AND a space filter onto existing CQL (a caller's or a model's), structurally.

    The query is parsed and combined as a tree, so ``a OR b`` becomes
    ``(a OR b) AND space = "K"`` and ``ORDER BY`` stays last; a query that
    already requires exactly that filter at its top level is returned as rendered.

    Args:
        cql: Valid CQL (validate it first: parse errors propagate).
        space_keys: Space keys to restrict to; empty returns ``cql`` unchanged.

    Returns:
        The restricted CQL text.

    Raises:
        ValueError: ``cql`` does not parse.
    """
    space = _space_filter(space_keys)
    if space is None:
        return cql
    query = parse(cql)
    if query.where is None:
        return CQL(space, query.order_by).to_cql()
    top = query.where.items if isinstance(query.where, And) else (query.where,)
    where = Condition(query.where)
    if space.expr not in top:
        where = where & space
    return CQL(where, query.order_by).to_cql()
