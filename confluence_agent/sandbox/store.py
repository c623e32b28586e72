"""SQLite storage of the sandbox: the only module that writes SQL (``cql_eval`` only compiles it).

One connection guarded by a lock: uvicorn's event-loop thread and the test thread
(``SandboxServer.human_edit``) both use it, and SQLite ``:memory:`` databases are
per-connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from confluence_agent.sandbox.errors import ApiError, bad_request, not_found, version_conflict
from confluence_agent.sandbox.seed import SeedData
from confluence_agent.sandbox.text import now_iso, references, storage_to_text

DUPLICATE_TITLE = (
    "A page with this title already exists: A page already exists with the same TITLE in this space"
)
# Statuses that keep a title reserved in its space (a trashed page frees it).
_TITLE_RESERVING = ("current", "archived", "draft")


@dataclass(frozen=True, slots=True)
class User:
    """A user account."""

    account_id: str
    display_name: str
    email: str
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class Space:
    """A space."""

    id: int
    key: str
    name: str
    type: str
    status: str
    homepage_id: int | None
    created_at: str
    author_id: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """A page as of one version (the current one unless read with ``version=``)."""

    id: int
    type: str
    space_id: int
    space_key: str
    title: str
    status: str
    parent_id: int | None
    position: int
    author_id: str
    owner_id: str
    created_at: str
    version: int
    modified_at: str
    modifier_id: str
    body: str
    body_text: str
    version_message: str = ""
    minor_edit: bool = False


@dataclass(frozen=True, slots=True)
class Version:
    """One entry of a page's history."""

    page_id: int
    number: int
    title: str
    body: str
    author_id: str
    created_at: str
    message: str
    minor_edit: bool


@dataclass(frozen=True, slots=True)
class Label:
    """A label (Confluence labels are global objects attached to pages)."""

    id: int
    name: str
    prefix: str


@dataclass(frozen=True, slots=True)
class Comment:
    """A footer comment."""

    id: int
    page_id: int
    body: str
    author_id: str
    created_at: str
    status: str
    version: int


@dataclass(frozen=True, slots=True)
class Property:
    """A content property (JSON value) and when it was last set."""

    id: int
    page_id: int
    key: str
    value: object
    version: int
    modified_at: str


@dataclass(frozen=True, slots=True)
class PageQuery:
    """Filters of a page listing (v2 ``/pages``, v1 ``/content``)."""

    ids: Sequence[int] = ()
    space_ids: Sequence[int] = ()
    title: str | None = None
    statuses: Sequence[str] = ("current", "archived")
    parent_id: int | None = None
    root_only: bool = False
    sort: str = "id"


_PAGE_COLS = (
    "p.id, p.type, p.space_id, s.key, p.title, p.status, p.parent_id, p.position, p.author_id, "
    "p.owner_id, p.created_at, p.version, p.modified_at, p.modifier_id, p.body, p.body_text"
)
_PAGE_FROM = "pages p JOIN spaces s ON s.id = p.space_id"
_SORTS = {
    "id": "p.id",
    "created-date": "p.created_at",
    "modified-date": "p.modified_at",
    "title": "p.title COLLATE NOCASE",
    "child-position": "p.position",
}


def sort_sql(sort: str) -> str:
    """ORDER BY text for a v2 ``sort`` value (``-`` prefix = descending); id breaks ties."""
    desc = sort.startswith("-")
    column = _SORTS.get(sort.lstrip("-"))
    if column is None:
        raise bad_request(f"Invalid sort value: {sort}")
    direction = " DESC" if desc else ""
    return f"{column}{direction}, p.id{direction}"


def _version(row: Sequence[Any]) -> Version:
    return Version(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]))


def _page(row: Sequence[Any]) -> Page:
    return Page(*row[:16])


