"""validate(): every check from issue #3, with position, offending text and fix."""

from __future__ import annotations

import pytest

from confluence_agent.cql import (
    FIELDS,
    CQLProblem,
    Severity,
    format_problems,
    parse,
    validate,
    validate_query,
)
from confluence_agent.cql.fields import FunctionSpec, lookup_function


def only(q: str, **kw: str | bool) -> CQLProblem:
    problems = validate(q, **kw)  # type: ignore[arg-type]
    assert len(problems) == 1, problems
    return problems[0]


def codes(q: str, **kw: str | bool) -> list[str]:
    return [p.code for p in validate(q, **kw)]  # type: ignore[arg-type]


def test_clean_query_has_no_problems() -> None:
    assert (
        validate(
            'type = page AND space = "ENG" AND title ~ "Q3 Billing" ORDER BY lastmodified DESC'
        )
        == []
    )


def test_unknown_field_with_did_you_mean() -> None:
    p = only('titel ~ "x"')
    assert p.code == "unknown-field"
    assert p.message == "No field exists with the name 'titel'."
    assert "`title`" in p.hint
    assert (p.offset, p.column, p.text) == (0, 1, "titel")
    p2 = only("author = currentUser()")
    assert "`creator`" in p2.hint
    assert "creator = currentUser()" in p2.hint
    p3 = only("status = current")
    assert "cqlcontext" in p3.hint


def test_operator_not_allowed_with_concrete_fix() -> None:
    p = only('text = "Datadog"')
    assert (p.code, p.text, p.column) == ("operator-not-allowed", "=", 6)
    assert 'text ~ "Datadog"' in p.hint
    p = only('space ~ "eng"')
    assert "space.title ~" in p.hint
    p = only('creator ~ "alana"')
    assert 'creator.fullname ~ "alana"' in p.hint
    p = only('label > "a"')
    assert "Only date fields" in p.hint
    p = only('content ~ "deployment"')  # a content-id field, not body text
    assert 'text ~ "deployment"' in p.hint
    assert "content = 123456" in p.hint
    p = only('created IN ("2024-01-01")')
    assert "range" in p.hint


def test_in_with_contains_gets_or_rewrite() -> None:
    p = only('title ~ ("x", "y")')
    assert p.code == "list-with-contains"
    assert "`title` does not support `IN` with `~`" in p.message
    assert 'title ~ "x" OR title ~ "y"' in p.hint


def test_list_shape_errors() -> None:
    assert only('label IN "a"').code == "list-required"
    p = only('label = ("a", "b")')
    assert (p.code, p.hint) == ("list-needs-in", 'Use `label IN ("a", "b")`.')
    assert only("space = favouriteSpaces()").code == "function-returns-list"
    assert only("creator IN currentUser()").code == "list-required"


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        ('created > "2024-01-31"', True),
        ('created > "2024/01/31"', True),
        ('created > "2024-01-31 09:30"', True),
        ('created > "2024/01/31 09:30"', True),
        ("created > 2024-01-31", True),
        ('created > "2024-02-30"', False),
        ('created > "31/01/2024"', False),
        ('created > "2024-01-31T09:30:00Z"', False),
        ("created > 2024", False),
        ('created > "yesterday"', False),
    ],
)
def test_date_formats(query: str, ok: bool) -> None:
    errors = [p for p in validate(query) if p.is_error]
    assert (errors == []) is ok, errors
    if not ok:
        assert errors[0].code == "bad-date"


def test_iso_and_relative_dates_get_specific_fixes() -> None:
    assert 'created >= "2024-01-31 09:30"' in only('created >= "2024-01-31T09:30:00Z"').hint
    assert 'now("-4w")' in only('lastmodified > "-4w"').hint


def test_content_ids_must_be_numeric() -> None:
    assert validate('ancestor = "12345678"') == []  # quoted digits are fine (mcp-atlassian guide)
    p = only("id = abc")
    assert (p.code, p.text) == ("content-id-not-numeric", "abc")
    assert only("parent = -5").code == "content-id-not-numeric"


