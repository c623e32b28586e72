"""Sandbox store internals behind search: paging totals, batch look-ups, the macro/mention
index, excerpts, and the write-then-503 fault."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from confluence_agent.cql import parse
from confluence_agent.sandbox import FaultConfig, SandboxServer
from confluence_agent.sandbox.cql_eval import compile_query
from confluence_agent.sandbox.seed import SeedData, SeedPage, SeedSpace, SeedUser, SeedVersion
from confluence_agent.sandbox.store import Store
from confluence_agent.sandbox.text import excerpt, highlight, references

ADMIN = SeedUser("acc-admin", "Ada Admin", "ada@example.com", "t-ada", is_admin=True)
CODE = '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x]]>'
CODE += "</ac:plain-text-body></ac:structured-macro>"
MENTION = '<p><ac:link><ri:user ri:account-id="acc-bob"/></ac:link></p>'


def _seed(pages: int = 30) -> SeedData:
    return SeedData(
        users=(ADMIN,),
        spaces=(SeedSpace("10", "ENG", "Engineering"), SeedSpace("20", "OPS", "Operations")),
        pages=tuple(
            SeedPage(
                str(1000 + n),
                "ENG" if n % 3 else "OPS",
                f"Logging note {n}",
                (
                    SeedVersion(
                        1,
                        f"<p>logging entry {n}</p>" + (CODE if n % 5 == 0 else ""),
                        "acc-admin",
                        f"2026-01-{1 + n % 28:02d}T10:00:00.000Z",
                    ),
                ),
                parent_id="1000" if n else None,
            )
            for n in range(pages)
        ),
    )


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    s.load(_seed())
    yield s
    s.close()


def _search(store: Store, cql: str, *, limit: int = 50, offset: int = 0) -> tuple[list[int], int]:
    compiled = compile_query(parse(cql), user_id="acc-admin")
    hits, total = store.search(
        compiled.where,
        compiled.params,
        order=compiled.order,
        rank_match=compiled.rank_match,
        readable=None,
        statuses=("current",),
        limit=limit,
        offset=offset,
    )
    return [page.id for page, _ in hits], total


def test_pages_of_results_add_up_and_keep_the_total(store: Store) -> None:
    everything, total = _search(store, 'text ~ "logging"')
    assert total == 30 == len(everything)
    walked: list[int] = []
    for offset in range(0, 40, 7):
        ids, page_total = _search(store, 'text ~ "logging"', limit=7, offset=offset)
        assert page_total == 30  # also past the last match, where no row carries the count
        walked.extend(ids)
    assert walked == everything


def test_hits_are_full_pages_with_scores(store: Store) -> None:
    compiled = compile_query(parse('text ~ "logging" ORDER BY title'), user_id="acc-admin")
    hits, _ = store.search(
        compiled.where,
        compiled.params,
        order=compiled.order,
        rank_match=compiled.rank_match,
        readable=[10],
        statuses=("current",),
        limit=3,
        offset=0,
    )
    assert [p.title for p, _ in hits] == ["Logging note 1", "Logging note 10", "Logging note 11"]
    assert all(p.space_key == "ENG" and "logging entry" in p.body_text for p, _ in hits)
    assert all(score > 0 for _, score in hits)


def test_batch_lookups_skip_unknown_ids(store: Store) -> None:
    pages = store.pages_by_id([1001, 1002, 424242])
    assert sorted(pages) == [1001, 1002] and pages[1001].title == "Logging note 1"
    assert store.pages_by_id([]) == {}
    spaces = store.spaces_by_id([10, 10, 20, 99])
    assert {k: s.key for k, s in spaces.items()} == {10: "ENG", 20: "OPS"}


def test_macro_and_mention_index_follows_edits(store: Store) -> None:
    assert set(_search(store, "macro = code")[0]) == {1000, 1005, 1010, 1015, 1020, 1025}
    assert _search(store, 'mention = "acc-bob"')[1] == 0
    store.human_edit(1001, MENTION + CODE)
    assert 1001 in _search(store, "macro = code")[0]
    assert _search(store, 'mention = "acc-bob"')[0] == [1001]
    page = store.get_page(1005)
    assert page is not None
    store.update_page(
        1005, title=page.title, body="<p>no macro</p>", version=2, author_id="acc-admin"
    )
    assert 1005 not in _search(store, "macro = code")[0]
    store.delete_page(1010)
    store.delete_page(1010, purge=True)
    assert 1010 not in _search(store, "macro = code")[0]


def test_references_match_what_a_substring_search_finds() -> None:
    body = MENTION + CODE + '<ac:structured-macro ac:name="toc"/><ac:parameter ac:name="x"/>'
    assert references(body) == {
        ("macro", "code"),
        ("macro", "toc"),
        ("macro", "x"),
        ("mention", "acc-bob"),
    }


def test_database_file_without_refs_is_backfilled(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    first = Store(db)
    first.load(_seed())
    first.close()
    # Simulate a file written before the refs index existed.
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM page_refs")
    conn.execute("DELETE FROM meta WHERE key = 'refs_indexed'")
    conn.commit()
    conn.close()
    reopened = Store(db)
    try:
        assert len(_search(reopened, "macro = code")[0]) == 6
    finally:
        reopened.close()


def test_database_file_from_before_property_dates_is_upgraded(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    first = Store(db)
    first.load(_seed())
    first.set_property(1001, "audit", {"state": "old"})
    first.close()
    # Simulate a file written before properties recorded when they were set.
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE properties DROP COLUMN modified_at")
    conn.commit()
    conn.close()
    reopened = Store(db)
    try:
        (old,) = reopened.properties(1001)
        page = reopened.get_page(1001)
        assert page is not None and old.modified_at == page.modified_at  # dated by its page
        new = reopened.set_property(1001, "audit", {"state": "new"})
        assert new.version == 2 and new.modified_at > page.modified_at
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        ("Guidelines & guides", ["guideline"], "@@@hl@@@Guidelines@@@endhl@@@ &amp; guides"),
        ("api apis rapid", ["api"], "@@@hl@@@api@@@endhl@@@ apis rapid"),
        ("Logging logs LOGGED", ["logging"], "@@@hl@@@Logging@@@endhl@@@ logs LOGGED"),
        ("plain <text>", [], "plain &lt;text&gt;"),
    ],
)
def test_highlight_rules(text: str, terms: list[str], expected: str) -> None:
    assert highlight(text, terms) == expected


def test_excerpt_centres_on_the_first_match() -> None:
    text = " ".join(["filler"] * 100) + " the rollback plan " + " ".join(["tail"] * 100)
    out = excerpt(text, ["rollback"])
    assert out.startswith("…") and out.endswith("…")
    assert "@@@hl@@@rollback@@@endhl@@@ plan" in out
    assert excerpt(text, ["rollback"], mode="none") == ""
    assert "@@@" not in excerpt(text, ["rollback"], mode="indexed")


def test_p503_after_write_performs_the_write_then_fails() -> None:
    with SandboxServer(_seed(3), faults=FaultConfig(p503_after_write=1.0)) as sb:
        with httpx.Client(base_url=sb.url, auth=(sb.email, sb.api_token)) as http:
            created = http.post(
                "/wiki/api/v2/pages",
                json={
                    "spaceId": "10",
                    "title": "Written anyway",
                    "body": {"representation": "storage", "value": "<p>x</p>"},
                },
            )
            read = http.get("/wiki/api/v2/pages", params={"title": "Written anyway"})
        stats = sb.stats
    assert created.status_code == 503 and created.headers["Retry-After"] == "1"
    assert read.status_code == 200  # reads are never failed by this option
    assert [p["title"] for p in read.json()["results"]] == ["Written anyway"]
    assert stats.unavailable == 1 and stats.by_status[503] == 1 and stats.requests == 2
