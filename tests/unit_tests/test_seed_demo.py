"""Facts of the demo seed that the product's two scenarios rely on."""

from __future__ import annotations

import html.entities
import json
import re

import pytest
from lxml import etree

from confluence_agent.sandbox.seed import (
    ADR_PAGE_IDS,
    DATADOG_PAGE_ID,
    DEMO_ADMIN,
    DEPLOYMENT_PAGE_ID,
    PRD_PAGE_ID,
    SeedData,
    SeedPage,
    load_seed,
)

AC = "http://www.atlassian.com/schema/confluence/4/ac/"
RI = "http://www.atlassian.com/schema/confluence/4/ri/"
NS = {"ac": AC, "ri": RI}
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}


def _numeric(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES or name not in html.entities.name2codepoint:
        return match.group(0)
    return f"&#{html.entities.name2codepoint[name]};"


def parse(body: str) -> etree._Element:
    wrapped = (
        f'<root xmlns:ac="{AC}" xmlns:ri="{RI}" '
        'xmlns:at="http://www.atlassian.com/schema/confluence/4/at/">'
        + _ENTITY.sub(_numeric, body)
        + "</root>"
    )
    parser = etree.XMLParser(resolve_entities=False, recover=False, strip_cdata=False)
    return etree.fromstring(wrapped.encode(), parser)


@pytest.fixture(scope="module")
def demo() -> SeedData:
    return load_seed("demo")


def page(data: SeedData, page_id: str) -> SeedPage:
    matches = [p for p in data.pages if p.id == page_id]
    assert len(matches) == 1, page_id
    return matches[0]


def by_title(data: SeedData, space: str, title: str) -> SeedPage:
    matches = [p for p in data.pages if p.space_key == space and p.title == title]
    assert len(matches) == 1, (space, title)
    return matches[0]


def xpath(root: etree._Element, expr: str) -> list[etree._Element]:
    found = root.xpath(expr, namespaces=NS)
    assert isinstance(found, list)
    return [e for e in found if isinstance(e, etree._Element)]


def text(el: etree._Element) -> str:
    return "".join(str(t) for t in el.itertext())


def macro_names(root: etree._Element) -> set[str]:
    return {str(m.get(f"{{{AC}}}name")) for m in root.iter(f"{{{AC}}}structured-macro")}


def param(macro: etree._Element, name: str) -> str | None:
    found = xpath(macro, f"ac:parameter[@ac:name='{name}']")
    return None if not found else text(found[0])


def user(data: SeedData, account_id: str) -> str:
    return next(u.display_name for u in data.users if u.account_id == account_id)


# --- users and spaces ------------------------------------------------------------------


def test_admin_credentials_are_the_documented_defaults() -> None:
    assert DEMO_ADMIN.email == "admin@sandbox.local"
    assert DEMO_ADMIN.api_token == "sandbox-token"
    assert DEMO_ADMIN.bearer_token == "sandbox-bearer"
    assert DEMO_ADMIN.is_admin


def test_demo_users_are_people_with_own_tokens(demo: SeedData) -> None:
    assert demo.users[0] == DEMO_ADMIN
    people = demo.users[1:]
    assert len(people) >= 6
    assert not any(u.is_admin for u in people)
    tokens = [u.api_token for u in demo.users]
    assert len(set(tokens)) == len(tokens)
    assert all(u.api_token.startswith("token-") for u in people)
    uuid_re = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    cloud_id = re.compile(rf"[0-9a-f]{{24}}|\d{{6}}:{uuid_re}")
    assert all(cloud_id.fullmatch(u.account_id) for u in demo.users)
    assert all(" " in u.display_name for u in people)


def test_one_user_can_write_nowhere(demo: SeedData) -> None:
    def can_write(account_id: str) -> bool:
        return any(s.writers is None or account_id in s.writers for s in demo.spaces)

    read_only = [u for u in demo.users if not u.is_admin and not can_write(u.account_id)]
    assert [u.display_name for u in read_only] == ["Lena Fischer"]


def test_spaces_ids_and_keys(demo: SeedData) -> None:
    spaces = {s.key: s for s in demo.spaces}
    assert spaces["ENG"].id == "1001"
    assert spaces["PROD"].id == "1002"
    assert spaces["ONB"].id == "2005"
    assert spaces["ONB"].name == "Onboarding"
    assert all(s.homepage_id for s in demo.spaces)


def test_restricted_space_is_readable_by_admin_and_one_user(demo: SeedData) -> None:
    restricted = [s for s in demo.spaces if s.readers is not None]
    assert [s.key for s in restricted] == ["SEC"]
    readers = restricted[0].readers
    assert readers is not None
    assert DEMO_ADMIN.account_id in readers
    assert len(readers) == 2
    assert all(s.readers is None for s in demo.spaces if s.key != "SEC")


# --- scenario 1: PRD audit ------------------------------------------------------------


def test_prd_page_identity_and_history(demo: SeedData) -> None:
    prd = by_title(demo, "PROD", "Q3 Billing Engine PRD")
    assert prd.id == PRD_PAGE_ID == "998877"
    assert prd.status == "current"
    assert [v.number for v in prd.versions] == [1, 2, 3, 4, 5]
    assert len({v.author_id for v in prd.versions}) == 5
    assert len({v.body for v in prd.versions}) == 5


def test_title_search_finds_only_the_prd(demo: SeedData) -> None:
    hits = [p for p in demo.pages if "q3 billing engine prd" in p.title.lower()]
    assert [p.id for p in hits] == [PRD_PAGE_ID]


def test_prd_never_mentions_the_missing_topic(demo: SeedData) -> None:
    prd = page(demo, PRD_PAGE_ID)
    texts = [v.body for v in prd.versions] + [prd.title, *prd.labels]
    texts.append(json.dumps(dict(prd.properties)))
    texts += [c.body for c in demo.comments if c.page_id == PRD_PAGE_ID]
    for text in texts:
        low = text.lower()
        assert "webhook" not in low
        assert "web hook" not in low
        assert "stripe" not in low


def test_prd_has_every_macro_kind(demo: SeedData) -> None:
    root = parse(page(demo, PRD_PAGE_ID).versions[-1].body)
    assert {"toc", "status", "info", "warning", "expand", "code", "jira"} <= macro_names(root)
    status = xpath(root, "//ac:structured-macro[@ac:name='status']")
    assert param(status[0], "colour") and param(status[0], "title")
    jira_keys = [param(m, "key") for m in xpath(root, "//ac:structured-macro[@ac:name='jira']")]
    assert "BILL-123" in jira_keys


def test_prd_code_macro_sits_in_an_expand_with_cdata(demo: SeedData) -> None:
    body = page(demo, PRD_PAGE_ID).versions[-1].body
    root = parse(body)
    code = xpath(
        root,
        "//ac:structured-macro[@ac:name='expand']//ac:structured-macro[@ac:name='code']"
        "/ac:plain-text-body",
    )
    assert len(code) == 1
    assert "def prorate" in text(code[0])
    assert re.search(r"<ac:plain-text-body><!\[CDATA\[from decimal", body)


def test_prd_layout_tasks_mentions_links_image_table(demo: SeedData) -> None:
    data = demo
    root = parse(page(data, PRD_PAGE_ID).versions[-1].body)
    sections = xpath(root, "//ac:layout/ac:layout-section")
    assert [s.get(f"{{{AC}}}type") for s in sections] == ["two_equal"]
    assert len(xpath(sections[0], "ac:layout-cell")) == 2
    tasks = xpath(root, "//ac:task-list/ac:task")
    assert len(tasks) >= 3
    for task in tasks:
        assert task.find(f"{{{AC}}}task-id") is not None
        assert task.find(f"{{{AC}}}task-body") is not None
    states = {t.findtext(f"{{{AC}}}task-status") for t in tasks}
    assert states == {"complete", "incomplete"}
    mentioned = {u.get(f"{{{RI}}}account-id") for u in root.iter(f"{{{RI}}}user")}
    assert len(mentioned) >= 3
    assert all(isinstance(user(data, str(a)), str) for a in mentioned)
    linked = {p.get(f"{{{RI}}}content-title") for p in root.iter(f"{{{RI}}}page")}
    assert "Deployment steps" in linked
    images = xpath(root, "//ac:image/ri:attachment")
    assert [i.get(f"{{{RI}}}filename") for i in images] == ["billing-engine-context.png"]
    tables = root.findall(".//table")
    requirements = max(tables, key=lambda t: len(t.findall(".//tr")))
    assert len(requirements.findall(".//tr")) - 1 >= 10


def test_prd_uses_named_entities_and_expected_headings(demo: SeedData) -> None:
    body = page(demo, PRD_PAGE_ID).versions[-1].body
    assert "&nbsp;" in body and "&mdash;" in body
    headings = [text(h) for h in parse(body).iter("h2")]
    assert headings == [
        "Overview", "Goals", "Requirements", "Billing cycles", "Invoicing",
        "Payment retries", "Rollout", "Open questions",
    ]


# --- scenario 2: docs discovery -----------------------------------------------------------


def test_datadog_page_is_in_eng_and_written_by_priya(demo: SeedData) -> None:
    dd = by_title(demo, "ENG", "Datadog logging guidelines")
    assert dd.id == DATADOG_PAGE_ID == "665544"
    assert dd.status == "current"
    assert user(demo, dd.versions[0].author_id) == "Priya Natarajan"
    assert user(demo, dd.versions[-1].author_id) == "Priya Natarajan"
    assert dd.versions[0].author_id == "5b10ac8d82e05b22cc7d4ef5"


def test_datadog_rules_are_concrete(demo: SeedData) -> None:
    root = parse(page(demo, DATADOG_PAGE_ID).versions[-1].body)
    rules_heading = next(h for h in root.iter("h2") if h.text == "Rules")
    rules = rules_heading.getnext()
    assert rules is not None and rules.tag == "ol"
    items = [text(li) for li in rules.findall("li")]
    assert len(items) == 6
    joined = " ".join(items)
    for needle in ("JSON", "service", "env", "trace_id", "DEBUG", "PII", "secrets",
                   "sample", "team:", "service:"):
        assert needle in joined, needle
    assert "info" in macro_names(root)
    code = xpath(root, "//ac:structured-macro[@ac:name='code']/ac:plain-text-body")
    assert len(code) == 1
    line = json.loads(text(code[0]))
    assert {"service", "env", "trace_id", "level", "message"} <= set(line)


def test_datadog_competitors_exist_for_ranking(demo: SeedData) -> None:
    eng_mentions = [
        p for p in demo.pages
        if p.space_key == "ENG" and p.id != DATADOG_PAGE_ID
        and "datadog" in p.versions[-1].body.lower()
    ]
    assert [p.title for p in eng_mentions] == ["Observability onboarding"]
    old = [p for p in demo.pages if p.title.startswith("Datadog logging guidelines (")]
    assert len(old) == 1
    assert old[0].space_key != "ENG"
    assert old[0].versions[-1].created_at < "2025-01-01"


# --- other demo pages ---------------------------------------------------------------------


def test_deployment_steps(demo: SeedData) -> None:
    deploy = page(demo, DEPLOYMENT_PAGE_ID)
    assert (deploy.space_key, deploy.title) == ("ENG", "Deployment steps")
    root = parse(deploy.versions[-1].body)
    steps = root.find("ol")
    assert steps is not None and len(steps.findall("li")) >= 5
    assert "code" in macro_names(root)


def test_kafka_adrs_under_architecture(demo: SeedData) -> None:
    eng_home = next(s.homepage_id for s in demo.spaces if s.key == "ENG")
    states = set()
    for adr_id in ADR_PAGE_IDS:
        adr = page(demo, adr_id)
        assert {"adr", "kafka"} <= set(adr.labels)
        parent = page(demo, str(adr.parent_id))
        assert parent.title == "Architecture"
        assert parent.parent_id == eng_home
        root = parse(adr.versions[-1].body)
        for m in xpath(root, "//ac:structured-macro[@ac:name='status']"):
            states.add(param(m, "title"))
    assert {"ACCEPTED", "SUPERSEDED"} <= states


def test_drafts_stale_pages_owner_labels_properties_comments(demo: SeedData) -> None:
    drafts = [p for p in demo.pages if p.status == "draft"]
    assert len(drafts) >= 2
    assert all(p.versions[-1].created_at < "2025-12-01" for p in drafts)
    current = [p for p in demo.pages if p.status == "current"]
    stale = [p for p in current if p.versions[-1].created_at < "2025-03-01"]
    assert any(p.title == "Legacy CI pipeline (Jenkins)" for p in stale)
    owned = [p for p in current if any(lbl.startswith("owner-") for lbl in p.labels)]
    unowned = [p for p in current if not any(lbl.startswith("owner-") for lbl in p.labels)]
    assert "owner-team-billing" in page(demo, PRD_PAGE_ID).labels
    assert len(owned) >= 3 and len(unowned) >= 3
    assert sum(1 for p in demo.pages if p.properties) >= 2
    assert len(demo.comments) >= 3
    assert any(p.status == "archived" for p in demo.pages)