def test_function_checks() -> None:
    p = only('title ~ now("-1d")')
    assert p.code == "function-not-allowed"
    assert "lastmodified >= now" in p.hint
    assert only("creator = me()").code == "unknown-function"
    assert only('created > now("-4 weeks")').code == "bad-increment"
    assert only("created > now(1, 2)").code == "function-arity"
    assert only("id IN recentlyViewedContent()").code == "function-arity"
    assert only('id IN recentlyViewedContent("ten")').code == "bad-argument"
    assert only("creator = currentuser()").code == "function-case"
    assert only("creator = currentuser()").severity == Severity.WARNING
    assert validate("space IN favoriteSpaces()") == []  # documented US spelling
    assert validate('created > startOfMonth("-1M") AND created < endOfDay("+2d 3h")') == []


def test_bare_values_with_reserved_words_or_characters() -> None:
    p = only("label = and")
    assert (p.code, p.hint) == ("reserved-word", 'Write `label = "and"`.')
    p = only("label = release.notes")
    assert p.code == "unquoted-reserved-character"
    assert p.hint == 'Quote it: `label = "release.notes"`.'
    p = only("creator = john.doe@example.com")
    assert p.code == "unquoted-reserved-character"
    assert only("label = aws-services").severity == Severity.WARNING  # hyphen: quote to be safe
    assert only("created > 2014/09/01").code == "unquoted-date"
    assert only("created > 2014/09/01").severity == Severity.WARNING


def test_leading_wildcard() -> None:
    p = only('title ~ "*report"')
    assert p.code == "leading-wildcard"
    assert 'title ~ "report"' in p.hint
    assert only('text ~ "quarterly ?eport"').code == "leading-wildcard"
    assert validate('title ~ "rep*rt*"') == []
    assert only('text ~ ""').code == "empty-text"


def test_negative_first_clause() -> None:
    p = only("NOT space = DEV AND type = page")
    assert (p.code, p.severity, p.text) == (
        "negative-first-clause",
        Severity.ERROR,
        "NOT space = DEV",
    )
    assert "type = page AND NOT space = DEV" in p.hint
    assert only("type != page").code == "negative-first-clause"
    assert only('title !~ "draft" OR label = x').code == "negative-first-clause"
    assert only("NOT (label = a OR label = b)").code == "negative-first-clause"
    assert validate("space = DEV and not creator = currentUser()") == []
    # NOT IN first: the Cloud doc itself shows `label not in (draft, review)` -> warning only.
    assert only("label not in (draft, review)").severity == Severity.WARNING


def test_user_fields_want_account_ids() -> None:
    p = only("creator = jsmith")
    assert (p.code, p.severity) == ("username-not-accountid", Severity.WARNING)
    assert "accountId" in p.hint and "currentUser()" in p.hint
    assert "email" in only('watcher = "user@domain.com"').message
    assert "display name" in only('mention = "John Smith"').message
    assert "userKey" in only('creator = "ff8080815a1b2c3d4e5f60718293a4b5"').message
    assert validate('creator = "5b10ac8d82e05b22cc7d4ef5"') == []
    assert validate('contributor IN ("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077")') == []
    assert validate("creator = jsmith", cloud=False) == []  # Data Center takes usernames


def test_user_star_fields_and_endpoints() -> None:
    p = only('user.fullname ~ "Jane"')
    assert p.code == "user-field-on-search"
    assert "/wiki/rest/api/search/user" in p.hint
    assert (
        only('user = "5b10ac8d82e05b22cc7d4ef5"', endpoint="content_search").code
        == "user-field-on-search"
    )
    assert validate('user.fullname ~ "Jane"', endpoint="user_search") == []
    assert validate("type = user", endpoint="user_search") == []
    assert only("space = DEV", endpoint="user_search").code == "content-field-on-user-search"
    assert only('user.userkey = "abc"', endpoint="user_search").code == "deprecated-field"
    with pytest.raises(ValueError, match="unknown endpoint"):
        validate("space = DEV", endpoint="graphql")
    assert validate("space = DEV", endpoint="/wiki/rest/api/content/search") == []


def test_visibility_dependent_fullname_fields_warn() -> None:
    p = only('creator.fullname ~ "alana"')
    assert (p.code, p.severity) == ("field-caveat", Severity.WARNING)
    assert "visibility" in p.message


def test_order_by_checks() -> None:
    p = only("type = page ORDER BY label")
    assert (p.code, p.text, p.column) == ("order-by-multi-valued", "label", 22)
    assert only("type = page ORDER BY contributor DESC").code == "order-by-multi-valued"
    assert only("type = page ORDER BY text").code == "order-by-unsupported"
    assert only("type = page ORDER BY modified").code == "unknown-field"
    assert only("ORDER BY created").code == "order-by-only"


