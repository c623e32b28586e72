"""``python -m confluence_agent.sandbox``: run the sandbox in the foreground.

Takes the options of ``confluence-agent sandbox serve`` (same names, same fault
syntax), for environments where only the module, not the console script, is on hand.
"""

from __future__ import annotations

import argparse

from confluence_agent.sandbox.gateway import FaultConfig
from confluence_agent.sandbox.server import serve


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and call :func:`serve`."""
    parser = argparse.ArgumentParser(
        prog="python -m confluence_agent.sandbox",
        description="Confluence-Cloud-compatible sandbox server backed by SQLite.",
    )
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0 = any free port)")
    parser.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    parser.add_argument("--seed", default="demo", help='"demo", "synthetic:N" or "empty"')
    parser.add_argument("--rate-limit", type=float, default=None, help="requests/s per user")
    parser.add_argument("--burst", type=int, default=None, help="token bucket size")
    parser.add_argument(
        "--faults",
        default=None,
        help="fault injection, e.g. p429=0.1,p503=0.05,latency_ms=20,seed=1,p503_after_write=0.1",
    )
    args = parser.parse_args(argv)
    try:
        faults = FaultConfig.parse(args.faults) if args.faults else None
    except ValueError as exc:
        parser.error(f"--faults: {exc}")
    serve(args.port, args.db, args.seed, args.rate_limit, args.burst, faults)


if __name__ == "__main__":
    main()
