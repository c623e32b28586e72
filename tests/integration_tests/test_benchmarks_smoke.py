"""`benchmarks/run.py --quick` keeps working and its count-based figures hold.

Only counts are asserted (requests, pages, failures), never seconds: the figures
quoted in the README come from the same code paths.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmarks_run_and_counts_hold() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    results = json.loads(proc.stdout)
    assert set(results) == {"cql", "storage", "sandbox", "workflows", "bulk_audit", "third_party"}

    audit = results["workflows"]["prd_audit"]
    assert audit["apply_topic_missing"]["requests"] <= 4
    assert audit["apply_topic_missing"]["versions"] == [5, 6]
    assert audit["second_run"]["status"] == "covered"
    assert results["workflows"]["docs_discovery"]["status"] == "answered"

    bulk = results["bulk_audit"]
    assert bulk["pages_failed"] == 0
    assert bulk["no_duplicate_writes"] is True
    assert bulk["apply_one_space"]["pages_written"] > 0

    third = results["third_party"]
    assert third["same_pages"] is True
    assert third["ours_sync"]["requests"] <= third["atlassian_bulk"]["requests"]

    assert results["storage"]["markdown_tokens"] < results["storage"]["storage_tokens"]
    assert results["cql"]["problems_found"] == 0
