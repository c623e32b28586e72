"""CQL evaluation in the sandbox: the parsed AST compiled to SQL over a small private store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from confluence_agent.cql import FIELDS, parse
from confluence_agent.cql.fields import Endpoint, ValueKind
from confluence_agent.sandbox.cql_eval import apply_increment, compile_query, fts_expression
from confluence_agent.sandbox.errors import ApiError
from confluence_agent.sandbox.seed import SeedData, SeedPage, SeedSpace, SeedUser, SeedVersion
from confluence_agent.sandbox.store import Store

ALICE = SeedUser("acc-alice", "Alice Admin", "alice@example.com", "t-alice", is_admin=True)
BOB = SeedUser("acc-bob", "Bob Builder", "bob@example.com", "t-bob")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _page(
    pid: str,
    title: str,
    body: str,
    *,
    space: str = "ENG",
    parent: str | None = None,
    labels: tuple[str, ...] = (),
    created: str = "2026-03-01T10:00:00.000Z",
    editors: tuple[str, ...] = ("acc-alice",),
) -> SeedPage:
    versions = tuple(SeedVersion(n + 1, body, who, created) for n, who in enumerate(editors))
    return SeedPage(pid, space, title, versions, parent_id=parent, labels=labels)


SEED = SeedData(
    users=(ALICE, BOB),
    spaces=(
        SeedSpace("10", "ENG", "Engineering", homepage_id="100"),
        SeedSpace("20", "OPS", "Operations"),
    ),
    pages=(
        _page("100", "Engineering Home", "<p>Welcome</p>"),
        _page(
            "101",
            "Datadog logging guidelines",
            "<p>Ship structured logs to Datadog.</p>",
            parent="100",
            labels=("observability", "logging"),
            editors=("acc-alice", "acc-bob"),
        ),
        _page(
            "102",
            "Deploy runbook",
            '<ac:structured-macro ac:name="code"><ac:plain-text-body>'
            "<![CDATA[kubectl rollout]]></ac:plain-text-body></ac:structured-macro>",
            parent="101",
            created="2025-01-15T09:00:00.000Z",
        ),
        _page(
            "103",
            "Pager rota",
            '<p>Ask <ac:link><ri:user ri:account-id="acc-bob"/></ac:link></p>',
            space="OPS",
            labels=("oncall",),
            created="2026-03-10T08:00:00.000Z",
        ),
    ),
)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    s.load(SEED)
    yield s
    s.close()


def ids(store: Store, cql: str) -> list[int]:
    compiled = compile_query(parse(cql), user_id="acc-alice", now=NOW)
    hits, total = store.search(
        compiled.where,
        compiled.params,
        order=compiled.order,
        rank_match=compiled.rank_match,
        readable=None,
        statuses=("current",),
        limit=50,
        offset=0,
    )
    assert total == len(hits)
    return [p.id for p, _ in hits]


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ('text ~ "datadog"', {101}),
        ('text ~ "structured logs"', {101}),
        ('text ~ "\\"logs to datadog\\""', {101}),
        ('text ~ "guide*"', {101}),
        ('text ~ "kubectl"', {102}),
        ('text ~ "oncall"', {103}),  # labels are indexed too
        ('text !~ "datadog" AND space = ENG', {100, 102}),
        ('title ~ "runbook"', {102}),
        ('title = "pager rota"', {103}),
        ("space = OPS", {103}),
        ('space.key IN ("ENG", "OPS") AND label = oncall', {103}),
        ("label = logging", {101}),
        ("label NOT IN (logging, oncall) AND type = page", {100, 102}),
        ("ancestor = 100", {101, 102}),
        ("parent = 100", {101}),
        ("id = 102 OR content = 103", {102, 103}),
        ("creator = currentUser() AND space = OPS", {103}),
        ('contributor = "acc-bob"', {101}),
        ('mention = "acc-bob"', {103}),
        ("macro = code", {102}),
        ('created < "2026-01-01"', {102}),
        ('created = "2026-03-10"', {103}),
        ('created >= now("-1w")', {103}),
        ('created > startOfDay("-1d") AND space = OPS', {103}),
        ("created > startOfYear() AND NOT space = OPS", {100, 101}),
        ("type = blogpost", set()),
        ("watcher = currentUser()", set()),
        ('space.title ~ "operations"', {103}),  # the form the CQL validator's hints suggest
        ('space.title !~ "engineering"', {103}),
        ('siteSearch ~ "kubectl"', {102}),
        ('pageStatus = "Rough draft"', set()),  # known to Confluence, no data here
    ],
)
def test_cql_fields(store: Store, cql: str, expected: set[int]) -> None:
    assert set(ids(store, cql)) == expected


def test_order_by_and_relevance(store: Store) -> None:
    assert ids(store, "space = ENG ORDER BY title") == [101, 102, 100]
    assert ids(store, "space = ENG ORDER BY created DESC")[-1] == 102
    # Title hits outrank body-only hits by default.
    assert ids(store, 'text ~ "runbook OR datadog"')[0] in (101, 102)


@pytest.mark.parametrize(
    ("cql", "message"),
    [
        ("flavour = mint", "No field exists with the name: 'flavour'"),
        ('user = "acc-bob"', "search/user"),
        ("text = datadog", "operator '='"),
        ('created > "last tuesday"', "Could not parse date"),
        ("ORDER BY label", "Cannot order by field"),
        ("ORDER BY flavour", "No field exists with the name: 'flavour'"),
        ('space.title = "Operations"', "operator '='"),
        ("label > logging", "operator '>'"),
    ],
)
def test_rejected_queries(cql: str, message: str) -> None:
    with pytest.raises(ApiError) as info:
        compile_query(parse(cql), user_id="acc-alice", now=NOW)
    assert info.value.status == 400 and message in info.value.title


def test_field_rules_come_from_the_cql_field_table(store: Store) -> None:
    """Every content field of ``FIELDS`` is accepted with each of its operators, every
    sortable one orders, and nothing outside the table is known to the sandbox."""
    values = {ValueKind.CONTENT_ID: "101", ValueKind.DATE: '"2026-03-01"', ValueKind.TEXT: "guide"}
    for name, spec in FIELDS.items():
        if Endpoint.SEARCH not in spec.endpoints:
            continue
        value = values.get(spec.value_kind, "x")
        for op in spec.operators:
            operand = f"({value})" if op in ("IN", "NOT IN") else value
            ids(store, f"{name} {op} {operand}")  # raises ApiError if refused
        if spec.sortable:
            assert len(ids(store, f"ORDER BY {name}")) == 4
    assert ids(store, "ORDER BY creator DESC, id")[:3] == [100, 101, 102]


def test_fts_expression_quotes_every_word() -> None:
    assert fts_expression('hello "dolly parton" OR x*') == '"hello" AND "dolly parton" OR "x"*'
    assert fts_expression('a") OR 1=1 --', "title") == 'title : "a" OR title : "1 1"'
    assert fts_expression("*") is None


def test_date_increments() -> None:
    assert apply_increment(NOW, "-4w") == datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
    assert apply_increment(NOW, "1M") == datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
    assert apply_increment(NOW, "-1y") == datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def test_history_is_kept_and_ids_grow(store: Store) -> None:
    page = store.create_page(space_id=10, title="New", body="<p>1</p>", author_id="acc-bob")
    assert page.id > 103
    store.update_page(page.id, title="New", body="<p>2</p>", version=2, author_id="acc-bob")
    old = store.get_page(page.id, version=1)
    assert old is not None and old.body == "<p>1</p>"
    assert [v.number for v in store.list_versions(page.id)] == [2, 1]
    with pytest.raises(ApiError) as info:
        store.update_page(page.id, title="New", body="<p>3</p>", version=2, author_id="acc-bob")
    assert info.value.status == 409
