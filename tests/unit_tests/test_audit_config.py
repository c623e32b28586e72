"""Audit configuration: loading, validation, one-line errors, fingerprints."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_agent.audit_config import (
    AuditConfig,
    TopicRequirement,
    load_audit_config,
    parse_audit_config,
)
from confluence_agent.errors import ConfigurationError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "audit.toml"


def test_example_config_loads() -> None:
    config = load_audit_config(EXAMPLE)
    assert config.audit.owner_label_prefix == "owner-"
    assert config.rules[0].name == "prds-cover-stripe-webhooks"
    stripe = config.rules[0].topics[0]
    assert stripe.heading == "Stripe webhook integration"
    assert "Stripe-Signature" in stripe.markdown()
    assert config.drafts is not None and config.drafts.max_age_days == 90


def test_defaults_and_template_section() -> None:
    config = parse_audit_config(
        {"rules": [{"name": "r", "cql": "type = page", "topics": [{"topic": "Rollback plan"}]}]}
    )
    assert config.audit.concurrency == 4
    assert config.audit.page_size == 50
    topic = config.rules[0].topics[0]
    assert topic.heading == "Rollback plan"
    assert "Rollback plan" in topic.markdown()
    assert config.rules[0].needs_body


def test_section_title_overrides_topic() -> None:
    topic = TopicRequirement(topic="payments via stripe", section_title="Stripe")
    assert topic.heading == "Stripe"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"rules": [{"name": "r", "cql": 'space = "ENG" and'}]}, "rules.0.cql"),
        ({"rules": [{"name": "r", "cql": "type = page", "stale_after_day": 3}]}, "stale_after_day"),
        (
            {"rules": [{"name": "r", "cql": "type = page"}, {"name": "r", "cql": "type = page"}]},
            "unique",
        ),
        (
            {"audit": {"concurrency": 0}, "rules": [{"name": "r", "cql": "type = page"}]},
            "concurrency",
        ),
        ({}, "nothing to audit"),
    ],
)
def test_invalid_configs_fail_with_one_line(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_audit_config(data, source="cfg.toml")
    message = str(info.value)
    assert needle in message
    assert "\n" not in message
    assert message.startswith("cfg.toml: ")


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read audit config"):
        load_audit_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]\nname = 1\n")
    with pytest.raises(ConfigurationError, match="TOML syntax error"):
        load_audit_config(bad)


def test_fingerprint_depends_on_config_and_mode() -> None:
    a = parse_audit_config({"rules": [{"name": "r", "cql": "type = page"}]})
    b = parse_audit_config({"rules": [{"name": "r", "cql": "type = blogpost"}]})
    assert a.fingerprint("check") == AuditConfig.model_validate(a.model_dump()).fingerprint("check")
    assert a.fingerprint("check") != a.fingerprint("apply")
    assert a.fingerprint("check") != b.fingerprint("check")
