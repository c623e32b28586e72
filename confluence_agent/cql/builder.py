"""Typed CQL builder.

    >>> (Title("Q3 Billing") & Space("ENG")).order_by("lastmodified", desc=True).to_cql()
    'title ~ "Q3 Billing" AND space = "ENG" ORDER BY lastmodified DESC'

Every user-supplied string becomes a quoted :class:`~confluence_agent.cql.ast.String`
rendered through :func:`~confluence_agent.cql.ast.quote` (``\\`` → ``\\\\``, ``"`` →
``\\"``), so no input can change the structure of the query: the value always
re-parses as the same single value.  (Inside a ``~`` value Lucene syntax such as
``*`` or ``?`` still has its text-search meaning; that is the value, not the
structure.)

Fields and operators are checked against :data:`~confluence_agent.cql.fields.FIELDS`
when the condition is built; a misuse raises ``ValueError`` with a fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluence_agent.cql.ast import (
    And,
    Clause,
    Expr,
    FunctionCall,
    Not,
    Number,
    Or,
    OrderBy,
    Query,
    Scalar,
    String,
    Value,
    ValueList,
)
from confluence_agent.cql.fields import lookup_field, sort_fields_text, suggest_field
from confluence_agent.cql.parser import normalise_field
from confluence_agent.cql.problems import CQLProblem

__all__ = [
    "CQL",
    "Ancestor",
    "Condition",
    "Contributor",
    "Created",
    "Creator",
    "CurrentUser",
    "EndOfDay",
    "EndOfMonth",
    "EndOfWeek",
    "EndOfYear",
    "FavouriteSpaces",
    "Field",
    "Label",
    "LastModified",
    "Mention",
    "Now",
    "Parent",
    "RecentlyViewedContent",
    "RecentlyViewedSpaces",
    "Space",
    "StartOfDay",
    "StartOfMonth",
    "StartOfWeek",
    "StartOfYear",
    "Text",
    "Title",
    "Type",
    "Watcher",
    "all_of",
    "any_of",
    "not_",
]

Literal = str | int | float | FunctionCall


def _scalar(v: Literal) -> Scalar:
    if isinstance(v, FunctionCall):
        return v
    if isinstance(v, bool):
        raise TypeError("CQL has no booleans; pass a string")
    if isinstance(v, int | float):
        return Number(v)
    if isinstance(v, str):
        return String(v, quoted=True)
    raise TypeError(f"cannot use {type(v).__name__} as a CQL value")


# ------------------------------------------------------------------ functions


def _fn(name: str, *args: str | int | None) -> FunctionCall:
    out: list[String | Number] = []
    for a in args:
        if a is None:
            continue
        out.append(Number(a) if isinstance(a, int) and not isinstance(a, bool) else String(str(a)))
    return FunctionCall(name, tuple(out))


def CurrentUser() -> FunctionCall:  # noqa: N802
    """``currentUser()`` — user fields."""
    return _fn("currentUser")


def Now(increment: str | None = None) -> FunctionCall:  # noqa: N802
    """``now("-4w")`` — increment ``(+|-)nn(y|M|w|d|h|m)``."""
    return _fn("now", increment)


def StartOfDay(increment: str | None = None) -> FunctionCall:  # noqa: N802
    return _fn("startOfDay", increment)


def StartOfWeek(increment: str | None = None) -> FunctionCall:  # noqa: N802
    return _fn("startOfWeek", increment)


def StartOfMonth(increment: str | None = None) -> FunctionCall:  # noqa: N802
    return _fn("startOfMonth", increment)


def StartOfYear(increment: str | None = None) -> FunctionCall:  # noqa: N802
    return _fn("startOfYear", increment)


def EndOfDay(increment: str | None = None) -> FunctionCall:  # noqa: N802
    return _fn("endOfDay", increment)


def EndOfWeek(increment: str | None = None) -> FunctionCall:  # noqa: N802
    return _fn("endOfWeek", increment)


def EndOfMonth(increment: str | None = None) -> FunctionCall:  # noqa: N802
    return _fn("endOfMonth", increment)


def EndOfYear(increment: str | None = None) -> FunctionCall:  # noqa: N802
    return _fn("endOfYear", increment)


def FavouriteSpaces() -> FunctionCall:  # noqa: N802
    return _fn("favouriteSpaces")


def RecentlyViewedContent(limit: int, offset: int | None = None) -> FunctionCall:  # noqa: N802
    return _fn("recentlyViewedContent", limit, offset)


def RecentlyViewedSpaces(limit: int) -> FunctionCall:  # noqa: N802
    return _fn("recentlyViewedSpaces", limit)


# ----------------------------------------------------------------- conditions


@dataclass(frozen=True, slots=True)
class Condition:
    """A WHERE expression.  Combine with ``&`` (AND), ``|`` (OR), ``~`` (NOT)."""

    expr: Expr

    def __and__(self, other: Condition) -> Condition:
        return all_of(self, other)

    def __or__(self, other: Condition) -> Condition:
        return any_of(self, other)

    def __invert__(self) -> Condition:
        return not_(self)

    def order_by(self, field: str, *, desc: bool = False) -> CQL:
        return CQL(self).order_by(field, desc=desc)

    def to_query(self) -> Query:
        return Query(self.expr)

    def to_cql(self) -> str:
        return self.expr.to_cql()

    def validate(self, *, endpoint: str = "search", cloud: bool = True) -> list[CQLProblem]:
        return CQL(self).validate(endpoint=endpoint, cloud=cloud)

    def __str__(self) -> str:
        return self.to_cql()


def _combine(kind: type[And] | type[Or], conds: Iterable[Condition]) -> Condition:
    items: list[Expr] = []
    for c in conds:
        if not isinstance(c, Condition):
            raise TypeError(f"expected a Condition, got {type(c).__name__}")
        if isinstance(c.expr, kind):
            items.extend(c.expr.items)
        else:
            items.append(c.expr)
    if not items:
        raise ValueError("need at least one condition")
    if len(items) == 1:
        return Condition(items[0])
    return Condition(kind(tuple(items)))


def all_of(*conds: Condition) -> Condition:
    """AND of the conditions (``a & b & c``)."""
    return _combine(And, conds)


def any_of(*conds: Condition) -> Condition:
    """OR of the conditions (``a | b | c``); parenthesised automatically when nested."""
    return _combine(Or, conds)


def not_(cond: Condition) -> Condition:
    """NOT of a condition.  Note: a query may not *start* with a negative clause."""
    return Condition(Not(cond.expr))


@dataclass(frozen=True, slots=True)
class CQL:
    """A whole query: a condition plus ORDER BY keys."""

    where: Condition | None = None
    order: tuple[OrderBy, ...] = ()

    def order_by(self, field: str, *, desc: bool = False) -> CQL:
        spec = lookup_field(field)
        if spec is None:
            raise ValueError(_unknown(field))
        if spec.multi_valued:
            raise ValueError(
                f"cannot ORDER BY {field}: it is multi-valued; use {sort_fields_text()}"
            )
        key = OrderBy(normalise_field(field), "DESC" if desc else "ASC")
        return CQL(self.where, (*self.order, key))

    def to_query(self) -> Query:
        return Query(self.where.expr if self.where is not None else None, self.order)

    def to_cql(self) -> str:
        return self.to_query().to_cql()

    def validate(self, *, endpoint: str = "search", cloud: bool = True) -> list[CQLProblem]:
        from confluence_agent.cql.validate import validate_query

        return validate_query(self.to_query(), endpoint=endpoint, cloud=cloud)

    def __str__(self) -> str:
        return self.to_cql()


def _unknown(name: str) -> str:
    best = suggest_field(name)
    return f"No field exists with the name '{name}'" + (f"; did you mean '{best}'?" if best else "")


class Field:
    """A CQL field; methods build checked clauses.  ``Field("title").contains("x")``."""

    __slots__ = ("name", "spec")

    def __init__(self, name: str) -> None:
        spec = lookup_field(name)
        if spec is None:
            raise ValueError(_unknown(name))
        self.spec = spec
        self.name = normalise_field(name)

    def __repr__(self) -> str:
        return f"Field({self.name!r})"

    def _clause(self, op: str, value: Value) -> Condition:
        if not self.spec.allows(op):
            ops = ", ".join(sorted(self.spec.operators))
            raise ValueError(f"`{self.name}` does not support `{op}` (supported: {ops})")
        return Condition(Clause(self.name, op, value))

    def eq(self, value: Literal) -> Condition:
        return self._clause("=", _scalar(value))

    def ne(self, value: Literal) -> Condition:
        return self._clause("!=", _scalar(value))

    def contains(self, text: str) -> Condition:
        """``field ~ "text"`` (Lucene text search)."""
        return self._clause("~", _scalar(text))

    def not_contains(self, text: str) -> Condition:
        return self._clause("!~", _scalar(text))

    def gt(self, value: Literal) -> Condition:
        return self._clause(">", _scalar(value))

    def gte(self, value: Literal) -> Condition:
        return self._clause(">=", _scalar(value))

    def lt(self, value: Literal) -> Condition:
        return self._clause("<", _scalar(value))

    def lte(self, value: Literal) -> Condition:
        return self._clause("<=", _scalar(value))

    def _list(self, op: str, values: Iterable[Literal] | FunctionCall) -> Condition:
        if isinstance(values, FunctionCall):
            return self._clause(op, values)
        if isinstance(values, str):
            raise TypeError("in_() takes a list of values, not a single string")
        items = tuple(_scalar(v) for v in values)
        if not items:
            raise ValueError(f"{op} needs at least one value")
        return self._clause(op, ValueList(items))

    def in_(self, values: Iterable[Literal] | FunctionCall) -> Condition:
        return self._list("IN", values)

    def not_in(self, values: Iterable[Literal] | FunctionCall) -> Condition:
        return self._list("NOT IN", values)

    def between(self, start: Literal, end: Literal) -> Condition:
        """``field >= start AND field < end`` (half-open range)."""
        return self.gte(start) & self.lt(end)


# ------------------------------------------------------------- field shortcuts


def Space(key: str) -> Condition:  # noqa: N802
    """``space = "KEY"`` (space key, not name)."""
    return Field("space").eq(key)


def Title(text: str, *, exact: bool = False) -> Condition:  # noqa: N802
    """``title ~ "text"``; ``exact=True`` → ``title = "text"``."""
    f = Field("title")
    return f.eq(text) if exact else f.contains(text)


def Text(text: str, *, phrase: bool = False) -> Condition:  # noqa: N802
    """``text ~ "text"`` (title + body + labels, words in any order).

    ``phrase=True`` searches the exact phrase: ``text ~ "\\"hello dolly\\""``.
    """
    if phrase:
        text = '"' + text.replace('"', " ").strip() + '"'
    return Field("text").contains(text)


def Label(*names: str) -> Condition:  # noqa: N802
    """``label = "a"``, or ``label IN ("a", "b")`` for several."""
    f = Field("label")
    return f.eq(names[0]) if len(names) == 1 else f.in_(names)


def Type(*types: str) -> Condition:  # noqa: N802
    """``type = page`` / ``type IN (page, blogpost)``."""
    f = Field("type")
    return f.eq(types[0]) if len(types) == 1 else f.in_(types)


def Ancestor(content_id: int | str) -> Condition:  # noqa: N802
    return Field("ancestor").eq(_content_id(content_id))


def Parent(content_id: int | str) -> Condition:  # noqa: N802
    return Field("parent").eq(_content_id(content_id))


def _content_id(v: int | str) -> int | str:
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return v


def Creator(account_id: str | FunctionCall) -> Condition:  # noqa: N802
    """``creator = "<accountId>"`` or ``creator = currentUser()``."""
    return Field("creator").eq(account_id)


def Contributor(account_id: str | FunctionCall) -> Condition:  # noqa: N802
    return Field("contributor").eq(account_id)


def Mention(account_id: str | FunctionCall) -> Condition:  # noqa: N802
    return Field("mention").eq(account_id)


def Watcher(account_id: str | FunctionCall) -> Condition:  # noqa: N802
    return Field("watcher").eq(account_id)


def Created() -> Field:  # noqa: N802
    return Field("created")


def LastModified() -> Field:  # noqa: N802
    return Field("lastmodified")
