"""Structural invariants of every seed: well-formed bodies, resolvable references."""

from __future__ import annotations

import html.entities
import json
import re

import pytest
from lxml import etree

from confluence_agent.sandbox.seed import SeedData, load_seed

AC = "http://www.atlassian.com/schema/confluence/4/ac/"
RI = "http://www.atlassian.com/schema/confluence/4/ri/"
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_LABEL = re.compile(r"[a-z0-9][a-z0-9_.-]*")


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
    parser = etree.XMLParser(resolve_entities=False, recover=False)
    return etree.fromstring(wrapped.encode(), parser)


SEEDS = ["demo", "synthetic:300"]


@pytest.fixture(scope="module", params=SEEDS)
def seed(request: pytest.FixtureRequest) -> SeedData:
    return load_seed(request.param)


def all_bodies(seed: SeedData) -> list[tuple[str, str]]:
    out = [(f"page {p.id} v{v.number}", v.body) for p in seed.pages for v in p.versions]
    out += [(f"comment {c.id}", c.body) for c in seed.comments]
    return out


def test_parse_helper_rejects_malformed_storage() -> None:
    for bad in ("<p>a<br></p>", "<p>a & b</p>", "<p>&bogus;</p>", "<p><b>x</p></b>"):
        with pytest.raises(etree.XMLSyntaxError):
            parse(bad)
    parse("<p>a&nbsp;&mdash;b<br/></p><ac:link><ri:user ri:account-id='x'/></ac:link>")


def test_every_body_is_well_formed(seed: SeedData) -> None:
    bodies = all_bodies(seed)
    assert bodies
    for where, body in bodies:
        try:
            parse(body)
        except etree.XMLSyntaxError as exc:  # pragma: no cover - failure report
            pytest.fail(f"{where}: {exc}")


def test_ids_unique(seed: SeedData) -> None:
    page_ids = [p.id for p in seed.pages]
    comment_ids = [c.id for c in seed.comments]
    space_ids = [s.id for s in seed.spaces]
    for ids in (page_ids, comment_ids, space_ids, [s.key for s in seed.spaces],
                [u.account_id for u in seed.users], [u.email.lower() for u in seed.users]):
        assert len(ids) == len(set(ids))
    assert all(i.isdigit() for i in page_ids + comment_ids + space_ids)
    assert not set(page_ids) & set(comment_ids)


def test_titles_unique_per_space(seed: SeedData) -> None:
    seen = [(p.space_key, p.title) for p in seed.pages]
    assert len(seen) == len(set(seen))
    assert all(p.title.strip() == p.title and p.title for p in seed.pages)


def test_tree_references_resolve(seed: SeedData) -> None:
    keys = {s.key for s in seed.spaces}
    position = {p.id: i for i, p in enumerate(seed.pages)}
    by_id = {p.id: p for p in seed.pages}
    for p in seed.pages:
        assert p.space_key in keys
        assert p.status in {"current", "draft", "archived"}
        if p.parent_id is not None:
            parent = by_id[p.parent_id]
            assert parent.space_key == p.space_key
            assert position[parent.id] < position[p.id], "parents come first"
    for s in seed.spaces:
        assert s.homepage_id is not None
        home = by_id[s.homepage_id]
        assert (home.space_key, home.parent_id, home.status) == (s.key, None, "current")


def test_versions_are_numbered_dated_and_authored_by_writers(seed: SeedData) -> None:
    users = {u.account_id: u for u in seed.users}
    spaces = {s.key: s for s in seed.spaces}
    for p in seed.pages:
        assert [v.number for v in p.versions] == list(range(1, len(p.versions) + 1))
        stamps = [v.created_at for v in p.versions]
        assert all(_TIMESTAMP.fullmatch(t) for t in stamps)
        assert stamps == sorted(stamps)
        writers = spaces[p.space_key].writers
        for v in p.versions:
            author = users[v.author_id]
            assert author.is_admin or writers is None or author.account_id in writers


def test_labels_properties_comments(seed: SeedData) -> None:
    by_id = {p.id: p for p in seed.pages}
    users = {u.account_id for u in seed.users}
    for p in seed.pages:
        assert all(_LABEL.fullmatch(lbl) for lbl in p.labels), p.labels
        assert len(set(p.labels)) == len(p.labels)
        json.dumps(dict(p.properties))
    for c in seed.comments:
        assert c.author_id in users
        assert _TIMESTAMP.fullmatch(c.created_at)
        assert c.created_at >= by_id[c.page_id].versions[0].created_at


def test_mentions_and_page_links_resolve(seed: SeedData) -> None:
    users = {u.account_id for u in seed.users}
    titles = {(p.space_key, p.title) for p in seed.pages}
    for p in seed.pages:
        for v in p.versions:
            root = parse(v.body)
            for mention in root.iter(f"{{{RI}}}user"):
                assert mention.get(f"{{{RI}}}account-id") in users
            for link in root.iter(f"{{{RI}}}page"):
                space = link.get(f"{{{RI}}}space-key") or p.space_key
                assert (space, link.get(f"{{{RI}}}content-title")) in titles, (p.id, v.number)


def test_empty_seed() -> None:
    empty = load_seed(None)
    assert empty == load_seed("empty")
    assert len(empty.users) == 1 and empty.users[0].is_admin
    assert (empty.spaces, empty.pages, empty.comments) == ((), (), ())


@pytest.mark.parametrize(
    "name", ["", "Demo", "synthetic", "synthetic:", "synthetic:-1", "synthetic:x", "demo "]
)
def test_unknown_seed_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match=r"demo.*synthetic:N.*empty"):
        load_seed(name)
