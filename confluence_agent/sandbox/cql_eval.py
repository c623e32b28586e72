"""Compile a parsed CQL query (``confluence_agent.cql`` AST) to a SQL condition over the store.

The condition uses the aliases ``p`` (pages) and ``s`` (spaces) of :meth:`Store.search`;
every value is a bound parameter, and text searches go through FTS5 ``MATCH`` with
each word quoted, so no query text ever reaches SQL or FTS syntax unescaped.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from confluence_agent.cql.ast import (
    And,
    Clause,
    Expr,
    FunctionCall,
    Not,
    Number,
    Or,
    Query,
    String,
    Value,
    ValueList,
)
from confluence_agent.cql.fields import FIELDS, Endpoint, FieldType
from confluence_agent.sandbox.errors import ApiError, bad_request

# Which fields exist, which operators each takes, which are sortable and which belong
# to /search/user only all come from the one field table, ``confluence_agent.cql.FIELDS``;
# this module only knows how to evaluate the fields the sandbox has data for (see
# ``_Compiler._builders``/``_matchers``). Every other content field matches nothing.
_CONTENT_ENDPOINTS = frozenset({Endpoint.SEARCH, Endpoint.CONTENT_SEARCH})
_USER_SEARCH_ONLY = frozenset(
    name for name, spec in FIELDS.items() if not spec.endpoints & _CONTENT_ENDPOINTS
)
# Macro names and mentions are indexed per page (``page_refs``), not searched in bodies.
_REF_SQL = "p.id IN (SELECT page_id FROM page_refs WHERE kind = '{kind}' AND value = ?)"
_NEGATED = {"!=": "=", "!~": "~", "NOT IN": "IN"}
_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_INCREMENT = re.compile(r"([+-]?)(\d+)([yMwdhm])")
_DATE_FORMATS = (
    ("%Y/%m/%d %H:%M", timedelta(minutes=1)),
    ("%Y-%m-%d %H:%M", timedelta(minutes=1)),
    ("%Y/%m/%d", timedelta(days=1)),
    ("%Y-%m-%d", timedelta(days=1)),
)
# SQL column of every field FIELDS marks sortable (a test keeps the two in step).
ORDER_COLUMNS = {
    "created": "p.created_at",
    "lastmodified": "p.modified_at",
    "creator": "p.author_id",
    "title": "p.title COLLATE NOCASE",
    "id": "p.id",
    "space": "s.key",
    "space.key": "s.key",
    "type": "p.type",
}


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A CQL query as SQL.

    Attributes:
        where: condition over ``p``/``s``.
        params: its bound parameters, in order.
        order: ORDER BY text (may use ``score``).
        rank_match: FTS5 expression of the positive text clauses, for relevance ranking.
        terms: query words, for excerpt highlighting.
    """

    where: str
    params: tuple[object, ...]
    order: str
    rank_match: str | None
    terms: tuple[str, ...]


def no_field(name: str) -> ApiError:
    """The 400 Confluence gives for a field it does not know."""
    return bad_request(
        "com.atlassian.confluence.api.service.exceptions.BadRequestException: "
        f"No field exists with the name: '{name}'"
    )


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def fts_expression(value: str, column: str | None = None) -> str | None:
    """Translate a Lucene-style text value into a safe FTS5 expression.

    Words are AND-ed (``"hello dolly"`` = both words in any order), ``\\"exact phrase\\"``
    stays a phrase, ``OR``/``AND``/``NOT`` between words are honoured, a trailing ``*``
    or ``?`` makes a prefix query and fuzzy ``~`` is ignored. Returns ``None`` when the
    value holds no searchable word.
    """
    parts: list[str] = []
    pending = "AND"
    for m in _TOKEN.finditer(value):
        phrase, bare = m.group(1), m.group(2)
        if bare in ("AND", "&&", "OR", "||", "NOT"):
            pending = {"&&": "AND", "||": "OR"}.get(bare, bare)
            continue
        words = _words(phrase if phrase is not None else bare)
        if not words:
            continue
        item = '"' + " ".join(words) + '"'
        if bare is not None and bare.rstrip("~").endswith(("*", "?")):
            item += "*"
        if column:
            item = f"{column} : {item}"
        if parts:
            parts.append(pending)
        elif pending == "NOT":
            # FTS5 has no unary NOT; a leading NOT only narrows, so it is dropped.
            pass
        parts.append(item)
        pending = "AND"
    return " ".join(parts) if parts else None


