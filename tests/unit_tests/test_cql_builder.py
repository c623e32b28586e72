"""Builder: typed composition, escaping (property-tested), validation of what it builds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confluence_agent.cql import (
    CQL,
    And,
    Clause,
    Creator,
    CurrentUser,
    Field,
    FunctionCall,
    Label,
    Not,
    Now,
    Number,
    Or,
    OrderBy,
    Query,
    RecentlyViewedContent,
    Space,
    String,
    Text,
    Title,
    Type,
    ValueList,
    all_of,
    any_of,
    not_,
    parse,
    quote,
)

ANY_TEXT = st.text(max_size=80)
NASTY = st.text(alphabet="\"\\' ()~=!<>,&|ANDORNOT \n\t*?", max_size=40)


def test_examples_from_the_issue() -> None:
    q = Field("title").contains("Q3 Billing") & Space("ENG")
    assert q.to_cql() == 'title ~ "Q3 Billing" AND space = "ENG"'
    assert Field("label").in_(["a", "b"]).to_cql() == 'label IN ("a", "b")'
    assert Field("created").gte(Now("-4w")).to_cql() == 'created >= now("-4w")'
    built = (Title("PRD") & Space("ENG")).order_by("lastmodified", desc=True)
    assert built.to_cql() == 'title ~ "PRD" AND space = "ENG" ORDER BY lastmodified DESC'
    assert Text("Datadog logging guidelines").to_cql() == 'text ~ "Datadog logging guidelines"'


def test_operators_and_helpers() -> None:
    assert (Space("A") | Space("B")).to_cql() == 'space = "A" OR space = "B"'
    assert (Type("page") & (Space("A") | Space("B"))).to_cql() == (
        'type = "page" AND (space = "A" OR space = "B")'
    )
    assert (Type("page") & ~Label("draft")).to_cql() == 'type = "page" AND NOT label = "draft"'
    assert all_of(Type("page"), Space("X"), Label("a")).expr == And(
        (
            Clause("type", "=", String("page")),
            Clause("space", "=", String("X")),
            Clause("label", "=", String("a")),
        )
    )
    assert isinstance(any_of(Space("A"), Space("B")).expr, Or)
    assert isinstance(not_(Space("A")).expr, Not)
    assert all_of(Space("A")).expr == Clause("space", "=", String("A"))
    assert Label("a", "b").to_cql() == 'label IN ("a", "b")'
    assert Type("page", "blogpost").to_cql() == 'type IN ("page", "blogpost")'
    assert Title("x", exact=True).to_cql() == 'title = "x"'
    assert Text("hello dolly", phrase=True).to_cql() == 'text ~ "\\"hello dolly\\""'
    assert Creator(CurrentUser()).to_cql() == "creator = currentUser()"
    assert (
        Field("id").in_(RecentlyViewedContent(10, 20)).to_cql()
        == "id IN recentlyViewedContent(10, 20)"
    )
    assert Field("created").between("2024-01-01", "2024-02-01").to_cql() == (
        'created >= "2024-01-01" AND created < "2024-02-01"'
    )
    assert Field("content").eq(5).to_cql() == "content = 5"


def test_builder_rejects_misuse() -> None:
    with pytest.raises(
        ValueError, match="No field exists with the name 'titel'; did you mean 'title'"
    ):
        Field("titel")
    with pytest.raises(ValueError, match="does not support `=`"):
        Field("text").eq("x")
    with pytest.raises(ValueError, match="multi-valued"):
        Space("A").order_by("label")
    with pytest.raises(TypeError):
        Field("label").in_("abc")
    with pytest.raises(ValueError):
        Field("label").in_([])
    with pytest.raises(TypeError):
        Field("id").eq(True)


def test_built_query_is_an_ast_and_validates() -> None:
    built = (Type("page") & Space("ENG") & Field("lastmodified").gte(Now("-4w"))).order_by(
        "created"
    )
    assert isinstance(built, CQL)
    assert built.to_query() == Query(
        And(
            (
                Clause("type", "=", String("page")),
                Clause("space", "=", String("ENG")),
                Clause("lastmodified", ">=", FunctionCall("now", (String("-4w"),))),
            )
        ),
        (OrderBy("created", "ASC"),),
    )
    assert built.validate() == []
    assert parse(built.to_cql()) == built.to_query()
    assert [p.code for p in (~Space("A")).validate()] == ["negative-first-clause"]
    assert [p.code for p in Creator("jsmith").validate()] == ["username-not-accountid"]


def test_quote() -> None:
    assert quote('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert parse(f"title = {quote(chr(92))}").where == Clause("title", "=", String("\\"))


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_any_text_in_title_is_one_clause_with_the_same_value(text: str) -> None:
    q = parse(Title(text).to_cql())
    assert q == Query(Clause("title", "~", String(text)))


@settings(max_examples=300, deadline=None)
@given(NASTY, NASTY)
def test_injection_attempts_cannot_change_structure(a: str, b: str) -> None:
    built = Space(a) & Field("title").contains(b)
    q = parse(built.to_cql())
    assert q.where == And((Clause("space", "=", String(a)), Clause("title", "~", String(b))))
    assert q == built.to_query()


@settings(max_examples=200, deadline=None)
@given(st.lists(ANY_TEXT, min_size=1, max_size=5))
def test_any_text_in_lists_round_trips(values: list[str]) -> None:
    q = parse(Field("label").in_(values).to_cql())
    assert q.where == Clause("label", "IN", ValueList(tuple(String(v) for v in values)))


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_phrase_and_functions_with_any_text(text: str) -> None:
    cond = Text(text, phrase=True) & Field("created").gte(Now(text))
    q = parse(cond.to_cql())
    assert q == cond.to_query()


@given(st.integers(min_value=0, max_value=10**15))
def test_numbers_round_trip(n: int) -> None:
    q = parse(Field("id").eq(n).to_cql())
    assert q.where == Clause("id", "=", Number(n))
