"""Typed, immutable AST for Confluence Query Language (CQL).

Stable public names (the sandbox compiles these to SQL): ``Query``, ``OrderBy``,
``Clause``, ``And``, ``Or``, ``Not``, ``String``, ``Number``, ``ValueList``,
``FunctionCall``, ``Span`` and the type aliases ``Expr``, ``Scalar``, ``Value``.

Normalisation performed by the parser (and expected from anyone building nodes):

* ``Clause.field`` is the field name **lower-cased as written** (``pageStatus`` →
  ``"pagestatus"``, ``Space.Key`` → ``"space.key"``).  Aliases are *not* rewritten, so
  ``content`` stays ``"content"`` and ``favorite`` stays ``"favorite"``;
  ``Clause.canonical_field`` maps aliases to their canonical name (``content`` →
  ``"id"``, ``favorite`` → ``"favourite"``).  For ``content.property[key].path`` fields
  only the ``content.property`` prefix is lower-cased; the bracketed key and the path
  after it keep their case (property keys are case-sensitive).
* ``Clause.op`` is one of ``= != ~ !~ > >= < <= IN NOT IN`` (keywords upper-case,
  single space in ``NOT IN``).
* ``OrderBy.field`` is lower-cased like ``Clause.field``; ``OrderBy.direction`` is
  ``"ASC"``, ``"DESC"`` or ``None`` (field default).
* ``And``/``Or`` are n-ary and flattened (``a AND (b AND c)`` → ``And((a, b, c))``).
  Without parentheses CQL evaluates AND/OR **left to right with equal precedence**, so
  ``a OR b AND c`` parses as ``And((Or((a, b)), c))``.
* ``FunctionCall.name`` is kept as written; ``FunctionCall.canonical_name`` gives the
  documented spelling (``currentuser`` → ``"currentUser"``) when the function is known.
* ``String.value`` is the *decoded* value (``"a \\"b\\""`` → ``a "b"``); ``quoted``
  records whether it was quoted in the source.

Equality ignores source positions: every ``span`` field is ``compare=False``, so
``parse(parse(q).to_cql()) == parse(q)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "OPERATORS",
    "And",
    "Clause",
    "Expr",
    "FunctionCall",
    "Not",
    "Number",
    "Or",
    "OrderBy",
    "Query",
    "Scalar",
    "Span",
    "String",
    "Value",
    "ValueList",
    "quote",
]

OPERATORS: tuple[str, ...] = ("=", "!=", "~", "!~", ">", ">=", "<", "<=", "IN", "NOT IN")


@dataclass(frozen=True, slots=True)
class Span:
    """Source position: ``start``/``end`` are 0-based character offsets (end exclusive);
    ``line``/``column`` are 1-based and refer to ``start``."""

    start: int
    end: int
    line: int
    column: int


def quote(value: str) -> str:
    """Return ``value`` as a double-quoted CQL string (``\\`` → ``\\\\``, ``"`` → ``\\"``).

    The result is always a single string token whatever ``value`` contains.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class String:
    """A string value.  ``value`` is decoded; ``quoted`` is whether the source quoted it."""

    value: str
    quoted: bool = True
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    def to_cql(self) -> str:
        return quote(self.value) if self.quoted else self.value


@dataclass(frozen=True, slots=True)
class Number:
    """An unquoted numeric value (``id = 123``, ``recentlyViewedContent(10, 20)``)."""

    value: int | float
    #: Source spelling (``"0123"``, ``"1.50"``); not part of equality.
    text: str | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    def to_cql(self) -> str:
        if self.text is not None:
            return self.text
        if isinstance(self.value, bool):
            raise TypeError("Number does not take bool values")
        if isinstance(self.value, int):
            return str(self.value)
        out = repr(self.value)
        return format(self.value, "f") if ("e" in out or "inf" in out or "nan" in out) else out


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """``name(arg, ...)``: ``currentUser()``, ``now("-4w")``, ``recentlyViewedContent(10, 20)``."""

    name: str
    args: tuple[String | Number, ...] = ()
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    @property
    def canonical_name(self) -> str:
        """Documented spelling of the function if known, else ``name`` unchanged."""
        from confluence_agent.cql.fields import canonical_function_name

        return canonical_function_name(self.name)

    def to_cql(self) -> str:
        return f"{self.name}({', '.join(a.to_cql() for a in self.args)})"


