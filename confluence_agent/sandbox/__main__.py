"""``python -m confluence_agent.sandbox``: run the sandbox in the foreground."""

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
    parser.add_argument("--p429", type=float, default=0.0, help="probability of a spurious 429")
    parser.add_argument("--p503", type=float, default=0.0, help="probability of a 503")
    parser.add_argument(
        "--p503-after-write",
        type=float,
        default=0.0,
        help="probability that a write is performed, then answered with a 503",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to each request")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault dice")
    args = parser.parse_args(argv)
    faults = None
    if args.p429 or args.p503 or args.latency_ms or args.p503_after_write:
        faults = FaultConfig(
            args.p429, args.p503, args.latency_ms, args.fault_seed, args.p503_after_write
        )
    serve(args.port, args.db, args.seed, args.rate_limit, args.burst, faults)


if __name__ == "__main__":
    main()
