"""Third-party Confluence clients work against the sandbox: atlassian-python-api's classic
v1 content client (the API mcp-atlassian also uses), pointed at ``<sandbox>/wiki``."""

from __future__ import annotations

import warnings

from atlassian import Confluence

from confluence_agent.sandbox import SandboxServer


def test_atlassian_python_api_create_read_update_search(confluence_sandbox: SandboxServer) -> None:
    # A loopback URL makes the library pick its v1 (``rest/api/content``) implementation,
    # the same code path mcp-atlassian drives; ``/wiki`` must be in the URL.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        confluence = Confluence(
            url=f"{confluence_sandbox.url}/wiki",
            username=confluence_sandbox.email,
            password=confluence_sandbox.api_token,
        )
    created = confluence.create_page(
        space="ENG", title="Made by atlassian-python-api", body="<p>hello</p>"
    )
    page_id = created["id"]
    assert created["version"]["number"] == 1

    found = confluence.get_page_by_title("ENG", "Made by atlassian-python-api")
    found_id = found["id"] if "id" in found else found["results"][0]["id"]
    assert found_id == page_id
    got = confluence.get_page_by_id(page_id, expand="body.storage,version")
    assert got["body"]["storage"]["value"] == "<p>hello</p>"

    confluence.update_page(page_id, "Made by atlassian-python-api", "<p>hello again</p>")
    again = confluence.get_page_by_id(page_id, expand="body.storage,version")
    assert again["version"]["number"] == 2 and "again" in again["body"]["storage"]["value"]

    hits = confluence.cql('title ~ "atlassian" AND space = ENG')
    assert page_id in {r["content"]["id"] for r in hits["results"]}
    assert confluence.get_page_by_id("998877")["title"] == "Q3 Billing Engine PRD"
