"""Parser: AST shape, normalisation, precedence, positions, syntax errors."""

from __future__ import annotations

import dataclasses

import pytest

from confluence_agent.cql import (
    And,
    Clause,
    CQLSyntaxError,
    FunctionCall,
    Not,
    Number,
    Or,
    OrderBy,
    Query,
    String,
    ValueList,
    parse,
)


def c(field: str, op: str, value: object) -> Clause:
    if isinstance(value, str):
        return Clause(field, op, String(value, quoted=False))
    assert isinstance(value, String | Number | ValueList | FunctionCall)
    return Clause(field, op, value)


def test_simple_clause() -> None:
    assert parse('space = "TEST"') == Query(Clause("space", "=", String("TEST")), ())


def test_all_operators_and_normalisation() -> None:
    q = parse(
        "title ~ a AND title !~ b AND created > 1 AND created >= 2 AND created < 3 "
        "AND created <= 4 AND id != 5 AND id in (1) AND id NOT   IN (2)"
    )
    assert isinstance(q.where, And)
    ops = [item.op for item in q.where.items if isinstance(item, Clause)]
    assert ops == ["~", "!~", ">", ">=", "<", "<=", "!=", "IN", "NOT IN"]


def test_keywords_are_case_insensitive_and_fields_lower_cased() -> None:
    a = parse(
        "Space = DEV aNd lastModified < startOfYear() Or LABEL not IN (x) oRdEr   By Created DeSc"
    )
    b = parse(
        "space = DEV AND lastmodified < startOfYear() OR label NOT IN (x) ORDER BY created DESC"
    )
    assert a == b
    assert a.order_by == (OrderBy("created", "DESC"),)


def test_left_to_right_equal_precedence() -> None:
    # Atlassian: "If you do not use parentheses, the statement will be evaluated left to right."
    q = parse("a = 1 OR b = 2 AND c = 3")
    assert q.where == And(
        (Or((c("a", "=", Number(1)), c("b", "=", Number(2)))), c("c", "=", Number(3)))
    )
    q2 = parse("a = 1 AND b = 2 OR c = 3")
    assert q2.where == Or(
        (And((c("a", "=", Number(1)), c("b", "=", Number(2)))), c("c", "=", Number(3)))
    )


def test_parentheses_group_and_same_kind_flattens() -> None:
    q = parse("a = 1 OR (b = 2 AND c = 3)")
    assert isinstance(q.where, Or)
    assert isinstance(q.where.items[1], And)
    flat = parse("a = 1 AND (b = 2 AND c = 3) AND d = 4")
    assert isinstance(flat.where, And)
    assert len(flat.where.items) == 4


def test_not_binds_to_next_clause_or_group() -> None:
    q = parse("label = cql and not space = dev")
    assert q.where == And((c("label", "=", "cql"), Not(c("space", "=", "dev"))))
    q2 = parse("type = page AND NOT (a = 1 OR b = 2)")
    assert isinstance(q2.where, And)
    neg = q2.where.items[1]
    assert isinstance(neg, Not)
    assert isinstance(neg.item, Or)


def test_values_strings_numbers_lists_functions() -> None:
    with pytest.raises(CQLSyntaxError, match="Unescaped '"):
        parse("title = 'it''s'")  # SQL-style doubled quotes are not CQL
    q = parse('x = "a \\"b\\" \\\\ c"')
    assert q.where == Clause("x", "=", String('a "b" \\ c'))
    q = parse("x = 'single \\' quote'")
    assert q.where == Clause("x", "=", String("single ' quote"))
    q = parse("x = -4 AND y = 1.5 AND z = 123abc")
    assert isinstance(q.where, And)
    assert [i.value for i in q.where.items if isinstance(i, Clause)] == [
        Number(-4),
        Number(1.5),
        String("123abc", quoted=False),
    ]


def test_unknown_backslash_escape_is_kept_verbatim() -> None:
    q = parse(r'text ~ "\\[example\\]"')  # CQL doc: Lucene specials need two backslashes
    assert q.where == Clause("text", "~", String(r"\[example\]"))
    assert parse(q.to_cql()) == q


def test_functions() -> None:
    q = parse(
        'created >= now("-4w") AND id IN recentlyViewedContent(10, 20) AND creator = currentUser()'
    )
    assert isinstance(q.where, And)
    values = [i.value for i in q.where.items if isinstance(i, Clause)]
    assert values == [
        FunctionCall("now", (String("-4w"),)),
        FunctionCall("recentlyViewedContent", (Number(10), Number(20))),
        FunctionCall("currentUser"),
    ]
    q2 = parse("space IN (favouriteSpaces(), 'FS', 'TS')")
    assert q2.where == Clause(
        "space", "IN", ValueList((FunctionCall("favouriteSpaces"), String("FS"), String("TS")))
    )


def test_function_canonical_name() -> None:
    q = parse("creator = currentuser()")
    assert isinstance(q.where, Clause)
    assert isinstance(q.where.value, FunctionCall)
    assert q.where.value.name == "currentuser"
    assert q.where.value.canonical_name == "currentUser"