class Store:
    """Pages, spaces, users, labels, comments and their history in one SQLite database.

    Args:
        db: a file path or ``":memory:"``. A file that already holds data is reused
            as is (the seed is only loaded into an empty database).
    """

    def __init__(self, db: str = ":memory:") -> None:
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        if db != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        schema = resources.files("confluence_agent.sandbox").joinpath("schema.sql").read_text()
        self._conn.executescript(schema)
        self._upgrade()
        # page id -> account id of the "human" whose edit lands before the next PUT.
        self._armed: dict[int, str] = {}

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
            return row

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def is_empty(self) -> bool:
        """Whether no user exists yet (a fresh database)."""
        return self._one("SELECT 1 FROM users LIMIT 1") is None

    def _upgrade(self) -> None:
        """Bring a database file written by an earlier version up to the current schema."""
        columns = {row[1] for row in self._all("PRAGMA table_info(properties)")}
        if "modified_at" not in columns:
            self._conn.execute("ALTER TABLE properties ADD COLUMN modified_at TEXT")
        self._backfill_refs()

    def _backfill_refs(self) -> None:
        # A database file written before ``page_refs`` existed has pages but no refs.
        if self._one("SELECT 1 FROM meta WHERE key = 'refs_indexed'") is not None:
            return
        with self._tx() as conn:
            rows = conn.execute("SELECT id, body FROM pages").fetchall()
            conn.executemany(
                "INSERT OR IGNORE INTO page_refs VALUES (?, ?, ?)",
                [
                    (kind, value, page_id)
                    for page_id, body in rows
                    for kind, value in references(body)
                ],
            )
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('refs_indexed', 1)")

    def _next_id(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'next_content_id'").fetchone()
        value = int(row[0]) if row else 100_000
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_content_id', ?)", (value + 1,)
        )
        return value

    # ---------------------------------------------------------------------- seed

    def load(self, seed: SeedData) -> None:
        """Bulk-insert a seed in one transaction (``synthetic:10000`` loads in seconds)."""
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (u.account_id, u.display_name, u.email, u.api_token, u.bearer_token, u.is_admin)
                    for u in seed.users
                ],
            )
            first_created = min(
                (p.versions[0].created_at for p in seed.pages if p.versions), default=now_iso()
            )
            admin = next((u.account_id for u in seed.users if u.is_admin), None)
            conn.executemany(
                "INSERT INTO spaces VALUES (?, ?, ?, ?, 'current', ?, ?, ?, ?, ?)",
                [
                    (
                        int(s.id),
                        s.key,
                        s.name,
                        s.type,
                        int(s.homepage_id) if s.homepage_id else None,
                        first_created,
                        admin,
                        s.readers is None,
                        s.writers is None,
                    )
                    for s in seed.spaces
                ],
            )
            perms = [
                (int(s.id), account, perm)
                for s in seed.spaces
                for perm, who in (("read", s.readers), ("write", s.writers))
                for account in (who or ())
            ]
            conn.executemany("INSERT OR IGNORE INTO space_perms VALUES (?, ?, ?)", perms)
            space_ids = {s.key: int(s.id) for s in seed.spaces}
            label_ids: dict[str, int] = {}
            page_rows: list[tuple[object, ...]] = []
            version_rows: list[tuple[object, ...]] = []
            fts_rows: list[tuple[object, ...]] = []
            link_rows: list[tuple[int, int]] = []
            prop_rows: list[tuple[object, ...]] = []
            ref_rows: list[tuple[str, str, int]] = []
            positions: dict[int | None, int] = {}
            for p in seed.pages:
                first, last = p.versions[0], p.versions[-1]
                parent = int(p.parent_id) if p.parent_id else None
                position = positions.get(parent, 0)
                positions[parent] = position + 1
                text = storage_to_text(last.body)
                page_rows.append(
                    (
                        int(p.id),
                        "page",
                        space_ids[p.space_key],
                        p.title,
                        p.status,
                        parent,
                        position,
                        first.author_id,
                        first.author_id,
                        first.created_at,
                        last.number,
                        last.created_at,
                        last.author_id,
                        last.body,
                        text,
                    )
                )
                version_rows.extend(
                    (int(p.id), v.number, p.title, v.body, v.author_id, v.created_at, v.message, 0)
                    for v in p.versions
                )
                for name in p.labels:
                    if name not in label_ids:
                        label_ids[name] = len(label_ids) + 1
                    link_rows.append((int(p.id), label_ids[name]))
                prop_rows.extend(
                    (int(p.id), key, json.dumps(value)) for key, value in p.properties.items()
                )
                fts_rows.append((int(p.id), p.title, text, " ".join(p.labels)))
                ref_rows.extend((kind, value, int(p.id)) for kind, value in references(last.body))
            conn.executemany(
                "INSERT INTO pages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", page_rows
            )
            conn.executemany("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", version_rows)
            conn.executemany(
                "INSERT INTO labels (id, name) VALUES (?, ?)",
                [(i, n) for n, i in label_ids.items()],
            )
            conn.executemany("INSERT INTO page_labels VALUES (?, ?)", link_rows)
            conn.executemany(
                "INSERT INTO properties (page_id, key, value) VALUES (?, ?, ?)", prop_rows
            )
            conn.executemany(
                "INSERT INTO comments (id, page_id, body, author_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (int(c.id), int(c.page_id), c.body, c.author_id, c.created_at)
                    for c in seed.comments
                ],
            )
            conn.executemany(
                "INSERT INTO content_fts (rowid, title, body, labels) VALUES (?, ?, ?, ?)",
                fts_rows,
            )
            conn.executemany("INSERT OR IGNORE INTO page_refs VALUES (?, ?, ?)", ref_rows)
            # New ids are allocated above every seeded id.
            top = max(
                [int(p.id) for p in seed.pages]
                + [int(c.id) for c in seed.comments]
                + [int(s.id) for s in seed.spaces]
                + [99_999]
            )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_content_id', ?)", (top + 1,)
            )

    # --------------------------------------------------------------------- users

    def authenticate_basic(self, email: str, token: str) -> User | None:
        """The user whose email and API token match, if any."""
        row = self._one(
            "SELECT account_id, display_name, email, is_admin FROM users "
            "WHERE lower(email) = lower(?) AND api_token = ?",
            (email, token),
        )
        return User(row[0], row[1], row[2], bool(row[3])) if row else None

    def authenticate_bearer(self, token: str) -> User | None:
        """The user owning a bearer token (or, like a PAT, an API token), if any."""
        row = self._one(
            "SELECT account_id, display_name, email, is_admin FROM users "
            "WHERE bearer_token = ? OR api_token = ?",
            (token, token),
        )
        return User(row[0], row[1], row[2], bool(row[3])) if row else None

    def get_user(self, account_id: str) -> User | None:
        """A user by account id."""
        row = self._one(
            "SELECT account_id, display_name, email, is_admin FROM users WHERE account_id = ?",
            (account_id,),
        )
        return User(row[0], row[1], row[2], bool(row[3])) if row else None

    def get_users(self, account_ids: Sequence[str]) -> list[User]:
        """Users by account id, in the order asked, unknown ids skipped."""
        found = [self.get_user(a) for a in dict.fromkeys(account_ids)]
        return [u for u in found if u is not None]

    def find_users(
        self, *, name_contains: str | None = None, ids: Sequence[str] = ()
    ) -> list[User]:
        """Users whose display name contains ``name_contains`` or whose id is in ``ids``."""
        rows = self._all(
            "SELECT account_id, display_name, email, is_admin FROM users ORDER BY display_name"
        )
        users = [User(r[0], r[1], r[2], bool(r[3])) for r in rows]
        if name_contains is not None:
            words = name_contains.lower().split()
            users = [u for u in users if all(w in u.display_name.lower() for w in words)]
        if ids:
            users = [u for u in users if u.account_id in ids]
        return users

    # -------------------------------------------------------------- permissions

    def readable_space_ids(self, user: User) -> list[int] | None:
        """Ids of the spaces ``user`` may read; ``None`` means all of them."""
        if user.is_admin:
            return None
        rows = self._all(
            "SELECT id FROM spaces WHERE public_read = 1 OR id IN "
            "(SELECT space_id FROM space_perms WHERE account_id = ? AND perm = 'read')",
            (user.account_id,),
        )
        return [r[0] for r in rows]

    def can_read(self, user: User, space_id: int) -> bool:
        """Whether ``user`` may see the space and its pages."""
        readable = self.readable_space_ids(user)
        return readable is None or space_id in readable

    def can_write(self, user: User, space_id: int) -> bool:
        """Whether ``user`` may create and edit pages in the space."""
        if user.is_admin:
            return True
        if not self.can_read(user, space_id):
            return False
        row = self._one(
            "SELECT public_write = 1 OR EXISTS (SELECT 1 FROM space_perms WHERE space_id = ? "
            "AND account_id = ? AND perm = 'write') FROM spaces WHERE id = ?",
            (space_id, user.account_id, space_id),
        )
        return bool(row and row[0])

    # -------------------------------------------------------------------- spaces

    def _space(self, where: str, params: Sequence[object]) -> list[Space]:
        rows = self._all(
            "SELECT id, key, name, type, status, homepage_id, created_at, author_id "
            f"FROM spaces WHERE {where} ORDER BY id",
            params,
        )
        return [Space(*r) for r in rows]

    def get_space(self, space_id: int) -> Space | None:
        """A space by id."""
        found = self._space("id = ?", (space_id,))
        return found[0] if found else None

    def get_space_by_key(self, key: str) -> Space | None:
        """A space by key (exact, as Confluence keys are)."""
        found = self._space("key = ?", (key,))
        return found[0] if found else None

    def list_spaces(
        self,
        user: User,
        *,
        ids: Sequence[int] = (),
        keys: Sequence[str] = (),
        types: Sequence[str] = (),
    ) -> list[Space]:
        """Spaces ``user`` may read, optionally filtered, ordered by id."""
        where: list[str] = ["1 = 1"]
        params: list[object] = []

        def keep(column: str, values: Sequence[object]) -> None:
            where.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "0")
            params.extend(values)

        if ids:
            keep("id", ids)
        if keys:
            keep("key", keys)
        if types:
            keep("type", types)
        readable = self.readable_space_ids(user)
        if readable is not None:
            keep("id", readable)
        return self._space(" AND ".join(where), params)

    # --------------------------------------------------------------------- pages

    def get_page(self, page_id: int, *, version: int | None = None) -> Page | None:
        """A page, as of ``version`` when given (``None`` if either is missing)."""
        row = self._one(f"SELECT {_PAGE_COLS} FROM {_PAGE_FROM} WHERE p.id = ?", (page_id,))
        if row is None:
            return None
        page = _page(row)
        v = self.get_version(page_id, version if version is not None else page.version)
        if v is None:
            return None if version is not None else page
        if version is None:
            return _with_version(page, v, current=True)
        return _with_version(page, v, current=False)

    def get_version(self, page_id: int, number: int) -> Version | None:
        """One version of a page."""
        row = self._one(
            "SELECT page_id, number, title, body, author_id, created_at, message, minor_edit "
            "FROM versions WHERE page_id = ? AND number = ?",
            (page_id, number),
        )
        return _version(row) if row else None

    def list_versions(self, page_id: int, *, descending: bool = True) -> list[Version]:
        """The history of a page (newest first by default)."""
        order = "DESC" if descending else "ASC"
        rows = self._all(
            "SELECT page_id, number, title, body, author_id, created_at, message, minor_edit "
            f"FROM versions WHERE page_id = ? ORDER BY number {order}",
            (page_id,),
        )
        return [_version(r) for r in rows]

    def list_pages(
        self, query: PageQuery, *, readable: Sequence[int] | None, limit: int, offset: int = 0
    ) -> tuple[list[Page], bool]:
        """Pages matching ``query`` within ``readable`` spaces; returns (page, has_more)."""
        where: list[str] = []
        params: list[object] = []
        if query.ids:
            where.append(f"p.id IN ({', '.join('?' * len(query.ids))})")
            params.extend(query.ids)
        if query.space_ids:
            where.append(f"p.space_id IN ({', '.join('?' * len(query.space_ids))})")
            params.extend(query.space_ids)
        if readable is not None:
            where.append(f"p.space_id IN ({', '.join('?' * len(readable))})" if readable else "0")
            params.extend(readable)
        if query.title is not None:
            where.append("p.title = ?")
            params.append(query.title)
        if query.statuses and "any" not in query.statuses:
            where.append(f"p.status IN ({', '.join('?' * len(query.statuses))})")
            params.extend(query.statuses)
        if query.parent_id is not None:
            where.append("p.parent_id = ?")
            params.append(query.parent_id)
        if query.root_only:
            where.append("(p.parent_id IS NULL OR p.parent_id = s.homepage_id)")
        sql = (
            f"SELECT {_PAGE_COLS} FROM {_PAGE_FROM} WHERE {' AND '.join(where) or '1 = 1'} "
            f"ORDER BY {sort_sql(query.sort)} LIMIT ? OFFSET ?"
        )
        rows = self._all(sql, [*params, limit + 1, offset])
        return [_page(r) for r in rows[:limit]], len(rows) > limit

    def ancestors(self, page_id: int) -> list[Page]:
        """Ancestors of a page, top-most first."""
        chain: list[Page] = []
        page = self.get_page(page_id)
        seen = {page_id}
        while page is not None and page.parent_id is not None and page.parent_id not in seen:
            seen.add(page.parent_id)
            page = self.get_page(page.parent_id)
            if page is not None:
                chain.append(page)
        return list(reversed(chain))

    def _check_title(
        self, conn: sqlite3.Connection, space_id: int, title: str, exclude: int | None
    ) -> None:
        row = conn.execute(
            "SELECT 1 FROM pages WHERE space_id = ? AND title = ? COLLATE NOCASE AND id != ? "
            f"AND status IN ({', '.join('?' * len(_TITLE_RESERVING))})",
            (space_id, title, exclude or -1, *_TITLE_RESERVING),
        ).fetchone()
        if row:
            raise bad_request(DUPLICATE_TITLE)

    def _check_parent(self, conn: sqlite3.Connection, space_id: int, parent_id: int) -> None:
        row = conn.execute(
            "SELECT space_id FROM pages WHERE id = ? AND status != 'deleted'", (parent_id,)
        ).fetchone()
        if row is None or row[0] != space_id:
            raise not_found(f"Cannot find a parent page with id [{parent_id}]")

    def create_page(
        self,
        *,
        space_id: int,
        title: str,
        body: str,
        author_id: str,
        parent_id: int | None = None,
        status: str = "current",
        message: str = "",
    ) -> Page:
        """Create a page (version 1); raises 400 on a duplicate title, 404 on a bad parent."""
        if not title.strip():
            raise bad_request("Title cannot be empty")
        with self._tx() as conn:
            self._check_title(conn, space_id, title, None)
            if parent_id is not None:
                self._check_parent(conn, space_id, parent_id)
            page_id = self._next_id(conn)
            now = now_iso()
            text = storage_to_text(body)
            position = conn.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM pages WHERE parent_id IS ?",
                (parent_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO pages VALUES (?, 'page', ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                (
                    page_id,
                    space_id,
                    title,
                    status,
                    parent_id,
                    position,
                    author_id,
                    author_id,
                    now,
                    now,
                    author_id,
                    body,
                    text,
                ),
            )
            conn.execute(
                "INSERT INTO versions VALUES (?, 1, ?, ?, ?, ?, ?, 0)",
                (page_id, title, body, author_id, now, message),
            )
            self._index(conn, page_id)
        page = self.get_page(page_id)
        assert page is not None
        return page

    def update_page(
        self,
        page_id: int,
        *,
        title: str,
        body: str | None,
        version: int,
        author_id: str,
        status: str = "current",
        message: str = "",
        parent_id: int | None = None,
        minor_edit: bool = False,
    ) -> Page:
        """Write a new version; ``version`` must be the current number + 1 (else 409).

        A trashed page sent back with ``status="current"`` is restored. A concurrent
        edit armed with :meth:`arm_concurrent_edit` lands first, so the caller's
        version number goes stale exactly as when a person saves in the browser.
        """
        armed_by = self._armed.pop(page_id, None)
        if armed_by is not None:
            self.human_edit(
                page_id,
                "<p>Edited in the browser by a teammate while you were working.</p>",
                by=armed_by,
            )
        with self._tx() as conn:
            page = self.get_page(page_id)
            if page is None or page.status == "deleted":
                raise not_found()
            if page.status == "trashed" and status == "current":
                conn.execute("UPDATE pages SET status = 'current' WHERE id = ?", (page_id,))
                self._index(conn, page_id)
                restored = self.get_page(page_id)
                assert restored is not None
                return restored
            if version != page.version + 1:
                raise version_conflict(page.version, version)
            if title != page.title:
                self._check_title(conn, page.space_id, title, page_id)
            if parent_id is not None and parent_id != page.parent_id:
                if parent_id == page_id or parent_id in {a.id for a in self._descendants(page_id)}:
                    raise bad_request("Cannot move a page below itself")
                self._check_parent(conn, page.space_id, parent_id)
            new_body = page.body if body is None else body
            now = now_iso()
            conn.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (page_id, version, title, new_body, author_id, now, message, minor_edit),
            )
            conn.execute(
                "UPDATE pages SET title = ?, body = ?, body_text = ?, version = ?, "
                "modified_at = ?, modifier_id = ?, status = ?, parent_id = COALESCE(?, parent_id) "
                "WHERE id = ?",
                (
                    title,
                    new_body,
                    storage_to_text(new_body),
                    version,
                    now,
                    author_id,
                    status,
                    parent_id,
                    page_id,
                ),
            )
            self._index(conn, page_id)
        updated = self.get_page(page_id)
        assert updated is not None
        return updated

    def _descendants(self, page_id: int) -> list[Page]:
        rows = self._all(
            "WITH RECURSIVE d(id) AS (SELECT id FROM pages WHERE parent_id = ? "
            "UNION SELECT p.id FROM pages p JOIN d ON p.parent_id = d.id) "
            f"SELECT {_PAGE_COLS} FROM {_PAGE_FROM} WHERE p.id IN (SELECT id FROM d)",
            (page_id,),
        )
        return [_page(r) for r in rows]

    def descendants(
        self,
        page_id: int,
        *,
        max_depth: int,
        statuses: Sequence[str],
        limit: int,
        offset: int = 0,
    ) -> tuple[list[tuple[Page, int]], bool]:
        """Pages below ``page_id`` down to ``max_depth`` levels, with their depth (1 = child).

        Top to bottom: level by level, each level in the order of its parents and, under
        one parent, by child position. Returns (page of results, has_more).
        """
        marks = ", ".join("?" * len(statuses))
        # ``path`` chains zero-padded positions, so sorting by it keeps siblings together
        # in tree order below parents already sorted the same way.
        rows = self._all(
            "WITH RECURSIVE d(id, depth, path) AS ("
            "SELECT id, 1, printf('%010d.%d', position, id) FROM pages "
            f"WHERE parent_id = ? AND status IN ({marks}) "
            "UNION ALL SELECT c.id, d.depth + 1, "
            "d.path || '/' || printf('%010d.%d', c.position, c.id) "
            "FROM pages c JOIN d ON c.parent_id = d.id "
            f"WHERE d.depth < ? AND c.status IN ({marks})) "
            f"SELECT {_PAGE_COLS}, d.depth FROM d JOIN pages p ON p.id = d.id "
            "JOIN spaces s ON s.id = p.space_id ORDER BY d.depth, d.path LIMIT ? OFFSET ?",
            [page_id, *statuses, max_depth, *statuses, limit + 1, offset],
        )
        return [(_page(r), int(r[16])) for r in rows[:limit]], len(rows) > limit

    def delete_page(self, page_id: int, *, purge: bool = False) -> None:
        """Move a page to the trash; ``purge`` deletes an already-trashed page for good."""
        with self._tx() as conn:
            row = conn.execute("SELECT status FROM pages WHERE id = ?", (page_id,)).fetchone()
            if row is None or row[0] == "deleted":
                raise not_found()
            if purge:
                if row[0] != "trashed":
                    raise bad_request("Only trashed pages can be purged")
                for table, column in (
                    ("pages", "id"),
                    ("versions", "page_id"),
                    ("page_labels", "page_id"),
                    ("properties", "page_id"),
                    ("comments", "page_id"),
                    ("page_refs", "page_id"),
                ):
                    conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (page_id,))
                conn.execute("DELETE FROM content_fts WHERE rowid = ?", (page_id,))
                return
            conn.execute("UPDATE pages SET status = 'trashed' WHERE id = ?", (page_id,))

    def human_edit(self, page_id: int, fragment: str, *, by: str | None = None) -> Page:
        """Append ``fragment`` to the page as a new version, as a person editing in the UI."""
        page = self.get_page(page_id)
        if page is None:
            raise not_found()
        author = by or page.modifier_id
        return self.update_page(
            page_id,
            title=page.title,
            body=page.body + fragment,
            version=page.version + 1,
            author_id=author,
            status=page.status,
            message="Edited in the browser",
        )

    def arm_concurrent_edit(self, page_id: int, *, by: str) -> None:
        """Make the next update of ``page_id`` find a human edit made just before it."""
        self._armed[page_id] = by

    # ------------------------------------------------------------------- search

    def search(
        self,
        where: str,
        params: Sequence[object],
        *,
        order: str,
        rank_match: str | None,
        readable: Sequence[int] | None,
        statuses: Sequence[str],
        limit: int,
        offset: int,
    ) -> tuple[list[tuple[Page, float]], int]:
        """Run a compiled CQL query; returns (rows with score, total matches).

        Args:
            where: SQL condition over alias ``p`` (pages) and ``s`` (spaces), from ``cql_eval``.
            params: its bound parameters.
            order: ORDER BY text; may use ``score`` (bm25 rank, lower = better).
            rank_match: FTS5 expression for relevance ranking, or ``None``.
            readable: space ids the caller may read (``None`` = all).
            statuses: content statuses to include.
            limit: page size.
            offset: rows to skip.
        """
        conds, all_params = [f"({where})"], list(params)
        if readable is not None:
            conds.append(f"p.space_id IN ({', '.join('?' * len(readable))})" if readable else "0")
            all_params.extend(readable)
        conds.append(f"p.status IN ({', '.join('?' * len(statuses))})")
        all_params.extend(statuses)
        rank_join, rank_params, score = "", [], "0.0"
        if rank_match is not None:
            rank_join = (
                " LEFT JOIN (SELECT rowid AS rid, bm25(content_fts, 10.0, 1.0, 5.0) AS rank "
                "FROM content_fts WHERE content_fts MATCH ?) r ON r.rid = p.id"
            )
            rank_params = [rank_match]
            score = "COALESCE(r.rank, 0.0)"
        condition = " AND ".join(conds)
        with self._lock:
            # One pass sorts ids and scores only (bodies stay out of the sorter) and counts
            # every match with a window function, so the query runs once, not twice.
            ranked = self._conn.execute(
                f"SELECT p.id, {score} AS score, COUNT(*) OVER () "
                f"FROM {_PAGE_FROM}{rank_join} WHERE {condition} "
                f"ORDER BY {order} LIMIT ? OFFSET ?",
                [*rank_params, *all_params, limit, offset],
            ).fetchall()
            if ranked:
                total = int(ranked[0][2])
            else:  # past the last match: the window had no row to report the count on
                total = int(
                    self._conn.execute(
                        f"SELECT COUNT(*) FROM {_PAGE_FROM} WHERE {condition}", all_params
                    ).fetchone()[0]
                )
            pages = self.pages_by_id([r[0] for r in ranked])
        return [(pages[r[0]], -float(r[1])) for r in ranked], total

    def pages_by_id(self, page_ids: Sequence[int]) -> dict[int, Page]:
        """Current rows of several pages in one query (unknown ids are left out)."""
        if not page_ids:
            return {}
        rows = self._all(
            f"SELECT {_PAGE_COLS} FROM {_PAGE_FROM} "
            f"WHERE p.id IN ({', '.join('?' * len(page_ids))})",
            list(page_ids),
        )
        return {r[0]: _page(r) for r in rows}

    def spaces_by_id(self, space_ids: Sequence[int]) -> dict[int, Space]:
        """Several spaces in one query (unknown ids are left out)."""
        unique = list(dict.fromkeys(space_ids))
        if not unique:
            return {}
        found = self._space(f"id IN ({', '.join('?' * len(unique))})", unique)
        return {s.id: s for s in found}

    # ------------------------------------------------------------ labels, props

    def labels(self, page_id: int) -> list[Label]:
        """Labels of a page, by name."""
        rows = self._all(
            "SELECT l.id, l.name, l.prefix FROM labels l JOIN page_labels pl ON pl.label_id = l.id "
            "WHERE pl.page_id = ? ORDER BY l.name",
            (page_id,),
        )
        return [Label(*r) for r in rows]

    def add_labels(self, page_id: int, names: Iterable[str], prefix: str = "global") -> list[Label]:
        """Attach labels (kept lower-case, as Confluence does); returns all labels of the page."""
        with self._tx() as conn:
            for raw in names:
                name = raw.strip().lower()
                if not name or " " in name:
                    raise bad_request(f"Invalid label name: '{raw}'")
                conn.execute(
                    "INSERT OR IGNORE INTO labels (name, prefix) VALUES (?, ?)", (name, prefix)
                )
                conn.execute(
                    "INSERT OR IGNORE INTO page_labels SELECT ?, id FROM labels WHERE name = ?",
                    (page_id, name),
                )
            self._index(conn, page_id)
        return self.labels(page_id)

    def remove_label(self, page_id: int, name: str) -> None:
        """Detach a label from a page (404 if it was not there)."""
        with self._tx() as conn:
            cur = conn.execute(
                "DELETE FROM page_labels WHERE page_id = ? AND label_id = "
                "(SELECT id FROM labels WHERE name = ?)",
                (page_id, name.lower()),
            )
            if cur.rowcount == 0:
                raise not_found(f"Label '{name}' is not on content {page_id}")
            self._index(conn, page_id)

    def properties(self, page_id: int) -> list[Property]:
        """Content properties of a page, by key."""
        rows = self._all(
            "SELECT pr.id, pr.page_id, pr.key, pr.value, pr.version, "
            "COALESCE(pr.modified_at, p.modified_at) FROM properties pr "
            "JOIN pages p ON p.id = pr.page_id WHERE pr.page_id = ? ORDER BY pr.key",
            (page_id,),
        )
        return [Property(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    def set_property(
        self, page_id: int, key: str, value: object, *, version: int | None = None
    ) -> Property:
        """Create or replace a content property.

        Args:
            page_id: The page the property belongs to.
            key: Property key.
            value: JSON-serialisable value.
            version: The version the caller claims to write (v1 ``PUT``). Confluence
                accepts only the current version + 1, or 1 to create a missing key.
                ``None`` (v1 ``POST``) creates or replaces, bumping the version.

        Returns:
            The property as stored.

        Raises:
            ApiError: 409 for a version other than current + 1; 404 when the key
                does not exist and ``version`` is not 1.
        """
        with self._tx() as conn:
            if version is not None:
                # Checked inside the write transaction so two writers that read the
                # same version cannot both succeed (optimistic locking, as Confluence).
                row = conn.execute(
                    "SELECT version FROM properties WHERE page_id = ? AND key = ?",
                    (page_id, key),
                ).fetchone()
                if row is None and version != 1:
                    raise not_found(f"Cannot find content property with key: {key}")
                if row is not None and version != row[0] + 1:
                    raise version_conflict(row[0], version)
            conn.execute(
                "INSERT INTO properties (page_id, key, value, modified_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (page_id, key) DO UPDATE SET value = excluded.value, "
                "version = version + 1, modified_at = excluded.modified_at",
                (page_id, key, json.dumps(value), now_iso()),
            )
        return next(p for p in self.properties(page_id) if p.key == key)

    # ------------------------------------------------------------------ comments

    def comments(self, page_id: int) -> list[Comment]:
        """Footer comments of a page, oldest first."""
        rows = self._all(
            "SELECT id, page_id, body, author_id, created_at, status, version FROM comments "
            "WHERE page_id = ? AND status = 'current' ORDER BY created_at, id",
            (page_id,),
        )
        return [Comment(*r) for r in rows]

    def create_comment(self, page_id: int, body: str, author_id: str) -> Comment:
        """Add a footer comment."""
        with self._tx() as conn:
            comment_id = self._next_id(conn)
            conn.execute(
                "INSERT INTO comments (id, page_id, body, author_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (comment_id, page_id, body, author_id, now_iso()),
            )
        return next(c for c in self.comments(page_id) if c.id == comment_id)

    # --------------------------------------------------------------------- index

    def _index(self, conn: sqlite3.Connection, page_id: int) -> None:
        """Refresh the full-text row and the macro/mention refs of one page."""
        conn.execute("DELETE FROM page_refs WHERE page_id = ?", (page_id,))
        body = conn.execute("SELECT body FROM pages WHERE id = ?", (page_id,)).fetchone()
        if body is not None:
            conn.executemany(
                "INSERT OR IGNORE INTO page_refs VALUES (?, ?, ?)",
                [(kind, value, page_id) for kind, value in references(body[0])],
            )
        conn.execute("DELETE FROM content_fts WHERE rowid = ?", (page_id,))
        conn.execute(
            "INSERT INTO content_fts (rowid, title, body, labels) "
            "SELECT p.id, p.title, p.body_text, COALESCE((SELECT group_concat(l.name, ' ') "
            "FROM page_labels pl JOIN labels l ON l.id = pl.label_id WHERE pl.page_id = p.id), '') "
            "FROM pages p WHERE p.id = ?",
            (page_id,),
        )

    def counts(self) -> Mapping[str, int]:
        """Row counts per table (for ``serve`` output and benchmarks)."""
        return {
            t: int(self._all(f"SELECT COUNT(*) FROM {t}")[0][0])
            for t in ("users", "spaces", "pages", "versions", "comments")
        }


def _with_version(page: Page, v: Version, *, current: bool) -> Page:
    return Page(
        id=page.id,
        type=page.type,
        space_id=page.space_id,
        space_key=page.space_key,
        title=v.title,
        status=page.status if current else "historical",
        parent_id=page.parent_id,
        position=page.position,
        author_id=page.author_id,
        owner_id=page.owner_id,
        created_at=page.created_at,
        version=v.number,
        modified_at=v.created_at,
        modifier_id=v.author_id,
        body=v.body,
        body_text=page.body_text if current else storage_to_text(v.body),
        version_message=v.message,
        minor_edit=v.minor_edit,
    )


__all__ = [
    "DUPLICATE_TITLE",
    "ApiError",
    "Comment",
    "Label",
    "Page",
    "PageQuery",
    "Property",
    "Space",
    "Store",
    "User",
    "Version",
]
