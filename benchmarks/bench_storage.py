"""Storage-format figures: token savings of our Markdown, and edit speed on a 2 MB page.

1. Tokens of raw storage vs ``to_markdown`` over the corpus in
   ``tests/fixtures/storage``. Uses tiktoken ``cl100k_base`` when it can be loaded
   offline (installed and its vocabulary cached); otherwise a documented stand-in:
   a regex mimicking cl100k's pre-tokenizer (letters runs with one leading
   non-letter, digit groups of 1-3, punctuation runs, whitespace), counting one
   token per piece plus one per further 4 characters of long pieces (BPE splits
   rare long words). The output says which one was used.
2. Time to parse + list sections + replace a section + guard the edit + render
   Markdown for a page of at least 2 MB built from the corpus (best of 3).

Run: ``.venv/bin/python benchmarks/bench_storage.py`` (prints JSON).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluence_agent.storage import (
    check_preserved,
    list_sections,
    parse_storage,
    replace_section,
    to_markdown,
)

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "storage"
TARGET_BYTES = 2 * 1024 * 1024

# cl100k-like pre-tokenisation with the stdlib `re` ([^\W\d_] = a letter).
_PRETOKEN = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)|[^\r\n\w]?[^\W\d_]+|\d{1,3}| ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    re.I,
)


def _approx_tokens(text: str) -> int:
    return sum(1 + max(0, math.ceil((len(p) - 4) / 4)) for p in _PRETOKEN.findall(text))


def _tokenizer() -> tuple[str, Callable[[str], int]]:
    try:
        import tiktoken  # type: ignore[import-not-found]

        enc = tiktoken.get_encoding("cl100k_base")
        return "tiktoken cl100k_base", lambda s: len(enc.encode(s, disallowed_special=()))
    except Exception:  # not installed, or the vocabulary cannot be downloaded offline
        return (
            "stand-in: regex approximation of cl100k pre-tokenizer "
            "(tiktoken cl100k_base not loadable offline)",
            _approx_tokens,
        )


def _corpus() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.xml"))}


def _big_page(pages: dict[str, str]) -> str:
    """Concatenate corpus pages under unique h1 headings until >= 2 MB."""
    parts: list[str] = []
    size, n = 0, 0
    while size < TARGET_BYTES:
        for name, body in pages.items():
            chunk = f"<h1>Part {n} {name}</h1>{body}"
            parts.append(chunk)
            size += len(chunk.encode("utf-8"))
            n += 1
            if size >= TARGET_BYTES:
                break
    return "".join(parts)


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run() -> dict[str, Any]:
    """Measure token savings over the corpus and edit timings on a 2 MB page."""
    name, count = _tokenizer()
    pages = _corpus()
    per_page = {}
    total_raw = total_md = 0
    for page, body in pages.items():
        raw, md = count(body), count(to_markdown(body))
        per_page[page] = {"storage_tokens": raw, "markdown_tokens": md}
        total_raw += raw
        total_md += md

    big = _big_page(pages)
    sections = list_sections(big)
    target = sections[len(sections) // 2]
    content = "<p>Replaced by the benchmark.</p>"

    def edit() -> None:
        result = replace_section(big, target.title, content)
        if check_preserved(big, result.body, result.edited_sections):
            raise AssertionError("benchmark edit was flagged as lossy")

    def full() -> None:
        parse_storage(big)
        edit()

    return {
        "tokenizer": name,
        "corpus_pages": len(pages),
        "storage_tokens": total_raw,
        "markdown_tokens": total_md,
        "markdown_to_storage_ratio": round(total_md / total_raw, 3),
        "per_page": per_page,
        "big_page_bytes": len(big.encode("utf-8")),
        "big_page_sections": len(sections),
        "seconds_parse": round(_best(lambda: parse_storage(big)), 4),
        "seconds_list_sections": round(_best(lambda: list_sections(big)), 4),
        "seconds_replace_section": round(
            _best(lambda: replace_section(big, target.title, content)), 4
        ),
        "seconds_parse_edit_guard": round(_best(full), 4),
        "seconds_to_markdown": round(_best(lambda: to_markdown(big)), 4),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