def test_dotted_and_content_property_fields() -> None:
    q = parse("Space.Key = DEV AND content.property[MetaData].Content.likes <= 5")
    assert isinstance(q.where, And)
    fields = [i.field for i in q.where.items if isinstance(i, Clause)]
    assert fields == ["space.key", "content.property[MetaData].Content.likes"]


def test_alias_canonical_field() -> None:
    q = parse("content = 123 OR favorite = currentUser()")
    assert isinstance(q.where, Or)
    first, second = q.where.items
    assert isinstance(first, Clause)
    assert isinstance(second, Clause)
    assert (first.field, first.canonical_field) == ("content", "id")
    assert (second.field, second.canonical_field) == ("favorite", "favourite")


def test_reserved_word_as_bare_value_parses_for_the_validator() -> None:
    assert parse("label = order").where == c("label", "=", "order")
    assert parse('label = "and"').where == Clause("label", "=", String("and"))


def test_order_by_only_and_clauses_iterator() -> None:
    assert parse("order by created") == Query(None, (OrderBy("created"),))
    q = parse("a = 1 AND (b = 2 OR NOT c = 3)")
    assert [x.field for x in q.clauses()] == ["a", "b", "c"]


def test_spans_are_positions_and_ignored_by_equality() -> None:
    q = parse('type = page AND\n  title ~ "x"')
    assert isinstance(q.where, And)
    second = q.where.items[1]
    assert isinstance(second, Clause)
    assert second.span is not None
    assert (second.span.line, second.span.column, second.span.start) == (2, 3, 18)
    assert second.field_span is not None
    assert second.field_span.end - second.field_span.start == len("title")
    assert second.op_span is not None
    assert second.op_span.column == 9
    assert q == parse('type = page AND title ~ "x"')  # different positions, equal trees
    assert hash(q) == hash(parse('type = page AND title ~ "x"'))


def test_nodes_are_frozen() -> None:
    q = parse("a = 1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.where = None  # type: ignore[misc]


def test_to_cql_parenthesises_nested_groups() -> None:
    q = parse("(a = 1 OR b = 2) AND NOT (c = 3 AND d = 4) ORDER BY created ASC, title")
    assert q.to_cql() == "(a = 1 OR b = 2) AND NOT (c = 3 AND d = 4) ORDER BY created ASC, title"
    assert parse(q.to_cql()) == q


@pytest.mark.parametrize(
    ("query", "code", "column"),
    [
        ('title ~ "abc', "unterminated-string", 9),
        ("title ~ 'abc", "unterminated-string", 9),
        ("title = ", "missing-value", 9),
        ("title = AND x = 1", "missing-value", 9),
        ("title ~ x AND", "dangling-operator", 11),
        ("AND a = b", "dangling-operator", 1),
        ("a = b AND OR c = d", "dangling-operator", 11),
        ("(a = b", "unbalanced-parentheses", 1),
        ("a = b)", "unbalanced-parentheses", 6),
        ("((a = b) AND (c = d)", "unbalanced-parentheses", 1),
        ("title ~ foo bar", "unquoted-phrase", 13),
        ("project documentation", "expected-operator", 9),
        ("title LIKE 'x'", "expected-operator", 7),
        ("a == b", "missing-value", 4),
        ("a = b && c = d", "bad-connective", 7),
        ("label IN", "missing-value", 9),
        ("", "empty-query", 1),
        ("   ", "empty-query", 1),
        ("()", "empty-group", 2),
        ('"title" = x', "expected-field", 1),
        ("a = b ORDER BY", "bad-order-by", 7),
        ("a = b order created", "bad-order-by", 7),
        ("space = ~jsmith", "unquoted-personal-space", 9),
        ('text ~ "say "hi""', "unescaped-quote", 13),
        ("a = b&limit=10", "url-parameter", 6),
        ("a IN (1, )", "missing-value", 8),
    ],
)
def test_syntax_errors(query: str, code: str, column: int) -> None:
    with pytest.raises(CQLSyntaxError) as info:
        parse(query)
    err = info.value
    assert isinstance(err, ValueError)
    p = err.problems[0]
    assert (p.code, p.column) == (code, column), str(p)
    assert p.is_error
    assert p.hint
    assert str(p) in str(err)


def test_multiline_error_position() -> None:
    with pytest.raises(CQLSyntaxError) as info:
        parse('type = page\nAND title ~ "open')
    p = info.value.problems[0]
    assert (p.line, p.column, p.offset) == (2, 13, 24)


def test_too_deep_nesting_is_a_clean_error() -> None:
    with pytest.raises(CQLSyntaxError) as info:
        parse("(" * 150 + "a = 1" + ")" * 150)
    assert info.value.problems[0].code == "too-deeply-nested"
    parse("(" * 50 + "a = 1" + ")" * 50)


def test_parse_rejects_non_string() -> None:
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]