# ---------------------------------------------------------------------- dates


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def apply_increment(moment: datetime, increment: str) -> datetime:
    """Shift ``moment`` by a CQL increment such as ``-4w``, ``+1d``, ``2M`` (``+`` assumed)."""
    spec = increment.strip()
    if (
        spec
        and not _INCREMENT.fullmatch(spec)
        and not re.fullmatch(r"(\s*[+-]?\d+[yMwdhm])+", spec)
    ):
        raise bad_request(f"Could not parse date increment: '{increment}'")
    for sign, amount, unit in _INCREMENT.findall(spec):
        n = -int(amount) if sign == "-" else int(amount)
        if unit == "y":
            moment = _add_months(moment, 12 * n)
        elif unit == "M":
            moment = _add_months(moment, n)
        else:
            scale = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
            moment += n * scale.get(unit, timedelta(minutes=1))
    return moment


def _start_of(unit: str, moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _end_of(unit: str, moment: datetime) -> datetime:
    start = _start_of(unit, moment)
    if unit == "day":
        nxt = start + timedelta(days=1)
    elif unit == "week":
        nxt = start + timedelta(weeks=1)
    elif unit == "month":
        nxt = _add_months(start, 1)
    else:
        nxt = start.replace(year=start.year + 1)
    return nxt - timedelta(milliseconds=1)


def date_range(value: Value, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) interval a date value denotes (a day, a minute or an instant)."""
    if isinstance(value, FunctionCall):
        name = value.name.lower()
        arg = value.args[0] if value.args else None
        increment = str(arg.value) if arg is not None else ""
        moment = now
        if name != "now":
            match = re.fullmatch(r"(startof|endof)(day|week|month|year)", name)
            if match is None:
                raise bad_request(f"Function '{value.name}' is not supported for date fields")
            shift = _start_of if match.group(1) == "startof" else _end_of
            moment = shift(match.group(2), now)
        moment = apply_increment(moment, increment)
        return moment, moment
    if isinstance(value, String):
        text = value.value.strip()
        if _INCREMENT.match(text) and re.fullmatch(r"[+-]?\d+[yMwdhm]", text):
            moment = apply_increment(now, text)
            return moment, moment
        for fmt, width in _DATE_FORMATS:
            try:
                start = datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
            return start, start + width
    raise bad_request(f"Could not parse date: '{_text(value)}'")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -------------------------------------------------------------------- compiler


def _text(value: Value) -> str:
    if isinstance(value, String):
        return value.value
    if isinstance(value, Number):
        return str(int(value.value)) if float(value.value).is_integer() else str(value.value)
    return value.to_cql()


@dataclass
class _Compiler:
    user_id: str
    now: datetime
    params: list[object] = field(default_factory=list)
    rank: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    def expr(self, node: Expr, negated: bool = False) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.expr(i, negated) for i in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.expr(i, negated) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"NOT {self.expr(node.item, not negated)}"
        return self.clause(node, negated)

    def clause(self, c: Clause, negated: bool) -> str:
        spec = FIELDS.get(c.canonical_field)
        if spec is None:
            raise no_field(c.field)
        if spec.name in _USER_SEARCH_ONLY:
            raise bad_request(
                f"The field '{c.field}' is only supported by /wiki/rest/api/search/user"
            )
        if c.op not in spec.operators:
            raise bad_request(f"The operator '{c.op}' is not supported by the '{c.field}' field")
        if spec.type is FieldType.DATE:
            return self.date(spec.name, c.op, c.value)
        op = _NEGATED.get(c.op, c.op)
        negative = op != c.op
        if op == "~":
            match = self._matchers().get(spec.name)
            # Only positive text clauses rank results and highlight excerpts.
            sql = match(c.value, not (negative ^ negated)) if match else "0"
        else:
            values = list(c.value.items) if isinstance(c.value, ValueList) else [c.value]
            build = self._builders().get(spec.name)
            sql = "(" + " OR ".join(build(v) for v in values) + ")" if build and values else "0"
        return f"NOT {sql}" if negative else sql

    def _matchers(self) -> dict[str, Callable[[Value, bool], str]]:
        """Evaluators of ``field ~ value`` (text search), by canonical field name."""
        return {
            "text": lambda v, remember: self.text(None, v, remember=remember),
            # The UI's relevance search: the same words over title, body and labels.
            "sitesearch": lambda v, remember: self.text(None, v, remember=remember),
            "title": lambda v, remember: self.text("title", v, remember=remember),
            "space.title": lambda v, _: self.bind("s.name LIKE ?", f"%{_text(v)}%"),
        }

    def _builders(self) -> dict[str, Callable[[Value], str]]:
        """Evaluators of ``field = value`` (and ``IN``), by canonical field name."""
        return {
            "type": lambda v: self.bind("p.type = ?", _text(v).lower()),
            "space": self.space_key,
            "space.key": self.space_key,
            "space.type": lambda v: self.bind("s.type = ?", _text(v).lower()),
            "title": lambda v: self.bind("p.title = ? COLLATE NOCASE", _text(v)),
            "id": self.content_id("p.id = ?"),
            "parent": self.content_id("p.parent_id = ?"),
            "ancestor": self.content_id(
                "p.id IN (WITH RECURSIVE d(id) AS (SELECT id FROM pages WHERE parent_id = ? "
                "UNION SELECT c.id FROM pages c JOIN d ON c.parent_id = d.id) SELECT id FROM d)"
            ),
            # Uncorrelated ``IN`` subqueries run once per statement, not once per page.
            "label": lambda v: self.bind(
                "p.id IN (SELECT pl.page_id FROM page_labels pl JOIN labels l "
                "ON l.id = pl.label_id WHERE l.name = ?)",
                _text(v).lower(),
            ),
            "creator": lambda v: self.bind("p.author_id = ?", self.account(v)),
            "contributor": lambda v: self.bind(
                "p.id IN (SELECT v.page_id FROM versions v WHERE v.author_id = ?)",
                self.account(v),
            ),
            "mention": lambda v: self.bind(_REF_SQL.format(kind="mention"), self.account(v)),
            "macro": lambda v: self.bind(_REF_SQL.format(kind="macro"), _text(v)),
        }

    def bind(self, sql: str, value: object) -> str:
        self.params.append(value)
        return sql

    def space_key(self, value: Value) -> str:
        if isinstance(value, FunctionCall):
            return "0"  # favouriteSpaces()/recentlyViewedSpaces(): the sandbox tracks neither
        return self.bind("s.key = ? COLLATE NOCASE", _text(value))

    def content_id(self, sql: str) -> Callable[[Value], str]:
        def build(value: Value) -> str:
            if isinstance(value, FunctionCall):
                return "0"  # recentlyViewedContent(): nothing is tracked
            text = _text(value)
            if not text.isdigit():
                raise bad_request(f"Could not parse cql : content id '{text}' is not a number")
            return self.bind(sql, int(text))

        return build

    def account(self, value: Value) -> str:
        if isinstance(value, FunctionCall):
            if value.name.lower() != "currentuser":
                raise bad_request(f"Function '{value.name}' is not supported for user fields")
            return self.user_id
        return _text(value)

    def text(self, column: str | None, value: Value, *, remember: bool) -> str:
        expr = fts_expression(_text(value), column)
        if expr is None:
            return "0"
        if remember:
            self.rank.append(expr)
            self.terms.extend(_words(_text(value)))
        return self.bind("p.id IN (SELECT rowid FROM content_fts WHERE content_fts MATCH ?)", expr)

    def date(self, name: str, op: str, value: Value) -> str:
        if isinstance(value, ValueList):
            raise bad_request(f"The operator '{op}' is not supported by the '{name}' field")
        column = "p.created_at" if name == "created" else "p.modified_at"
        start, end = date_range(value, self.now)
        lo, hi = _iso(start), _iso(end)
        if op in ("=", "!="):
            sql = self.bind(f"{column} >= ?", lo)
            sql += " AND " + self.bind(f"{column} < ?", hi if end > start else lo + "~")
            return f"({sql})" if op == "=" else f"NOT ({sql})"
        templates = {">": (">=", hi), ">=": (">=", lo), "<": ("<", lo), "<=": ("<", hi)}
        if op not in templates:
            raise bad_request(f"The operator '{op}' is not supported by the '{name}' field")
        cmp, bound = templates[op]
        if end == start and op in (">", "<="):
            cmp = ">" if op == ">" else "<="
        return self.bind(f"{column} {cmp} ?", bound)


def compile_query(query: Query, *, user_id: str, now: datetime | None = None) -> CompiledQuery:
    """Compile ``query`` for :meth:`Store.search`.

    Args:
        query: the parsed CQL.
        user_id: account id ``currentUser()`` stands for.
        now: the instant ``now()`` and friends refer to (default: the current UTC time).

    Raises:
        ApiError: 400 for unknown fields, user fields, unsupported operators or bad dates.
    """
    compiler = _Compiler(user_id=user_id, now=now or datetime.now(UTC))
    where = compiler.expr(query.where) if query.where is not None else "1 = 1"
    order_parts: list[str] = []
    for item in query.order_by:
        spec = FIELDS.get(item.canonical_field)
        if spec is None:
            raise no_field(item.field)
        if not spec.sortable:
            raise bad_request(f"Cannot order by field '{item.field}'")
        order_parts.append(ORDER_COLUMNS[spec.name] + (" DESC" if item.descending else ""))
    rank_match = " OR ".join(f"({r})" for r in compiler.rank) if compiler.rank else None
    if not order_parts:
        order_parts = ["score"] if rank_match else []
        order_parts.append("p.modified_at DESC")
    order_parts.append("p.id")
    return CompiledQuery(
        where=where,
        params=tuple(compiler.params),
        order=", ".join(order_parts),
        rank_match=rank_match,
        terms=tuple(dict.fromkeys(compiler.terms)),
    )
