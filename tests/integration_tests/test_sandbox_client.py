"""The project's own ``ConfluenceClient`` drives the sandbox end to end."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from confluence_agent.client import ConfluenceClient
from confluence_agent.errors import InvalidRequest, NotFound, VersionConflict
from confluence_agent.sandbox import FaultConfig, SandboxServer

PRD = "998877"


def test_client_main_operations(confluence_sandbox: SandboxServer) -> None:
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as client:
        space = client.get_space_by_key("ENG")
        assert space.id == "1001"
        page = client.get_page(PRD, include_labels=True)
        assert page.title == "Q3 Billing Engine PRD" and page.version.number == 5
        created = client.create_page(space_id=space.id, title="Client page", body="<p>one</p>")
        updated = client.update_page(created.id, title="Client page", body="<p>two</p>", version=2)
        assert updated.version.number == 2
        assert [v.number for v in client.get_page_versions(created.id)] == [2, 1]
        client.add_labels(created.id, ["from-client"])
        assert [lb.name for lb in client.get_labels(created.id)] == ["from-client"]
        hits = client.search('label = "from-client"')
        assert [r.id for r in hits.results] == [created.id]
        listed = list(client.iter_pages(space_id=space.id, limit=2))
        assert created.id in {p.id for p in listed}
        assert client.get_user(confluence_sandbox.seed.users[1].account_id).display_name
        with pytest.raises(VersionConflict) as info:
            client.update_page(created.id, title="Client page", body="<p>x</p>", version=2)
        assert info.value.current_version == 2
        with pytest.raises(NotFound):
            client.get_page("123")
        with pytest.raises(InvalidRequest):
            client.create_page(space_id=space.id, title="Client page", body="<p>dup</p>")


def test_client_retries_through_injected_faults(
    confluence_sandbox_factory: Callable[..., SandboxServer],
) -> None:
    sb = confluence_sandbox_factory(faults=FaultConfig(p503=0.3, seed=3))
    with ConfluenceClient(**sb.client_kwargs()) as client:
        for _ in range(5):
            assert client.get_page(PRD).id == PRD
    assert sb.stats.unavailable >= 1
