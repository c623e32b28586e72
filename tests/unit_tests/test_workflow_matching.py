"""Deterministic topic matcher: case, word forms, hyphenation, co-occurrence."""

from __future__ import annotations

import pytest
from confluence_agent.workflows.matching import match_topic, stem, term_set, topic_terms

TOPIC = "Stripe webhook integration"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("webhooks", "webhook"),
        ("integrating", "integration"),
        ("integrate", "integrated"),
        ("Stripe", "stripe"),
        ("logging", "logs"),
        ("rules", "rule"),
    ],
)
def test_word_forms_share_a_stem(a: str, b: str) -> None:
    assert stem(a) == stem(b)


@pytest.mark.parametrize("word", ["process", "status", "api"])
def test_non_plurals_are_kept(word: str) -> None:
    assert stem(word) == word


@pytest.mark.parametrize(
    "sentence",
    [
        "We are integrating STRIPE Webhooks for payment events.",
        "Stripe web-hook integration: retries and signatures.",
        "The stripe web hook is integrated with the ledger.",
        "Integration of Stripe webhooks happens in Q3.",
    ],
)
def test_covered_variants(sentence: str) -> None:
    match = match_topic(TOPIC, f"Intro paragraph. {sentence} Outro.")
    assert match.covered
    assert match.evidence == [sentence]


def test_split_topic_matches_closed_compound() -> None:
    match = match_topic("Stripe web hook integration", "Stripe webhooks integration is live.")
    assert match.covered
    assert topic_terms("Stripe web hook integration", term_set("webhook")) == [
        "strip",
        "webhook",
        "integr",
    ]


def test_heading_counts_as_evidence() -> None:
    match = match_topic(TOPIC, "Retries use exponential backoff.", ["Stripe webhook integration"])
    assert match.covered
    assert match.evidence == ["Heading: Stripe webhook integration"]


def test_terms_scattered_over_sentences_are_not_coverage() -> None:
    text = "Billing uses Stripe for cards. Integration tests run nightly. Webhooks are out of scope"
    match = match_topic(TOPIC, text)
    assert not match.covered
    assert match.missing_terms == []
    assert match.partial == []  # no sentence holds two of the three terms


def test_missing_terms_reported() -> None:
    match = match_topic(TOPIC, "Billing uses Stripe. Integration later.")
    assert not match.covered
    assert match.missing_terms == ["webhook"]
    assert match.partial == []


def test_stop_words_ignored_and_empty_topic() -> None:
    assert topic_terms("the integration of the Stripe webhooks") == ["integr", "strip", "webhook"]
    assert not match_topic("the of and", "anything").covered
