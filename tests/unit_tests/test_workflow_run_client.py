"""Workflows close the client they build and leave the caller's client open."""

import pytest
from confluence_agent.workflows.common import run_client

from confluence_agent.client import ConfluenceClient


def test_callers_client_stays_open() -> None:
    mine = ConfluenceClient(url="http://127.0.0.1:9", email="a@example.com", api_token="t")
    with run_client(mine, None) as used:
        assert used is mine
    assert not mine._http.is_closed
    mine.close()


def test_run_owned_client_is_built_from_the_env_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONFLUENCE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CONFLUENCE_EMAIL", "a@example.com")
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", "t")
    with run_client(None, None) as used:
        assert used.config.url.startswith("http://127.0.0.1:9")
        assert not used._http.is_closed
    assert used._http.is_closed
