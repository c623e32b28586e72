"""guidance_text(): short, generated from the field table, examples all valid."""

from __future__ import annotations

from confluence_agent.cql import FIELDS, guidance_text, parse, validate
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
