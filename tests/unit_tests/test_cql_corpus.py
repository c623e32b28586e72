"""Real CQL from Atlassian's documentation and public code (tests/fixtures/cql/*.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from confluence_agent.cql import CQLSyntaxError, parse, validate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cql"


def _load(name: str) -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / name).read_text("utf-8"))
    queries: list[dict[str, Any]] = data["queries"]
    return queries


VALID = _load("valid_queries.json")
INVALID = _load("invalid_queries.json")

_SOURCE = re.compile(
    r"(https://developer\.atlassian\.com/\S+"  # Atlassian doc page
    r"|https://github\.com/[\w.-]+/[\w.-]+/(issues|pull)/\d+"  # issue / PR thread
    r"|[\w.-]+/[\w.-]+(@[0-9a-f]{40})?:\S+"  # owner/repo[@commit]:path
    r"|shared/reference/\S+.*)\Z"  # the project's own reference notes
)


def _id(entry: dict[str, Any]) -> str:
    return str(entry["query"])[:60]


def test_corpus_sizes() -> None:
    assert len(VALID) >= 60
    assert len(INVALID) >= 25
    assert len({e["query"] for e in VALID}) == len(VALID), "duplicate valid queries"
    assert len({(e["query"], e.get("endpoint")) for e in INVALID}) == len(INVALID)


@pytest.mark.parametrize("entry", VALID + INVALID, ids=_id)
def test_every_entry_has_a_source(entry: dict[str, Any]) -> None:
    assert _SOURCE.match(entry["source"]), entry["source"]
    if "retrieved_from" in entry:
        assert _SOURCE.match(entry["retrieved_from"])


@pytest.mark.parametrize("entry", VALID, ids=_id)
def test_valid_query_is_accepted(entry: dict[str, Any]) -> None:
    problems = validate(entry["query"], endpoint=entry.get("endpoint", "search"))
    errors = [p for p in problems if p.is_error]
    assert errors == [], errors
    warnings = sorted({p.code for p in problems})
    assert warnings == entry.get("expect_warnings", [])


@pytest.mark.parametrize("entry", VALID, ids=_id)
def test_valid_query_round_trips(entry: dict[str, Any]) -> None:
    q = parse(entry["query"])
    text = q.to_cql()
    again = parse(text)
    assert again == q
    assert again.to_cql() == text  # to_cql is a fixed point after one pass


@pytest.mark.parametrize("entry", INVALID, ids=_id)
def test_invalid_query_is_rejected_with_position_and_hint(entry: dict[str, Any]) -> None:
    problems = validate(entry["query"], endpoint=entry.get("endpoint", "search"))
    errors = [p for p in problems if p.is_error]
    assert errors, f"not rejected: {problems}"
    first = errors[0]
    expect = entry["expect"]
    assert first.code == expect["code"]
    assert (first.line, first.column) == (expect["line"], expect["column"])
    assert first.text == expect["text"]
    assert expect["hint_contains"] in first.hint
    # Offsets and line/column agree, and the text is really at that offset.
    assert entry["query"][first.offset : first.offset + len(first.text)] == first.text
    assert first.column == first.offset + 1  # all fixtures are single-line


def test_syntax_errors_from_the_corpus_raise_from_parse() -> None:
    syntax_codes = {
        "unterminated-string",
        "unbalanced-parentheses",
        "dangling-operator",
        "missing-value",
        "unquoted-phrase",
        "url-parameter",
        "unquoted-personal-space",
        "unescaped-quote",
    }
    seen = 0
    for entry in INVALID:
        if entry["expect"]["code"] in syntax_codes:
            seen += 1
            with pytest.raises(CQLSyntaxError) as info:
                parse(entry["query"])
            assert isinstance(info.value, ValueError)
            assert info.value.problems[0].code == entry["expect"]["code"]
    assert seen >= 8
