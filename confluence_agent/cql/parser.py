"""CQL text → typed AST (:mod:`confluence_agent.cql.ast`), built on a lark LALR grammar.

``parse(q)`` raises :class:`CQLSyntaxError` (a ``ValueError``) whose ``.problems`` hold
structured, position-carrying :class:`~confluence_agent.cql.problems.CQLProblem` s with
an actionable fix.  Semantic checks (fields, operators, values) live in
:mod:`confluence_agent.cql.validate`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

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
    Span,
    String,
    Value,
    ValueList,
)
from confluence_agent.cql.problems import CQLProblem, CQLSyntaxError, Severity

__all__ = ["ParseResult", "decode_string", "parse", "parse_with_notes"]

_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?\Z")
_ESCAPE_RE = re.compile(r"\\(.)", re.S)
_SIMPLE_ESCAPES = {'"': '"', "'": "'", "\\": "\\"}

_MAX_DEPTH = 100
# Parentheses outside quoted strings (only used when a query has > _MAX_DEPTH of them).
_PAREN_SCAN = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[()]", re.S)
_OP_NAMES = frozenset(
    {"EQ", "NE", "CONTAINS", "NOT_CONTAINS", "GT", "GTE", "LT", "LTE", "IN", "NOT_IN"}
)
_VALUE_NAMES = frozenset({"DQ_STRING", "SQ_STRING", "WORD"})


def decode_string(body: str) -> str:
    """Decode the inside of a quoted CQL string: ``\\"`` → ``"``, ``\\'`` → ``'``,
    ``\\\\`` → ``\\``.  Any other backslash sequence is kept verbatim (Lucene escapes
    such as ``\\\\-`` reach the text index unchanged)."""
    if "\\" not in body:
        return body
    return _ESCAPE_RE.sub(lambda m: _SIMPLE_ESCAPES.get(m.group(1), m.group(0)), body)


def _tok_span(tok: Token) -> Span:
    return Span(tok.start_pos or 0, tok.end_pos or 0, tok.line or 1, tok.column or 1)


def _join(a: Span | None, b: Span | None) -> Span | None:
    if a is None:
        return b
    if b is None:
        return a
    return Span(a.start, b.end, a.line, a.column)


@dataclass(frozen=True, slots=True)
class MixedGroup:
    """An unparenthesised AND/OR mix: ``outer`` was formed by combining ``inner`` (a
    different connective) with a further clause, relying on left-to-right evaluation."""

    inner: And | Or
    outer_op: str
    span: Span | None


@dataclass(slots=True)
class ParseResult:
    query: Query
    mixed: list[MixedGroup] = field(default_factory=list)


class _ToAst(Transformer[Token, Any]):
    """Inline LALR transformer: builds AST nodes directly while parsing."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.grouped: set[int] = set()
        self.mixed: list[MixedGroup] = []

    # -- values ---------------------------------------------------------------------
    def dq_string(self, c: list[Token]) -> String:
        t = c[0]
        return String(decode_string(t.value[1:-1]), True, span=_tok_span(t))

    sq_string = dq_string

    def word(self, c: list[Token]) -> String | Number:
        t = c[0]
        text = t.value
        if _NUMBER_RE.match(text):
            num: int | float = int(text) if "." not in text else float(text)
            return Number(num, text=text, span=_tok_span(t))
        return String(text, False, span=_tok_span(t))

    def function(self, c: list[Any]) -> FunctionCall:
        name_tok: Token = c[0]
        rpar: Token = c[-1]
        args = tuple(a for a in c[2:-1] if a is not None)
        return FunctionCall(
            name_tok.value,
            args,
            span=Span(
                name_tok.start_pos or 0, rpar.end_pos or 0, name_tok.line or 1, name_tok.column or 1
            ),
        )

    def value_list(self, c: list[Any]) -> ValueList:
        lpar: Token = c[0]
        rpar: Token = c[-1]
        items: tuple[Scalar, ...] = tuple(c[1:-1])
        return ValueList(
            items,
            span=Span(lpar.start_pos or 0, rpar.end_pos or 0, lpar.line or 1, lpar.column or 1),
        )

    # -- clauses --------------------------------------------------------------------
    def op(self, c: list[Token]) -> Token:
        return c[0]

    def clause(self, c: list[Any]) -> Clause:
        ftok: Token = c[0]
        optok: Token = c[1]
        value: Value = c[2]
        fspan = _tok_span(ftok)
        return Clause(
            normalise_field(ftok.value),
            normalise_op(optok.value),
            value,
            span=_join(fspan, value.span),
            field_span=fspan,
            op_span=_tok_span(optok),
        )

    def group(self, c: list[Any]) -> Expr:
        inner: Expr = c[1]
        self.grouped.add(id(inner))
        return inner

    def not_expr(self, c: list[Any]) -> Not:
        tok: Token = c[0]
        item: Expr = c[1]
        return Not(item, span=_join(_tok_span(tok), item.span))

    def _combine(self, kind: type[And] | type[Or], c: list[Any]) -> Expr:
        left: Expr = c[0]
        right: Expr = c[2]
        span = _join(left.span, right.span)
        other = Or if kind is And else And
        if isinstance(left, other) and id(left) not in self.grouped:
            self.mixed.append(MixedGroup(left, "AND" if kind is And else "OR", span))
        items: list[Expr] = []
        for part in (left, right):
            # Flatten same-kind children (associative); keep other kinds as nested groups.
            if isinstance(part, kind):
                items.extend(part.items)
            else:
                items.append(part)
        return kind(tuple(items), span=span)

    def and_expr(self, c: list[Any]) -> Expr:
        return self._combine(And, c)

    def or_expr(self, c: list[Any]) -> Expr:
        return self._combine(Or, c)

    # -- order by / query ------------------------------------------------------------
    def sort_key(self, c: list[Any]) -> OrderBy:
        ftok: Token = c[0]
        dtok: Token | None = c[1] if len(c) > 1 else None
        span = _tok_span(ftok)
        if dtok is not None:
            span = _join(span, _tok_span(dtok)) or span
        return OrderBy(
            normalise_field(ftok.value),
            dtok.value.upper() if dtok is not None else None,
            span=span,
        )

    def order_by(self, c: list[Any]) -> tuple[OrderBy, ...]:
        return tuple(c[1:])

    def start(self, c: list[Any]) -> Query:
        where: Expr = c[0]
        order: tuple[OrderBy, ...] = c[1] if len(c) > 1 and c[1] is not None else ()
        return Query(where, order, span=where.span)

    def order_only(self, c: list[Any]) -> Query:
        return Query(None, c[0])


