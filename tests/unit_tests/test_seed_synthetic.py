"""The ``synthetic:N`` seed: demo + N deterministic generated pages, fast."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

import pytest

from confluence_agent.sandbox.seed import PRD_PAGE_ID, SeedData, SeedPage, load_seed

DEMO = load_seed("demo")


def generated(data: SeedData) -> list[SeedPage]:
    demo_ids = {p.id for p in DEMO.pages}
    return [p for p in data.pages if p.id not in demo_ids]


@pytest.fixture(scope="module")
def syn() -> SeedData:
    return load_seed("synthetic:2000")


@pytest.mark.parametrize("n", [0, 1, 7, 10, 123])
def test_count_is_demo_plus_n(n: int) -> None:
    data = load_seed(f"synthetic:{n}")
    assert len(data.pages) == len(DEMO.pages) + n
    assert len(generated(data)) == n
    assert len(data.spaces) == len(DEMO.spaces) + min(n, 10)


def test_contains_the_demo_seed_unchanged(syn: SeedData) -> None:
    assert syn.users == DEMO.users
    assert syn.spaces[: len(DEMO.spaces)] == DEMO.spaces
    assert syn.pages[: len(DEMO.pages)] == DEMO.pages
    assert syn.comments[: len(DEMO.comments)] == DEMO.comments
    assert any(p.id == PRD_PAGE_ID for p in syn.pages)


def test_generated_pages_stay_out_of_demo_spaces(syn: SeedData) -> None:
    demo_keys = {s.key for s in DEMO.spaces}
    pages = generated(syn)
    assert not {p.space_key for p in pages} & demo_keys
    assert len({p.space_key for p in pages}) == 10


def test_deterministic() -> None:
    assert load_seed("synthetic:500") == load_seed("synthetic:500")


def test_different_n_gives_different_pages() -> None:
    a = generated(load_seed("synthetic:300"))
    b = generated(load_seed("synthetic:301"))[:300]
    assert [p.title for p in a] != [p.title for p in b]


def test_titles_avoid_scenario_words(syn: SeedData) -> None:
    banned = ("billing", "engine", "prd", "q3", "datadog", "logging", "guidelines",
              "webhook", "stripe", "deployment steps")
    for p in generated(syn):
        low = p.title.lower()
        assert not any(word in low for word in banned), p.title


def test_realistic_mix(syn: SeedData) -> None:
    pages = generated(syn)
    statuses = Counter(p.status for p in pages)
    assert statuses["draft"] > 0 and statuses["archived"] > 0
    assert statuses["current"] > 0.85 * len(pages)
    owned = sum(1 for p in pages if any(lbl.startswith("owner-") for lbl in p.labels))
    assert 0.2 * len(pages) < owned < 0.6 * len(pages)
    assert {len(p.versions) for p in pages} == {1, 2, 3}
    created = [datetime.fromisoformat(p.versions[0].created_at) for p in pages]
    assert (max(created) - min(created)).days > 365 * 1.5
    assert len(syn.comments) > len(DEMO.comments)
    assert sum(1 for p in pages if p.parent_id not in {s.homepage_id for s in syn.spaces}) > 0


def test_body_sizes_and_macros(syn: SeedData) -> None:
    pages = [p for p in generated(syn) if p.parent_id is not None]
    sizes = [len(p.versions[-1].body.encode()) for p in pages]
    assert min(sizes) >= 1000
    assert max(sizes) <= 4 * 1024 + 700
    for p in pages:
        for old in p.versions[:-1]:
            assert len(old.body) < 200
    bodies = " ".join(p.versions[-1].body for p in pages[:400])
    for name in ("code", "info", "status", "jira"):
        assert f'ac:name="{name}"' in bodies
    assert "<h2>" in bodies


def test_bodies_contain_searchable_topics(syn: SeedData) -> None:
    text = " ".join(p.versions[-1].body for p in generated(syn)).lower()
    for phrase in ("consumer lag", "connection pooling", "pod autoscaling", "postmortems"):
        assert phrase in text


@pytest.mark.slow
def test_ten_thousand_pages_load_fast() -> None:
    start = time.perf_counter()
    data = load_seed("synthetic:10000")
    elapsed = time.perf_counter() - start
    assert len(data.pages) == len(DEMO.pages) + 10_000
    assert elapsed < 2.0, f"synthetic:10000 took {elapsed:.2f}s"
