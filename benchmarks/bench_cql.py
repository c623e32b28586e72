"""CQL figures: time to validate (parse + all semantic checks) a 1,000-clause query.

The query mixes every value shape the validator inspects (quoted text, labels, space
keys, dates, date functions, currentUser(), id lists, parenthesised OR groups) and
ends with ORDER BY.  Reported: best and median wall time over ``repeats`` runs for
``validate`` and for ``parse`` alone, plus the query size.  Target: well under 100 ms.

Run: ``.venv/bin/python benchmarks/bench_cql.py`` (prints JSON).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from confluence_agent.cql import parse, validate

_TEMPLATES = (
    'title ~ "quarterly report {i}"',
    'label = "team-{i}"',
    'space = "S{i}"',
    'created >= "2024-01-{d:02d}"',
    "creator = currentUser()",
    "id IN ({i}, {j})",
    'text ~ "billing engine {i}"',
    'lastmodified > now("-{i}d")',
)


def build_query(clauses: int = 1000) -> str:
    """A valid query with exactly ``clauses`` clauses (half in OR groups of ten)."""
    parts = [
        _TEMPLATES[i % len(_TEMPLATES)].format(i=i, j=i + 1, d=i % 28 + 1)
        for i in range(clauses - 1)
    ]
    half = len(parts) // 2
    groups = ["(" + " OR ".join(parts[k : min(k + 10, half)]) + ")" for k in range(0, half, 10)]
    return "type = page AND " + " AND ".join(groups + parts[half:]) + " ORDER BY lastmodified DESC"


def _time(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm-up: builds the lark parser once
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def run(clauses: int = 1000, repeats: int = 20) -> dict[str, Any]:
    query = build_query(clauses)
    n = sum(1 for _ in parse(query).clauses())
    problems = validate(query)
    v = _time(lambda: validate(query), repeats)
    p = _time(lambda: parse(query), repeats)
    return {
        "benchmark": "cql_validate",
        "clauses": n,
        "query_chars": len(query),
        "problems_found": len(problems),
        "repeats": repeats,
        "validate_ms_best": round(min(v), 2),
        "validate_ms_median": round(statistics.median(v), 2),
        "parse_ms_best": round(min(p), 2),
        "parse_ms_median": round(statistics.median(p), 2),
        "target_ms": 100,
        "within_target": statistics.median(v) < 100,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