def test_mixed_and_or_warning_explains_left_to_right() -> None:
    p = only("space = A OR space = B AND type = page")
    assert (p.code, p.severity) == ("mixed-and-or", Severity.WARNING)
    assert "left to right" in p.message
    assert "`(space = A OR space = B) AND type = page` is what this means" in p.hint
    assert "`space = A OR (space = B AND type = page)` groups the other way" in p.hint
    long = " OR ".join(f'title ~ "word{i}"' for i in range(40)) + " AND type = page"
    assert len(only(long).hint) < 400
    assert validate("(space = A OR space = B) AND type = page") == []
    assert validate("space = A OR (space = B AND type = page)") == []


def test_enum_values() -> None:
    p = only("type = pages")
    assert (p.code, p.severity) == ("unknown-value", Severity.WARNING)
    assert "type = page" in p.hint
    assert only("type = space", endpoint="content_search").code == "type-needs-search"


def test_space_key_vs_name_and_label_spaces() -> None:
    p = only('space = "Engineering Team"')
    assert 'space.title ~ "Engineering Team"' in p.hint
    assert only('label = "two words"').code == "label-with-space"


def test_multiple_problems_sorted_by_position_with_1_based_lines() -> None:
    q = 'type = page\nAND titel ~ "x"\nAND created > "2024-13-01"'
    ps = validate(q)
    assert [(p.code, p.line, p.column) for p in ps] == [
        ("unknown-field", 2, 5),
        ("bad-date", 3, 15),
    ]
    assert ps[1].offset == q.index('"2024-13-01"')


def test_syntax_error_is_returned_not_raised() -> None:
    ps = validate('title ~ "abc')
    assert [p.code for p in ps] == ["unterminated-string"]


def test_format_problems_is_short_and_actionable() -> None:
    out = format_problems(validate('text = "x" AND creator = jsmith'))
    lines = out.splitlines()
    assert lines[0] == "CQL rejected (not sent): 1 error, 1 warning."
    assert lines[1].startswith("1. error at 1:6 `=`:")
    assert 'Fix: Use `text ~ "x"`.' in lines[1]
    assert lines[2].startswith("2. warning at 1:26")
    assert format_problems([]) == "CQL OK: no problems found."
    many = validate(" AND ".join(f"f{i} = x" for i in range(15)))
    assert "... and 5 more." in format_problems(many)
    assert len(format_problems(many)) < 3000


def test_validate_query_on_built_ast() -> None:
    q = parse('text = "x"')
    assert [p.code for p in validate_query(q)] == ["operator-not-allowed"]


def test_field_table_is_consistent() -> None:
    for name, spec in FIELDS.items():
        assert name == spec.name == spec.name.lower()
        assert spec.operators, name
        assert spec.display.lower() == name
        for fn in spec.functions:
            f = lookup_function(fn)
            assert isinstance(f, FunctionSpec)
            assert f.name == fn
        if spec.multi_valued:
            assert not spec.sortable
    assert FIELDS["label"].multi_valued
    assert FIELDS["text"].operators == {"~", "!~"}
    assert FIELDS["title"].operators == {"=", "!=", "~", "!~", "IN", "NOT IN"}
    assert FIELDS["id"].aliases == ("content",)
    assert "currentUser" in FIELDS["creator"].functions
    assert FIELDS["user.userkey"].deprecated


def test_every_field_accepts_its_documented_operators() -> None:
    samples = {
        "content-id": "123",
        "date": '"2024-01-01"',
        "account-id": '"5b10ac8d82e05b22cc7d4ef5"',
        "space-key": '"ENG"',
        "string": '"x"',
        "text": '"x"',
        "any": '"x"',
    }
    for spec in FIELDS.values():
        endpoint = "user_search" if "user_search" in spec.endpoints else "search"
        if spec.deprecated:
            continue
        value = spec.enum_values[0] if spec.enum_values else samples[spec.value_kind.value]
        for op in spec.operators:
            rhs = f"({value})" if op in ("IN", "NOT IN") else value
            q = f'title ~ "a" AND {spec.display} {op} {rhs}'
            if endpoint == "user_search":
                q = f"{spec.display} {op} {rhs}"
            errors = [p for p in validate(q, endpoint=endpoint) if p.is_error]
            assert errors == [], (q, errors)
