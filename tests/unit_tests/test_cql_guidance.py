"""guidance_text(): short, generated from the field table, examples all valid."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

import confluence_agent.cql.guidance as guidance
from confluence_agent.cql import (
    FIELDS,
    FieldSpec,
    FieldType,
    ValueKind,
    guidance_text,
    parse,
    validate,
)
from confluence_agent.cql.fields import SORT_FIELDS, sort_fields_text
from confluence_agent.cql.guidance import GUIDANCE_EXAMPLES


def test_length_and_required_examples() -> None:
    text = guidance_text()
    assert len(text) < 2500
    assert 'title ~ "Q3 Billing Engine PRD"' in text
    assert 'space = "ENG" AND text ~ "Datadog logging guidelines"' in text
    assert 6 <= len(GUIDANCE_EXAMPLES) <= 8


def test_mentions_the_rules() -> None:
    text = guidance_text()
    for needle in (
        "accountId",
        "currentUser()",
        'escape " as \\"',
        "left to right",
        "reserved",
        "ORDER BY",
    ):
        assert needle in text, needle


def test_every_example_is_valid_and_round_trips() -> None:
    for query, _why in GUIDANCE_EXAMPLES:
        assert validate(query) == [], query
        assert parse(parse(query).to_cql()) == parse(query)


def test_generated_from_field_table() -> None:
    text = guidance_text()
    for spec in FIELDS.values():
        if spec.in_guidance:
            assert spec.display in text, spec.name
    assert "user.fullname" not in text  # only valid on /search/user


def test_a_field_added_to_the_table_appears_in_the_guidance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Generated, not hand-written: a new field shows up with its operators and summary,
    # and a field taken out of the guidance disappears.
    fake = FieldSpec(
        "wibble",
        "wibble",
        FieldType.STRING,
        frozenset({"=", "IN"}),
        ValueKind.STRING,
        summary="made-up field",
    )
    table = {**FIELDS, "wibble": fake}
    table["label"] = dataclasses.replace(FIELDS["label"], in_guidance=False)
    monkeypatch.setattr(guidance, "FIELDS", MappingProxyType(table))
    guidance.guidance_text.cache_clear()
    try:
        text = guidance.guidance_text()
    finally:
        guidance.guidance_text.cache_clear()
    assert "- wibble: = IN (made-up field)" in text
    assert "- label:" not in text


def test_suggested_sort_fields_are_sortable_single_valued_fields() -> None:
    for name in SORT_FIELDS:
        assert FIELDS[name].sortable and not FIELDS[name].multi_valued, name
    assert f"ORDER BY {sort_fields_text()};" in guidance_text()