def normalise_field(name: str) -> str:
    """Lower-case a field name; for ``content.property[key].path`` only the prefix."""
    if "[" in name:
        head, _, rest = name.partition("[")
        return head.lower() + "[" + rest
    return name.lower()


def normalise_op(op: str) -> str:
    up = op.upper()
    if up.startswith("NOT"):
        return "NOT IN"
    return up


@lru_cache(maxsize=1)
def _grammar() -> str:
    return resources.files("confluence_agent.cql").joinpath("cql.lark").read_text("utf-8")


class _Parser:
    """One lark parser per thread of use; the transformer collects per-parse notes."""

    def __init__(self) -> None:
        self.transformer = _ToAst()
        self.lark = Lark(
            _grammar(),
            parser="lalr",
            lexer="contextual",
            transformer=self.transformer,
            maybe_placeholders=True,
            cache=False,
        )

    def run(self, text: str) -> ParseResult:
        t = self.transformer
        t.grouped = set()
        t.mixed = []
        query = self.lark.parse(text)
        assert isinstance(query, Query)
        return ParseResult(query, t.mixed)


_LOCAL = threading.local()


def _parser() -> _Parser:
    """The calling thread's parser: the inline transformer keeps per-parse state, so
    threads must not share one."""
    parser: _Parser | None = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = _Parser()
    return parser


