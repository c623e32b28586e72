"""Run every benchmark and print one table (Markdown, ready for the README) or JSON.

Usage::

    .venv/bin/python benchmarks/run.py            # full run (manual; a few minutes)
    .venv/bin/python benchmarks/run.py --quick    # small sizes, for a CI smoke test
    .venv/bin/python benchmarks/run.py --json     # raw figures of every benchmark
    .venv/bin/python benchmarks/run.py --only bulk_audit,third_party

Each ``bench_*.py`` module exposes ``run(**sizes) -> dict``; this script only calls
them (with smaller sizes under ``--quick``) and picks the headline figures. A
benchmark that fails is reported and makes the exit status 1; the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# name -> (module, full-run kwargs, quick kwargs); kwargs a run() does not accept are dropped.
BENCHMARKS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "cql": ("bench_cql", {}, {"repeats": 3}),
    "storage": ("bench_storage", {}, {}),
    "sandbox": ("bench_sandbox", {}, {"pages": 500, "repeats": 3}),
    "workflows": ("bench_workflows", {}, {}),
    "bulk_audit": ("bench_bulk_audit", {"pages": 5000, "rate": 50.0}, {"pages": 300}),
    "third_party": ("bench_third_party", {"pages": 5000}, {"pages": 300}),
}

Row = tuple[str, str, str]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        value = f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return f"{value}{unit}"


def _rows_workflows(r: dict[str, Any]) -> list[Row]:
    prd = r.get("prd_audit", {})
    disc = r.get("docs_discovery", {})
    return [
        (
            "Workflows",
            "PRD audit, topic missing, apply (HTTP requests)",
            _fmt(_get(prd, "apply_topic_missing", "requests")),
        ),
        (
            "Workflows",
            "PRD audit, second run (HTTP requests, no write)",
            _fmt(_get(prd, "second_run", "requests")),
        ),
        (
            "Workflows",
            "PRD audit, check mode (HTTP requests)",
            _fmt(_get(prd, "check", "requests")),
        ),
        ("Workflows", "Docs discovery (HTTP requests)", _fmt(disc.get("requests"))),
    ]


def _rows_bulk(r: dict[str, Any]) -> list[Row]:
    n, rate = r.get("synthetic_pages"), r.get("rate_limit_per_s")
    check, apply, again = (
        r.get("check_all", {}),
        r.get("apply_one_space", {}),
        r.get("apply_again", {}),
    )
    label = f"Bulk audit, synthetic:{n} @ {_fmt(rate)} req/s"
    return [
        (label, "check: pages audited (bodies read in bulk)", _fmt(check.get("pages"))),
        (
            label,
            "check: wall time vs rate-limit bound",
            f"{_fmt(check.get('wall_s'), ' s')} vs {_fmt(check.get('bound_s'), ' s')} "
            f"({_fmt(check.get('requests_needed'))} requests)",
        ),
        (label, "check: pages/s", _fmt(check.get("pages_per_s"))),
        (
            label,
            "apply (one space): pages written",
            f"{_fmt(apply.get('pages_written'))} of {_fmt(apply.get('pages'))}",
        ),
        (
            label,
            "apply: wall time vs rate-limit bound",
            f"{_fmt(apply.get('wall_s'), ' s')} vs {_fmt(apply.get('bound_s'), ' s')} "
            f"({_fmt(apply.get('requests_needed'))} requests)",
        ),
        (
            label,
            "429s received (check + apply)",
            _fmt((check.get("rate_limited_429") or 0) + (apply.get("rate_limited_429") or 0)),
        ),
        (label, "pages failed", _fmt(r.get("pages_failed"))),
        (label, "second apply: pages written (must be 0)", _fmt(again.get("pages_written"))),
    ]


def _rows_storage(r: dict[str, Any]) -> list[Row]:
    pages = r.get("corpus_pages") or 0
    raw, md = r.get("storage_tokens"), r.get("markdown_tokens")
    per = lambda v: round(v / pages) if v is not None and pages else None  # noqa: E731
    return [
        (
            "Tokens per page",
            f"raw storage XHTML ({str(r.get('tokenizer', '?')).split(' (')[0]})",
            _fmt(per(raw)),
        ),
        ("Tokens per page", "our Markdown rendering", _fmt(per(md))),
        ("Tokens per page", "rendering ÷ raw", _fmt(r.get("markdown_to_storage_ratio"))),
        (
            "Storage",
            f"parse + edit + guard, {_fmt(r.get('big_page_bytes'))} B page",
            _fmt(r.get("seconds_parse_edit_guard"), " s"),
        ),
    ]


def _rows_third_party(r: dict[str, Any]) -> list[Row]:
    label = f"Read all bodies, synthetic:{r.get('synthetic_pages')} vs {r.get('library', '?')}"
    rows: list[Row] = []
    for key, name in (
        ("atlassian_bulk", "atlassian-python-api get_all_pages_from_space"),
        ("atlassian_per_page", "atlassian-python-api get_page_by_id per page"),
        ("ours_sync", "confluence-agent iter_pages (sync)"),
        ("ours_async", "confluence-agent aiter_pages (async, per space)"),
    ):
        if key in r:
            f = r[key]
            rows.append(
                (
                    label,
                    name,
                    f"{_fmt(f.get('wall_s'), ' s')}, "
                    f"{_fmt(f.get('requests'))} requests, "
                    f"{_fmt(f.get('pages'))} pages",
                )
            )
    for key, ratio in (r.get("ratios") or {}).items():
        rows.append(
            (
                label,
                f"{key} ÷ ours (time, requests)",
                f"{_fmt(ratio.get('time_x'), '×')}, {_fmt(ratio.get('requests_x'), '×')}",
            )
        )
    rows.append((label, "same pages read", _fmt(r.get("same_pages"))))
    return rows


def _rows_cql(r: dict[str, Any]) -> list[Row]:
    return [
        (
            "CQL",
            f"validate {_fmt(r.get('clauses'))} clauses (median)",
            _fmt(r.get("validate_ms_median"), " ms"),
        )
    ]


def _rows_sandbox(r: dict[str, Any]) -> list[Row]:
    medians = [v["median_ms"] for v in r.values() if isinstance(v, dict) and "median_ms" in v]
    rows = [
        ("Sandbox", f"startup with {_fmt(r.get('pages'))} pages", _fmt(r.get("startup_s"), " s"))
    ]
    if medians:
        rows.append(
            (
                "Sandbox",
                f"CQL search over HTTP, worst median of {len(medians)} queries",
                _fmt(max(medians), " ms"),
            )
        )
    return rows


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "workflows": _rows_workflows,
    "bulk_audit": _rows_bulk,
    "storage": _rows_storage,
    "third_party": _rows_third_party,
    "cql": _rows_cql,
    "sandbox": _rows_sandbox,
}
ORDER = ("workflows", "bulk_audit", "storage", "third_party", "cql", "sandbox")


def run_all(names: list[str], quick: bool) -> dict[str, Any]:
    """Run the named benchmarks; failures are recorded as ``{"error": ...}``."""
    sys.path.insert(0, str(HERE))
    results: dict[str, Any] = {}
    for name in names:
        module_name, full, small = BENCHMARKS[name]
        print(f"running {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(module_name)
            accepted = inspect.signature(module.run).parameters
            kwargs = {k: v for k, v in (small if quick else full).items() if k in accepted}
            results[name] = module.run(**kwargs)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc(file=sys.stderr)
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return results


def table(results: dict[str, Any]) -> str:
    """The headline figures as a Markdown table."""
    lines = ["| Benchmark | Measure | Result |", "|---|---|---|"]
    for name in ORDER:
        if name not in results:
            continue
        data = results[name]
        rows = (
            [(name, "error", str(data["error"]))]
            if isinstance(data, dict) and "error" in data
            else ROWS[name](data)
        )
        for bench, measure, value in rows:
            lines.append(f"| {bench} | {measure} | {value.replace('|', '/')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print; returns the exit status."""
    parser = argparse.ArgumentParser(description="Run all confluence-agent benchmarks.")
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    parser.add_argument("--json", action="store_true", help="print raw results as JSON")
    parser.add_argument("--only", default="", help=f"comma list of: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = run_all(names, args.quick)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        print(table(results))
    failed = any(isinstance(r, dict) and "error" in r for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
