"""``AsyncConfluenceClient`` end to end against the sandbox: every main operation over HTTP.

``test_sandbox_client.py`` drives the sync client through the same operations once;
here the async client does, with multi-page iteration checked request by request
against the sandbox's own counters and store.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from confluence_agent.client import AsyncConfluenceClient
from confluence_agent.errors import NotFound, VersionConflict
from confluence_agent.sandbox import SandboxServer
from confluence_agent.sandbox.store import PageQuery

ENG_ID = "1001"
ENG_HOME = "163841"
PRD = "998877"
SEARCH_ROUTE = "GET /wiki/rest/api/search"
PAGES_ROUTE = "GET /wiki/api/v2/pages"


def _eng_page_ids(sb: SandboxServer, statuses: tuple[str, ...]) -> set[str]:
    """Ids of the ENG pages with ``statuses``, read straight from the sandbox's store."""
    pages, more = sb.store.list_pages(
        PageQuery(space_ids=[int(ENG_ID)], statuses=statuses), readable=None, limit=1000
    )
    assert not more
    return {str(p.id) for p in pages}


async def test_search_iterator_follows_every_page_of_results(
    confluence_sandbox: SandboxServer,
) -> None:
    sb = confluence_sandbox
    expected = _eng_page_ids(sb, ("current",))
    async with AsyncConfluenceClient(**sb.client_kwargs()) as client:
        first = await client.search("space = ENG", limit=3)
        sb.reset_stats()
        search = client.aiter_search("space = ENG", limit=3, expand=["content.space"])
        hits = [hit async for hit in search]
    assert first.total_size == len(expected) > 6
    assert first.next_cursor is not None
    ids = [hit.id for hit in hits]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    # One request per page of three, none repeated, none wasted after the last page.
    assert sb.stats.by_route[SEARCH_ROUTE] == math.ceil(len(expected) / 3) >= 3
    # The expansion survives the cursor links of later pages.
    assert all(hit.content is not None and hit.content.space_key == "ENG" for hit in hits)
    assert all(hit.space_key == "ENG" and hit.type == "page" for hit in hits)


async def test_search_iterator_stops_at_max_results(confluence_sandbox: SandboxServer) -> None:
    sb = confluence_sandbox
    async with AsyncConfluenceClient(**sb.client_kwargs()) as client:
        hits = [hit async for hit in client.aiter_search("space = ENG", limit=5, max_results=7)]
    assert len(hits) == 7
    assert sb.stats.by_route[SEARCH_ROUTE] == 2


async def test_iter_pages_with_limit_two_walks_every_cursor(
    confluence_sandbox: SandboxServer,
) -> None:
    sb = confluence_sandbox
    expected = _eng_page_ids(sb, ("current", "archived"))
    async with AsyncConfluenceClient(**sb.client_kwargs()) as client:
        pages = [p async for p in client.aiter_pages(space_id=ENG_ID, limit=2)]
    ids = [p.id for p in pages]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert all(p.space_id == ENG_ID for p in pages)
    assert sb.stats.by_route[PAGES_ROUTE] == math.ceil(len(expected) / 2)


async def test_page_lifecycle_versions_labels_and_children(
    confluence_sandbox: SandboxServer,
) -> None:
    sb = confluence_sandbox
    async with AsyncConfluenceClient(**sb.client_kwargs()) as client:
        created = await client.create_page(
            space_id=ENG_ID, title="Async lifecycle", body="<p>one</p>", parent_id=ENG_HOME
        )
        assert created.version.number == 1 and created.parent_id == ENG_HOME
        fetched = await client.get_page(created.id)
        assert fetched.body_storage == "<p>one</p>"

        updated = await client.update_page(
            created.id, title="Async lifecycle", body="<p>two</p>", version=2, message="second"
        )
        assert updated.version.number == 2 and updated.body_storage == "<p>two</p>"
        versions = await client.get_page_versions(created.id)
        assert [(v.number, v.message) for v in versions] == [(2, "second"), (1, "")]
        first = await client.get_page(created.id, version=1)
        assert first.body_storage == "<p>one</p>" and first.version.number == 1

        labels = await client.add_labels(created.id, ["async-e2e", "release-notes"])
        assert sorted(lb.name for lb in labels) == ["async-e2e", "release-notes"]
        assert sorted(lb.name for lb in await client.get_labels(created.id)) == [
            "async-e2e",
            "release-notes",
        ]
        labelled = await client.get_page(created.id, include_labels=True)
        assert {lb.name for lb in labelled.labels} == {"async-e2e", "release-notes"}
        found = await client.search('label = "async-e2e"')
        assert [hit.id for hit in found.results] == [created.id]

        children = await client.get_children(ENG_HOME, limit=100)
        assert created.id in {c.id for c in children}
        positions = [c.child_position or 0 for c in children]
        assert positions == sorted(positions)  # tree order

    stored = sb.store.get_page(int(created.id))
    assert stored is not None and stored.body == "<p>two</p>" and stored.version == 2


async def test_concurrent_reads_share_one_client(confluence_sandbox: SandboxServer) -> None:
    sb = confluence_sandbox
    ids = sorted(_eng_page_ids(sb, ("current",)))[:6]
    async with AsyncConfluenceClient(**sb.client_kwargs()) as client:
        pages = await asyncio.gather(*(client.get_page(pid) for pid in ids))
    assert [p.id for p in pages] == ids
    assert client.stats.requests == len(ids) == sb.stats.requests


async def test_spaces_by_key_and_users(confluence_sandbox: SandboxServer) -> None:
    sb = confluence_sandbox
    people = [u for u in sb.seed.users if not u.is_admin][:3]
    async with AsyncConfluenceClient(**sb.client_kwargs()) as client:
        space = await client.get_space_by_key("ENG")
        assert (space.id, space.homepage_id) == (ENG_ID, ENG_HOME)
        spaces = await client.get_spaces(keys=["ENG", "PROD"])
        assert sorted(s.key for s in spaces) == ["ENG", "PROD"]
        requests_before = client.stats.requests
        assert await client.get_space_id("PROD") == "1002"  # cached by get_spaces
        assert client.stats.requests == requests_before
        with pytest.raises(NotFound):
            await client.get_space_by_key("NOPE")

        user = await client.get_user(people[0].account_id)
        assert user.display_name == people[0].display_name
        users = await client.get_users([p.account_id for p in people] + ["no-such-account"])
        assert [u.account_id for u in users] == [p.account_id for p in people]
        with pytest.raises(NotFound):
            await client.get_user("no-such-account")


async def test_stale_version_surfaces_as_version_conflict(
    confluence_sandbox: SandboxServer,
) -> None:
    sb = confluence_sandbox
    teammate = sb.seed.users[1].account_id
    async with AsyncConfluenceClient(**sb.client_kwargs()) as client:
        page = await client.get_page(PRD)
        sb.arm_concurrent_edit(PRD, by=teammate)
        attempted = page.version.number + 1
        with pytest.raises(VersionConflict) as info:
            await client.update_page(PRD, title=page.title, body="<p>mine</p>", version=attempted)
    # The teammate's edit took the number we asked for; nothing of ours was written.
    assert info.value.current_version == attempted
    assert info.value.attempted_version == attempted
    assert info.value.status_code == 409
    assert client.stats.retries == 0  # a conflict is never retried
    stored = sb.store.get_page(int(PRD))
    assert stored is not None and stored.version == attempted
    assert stored.modifier_id == teammate and "<p>mine</p>" not in stored.body