def parse_with_notes(text: str) -> ParseResult:
    """Parse and also return notes the validator needs (unparenthesised AND/OR mixes)."""
    if not isinstance(text, str):
        raise TypeError(f"CQL must be a str, not {type(text).__name__}")
    if not text.strip():
        raise CQLSyntaxError(
            [
                CQLProblem(
                    code="empty-query",
                    message="The query is empty.",
                    hint='Write at least one clause, e.g. `text ~ "search terms"`.',
                    severity=Severity.ERROR,
                    text="",
                    offset=0,
                    line=1,
                    column=1,
                    length=0,
                )
            ]
        )
    if text.count("(") > _MAX_DEPTH:
        depth = 0
        for m in _PAREN_SCAN.finditer(text):
            tok = m.group(0)
            depth += (tok == "(") - (tok == ")")
            if depth > _MAX_DEPTH:
                start = m.start()
                line, col = _line_col(text, start)
                raise CQLSyntaxError(
                    [
                        CQLProblem(
                            "too-deeply-nested",
                            f"Parentheses nest deeper than {_MAX_DEPTH} levels.",
                            "Flatten the query: a AND (b AND c) is the same as a AND b AND c.",
                            Severity.ERROR,
                            "(",
                            start,
                            line,
                            col,
                            1,
                        )
                    ]
                )
    try:
        return _parser().run(text)
    except UnexpectedInput as exc:
        raise CQLSyntaxError([_syntax_problem(text, exc)]) from None


def parse(text: str) -> Query:
    """Parse CQL into a :class:`~confluence_agent.cql.ast.Query`.

    Raises :class:`CQLSyntaxError` (``ValueError``) with ``.problems`` on bad syntax.
    """
    return parse_with_notes(text).query


# --------------------------------------------------------------------- error mapping

