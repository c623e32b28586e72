"""Semantic CQL validation: catch what Confluence would reject with a cryptic 400.

``validate(q)`` returns a list of :class:`CQLProblem` (empty = fine).  Syntax errors
come from the parser; everything else is checked here against the field table in
:mod:`confluence_agent.cql.fields`.
"""

from __future__ import annotations

import difflib
import re
from datetime import date

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
    ValueList,
    quote,
)
from confluence_agent.cql.fields import (
    DATE_FUNCTIONS,
    FIELDS,
    LIST_OPERATORS,
    NEGATIVE_OPERATORS,
    NOT_A_FIELD,
    RESERVED_CHARACTERS,
    RESERVED_WORDS,
    Endpoint,
    FieldSpec,
    FieldType,
    ValueKind,
    lookup_field,
    lookup_function,
    normalise_endpoint,
    sort_fields_text,
    suggest_field,
)
from confluence_agent.cql.parser import MixedGroup, parse_with_notes
from confluence_agent.cql.problems import CQLProblem, CQLSyntaxError, Severity

__all__ = ["validate", "validate_query"]

# "yyyy/MM/dd HH:mm" | "yyyy-MM-dd HH:mm" | "yyyy/MM/dd" | "yyyy-MM-dd" (same separator twice)
_DATE_VALUE = re.compile(r"(\d{4})([-/])(\d{1,2})([-/])(\d{1,2})(?: (\d{1,2}):(\d{2}))?\Z")
_DATE_SHAPE = re.compile(r"\d{4}[-/]\d{1,2}[-/]\d{1,2}(?: \d{1,2}:\d{2})?\Z")
_INCREMENT = re.compile(r"[+-]?\d+[yMwdhm](?:\s*[+-]?\d+[yMwdhm])*\Z")
_RELATIVE = re.compile(r"[+-]?\d+\s*[a-zA-Z]+\Z")
_ACCOUNT_ID = re.compile(
    r"(?:[0-9a-f]{24}|[0-9]{1,10}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[A-Za-z0-9]{1,20}:[A-Za-z0-9-]{8,})\Z"
)
_USERKEY = re.compile(r"[0-9a-f]{32}\Z")
_DIGITS = re.compile(r"\d+\Z")


def validate(q: str, *, endpoint: str = "search", cloud: bool = True) -> list[CQLProblem]:
    """Check ``q`` before sending it.  Returns problems sorted by position (errors and
    warnings); an empty list means the query looks valid.

    ``endpoint``: ``"search"`` (``/wiki/rest/api/search``), ``"content_search"``
    (``/wiki/rest/api/content/search``) or ``"user_search"``
    (``/wiki/rest/api/search/user``).  ``cloud=False`` (Data Center) accepts usernames
    in user fields.
    """
    ep = normalise_endpoint(endpoint)
    try:
        result = parse_with_notes(q)
    except CQLSyntaxError as exc:
        return list(exc.problems)
    return validate_query(result.query, source=q, endpoint=ep, cloud=cloud, mixed=result.mixed)


def validate_query(
    query: Query,
    *,
    source: str | None = None,
    endpoint: str | Endpoint = Endpoint.SEARCH,
    cloud: bool = True,
    mixed: list[MixedGroup] | None = None,
) -> list[CQLProblem]:
    """Validate an already-parsed (or built) query.  Positions are only meaningful when
    the nodes carry spans (parsed from ``source``)."""
    ep = endpoint if isinstance(endpoint, Endpoint) else normalise_endpoint(endpoint)
    v = _Validator(source if source is not None else query.to_cql(), ep, cloud)
    if query.where is not None:
        for clause in query.clauses():
            v.clause(clause)
        v.first_clause(query.where)
    else:
        v.add(
            Severity.WARNING,
            "order-by-only",
            "The query has ORDER BY but no clause.",
            "Add a clause before ORDER BY, e.g. `type = page ORDER BY lastmodified DESC`.",
            None,
        )
    if mixed:
        v.mixed(mixed[0])  # one warning is enough: the first unparenthesised mix
    for key in query.order_by:
        v.order_key(key)
    v.problems.sort(key=lambda p: (p.offset, p.severity != Severity.ERROR))
    return v.problems