Scalar: TypeAlias = String | Number | FunctionCall


@dataclass(frozen=True, slots=True)
class ValueList:
    """``(v1, v2, ...)`` — right-hand side of ``IN`` / ``NOT IN``."""

    items: tuple[Scalar, ...]
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    def to_cql(self) -> str:
        return "(" + ", ".join(i.to_cql() for i in self.items) + ")"


Value: TypeAlias = String | Number | ValueList | FunctionCall


# ------------------------------------------------------------------------- clauses


@dataclass(frozen=True, slots=True)
class Clause:
    """``field op value``.  ``field`` is lower-cased (see module doc), ``op`` normalised."""

    field: str
    op: str
    value: Value
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)
    field_span: Span | None = dataclasses.field(
        default=None, compare=False, repr=False, kw_only=True
    )
    op_span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    @property
    def canonical_field(self) -> str:
        """Canonical field name with aliases resolved (``content`` → ``id``)."""
        from confluence_agent.cql.fields import canonical_field_name

        return canonical_field_name(self.field)

    def to_cql(self) -> str:
        return f"{self.field} {self.op} {self.value.to_cql()}"


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    def to_cql(self) -> str:
        return " AND ".join(_child_cql(i, And) for i in self.items)


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    def to_cql(self) -> str:
        return " OR ".join(_child_cql(i, Or) for i in self.items)


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    def to_cql(self) -> str:
        if isinstance(self.item, Clause | Not):
            return "NOT " + self.item.to_cql()
        return "NOT (" + self.item.to_cql() + ")"


Expr: TypeAlias = Clause | And | Or | Not


def _child_cql(child: Expr, parent: type[And] | type[Or]) -> str:
    # Always parenthesise a nested AND/OR group: CQL evaluates left to right, so
    # explicit grouping is the only way to keep the tree shape on re-parse.
    if isinstance(child, And | Or):
        return "(" + child.to_cql() + ")"
    return child.to_cql()


# -------------------------------------------------------------------------- query


@dataclass(frozen=True, slots=True)
class OrderBy:
    field: str
    direction: str | None = None  # "ASC" | "DESC" | None (field default)
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    @property
    def canonical_field(self) -> str:
        from confluence_agent.cql.fields import canonical_field_name

        return canonical_field_name(self.field)

    @property
    def descending(self) -> bool:
        return self.direction == "DESC"

    def to_cql(self) -> str:
        return self.field + (f" {self.direction}" if self.direction else "")


@dataclass(frozen=True, slots=True)
class Query:
    where: Expr | None
    order_by: tuple[OrderBy, ...] = ()
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)

    def to_cql(self) -> str:
        parts: list[str] = []
        if self.where is not None:
            parts.append(self.where.to_cql())
        if self.order_by:
            parts.append("ORDER BY " + ", ".join(o.to_cql() for o in self.order_by))
        return " ".join(parts)

    def clauses(self) -> Iterator[Clause]:
        """Every ``Clause`` in the WHERE part, left to right."""
        if self.where is not None:
            yield from iter_clauses(self.where)


def iter_clauses(expr: Expr) -> Iterator[Clause]:
    """Every ``Clause`` below ``expr``, left to right."""
    if isinstance(expr, Clause):
        yield expr
    elif isinstance(expr, Not):
        yield from iter_clauses(expr.item)
    else:
        for item in expr.items:
            yield from iter_clauses(item)
