"""to_markdown / to_text keep the meaning of rich storage."""

from __future__ import annotations

from pathlib import Path

from confluence_agent.storage import to_markdown, to_text

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "storage"
SAMPLES = Path("/work/shared/reference/samples/mcp-atlassian")


def _page(name: str) -> str:
    return (CORPUS / f"{name}.xml").read_text(encoding="utf-8")


def test_code_macro_becomes_fenced_code_with_exact_cdata() -> None:
    md = to_markdown(_page("cdata_edge_cases"))
    assert "```javascript\nconst s = \"]]>\";\nconst t = '<p>&nbsp;</p>';\n// x]]>y]]>z\n```" in md


def test_panels_status_jira_toc_and_expand() -> None:
    md = to_markdown(_page("runbook_db_failover"))
    assert "> **Info:** On-call only." in md
    assert "> **Warning: Data loss risk** Never promote a replica with lag > 60 s." in md
    assert "[status: VERIFIED]" in md
    assert "**promote.sh**\n\n```bash\n#!/usr/bin/env bash" in md
    prd = to_markdown(_page("prd_billing_engine"))
    assert "[jira: BILL-1024]" in prd and "[toc]" in prd
    assert '**▸ Example idempotency key**\n\n```python\nkey = f"{account_id}' in prd


def test_mentions_with_and_without_a_user_directory() -> None:
    body = (SAMPLES / "confluence_mocks.MOCK_PAGE_RESPONSE.body.storage.xml").read_text()
    assert "- @user123" in to_markdown(body)
    named = to_markdown(body, users={"user123": "Ada Author"})
    assert "- @Ada Author (user123)" in named
    complex_ = SAMPLES / "test_content_processing.test_confluence_user_mentions_complex.xml"
    assert "@Custom Name (user456)" in to_markdown(complex_.read_text())


def test_links_images_tasks_emoticons() -> None:
    md = to_markdown(_page("onboarding_guide"))
    assert md.startswith("👋 Welcome to the team! Start with [Engineering Handbook](page: ")
    assert "[security policy](page: SEC:Security Policy)" in md
    assert "![Dev environment overview](attachment: dev-setup.png)" in md
    assert "![Team photo](https://cdn.example.com/team.jpg)" in md
    assert "- [x] Laptop" in md and "- [ ] First PR merged ✅" in md
    assert "- Set up your environment\n  - Install Docker\n  - Clone [core](https://" in md
    assert "    - Run `make bootstrap`" in md
    assert ":blue-star:" in to_markdown(_page("meeting_notes"))


def test_layouts_are_flattened_in_order_and_adf_is_rendered() -> None:
    md = to_markdown(_page("adr_0012_event_bus_layout"))
    order = [md.index(t) for t in ("## Context", "## Status", "## Decision", "## Consequences")]
    assert order == sorted(order)
    assert "- [decided] Adopt Kafka as the event bus" in md
    assert "- [undecided] Schema registry per domain" in md
    sec = to_markdown(_page("security_review_adf"))
    assert "> **Error:** F-1 blocks the rollout." in sec


def test_unknown_macros_become_one_line_placeholders() -> None:
    md = to_markdown(_page("architecture_overview"))
    assert "[macro gallery: columns=3, include=arch-*.png]" in md.splitlines()
    assert "[macro drawio: diagramName=system-context" in md
    assert '[extension forge-app:roadmap: guest-params={"view":"timeline"}]' in md


def test_tables_keep_rows_and_escape_pipes() -> None:
    body = "<table><tbody><tr><th>a|b</th><th>c</th></tr><tr><td><p>1</p><p>2</p></td></tr>"
    body += "</tbody></table>"
    assert to_markdown(body) == "| a\\|b | c |\n|---|---|\n| 1<br>2 |  |\n"


def test_markdown_is_much_smaller_than_storage() -> None:
    body = _page("prd_billing_engine")
    assert len(to_markdown(body)) < len(body) / 2


def test_to_text_has_all_text_and_no_markup() -> None:
    text = to_text(_page("runbook_db_failover"))
    assert "Database failover runbook" in text
    assert "pg_ctl promote -D /var/lib/postgresql/data" in text  # CDATA body
    assert "Data loss risk" in text and "VERIFIED" in text
    assert "2024-05-02" in text
    for marker in ("<p>", "<ac:", "**", "```", "[status"):
        assert marker not in text
    samples = SAMPLES / "test_content_processing.test_confluence_user_mentions_complex.xml"
    assert "@user789" in to_text(samples.read_text())
