"""Run the sandbox: :class:`SandboxServer` (background thread, for tests and demos) and
:func:`serve` (blocking, for the CLI)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn

from confluence_agent.sandbox.app import create_app
from confluence_agent.sandbox.gateway import FaultConfig, Gateway, Stats
from confluence_agent.sandbox.seed import SeedData, SeedUser, load_seed
from confluence_agent.sandbox.store import Page, Store

_START_TIMEOUT_S = 30.0


class SandboxServer:
    """A Confluence-Cloud-compatible server on 127.0.0.1, backed by SQLite.

    Use as a context manager (or call :meth:`start` / :meth:`stop`)::

        with SandboxServer(seed="demo") as sb:
            client = ConfluenceClient(**sb.client_kwargs())

    Args:
        seed: ``"demo"``, ``"synthetic:N"``, ``None``/``"empty"`` (admin user only), or a
            ready :class:`SeedData`. Ignored when ``db`` already holds data.
        db: SQLite file path or ``":memory:"``.
        rate_limit: requests per second per user; ``None`` = no limit.
        burst: token-bucket size (default ``max(1, rate_limit)``).
        faults: fault injection (spurious 429/503, latency), seeded for reproducibility.
        port: TCP port; 0 picks a free one.
    """

    def __init__(
        self,
        seed: str | SeedData | None = "demo",
        *,
        db: str = ":memory:",
        rate_limit: float | None = None,
        burst: int | None = None,
        faults: FaultConfig | None = None,
        port: int = 0,
    ) -> None:
        self.seed = seed if isinstance(seed, SeedData) else load_seed(seed)
        self.store = Store(db)
        if self.store.is_empty():
            self.store.load(self.seed)
        self.app: Gateway = create_app(
            self.store, rate_limit=rate_limit, burst=burst, faults=faults
        )
        self._requested_port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Start uvicorn in a background thread and wait until it accepts connections."""
        if self._server is not None:
            return self
        # An explicit IPPROTO_TCP matters: asyncio turns on TCP_NODELAY only for sockets
        # whose ``proto`` says TCP, and without it Nagle's algorithm plus the client's
        # delayed ACK add ~40 ms to every keep-alive response.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._requested_port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        # Binding the socket here (not in uvicorn) gives the real port before start-up
        # and avoids a race with other servers picking port 0 at the same time.
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name=f"confluence-sandbox-{self.port}",
            daemon=True,
        )
        self._server = server
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop the server and close the database."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        self.store.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- addresses

    @property
    def url(self) -> str:
        """Site origin, e.g. ``http://127.0.0.1:51234`` (the API is under ``/wiki/...``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> SeedUser:
        """The seed's admin user (first admin, else first user)."""
        return next((u for u in self.seed.users if u.is_admin), self.seed.users[0])

    @property
    def email(self) -> str:
        """Admin email (basic auth user name)."""
        return self.admin.email

    @property
    def api_token(self) -> str:
        """Admin API token (basic auth password)."""
        return self.admin.api_token

    @property
    def bearer_token(self) -> str | None:
        """Admin bearer token, if the seed gives one."""
        return self.admin.bearer_token

    def client_kwargs(self, user: SeedUser | None = None) -> dict[str, str]:
        """Keyword arguments for ``ConfluenceClient(**kw)``: url, email, api_token."""
        who = user or self.admin
        return {"url": self.url, "email": who.email, "api_token": who.api_token}

    # -------------------------------------------------------------------- stats

    @property
    def stats(self) -> Stats:
        """Requests served (total, per route, per status), 429s and 503s sent."""
        with self.app.stats_lock:
            return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.app.reset_stats()

    # --------------------------------------------------------- test scenarios

    def arm_concurrent_edit(self, page_id: str | int, by: str | None = None) -> None:
        """The next update of ``page_id`` first gets a human edit, so its version is stale (409).

        Args:
            page_id: the page.
            by: account id of the simulated person (default: the page's last editor).
        """
        page = self.store.get_page(int(page_id))
        if page is None:
            raise KeyError(f"no page {page_id}")
        self.store.arm_concurrent_edit(int(page_id), by=by or page.modifier_id)

    def human_edit(self, page_id: str | int, new_body_fragment: str, by: str | None = None) -> Page:
        """Append ``new_body_fragment`` to the page as a new version (a person's edit)."""
        return self.store.human_edit(int(page_id), new_body_fragment, by=by)


def serve(
    port: int = 8765,
    db: str = ":memory:",
    seed: str | None = "demo",
    rate_limit: float | None = None,
    burst: int | None = None,
    faults: FaultConfig | None = None,
) -> None:
    """Run the sandbox in the foreground until interrupted, printing URL and credentials."""
    started = time.perf_counter()
    sandbox = SandboxServer(
        seed, db=db, rate_limit=rate_limit, burst=burst, faults=faults, port=port
    )
    counts = sandbox.store.counts()
    with sandbox:
        print(
            f"Confluence sandbox listening on {sandbox.url}  (API: {sandbox.url}/wiki/api/v2, "
            f"{sandbox.url}/wiki/rest/api)"
        )
        print(
            f"  data: {db}  seed: {seed}  pages: {counts['pages']}  spaces: {counts['spaces']}  "
            f"users: {counts['users']}  (ready in {time.perf_counter() - started:.2f}s)"
        )
        print(f"  CONFLUENCE_URL={sandbox.url}")
        print(f"  CONFLUENCE_EMAIL={sandbox.email}")
        print(f"  CONFLUENCE_API_TOKEN={sandbox.api_token}")
        if sandbox.bearer_token:
            print(f"  CONFLUENCE_BEARER_TOKEN={sandbox.bearer_token}")
        print("Press Ctrl+C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("Stopping.")