_TOKEN_RE = re.compile(
    r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|!=|!~|>=|<=|[=~<>(),]|[^\s"'(),=!~<>]+)""",
    re.S,
)
_KEYWORDS = {"and", "or", "not", "in", "order", "by", "asc", "desc"}
# URL parameters glued onto the query: ``...&limit=10``, or ``+and+expand=...`` where a
# URL-encoded space made ``and`` look like part of the query.
_URL_JOIN = re.compile(r"&|\+and\+", re.I)
_URL_PARAM = re.compile(r"(?:&|\+and\+)[A-Za-z_]+=", re.I)
_OPS_TEXT = "=, !=, ~, !~, >, >=, <, <=, IN, NOT IN"


def _tokens_before(text: str, pos: int) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    i = 0
    while i < pos:
        m = _TOKEN_RE.match(text, i)
        if not m or m.end(1) > pos:
            break
        out.append((m.start(1), m.group(1)))
        i = m.end()
    return out


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _problem(text: str, pos: int, length: int, code: str, message: str, hint: str) -> CQLProblem:
    line, col = _line_col(text, pos)
    return CQLProblem(
        code=code,
        message=message,
        hint=hint,
        severity=Severity.ERROR,
        text=text[pos : pos + length],
        offset=pos,
        line=line,
        column=col,
        length=length,
    )


def _open_paren(text: str) -> int | None:
    """Offset of the last unclosed ``(`` (ignoring quoted strings), or None."""
    stack: list[int] = []
    for start, tok in _tokens_before(text, len(text)):
        if tok == "(":
            stack.append(start)
        elif tok == ")" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _syntax_problem(text: str, exc: UnexpectedInput) -> CQLProblem:
    expected: set[str]
    pos: int
    found: str
    if isinstance(exc, UnexpectedEOF):
        pos = len(text)
        expected = set(exc.expected)
        found = ""
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            pos = len(text)
            found = ""
        else:
            pos = tok.start_pos or 0
            found = str(tok.value)
        expected = set(exc.expected)
    elif isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        expected = {str(a) for a in (exc.allowed or ())}
        found = text[pos]
    else:  # pragma: no cover - lark only raises the three above
        pos, expected, found = 0, set(), ""

    prev = _tokens_before(text, pos)
    prev_tok = prev[-1][1] if prev else ""
    prev_up = prev_tok.upper()
    length = len(found)

    # Unterminated string literal.
    if found in ('"', "'"):
        return _problem(
            text,
            pos,
            len(text) - pos,
            "unterminated-string",
            f"Unterminated string: the {found} at column {_line_col(text, pos)[1]} "
            "is never closed.",
            f"Close the quote, and escape quotes inside the value as \\{found} "
            f'(e.g. `title ~ "say \\"hi\\""`).',
        )

    at_end = found == ""

    # After a field we need an operator.
    if expected & _OP_NAMES and not expected & {"FIELD"}:
        field_name = prev_tok
        if prev_up in ("AND", "OR") and (
            len(prev) == 1 or prev[-2][1].upper() in ("AND", "OR", "NOT", "(")
        ):
            return _problem(
                text,
                prev[-1][0],
                len(prev_tok),
                "dangling-operator",
                f"`{prev_up}` has no clause on its left.",
                f"Remove the extra `{prev_up}` or add a clause before it.",
            )
        low = found.lower()
        if found in ("==",) or (found == "=" and prev_tok == "="):
            hint = f"Use a single `=`: `{field_name} = ...`."
        elif low in ("like", "contains", "has"):
            hint = f'Use `~` for "contains": `{field_name} ~ "text"`.'
        elif low == "is":
            hint = "CQL has no IS / IS EMPTY / IS NULL; use `=`, `!=` or a negative clause."
        elif found == "!":
            hint = "Use `!=` (not equal) or `!~` (does not contain)."
        elif at_end:
            hint = f'Complete the clause, e.g. `{field_name} = "value"`.'
        elif prev_tok.lower() in _KEYWORDS:
            hint = f"`{prev_tok}` is a keyword here; a clause is `field operator value`."
        else:
            hint = (
                f"Every clause is `field operator value`. For a free-text search use "
                f'`text ~ "{field_name} {found}"`; if `{field_name}` is a field, put an operator '
                f"after it."
            )
        what = "end of query" if at_end else f"`{found}`"
        return _problem(
            text,
            pos,
            length,
            "expected-operator",
            f"Expected an operator ({_OPS_TEXT}) after `{field_name}`, found {what}.",
            hint,
        )

    if expected & _VALUE_NAMES and prev_tok == "," and "FIELD" not in expected:
        return _problem(
            text,
            prev[-1][0],
            1,
            "missing-value",
            "Missing list item after `,`.",
            'Remove the trailing comma or add a value: `label IN ("a", "b")`.',
        )
    # A keyword where the value should be: `title = AND ...`.
    if (
        found
        and prev_up in ("AND", "OR", "NOT")
        and len(prev) >= 2
        and prev[-2][1] in ("=", "!=", "~", "!~", ">", ">=", "<", "<=")
    ):
        clause_field = prev[-3][1] if len(prev) >= 3 else "field"
        return _problem(
            text,
            prev[-1][0],
            len(prev_tok),
            "missing-value",
            f"Missing value after `{prev[-2][1]}` (found the keyword `{prev_tok}`).",
            f'Add a value, e.g. `{clause_field} {prev[-2][1]} "value"`; to use the word '
            f'{prev_tok.lower()} as a value, quote it: "{prev_tok.lower()}".',
        )

    # After an operator we need a value.
    if (
        expected & _VALUE_NAMES
        and "FIELD" not in expected
        and prev_tok
        in (
            "=",
            "!=",
            "~",
            "!~",
            ">",
            ">=",
            "<",
            "<=",
        )
    ) or (
        expected & _VALUE_NAMES
        and prev_up.replace(" ", "") in ("IN", "NOTIN")
        and "FIELD" not in expected
    ):
        if found == "~":
            m = re.match(r"~[^\s()\"',=!<>]*", text[pos:])
            key = m.group(0) if m else "~"
            clause_field = prev[-2][1] if len(prev) >= 2 else "space"
            return _problem(
                text,
                pos,
                len(key),
                "unquoted-personal-space",
                f"Unquoted personal space key `{key}`: `~` is an operator, "
                "so the key must be quoted.",
                f'Write `{clause_field} {prev_tok} "{key}"`.',
            )
        if found in ("!", "=", "<", ">"):
            hint = (
                "Operators are `=`, `!=`, `~`, `!~`, `>`, `>=`, `<`, `<=`; put the value after one."
            )
        else:
            clause_field = prev[-2][1] if len(prev) >= 2 else "field"
            hint = f'Add a value after `{prev_tok}`, e.g. `{clause_field} {prev_tok} "value"`.'
            if prev_up in ("IN", "NOT IN"):
                hint = f'Give a parenthesised list: `{clause_field} {prev_up} ("a", "b")`.'
        what = "end of query" if at_end else f"`{found}`"
        return _problem(
            text,
            pos,
            length,
            "missing-value",
            f"Missing value after `{prev_tok}` (found {what}).",
            hint,
        )

    # Where a clause must start (after AND / OR / NOT / '(' / at the beginning).
    if "FIELD" in expected:
        if at_end and prev_up in ("AND", "OR", "NOT"):
            return _problem(
                text,
                prev[-1][0],
                len(prev_tok),
                "dangling-operator",
                f"Dangling `{prev_up}` at the end of the query.",
                f"Add a clause after `{prev_up}` or remove it.",
            )
        if found.upper() in ("AND", "OR") and prev_up in ("AND", "OR", "NOT", "(", ""):
            where = "at the start of the query" if not prev else f"after `{prev_tok}`"
            return _problem(
                text,
                pos,
                length,
                "dangling-operator",
                f"`{found.upper()}` {where} has no clause on its left.",
                f"Remove the extra `{found.upper()}` or add a clause before it.",
            )
        if found == ")":
            if prev_tok == "(":
                return _problem(
                    text,
                    pos,
                    1,
                    "empty-group",
                    "Empty parentheses `()`.",
                    "Put a clause inside the parentheses or remove them.",
                )
            return _problem(
                text,
                pos,
                1,
                "dangling-operator",
                f"`{prev_up}` is followed by `)` instead of a clause.",
                f"Add a clause after `{prev_up}` or remove it.",
            )
        if found and found[0] in "\"'":
            return _problem(
                text,
                pos,
                length,
                "expected-field",
                f"Expected a field name, found the string {found}.",
                f"Field names are not quoted; for free text use `text ~ {found}`.",
            )
        if prev_up == "BY" and len(prev) >= 2 and prev[-2][1].upper() == "ORDER":
            return _problem(
                text,
                prev[-2][0],
                pos - prev[-2][0] if at_end else len(text) - prev[-2][0],
                "bad-order-by",
                "ORDER BY needs at least one field.",
                "Write e.g. `ORDER BY lastmodified DESC`, or remove ORDER BY.",
            )
        if at_end:
            return _problem(
                text,
                pos,
                0,
                "expected-clause",
                "The query ends where a clause was expected.",
                'Add a clause, e.g. `text ~ "search terms"`.',
            )
        return _problem(
            text,
            pos,
            max(length, 1),
            "expected-field",
            f"Expected a field name, found `{found}`.",
            'A clause is `field operator value`, e.g. `space = "ENG"`.',
        )

    # After a complete clause.
    if "RPAR" in expected and at_end:
        opened = _open_paren(text)
        if opened is not None:
            line, col = _line_col(text, opened)
            return _problem(
                text,
                opened,
                1,
                "unbalanced-parentheses",
                f"Unbalanced parentheses: the `(` at line {line}, column {col} is never closed.",
                "Add the missing `)` (or remove the extra `(`).",
            )
    if found in ("&&", "&", "||", "|"):
        kw = "AND" if "&" in found else "OR"
        return _problem(
            text,
            pos,
            length,
            "bad-connective",
            f"`{found}` is not a CQL operator.",
            f"Use the keyword `{kw}`.",
        )
    amp = -1
    joined = _URL_JOIN.search(prev_tok) if prev_tok[:1] not in "\"'" else None
    if found in ("=", "!=") and joined is not None:
        amp = prev[-1][0] + joined.start()
    elif _URL_PARAM.match(text, pos):
        amp = pos
    if amp >= 0:
        return _problem(
            text,
            amp,
            len(text) - amp,
            "url-parameter",
            f"`{text[amp:].strip()}` is not CQL: it looks like URL query parameters "
            "appended to the query.",
            "Send only the CQL in the `cql` parameter and pass limit/expand/cursor as separate "
            "request parameters.",
        )
    if (
        found
        and prev
        and prev_tok[:1] in "\"'"
        and len(prev_tok) >= 2
        and prev[-1][0] + len(prev_tok) == pos
    ):
        q = prev_tok[0]
        qpos = pos - 1
        return _problem(
            text,
            qpos,
            1,
            "unescaped-quote",
            f"Unescaped {q} inside a quoted value: the string ends here and `{found}` "
            "is left over.",
            f'Escape quotes inside the value as \\{q} (e.g. `text ~ "say \\"hi\\""`), or quote the '
            f"value with the other quote character.",
        )
    if found == ")":
        return _problem(
            text,
            pos,
            1,
            "unbalanced-parentheses",
            "Unbalanced parentheses: this `)` has no matching `(`.",
            "Remove the extra `)` or add the missing `(`.",
        )
    if found.upper() in ("ASC", "DESC") or found.lower() == "order":
        return _problem(
            text,
            pos,
            length,
            "bad-order-by",
            f"Unexpected `{found}`.",
            "Sorting is `ORDER BY field [ASC|DESC], ...` at the very end of the query.",
        )
    if found == "(" and prev_tok and prev_tok not in ("(", ")"):
        return _problem(
            text,
            pos,
            1,
            "unexpected-paren",
            "Unexpected `(` after a value.",
            "Join clauses with AND / OR; a function call is written `name(args)` with no space.",
        )
    if found in (",",):
        return _problem(
            text,
            pos,
            1,
            "unexpected-comma",
            "Unexpected `,` outside a value list.",
            'Lists go in parentheses after IN: `label IN ("a", "b")`.',
        )
    if found in ("=", "!=", "~", "!~", ">", ">=", "<", "<=", "!"):
        return _problem(
            text,
            pos,
            length,
            "unexpected-operator",
            f"Unexpected operator `{found}`.",
            "Each clause has exactly one operator; quote values that contain operators.",
        )
    if found:
        # Typically a second bare word: an unquoted value with spaces.
        start = prev[-1][0] if prev else pos
        end = pos + length
        # Extend over the rest of the bare words so the hint shows the whole phrase.
        m = re.match(
            r"[^\s\"'(),=!~<>]+(?:\s+(?!(?i:and|or|order)\b)[^\s\"'(),=!~<>]+)*", text[start:]
        )
        phrase = m.group(0) if m else text[start:end]
        clause_prefix = " ".join(t for _, t in prev[-3:-1]) if len(prev) >= 3 else "field ="
        return _problem(
            text,
            pos,
            length,
            "unquoted-phrase",
            f"Unexpected `{found}` after the value `{prev_tok}`: "
            "values containing spaces must be quoted.",
            f'Quote the whole value: `{clause_prefix} "{phrase}"`, or join clauses with AND / OR.',
        )
    return _problem(
        text, pos, 0, "syntax-error", "Unexpected end of query.", "Complete the last clause."
    )
