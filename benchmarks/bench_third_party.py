"""Side by side: reading every page body with atlassian-python-api vs confluence-agent.

Both read the same pages (every current page of the ten synthetic spaces) from the
same ``synthetic:N`` sandbox in the same run; requests are counted by the sandbox.

* ``atlassian_bulk``: its natural bulk call, ``get_all_pages_from_space(key,
  expand="body.storage,version", limit=100)`` per space (v1 ``/content``).
* ``atlassian_per_page``: ``get_page_by_id(id, expand="body.storage,version")`` for
  each page, the usual pattern after a search or a page-id list.
* ``ours_sync``: ``ConfluenceClient.iter_pages(space_id=..., body_format="storage",
  limit=250)`` per space (v2 ``/pages``), sequentially like the library.
* ``ours_async``: ``AsyncConfluenceClient.aiter_pages`` per space, spaces concurrently.

Run: ``.venv/bin/python benchmarks/bench_third_party.py [--pages N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.sandbox import SandboxServer, Stats

SYNTHETIC_SPACES = ("PLAT", "DATA", "MOB", "WEB", "SRE", "SUP", "MKT", "FIN", "PEOPLE", "QA")


class _WikiPrefix(HTTPAdapter):
    """Route ``/rest/...`` to ``/wiki/rest/...`` (see where it is mounted)."""

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(request.url or "")
        if parts.path.startswith("/rest/"):
            request.url = urlunsplit(parts._replace(path="/wiki" + parts.path))
        return super().send(request, *args, **kwargs)


def settled_stats(sb: SandboxServer) -> Stats:
    """The sandbox's counters once the last response has been counted.

    The sandbox counts a request after its response is sent, so a snapshot taken
    right after the client got the response can miss it: wait until two reads agree.
    """
    previous = sb.stats
    for _ in range(100):
        time.sleep(0.02)
        current = sb.stats
        if current.requests == previous.requests:
            return current
        previous = current
    return previous


def _measure(sb: SandboxServer, fn: Callable[[], set[str]]) -> tuple[dict[str, Any], set[str]]:
    sb.reset_stats()
    t0 = time.perf_counter()
    ids = fn()
    wall = time.perf_counter() - t0
    served = settled_stats(sb)
    return {
        "pages": len(ids),
        "requests": served.requests,
        "wall_s": round(wall, 2),
        "pages_per_s": round(len(ids) / wall, 1) if wall else None,
    }, ids


def run(pages: int = 5000, per_page: bool = True) -> dict[str, Any]:
    """Read the same pages four ways; returns figures and ratios (atlassian ÷ ours)."""
    from atlassian import Confluence

    with SandboxServer(f"synthetic:{pages}") as sb:
        keys = [k for k in SYNTHETIC_SPACES if k in {s.key for s in sb.seed.spaces}]
        with ConfluenceClient(url=sb.url, email=sb.email, api_token=sb.api_token) as ours:
            space_ids = [s.id for s in ours.get_spaces(keys=keys)]
            theirs = Confluence(url=f"{sb.url}/wiki", username=sb.email, password=sb.api_token)
            # The library follows v1 ``next`` links from the site root (``/rest/api/...``,
            # which Cloud also answers); the sandbox serves the API under ``/wiki`` only.
            theirs.session.mount(sb.url, _WikiPrefix())

            def atlassian_bulk() -> set[str]:
                found: set[str] = set()
                for key in keys:
                    for page in theirs.get_all_pages_from_space(
                        key, expand="body.storage,version", limit=100
                    ):
                        assert page["body"]["storage"]["value"]
                        found.add(str(page["id"]))
                return found

            def ours_sync() -> set[str]:
                found: set[str] = set()
                for space_id in space_ids:  # per space, like the library's call
                    for page in ours.iter_pages(
                        space_id=space_id, status="current", body_format="storage", limit=250
                    ):
                        assert page.body_storage
                        found.add(page.id)
                return found

            def ours_async() -> set[str]:
                async def one(client: AsyncConfluenceClient, space_id: str) -> set[str]:
                    return {
                        p.id
                        async for p in client.aiter_pages(
                            space_id=space_id, status="current", body_format="storage", limit=250
                        )
                    }

                async def main() -> set[str]:
                    async with AsyncConfluenceClient(
                        url=sb.url, email=sb.email, api_token=sb.api_token
                    ) as client:
                        parts = await asyncio.gather(*(one(client, i) for i in space_ids))
                    return set().union(*parts)

                return asyncio.run(main())

            bulk, expected = _measure(sb, atlassian_bulk)
            sync, sync_ids = _measure(sb, ours_sync)
            concurrent, async_ids = _measure(sb, ours_async)
            out: dict[str, Any] = {
                "benchmark": "third_party",
                "synthetic_pages": pages,
                "library": "atlassian-python-api " + _version(),
                "atlassian_bulk": bulk,
                "ours_sync": sync,
                "ours_async": concurrent,
                "same_pages": expected == sync_ids == async_ids,
            }
            if per_page:
                ids = sorted(expected)

                def atlassian_per_page() -> set[str]:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        return {
                            str(theirs.get_page_by_id(i, expand="body.storage,version")["id"])
                            for i in ids
                        }

                out["atlassian_per_page"], _ = _measure(sb, atlassian_per_page)
    out["ratios"] = _ratios(out)
    return out


def _ratios(out: dict[str, Any]) -> dict[str, Any]:
    ours = out["ours_sync"]
    ratios: dict[str, Any] = {}
    for name in ("atlassian_bulk", "atlassian_per_page"):
        if name in out:
            theirs = out[name]
            ratios[name] = {
                "time_x": round(theirs["wall_s"] / ours["wall_s"], 1) if ours["wall_s"] else None,
                "requests_x": round(theirs["requests"] / ours["requests"], 1),
            }
    return ratios


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("atlassian-python-api")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--no-per-page", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.pages, per_page=not args.no_per_page), indent=2))