class _Validator:
    def __init__(self, source: str, endpoint: Endpoint, cloud: bool) -> None:
        self.src = source
        self.endpoint = endpoint
        self.cloud = cloud
        self.problems: list[CQLProblem] = []

    # ------------------------------------------------------------------ helpers
    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        hint: str,
        span: Span | None,
        text: str | None = None,
    ) -> None:
        if span is not None:
            offset, length = span.start, span.end - span.start
            line, col = span.line, span.column
            snippet = self.src[span.start : span.end] if text is None else text
        else:
            offset, length, line, col = 0, 0, 1, 1
            snippet = text or ""
        self.problems.append(
            CQLProblem(code, message, hint, severity, snippet, offset, line, col, length)
        )

    def error(self, code: str, message: str, hint: str, span: Span | None) -> None:
        self.add(Severity.ERROR, code, message, hint, span)

    def warn(self, code: str, message: str, hint: str, span: Span | None) -> None:
        self.add(Severity.WARNING, code, message, hint, span)

    # ------------------------------------------------------------------ clauses
    def clause(self, c: Clause) -> None:
        spec = lookup_field(c.field)
        fspan = c.field_span or c.span
        src_field = self.src[fspan.start : fspan.end] if fspan else c.field
        if spec is None:
            self.unknown_field(src_field, c, fspan)
            return
        if self.endpoint not in spec.endpoints and not self.endpoint_ok(spec, c):
            self.wrong_endpoint(spec, src_field, fspan)
            return
        if spec.deprecated:
            self.error(
                "deprecated-field",
                f"`{src_field}` no longer works on Cloud: {spec.deprecated}.",
                spec.hint,
                fspan,
            )
            return
        if not spec.allows(c.op):
            self.bad_operator(spec, src_field, c)
            return
        if not self.value_shape(spec, src_field, c):
            return
        items: tuple[Scalar, ...] = c.value.items if isinstance(c.value, ValueList) else (c.value,)
        for item in items:
            self.scalar(spec, src_field, c, item)
        if spec.caveat and not (
            spec.type == FieldType.USER and all(isinstance(i, FunctionCall) for i in items)
        ):
            self.warn("field-caveat", f"`{src_field}`: {spec.caveat}.", spec.hint, c.span)

    def endpoint_ok(self, spec: FieldSpec, c: Clause) -> bool:
        # `type = user` is the one non-user clause /search/user accepts.
        return self.endpoint == Endpoint.USER_SEARCH and spec.name == "type"

    def unknown_field(self, src_field: str, c: Clause, span: Span | None) -> None:
        low = c.field.lower()
        if low in NOT_A_FIELD:
            hint = NOT_A_FIELD[low] + "."
        else:
            best = suggest_field(c.field)
            hint = (
                f"Did you mean `{best}`?"
                if best
                else "Known fields: "
                + ", ".join(s.display for s in FIELDS.values() if s.in_guidance)
                + "."
            )
            if best:
                hint += f" e.g. `{best} {c.op} {c.value.to_cql()}`"
        self.error("unknown-field", f"No field exists with the name '{src_field}'.", hint, span)

    def wrong_endpoint(self, spec: FieldSpec, src_field: str, span: Span | None) -> None:
        if Endpoint.USER_SEARCH in spec.endpoints:
            self.error(
                "user-field-on-search",
                f"`{src_field}` is only accepted by /wiki/rest/api/search/user, not by "
                f"{'/search' if self.endpoint == Endpoint.SEARCH else '/content/search'}.",
                'To find content by a person use creator/contributor/mention = "<accountId>" '
                "(or currentUser()); to look the person up, send this query to "
                '/wiki/rest/api/search/user (endpoint="user_search").',
                span,
            )
        else:
            self.error(
                "content-field-on-user-search",
                f"`{src_field}` is a content field; /wiki/rest/api/search/user only accepts "
                "user fields.",
                'Use user = "<accountId>", user.accountid = "<accountId>", user.fullname ~ "name" '
                "or type = user.",
                span,
            )

    def bad_operator(self, spec: FieldSpec, src_field: str, c: Clause) -> None:
        ops = " ".join(
            o
            for o in ("=", "!=", "~", "!~", ">", ">=", "<", "<=", "IN", "NOT IN")
            if o in spec.operators
        )
        op = c.op
        values = c.value.items if isinstance(c.value, ValueList) else (c.value,)
        vals = [v.to_cql() for v in values]
        first = vals[0] if vals else '"value"'
        hint: str
        if spec.operators <= {"~", "!~"}:
            tilde = "!~" if op in NEGATIVE_OPERATORS else "~"
            if op in LIST_OPERATORS and len(vals) > 1:
                joiner = " AND " if op == "NOT IN" else " OR "
                alt = joiner.join(f"{src_field} {tilde} {v}" for v in vals)
                hint = f"use `{alt}`" + (
                    " (wrap it in parentheses inside a larger query)" if op == "IN" else ""
                )
            else:
                hint = f"use `{src_field} {tilde} {first}`"
        elif op in ("~", "!~"):
            eq = "!=" if op == "!~" else "="
            if spec.name in ("space", "space.key"):
                hint = (
                    f'use `space {eq} "KEY"` with the space key, or `space.title {op} {first}` '
                    "to match the space name"
                )
            elif spec.type == FieldType.USER:
                base = spec.name
                hint = f'use `{base} {eq} "<accountId>"` or `{base} {eq} currentUser()`' + (
                    f"; name matching: `{base}.fullname {op} {first}`"
                    if f"{base}.fullname" in FIELDS
                    else ""
                )
            elif spec.type == FieldType.DATE:
                hint = (
                    f'use a comparison, e.g. `{src_field} >= "2024-01-01"` or '
                    f'`{src_field} >= now("-4w")`'
                )
            elif spec.type == FieldType.CONTENT:
                hint = (
                    f"to search page text use `text {op} {first}`; "
                    f"`{src_field}` takes a numeric content id (`{src_field} {eq} 123456`)"
                )
            else:
                hint = f"use exact match `{src_field} {eq} {first}`"
                if spec.name == "label":
                    hint += ' (labels are exact tokens; to search words use `text ~ "…"`)'
        elif op in (">", ">=", "<", "<="):
            hint = (
                f"only date fields (created, lastmodified) support {op}; "
                f"`{src_field}` supports {ops}"
            )
        elif op in LIST_OPERATORS and spec.type == FieldType.DATE:
            hint = f'use a range: `{src_field} >= "2024-01-01" AND {src_field} < "2024-02-01"`'
        else:
            hint = f"`{src_field}` supports {ops}"
        self.error(
            "operator-not-allowed",
            f"`{src_field}` does not support `{op}` (supported: {ops}).",
            hint[0].upper() + hint[1:] + ".",
            c.op_span or c.span,
        )

    def value_shape(self, spec: FieldSpec, src_field: str, c: Clause) -> bool:
        v = c.value
        if c.op in LIST_OPERATORS:
            if isinstance(v, ValueList):
                return True
            if isinstance(v, FunctionCall):
                fn = lookup_function(v.name)
                if fn is None or fn.returns_list:
                    return True
                self.error(
                    "list-required",
                    f"`{c.op}` needs a list, but `{v.to_cql()}` returns one value.",
                    f"Use `{src_field} {'=' if c.op == 'IN' else '!='} {v.to_cql()}`.",
                    v.span,
                )
                return False
            self.error(
                "list-required",
                f"`{c.op}` needs a parenthesised list.",
                f"Write `{src_field} {c.op} ({v.to_cql()})`, or use `=` for a single value.",
                v.span,
            )
            return False
        if isinstance(v, ValueList):
            vals = [i.to_cql() for i in v.items]
            if c.op in ("~", "!~"):
                joiner = " OR " if c.op == "~" else " AND "
                alt = joiner.join(f"{src_field} {c.op} {x}" for x in vals)
                self.error(
                    "list-with-contains",
                    f"`{c.op}` takes a single value, not a list: `{src_field}` does not support "
                    f"`IN` with `{c.op}`.",
                    f"Use `{alt}`"
                    + (
                        " (in parentheses when combined with other clauses)."
                        if len(vals) > 1
                        else "."
                    ),
                    v.span,
                )
            elif c.op in ("=", "!="):
                lst = "IN" if c.op == "=" else "NOT IN"
                hint = (
                    f"Use `{src_field} {lst} {v.to_cql()}`."
                    if spec.allows(lst)
                    else f"`{src_field}` takes one value per clause; combine clauses with OR."
                )
                self.error(
                    "list-needs-in", f"A list needs `IN`/`NOT IN`, not `{c.op}`.", hint, v.span
                )
            else:
                self.error(
                    "list-not-allowed",
                    f"`{c.op}` takes a single value, not a list.",
                    f'Compare with one value, e.g. `{src_field} {c.op} "2024-01-01"`.',
                    v.span,
                )
            return False
        if isinstance(v, FunctionCall):
            fn = lookup_function(v.name)
            if fn is not None and fn.returns_list:
                lst = "IN" if c.op in ("=",) else "NOT IN"
                self.error(
                    "function-returns-list",
                    f"`{v.to_cql()}` returns a list, so it needs `IN` / `NOT IN`, not `{c.op}`.",
                    f"Use `{src_field} {lst} {v.to_cql()}`.",
                    v.span,
                )
                return False
        return True

    # ------------------------------------------------------------------- values
    def scalar(self, spec: FieldSpec, src_field: str, c: Clause, v: Scalar) -> None:
        if isinstance(v, FunctionCall):
            self.function(spec, src_field, c, v)
            return
        if isinstance(v, String) and not v.quoted and not self.bare_value(spec, src_field, c, v):
            return
        kind = spec.value_kind
        if kind == ValueKind.CONTENT_ID:
            self.content_id(src_field, c, v)
        elif kind == ValueKind.DATE:
            self.date(src_field, c, v)
        elif kind == ValueKind.ACCOUNT_ID:
            self.account_id(spec, src_field, c, v)
        elif kind == ValueKind.SPACE_KEY:
            if isinstance(v, String) and (
                not v.value.strip() or any(ch.isspace() for ch in v.value)
            ):
                self.error(
                    "space-name-not-key",
                    f"`{src_field}` takes a space KEY (e.g. ENG), not a space name: {v.to_cql()}.",
                    f'Use the key: `{src_field} = "ENG"`; to match by name use '
                    f"`space.title ~ {quote(v.value.strip() or 'name')}`.",
                    v.span,
                )
        elif kind == ValueKind.ENUM:
            self.enum(spec, src_field, c, v)
        elif kind == ValueKind.TEXT:
            self.text(spec, src_field, c, v)
        elif (
            kind == ValueKind.STRING
            and spec.name == "label"
            and isinstance(v, String)
            and any(ch.isspace() for ch in v.value.strip())
        ):
            self.warn(
                "label-with-space",
                f"Labels cannot contain spaces: {v.to_cql()}.",
                'Labels are single tokens (often hyphenated, e.g. `label = "q3-roadmap"`); '
                'to search words use `text ~ "…"`.',
                v.span,
            )

    def bare_value(self, spec: FieldSpec, src_field: str, c: Clause, v: String) -> bool:
        low = v.value.lower()
        if low in RESERVED_WORDS:
            self.error(
                "reserved-word",
                f"`{v.value}` is a reserved word and must be quoted.",
                f"Write `{src_field} {c.op} {quote(v.value)}`.",
                v.span,
            )
            return False
        bad = sorted({ch for ch in v.value if ch in RESERVED_CHARACTERS})
        if bad:
            chars = " ".join(bad)
            if spec.value_kind == ValueKind.DATE and _DATE_SHAPE.match(v.value):
                self.warn(
                    "unquoted-date",
                    f"Unquoted date `{v.value}`.",
                    f"Quote dates: `{src_field} {c.op} {quote(v.value)}`.",
                    v.span,
                )
                return True
            extra = ""
            if v.value[:1] in "*?" and spec.value_kind == ValueKind.TEXT:
                extra = " (and a wildcard cannot be the first character)"
            self.error(
                "unquoted-reserved-character",
                f"Unquoted value `{v.value}` contains reserved character(s) {chars}.",
                f"Quote it: `{src_field} {c.op} {quote(v.value)}`{extra}.",
                v.span,
            )
            return False
        if "-" in v.value.strip("-") and not _DATE_SHAPE.match(v.value):
            self.warn(
                "unquoted-hyphen",
                f"Unquoted value `{v.value}` contains `-`.",
                f"Quote it to be safe: `{src_field} {c.op} {quote(v.value)}` (unquoted "
                'hyphenated values often fail with "Could not parse cql").',
                v.span,
            )
        if "\\" in v.value:
            self.error(
                "unquoted-backslash",
                f"Unquoted value `{v.value}` contains a backslash.",
                f"Quote it: `{src_field} {c.op} {quote(v.value)}`.",
                v.span,
            )
            return False
        return True

    def content_id(self, src_field: str, c: Clause, v: String | Number) -> None:
        ok = (isinstance(v, Number) and isinstance(v.value, int) and v.value >= 0) or (
            isinstance(v, String) and _DIGITS.match(v.value.strip()) is not None
        )
        if not ok:
            shown = v.to_cql()
            hint = f"Use the numeric content id, e.g. `{src_field} = 123456`"
            if isinstance(v, String) and not _DIGITS.match(v.value):
                hint += f"; to match a page by title use `title = {quote(v.value)}`"
            self.error(
                "content-id-not-numeric",
                f"`{src_field}` takes a numeric content id, not {shown}.",
                hint + ".",
                v.span,
            )

    def date(self, src_field: str, c: Clause, v: String | Number) -> None:
        text = v.value if isinstance(v, String) else (v.text or str(v.value))
        text = text.strip()
        if isinstance(v, String):
            m = _DATE_VALUE.match(text)
            if m and m.group(2) == m.group(4):
                try:
                    date(int(m.group(1)), int(m.group(3)), int(m.group(5)))
                    if m.group(6) is None or (int(m.group(6)) < 24 and int(m.group(7)) < 60):
                        return
                except ValueError:
                    pass
        if _RELATIVE.match(text):
            hint = f"Relative dates need a function: `{src_field} {c.op} now({quote(text)})`."
        elif re.match(r"\d{4}-\d{2}-\d{2}T", text):
            day, _, rest = text.partition("T")
            hm = rest[:5]
            hint = f'Use `{src_field} {c.op} "{day} {hm}"` (no ISO `T`/seconds/zone).'
        elif _DATE_SHAPE.match(text):
            hint = "That date does not exist; check the month and day."
        else:
            hint = (
                f'Use "yyyy-MM-dd", "yyyy/MM/dd", "yyyy-MM-dd HH:mm" or a date function, '
                f'e.g. `{src_field} >= "2024-01-31"` or `{src_field} >= startOfMonth()`.'
            )
        self.error("bad-date", f"`{src_field}` needs a date, got {v.to_cql()}.", hint, v.span)

    def account_id(self, spec: FieldSpec, src_field: str, c: Clause, v: String | Number) -> None:
        if not self.cloud:
            return
        text = v.value if isinstance(v, String) else (v.text or str(v.value))
        if _ACCOUNT_ID.match(text):
            return
        base = spec.name
        if _USERKEY.match(text):
            what = "a userKey (removed from Cloud APIs)"
        elif "@" in text:
            what = "an email address"
        elif " " in text.strip():
            what = "a display name"
        else:
            what = "a username"
        alt = (
            f"; to match by name use `{base}.fullname ~ {quote(text)}`"
            if f"{base}.fullname" in FIELDS
            else ""
        )
        self.warn(
            "username-not-accountid",
            f"{v.to_cql()} looks like {what}; Cloud user fields take accountIds, "
            "so this matches nothing.",
            f'Use `{src_field} {c.op if c.op not in LIST_OPERATORS else "="} "<accountId>"` '
            f"(look it up via /wiki/rest/api/search/user) or `{src_field} = currentUser()`{alt}.",
            v.span,
        )

    def enum(self, spec: FieldSpec, src_field: str, c: Clause, v: String | Number) -> None:
        text = v.value if isinstance(v, String) else str(v.value)
        if text.lower() in spec.enum_values:
            if (
                spec.name == "type"
                and self.endpoint == Endpoint.CONTENT_SEARCH
                and text.lower()
                in (
                    "space",
                    "user",
                )
            ):
                self.error(
                    "type-needs-search",
                    f"`type = {text}` only works on /wiki/rest/api/search.",
                    "Send this query to /wiki/rest/api/search.",
                    v.span,
                )
            return
        close = difflib.get_close_matches(text.lower(), spec.enum_values, n=1, cutoff=0.6)
        hint = (
            f"Did you mean `{src_field} {c.op} {close[0]}`?"
            if close
            else (f"Known values: {', '.join(spec.enum_values)}.")
        )
        self.warn("unknown-value", f"Unknown {src_field} value {v.to_cql()}.", hint, v.span)

    def text(self, spec: FieldSpec, src_field: str, c: Clause, v: String | Number) -> None:
        if not isinstance(v, String):
            return
        if c.op not in ("~", "!~"):
            return
        if not v.value.strip():
            self.error(
                "empty-text",
                f"Empty search text for `{src_field} {c.op}`.",
                f'Give at least one word: `{src_field} {c.op} "keyword"`.',
                v.span,
            )
            return
        for term in v.value.split():
            t = term.lstrip('+-("')
            if t[:1] in ("*", "?"):
                fixed = v.value.replace(term, term.replace(t, t.lstrip("*?"), 1), 1).strip()
                suggestion = (
                    f"`{src_field} {c.op} {quote(fixed)}`"
                    if fixed.strip(' *?"')
                    else f'a word, e.g. `{src_field} {c.op} "report*"`'
                )
                self.error(
                    "leading-wildcard",
                    f"Text search term `{term}` starts with a wildcard; Lucene does not allow "
                    "`*` or `?` as the first character.",
                    f"Drop the leading wildcard ({suggestion}); trailing wildcards like "
                    "`report*` are fine.",
                    v.span,
                )
                return

    def function(self, spec: FieldSpec, src_field: str, c: Clause, f: FunctionCall) -> None:
        fn = lookup_function(f.name)
        if fn is None:
            known = ", ".join(sorted(f"{n}()" for n in spec.functions)) or "none"
            self.error(
                "unknown-function",
                f"Unknown function `{f.name}()`.",
                f"Functions allowed on `{src_field}`: {known}.",
                f.span,
            )
            return
        if spec.type != FieldType.PROPERTY and fn.name not in spec.functions:
            allowed = ", ".join(sorted(f"{n}()" for n in spec.functions))
            where = sorted(
                {s.display for s in FIELDS.values() if fn.name in s.functions and s.in_guidance}
            )
            hint = (
                f"`{src_field}` accepts {allowed}."
                if allowed
                else f"`{src_field}` accepts no functions."
            )
            if where:
                hint += f" `{fn.name}()` works on: {', '.join(where)}."
            if spec.type == FieldType.TEXT and fn.name in DATE_FUNCTIONS:
                op = c.op if c.op in (">", ">=", "<", "<=", "=", "!=") else ">="
                hint = f"Use a date field: `lastmodified {op} {f.to_cql()}`."
            self.error(
                "function-not-allowed",
                f"`{fn.name}()` cannot be used with `{src_field}`.",
                hint,
                f.span,
            )
            return
        if f.name != fn.name and f.name not in fn.aliases:
            self.warn(
                "function-case",
                f"Function names are case-sensitive: `{f.name}()`.",
                f"Write `{fn.name}()`.",
                f.span,
            )
        n = len(f.args)
        if not fn.min_args <= n <= fn.max_args:
            want = (
                f"{fn.min_args}"
                if fn.min_args == fn.max_args
                else f"{fn.min_args} to {fn.max_args}"
            )
            example = {
                "increment": f'{fn.name}("-1w")',
                "int": f"{fn.name}(10)",
                "none": f"{fn.name}()",
            }[fn.arg_kind]
            self.error(
                "function-arity",
                f"`{fn.name}()` takes {want} argument(s), got {n}.",
                f"e.g. `{example}`.",
                f.span,
            )
            return
        for a in f.args:
            raw = a.value if isinstance(a, String) else (a.text or str(a.value))
            if fn.arg_kind == "increment" and not _INCREMENT.match(str(raw).strip()):
                self.error(
                    "bad-increment",
                    f"Bad date increment {a.to_cql()} in `{fn.name}()`.",
                    f'Use "(+|-)nn(y|M|w|d|h|m)", e.g. `{fn.name}("-4w")` '
                    "(M = months, m = minutes).",
                    a.span or f.span,
                )
            elif fn.arg_kind == "int" and not (
                (isinstance(a, Number) and isinstance(a.value, int) and a.value >= 0)
                or (isinstance(a, String) and _DIGITS.match(a.value))
            ):
                self.error(
                    "bad-argument",
                    f"`{fn.name}()` takes whole numbers, got {a.to_cql()}.",
                    f"e.g. `{fn.name}(10)`.",
                    a.span or f.span,
                )

    # ------------------------------------------------------------- query-level
    def first_clause(self, where: Expr) -> None:
        node: Expr = where
        negated = False
        outer_not: Not | None = None
        while not isinstance(node, Clause):
            if isinstance(node, Not):
                negated = True
                outer_not = outer_not or node
                node = node.item
            else:
                node = node.items[0]
        if not (negated or node.op in NEGATIVE_OPERATORS):
            return
        span = outer_not.span if outer_not is not None else node.span
        # The Cloud doc forbids a negative first clause, yet its own field reference shows
        # `label not in (draft, review)` as a complete query: NOT IN first is a warning.
        severity = Severity.WARNING if (not negated and node.op == "NOT IN") else Severity.ERROR
        hint = ""
        if isinstance(where, And | Or):
            for i, item in enumerate(where.items):
                if not _leftmost_negative(item):
                    items = (item, *where.items[:i], *where.items[i + 1 :])
                    reordered = type(where)(items).to_cql()
                    hint = f"Put a positive clause first: `{reordered}`."
                    break
        if not hint:
            body = where.to_cql()
            if isinstance(where, Or):
                body = f"({body})"
            lead = 'space = "ENG"' if node.canonical_field == "type" else "type = page"
            hint = f"Start with a positive clause, e.g. `{lead} AND {body}`."
        if severity == Severity.ERROR:
            msg = "A negative clause (NOT, !=, !~, NOT IN) cannot be the first clause of a query."
        else:
            msg = (
                "A query starting with a NOT IN clause may be rejected (the doc says a negative "
                "clause cannot come first, though its field reference shows `label not in (...)`)."
            )
        self.add(severity, "negative-first-clause", msg, hint, span)

    def mixed(self, group: MixedGroup) -> None:
        inner = group.inner
        inner_op = "OR" if isinstance(inner, Or) else "AND"
        last = inner.items[-1].span
        if group.span is None or inner.span is None or last is None:
            reading = f"({_clip(inner.to_cql())}) {group.outer_op} …"
            other = ""
        else:
            src = self.src
            head = src[inner.span.start : last.start]
            tail = src[last.start : inner.span.end]
            rest = src[inner.span.end : group.span.end].strip()
            reading = f"({_clip(head + tail)}) {_clip(rest)}"
            other = f"; `{_clip(head)} ({_clip(tail + ' ' + rest)})` groups the other way"
        self.warn(
            "mixed-and-or",
            f"{inner_op} and {group.outer_op} are mixed without parentheses; CQL evaluates left "
            "to right.",
            f"Add parentheses: `{reading}` is what this means{other}.",
            group.span,
        )

    def order_key(self, key: OrderBy) -> None:
        spec = lookup_field(key.field)
        src = self.src[key.span.start : key.span.end].split()[0] if key.span else key.field
        fspan = key.span
        if fspan is not None:
            fspan = Span(fspan.start, fspan.start + len(src), fspan.line, fspan.column)
        if spec is None:
            best = suggest_field(key.field)
            self.error(
                "unknown-field",
                f"No field exists with the name '{src}' (in ORDER BY).",
                f"Did you mean `ORDER BY {best}`?" if best else f"Sort by {sort_fields_text()}.",
                fspan,
            )
            return
        if self.endpoint not in spec.endpoints:
            self.wrong_endpoint(spec, src, fspan)
            return
        if spec.multi_valued:
            self.error(
                "order-by-multi-valued",
                f"Cannot ORDER BY `{src}`: it is multi-valued (a page can have many).",
                f"Sort by a single-valued field: {sort_fields_text()}.",
                fspan,
            )
        elif not spec.sortable:
            self.warn(
                "order-by-unsupported",
                f"`{src}` is probably not sortable.",
                f"Sort by {sort_fields_text()}.",
                fspan,
            )


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return f"{text[:half]} … {text[-half:]}"


def _leftmost_negative(expr: Expr) -> bool:
    node = expr
    while not isinstance(node, Clause):
        if isinstance(node, Not):
            return True
        node = node.items[0]
    return node.op in NEGATIVE_OPERATORS
