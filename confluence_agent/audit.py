"""Scheduled bulk documentation audit: the engine behind ``confluence-agent audit``.

For every rule of an :class:`~confluence_agent.audit_config.AuditConfig` the pages
selected by its CQL are read *in bulk* (CQL search with
``expand=content.body.storage,content.version,content.metadata.labels``, at most 50
results per request when bodies are expanded, one request per 50 pages rather than
one per page), audited concurrently (bounded by ``concurrency``; the async client
paces itself on the rate-limit headers and retries 429s), and:

* ``check``: findings are reported;
* ``propose``: the section each missing topic needs is drafted and the storage
  diff computed locally (nothing is written);
* ``apply``: missing sections are written through
  :func:`confluence_agent.editing.asafe_update` (current version + 1, 409 →
  re-read and re-apply, macro guard), one write per page and no extra read: the
  body read in bulk is the base of the edit (a stale copy costs a 409 and a re-read).

Besides topics, a rule can report stale pages (``stale_after_days``) and pages
without an owner label (``require_owner_label``; prefix from the config); the
``[drafts]`` table reports drafts older than N days (v2 ``GET /pages?status=draft``).

Resuming: with a checkpoint file, a small SQLite journal records every page
audited (with its result) and, *before* each write, the intent to write. A re-run
after a crash skips journaled pages and reports their earlier results; a page whose
write was in flight is read again and, because appending an existing section is
a no-op, never written twice. A run that finishes without errors marks the journal
complete, so the next scheduled run with the same file starts afresh.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from confluence_agent import storage
from confluence_agent.audit_config import (
    MAX_BODY_PAGE_SIZE,
    AuditConfig,
    AuditRule,
    AuditSettings,
    DraftCheck,
    TopicRequirement,
)
from confluence_agent.audit_report import AuditReport, Finding, Mode, PageAudit
from confluence_agent.client import AsyncConfluenceClient
from confluence_agent.config import ConfluenceConfig
from confluence_agent.editing import EditOp, apply_ops, asafe_update, storage_diff
from confluence_agent.errors import ConfigurationError, ConfluenceError
from confluence_agent.models import Page, SearchResult
from confluence_agent.workflows.matching import STOP_WORDS, match_topic, stem, tokenize

__all__ = [
    "CRASH_AFTER_WRITES_ENV",
    "AuditItem",
    "AuditJournal",
    "AuditProgress",
    "arun_audit",
    "audit_page",
    "run_audit",
]

# Test hook: end the process right after the N-th successful write, before the
# journal records it: the worst moment for a crash, used to prove that a resumed
# run never writes a page twice.
CRASH_AFTER_WRITES_ENV = "CONFLUENCE_AGENT_AUDIT_CRASH_AFTER_WRITES"
CRASH_EXIT_STATUS = 75
_PAGE_TYPES = frozenset({"page", "blogpost"})


@dataclass(frozen=True)
class AuditProgress:
    """A progress notification for a progress bar.

    Attributes:
        kind: ``total`` (``count`` more pages expected), ``page`` (one page done),
            or ``message`` (``detail`` is a line worth showing).
    """

    kind: Literal["total", "page", "message"]
    count: int = 0
    detail: str = ""


ProgressCallback = Callable[[AuditProgress], None]


@dataclass(frozen=True)
class AuditItem:
    """One page as read in bulk, ready to audit (no further request needed)."""

    rule: str
    page_id: str
    title: str
    version: int | None
    body: str | None = None
    labels: tuple[str, ...] = ()
    space_key: str | None = None
    url: str | None = None
    last_modified: datetime | None = None

    def as_page(self) -> Page | None:
        """The bulk-read copy as a :class:`Page` for ``asafe_update(current=...)``.

        The write then needs no second read: a stale copy costs a 409 and a re-read,
        never a lost edit (the optimistic lock still guards the write).
        """
        if self.body is None or self.version is None:
            return None
        return Page.model_validate(
            {
                "id": self.page_id,
                "title": self.title,
                "version": {"number": self.version},
                "body_storage": self.body,
            }
        )

    @classmethod
    def from_search(cls, rule: str, hit: SearchResult) -> AuditItem | None:
        """Build from a search hit (``None`` for non-page hits: spaces, attachments...)."""
        content = hit.content
        if content is None or (content.type or hit.type) not in _PAGE_TYPES:
            return None
        extra = content.model_extra or {}
        metadata = extra.get("metadata") if isinstance(extra.get("metadata"), dict) else {}
        raw_labels = (metadata or {}).get("labels") or {}
        results = raw_labels.get("results", []) if isinstance(raw_labels, dict) else raw_labels
        labels = tuple(
            str(lb.get("name")) for lb in results if isinstance(lb, dict) and lb.get("name")
        )
        version = content.version
        return cls(
            rule=rule,
            page_id=content.id,
            title=content.title or hit.title_text,
            version=version.number if version else None,
            body=content.body_storage,
            labels=labels,
            space_key=content.space_key or hit.space_key,
            url=hit.webui_url,
            last_modified=hit.last_modified or (version.created_at if version else None),
        )


# ---------------------------------------------------------------------------- pure audit


_NON_WORD = re.compile(r"[^0-9a-z\u00c0-\u024f]+")


def _squash(text: str) -> str:
    """Lower-cased text with every separator removed (see :func:`_may_cover`)."""
    return _NON_WORD.sub("", text.lower())


def _may_cover(topic: str, squashed: str) -> bool:
    """Cheap necessary condition for :func:`match_topic` coverage.

    The matcher's stems are prefixes of words (or of two adjacent words joined), so
    every content word of a covered topic has its stem inside the page text with
    separators removed. Most pages of a bulk audit fail this test in microseconds,
    which keeps the (much slower) sentence-level matcher for the few candidates.
    """
    words = [w for w in tokenize(topic) if w not in STOP_WORDS]
    return all(stem(w) in squashed for w in words)


def _age_days(moment: datetime | None, now: datetime) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (now - moment).days


def _op(topic: TopicRequirement) -> EditOp:
    return EditOp(
        kind="append_section",
        title=topic.heading,
        content=topic.markdown(),
        content_format="markdown",
    )


def audit_page(
    item: AuditItem,
    rule: AuditRule,
    settings: AuditSettings,
    *,
    now: datetime,
    mode: Mode = "check",
    written_before: Sequence[str] = (),
) -> tuple[PageAudit, list[EditOp]]:
    """Audit one page read in bulk (pure: no request).

    Args:
        item: The page with its body (when the rule has topics), labels and dates.
        rule: The rule that selected it.
        settings: Audit-wide settings (owner label prefix).
        now: Reference instant for staleness.
        mode: ``propose`` also computes the diff of the sections to add.
        written_before: Headings an interrupted run meant to write on this page
            (from the checkpoint journal): found now, they are reported as applied.

    Returns:
        The page's audit and the edit operations that would fix its missing topics.
    """
    result = PageAudit(
        rule=item.rule,
        page_id=item.page_id,
        title=item.title,
        space_key=item.space_key,
        url=item.url,
        version=item.version,
    )
    ops: list[EditOp] = []
    if rule.topics:
        body = item.body or ""
        try:
            headings = [s.title for s in storage.list_sections(body)]
            text = storage.to_text(body)
        except storage.StorageFormatError as exc:
            result.status = "error"
            result.error = f"storage body does not parse: {exc}"
            return result, ops
        present = {storage.normalize_title(h) for h in headings}
        squashed = _squash(text + " " + " ".join(headings))
        for topic in rule.topics:
            if storage.normalize_title(topic.heading) in present:
                if topic.heading in written_before:
                    result.findings.append(
                        Finding(
                            kind="missing_topic",
                            topic=topic.topic,
                            detail=f"section {topic.heading!r} added by the interrupted run "
                            f"(now version {item.version})",
                            action="applied",
                        )
                    )
                continue
            if (
                _may_cover(topic.topic, squashed)
                and match_topic(topic.topic, text, headings).covered
            ):
                continue
            result.findings.append(
                Finding(
                    kind="missing_topic",
                    topic=topic.topic,
                    detail=f"does not cover {topic.topic!r}",
                )
            )
            ops.append(_op(topic))
    if rule.stale_after_days is not None:
        age = _age_days(item.last_modified, now)
        if age is not None and age > rule.stale_after_days:
            assert item.last_modified is not None
            result.findings.append(
                Finding(
                    kind="stale",
                    detail=f"not modified for {age} days (since "
                    f"{item.last_modified.date().isoformat()}; limit {rule.stale_after_days})",
                )
            )
    if rule.require_owner_label:
        prefix = settings.owner_label_prefix
        if not any(label.startswith(prefix) for label in item.labels):
            result.findings.append(
                Finding(kind="no_owner_label", detail=f"no owner label ({prefix}…)")
            )
    if any(f.action == "applied" for f in result.findings):
        result.version_after = item.version
    if ops and mode == "propose":
        try:
            proposed = apply_ops(item.body or "", ops)
        except (ValueError, LookupError) as exc:  # storage errors subclass these
            result.status = "error"
            result.error = f"cannot draft the section: {exc}"
            return result, ops
        result.diff = storage_diff(item.body or "", proposed.body)
        for finding in result.findings:
            if finding.kind == "missing_topic" and finding.action == "reported":
                finding.action = "proposed"
    if not result.findings:
        result.status = "clean"
    elif all(f.action == "applied" for f in result.findings):
        result.status = "fixed"
    else:
        result.status = "findings"
    return result, ops


# ------------------------------------------------------------------------------- journal


class AuditJournal:
    """Checkpoint journal: pages audited and writes intended, in a small SQLite file.

    Use :meth:`open`; the journal belongs to one config + mode (its fingerprint).
    """

    def __init__(self, conn: sqlite3.Connection, path: str, resumed: int) -> None:
        self._conn = conn
        self.path = path
        self.resumed = resumed

    @classmethod
    def open(cls, path: str | Path, fingerprint: str) -> AuditJournal:
        """Open or create the journal at ``path``.

        A completed journal is reset (the next scheduled run); an unfinished one is
        resumed if it belongs to the same config and mode.

        Raises:
            ConfigurationError: The file is not a journal, or belongs to another audit.
        """
        name = str(path)
        try:
            conn = sqlite3.connect(name, isolation_level=None)
            # WAL + NORMAL: a commit survives the process being killed, which is the
            # failure this journal is for, without an fsync per page.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS pages (
                    rule TEXT NOT NULL, page_id TEXT NOT NULL, result TEXT NOT NULL,
                    PRIMARY KEY (rule, page_id));
                CREATE TABLE IF NOT EXISTS intents (
                    rule TEXT NOT NULL, page_id TEXT NOT NULL, headings TEXT NOT NULL,
                    read_version INTEGER, PRIMARY KEY (rule, page_id));
                """
            )
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(f"checkpoint {name} is not an audit journal ({exc})") from None
        if meta.get("state") == "completed" or not meta:
            conn.executescript("DELETE FROM pages; DELETE FROM intents;")
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?), ('state', 'running')",
                (fingerprint,),
            )
            return cls(conn, name, 0)
        if meta.get("fingerprint") != fingerprint:
            conn.close()
            raise ConfigurationError(
                f"checkpoint {name} belongs to an unfinished run of another config or mode; "
                "finish that run or delete the file"
            )
        (count,) = conn.execute("SELECT count(*) FROM pages").fetchone()
        return cls(conn, name, int(count))

    def done(self, rule: str, page_id: str) -> PageAudit | None:
        """The recorded result of a page already audited, else ``None``."""
        row = self._conn.execute(
            "SELECT result FROM pages WHERE rule = ? AND page_id = ?", (rule, page_id)
        ).fetchone()
        if row is None:
            return None
        return PageAudit.model_validate_json(row[0]).model_copy(update={"resumed": True})

    def intended(self, rule: str, page_id: str) -> list[str]:
        """Headings an earlier run was about to write on this page."""
        row = self._conn.execute(
            "SELECT headings FROM intents WHERE rule = ? AND page_id = ?", (rule, page_id)
        ).fetchone()
        return list(json.loads(row[0])) if row else []

    def record_intent(
        self, rule: str, page_id: str, headings: Sequence[str], version: int | None
    ) -> None:
        """Record, before sending it, that a write is about to happen."""
        self._conn.execute(
            "INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?)",
            (rule, page_id, json.dumps(list(headings)), version),
        )

    def record(self, page: PageAudit) -> None:
        """Record a finished page (not failed ones: a re-run retries those)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO pages VALUES (?, ?, ?)",
            (page.rule, page.page_id, page.model_dump_json()),
        )

    def complete(self) -> None:
        """Mark the run finished: the next run with this file starts afresh."""
        self._conn.execute("UPDATE meta SET value = 'completed' WHERE key = 'state'")

    def close(self) -> None:
        """Close the file."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -------------------------------------------------------------------------------- engine


@dataclass
class _Run:
    config: AuditConfig
    client: AsyncConfluenceClient
    mode: Mode
    concurrency: int
    now: datetime
    journal: AuditJournal | None
    on_progress: ProgressCallback | None
    report: AuditReport
    writes: int = 0
    crash_after: int | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def emit(
        self, kind: Literal["total", "page", "message"], count: int = 0, detail: str = ""
    ) -> None:
        if self.on_progress is not None:
            self.on_progress(AuditProgress(kind, count, detail))

    # -- producers --------------------------------------------------------------------

    async def produce_rule(self, rule: AuditRule, queue: asyncio.Queue[AuditItem | None]) -> None:
        expand = ["content.version"]
        if rule.needs_body:
            expand.append("content.body.storage")
        if rule.require_owner_label:
            expand.append("content.metadata.labels")
        limit = self.config.audit.page_size
        if rule.needs_body:
            limit = min(limit, MAX_BODY_PAGE_SIZE)
        cursor: str | None = None
        seen = 0
        first = True
        try:
            while True:
                page = await self.client.search(
                    rule.cql, limit=limit, cursor=cursor, excerpt="none", expand=expand
                )
                if first and page.total_size is not None:
                    total = page.total_size
                    self.emit("total", min(total, rule.max_pages or total))
                first = False
                for hit in page.results:
                    item = AuditItem.from_search(rule.name, hit)
                    if item is None:
                        continue
                    if rule.max_pages is not None and seen >= rule.max_pages:
                        return
                    seen += 1
                    await queue.put(item)
                cursor = page.next_cursor
                if not cursor or not page.results:
                    return
        except ConfluenceError as exc:
            self.report.errors.append(f"rule {rule.name!r}: {exc}")
            self.emit("message", detail=f"rule {rule.name!r} stopped: {exc}")

    async def produce_drafts(self, check: DraftCheck) -> None:
        try:
            keys: dict[str, str] = {}
            space_ids: list[str] | None = None
            if check.spaces:
                spaces = await self.client.get_spaces(keys=check.spaces)
                keys = {s.id: s.key for s in spaces}
                missing = sorted(set(check.spaces) - set(keys.values()))
                if missing:
                    self.report.errors.append(f"drafts: unknown space(s) {', '.join(missing)}")
                space_ids = list(keys)
                if not space_ids:
                    return
            async for draft in self.client.aiter_pages(
                space_id=space_ids, status="draft", limit=250
            ):
                self.emit("total", 1)
                created = draft.created_at or draft.version.created_at
                age = _age_days(created, self.now)
                result = PageAudit(
                    rule="drafts",
                    page_id=draft.id,
                    title=draft.title,
                    space_key=keys.get(draft.space_id or ""),
                    url=draft.webui_url,
                    version=draft.version.number,
                )
                if age is not None and age > check.max_age_days:
                    assert created is not None
                    result.findings.append(
                        Finding(
                            kind="old_draft",
                            detail=f"draft since {created.date().isoformat()} ({age} days; "
                            f"limit {check.max_age_days})",
                        )
                    )
                    result.status = "findings"
                self.finish(result)
        except ConfluenceError as exc:
            self.report.errors.append(f"drafts: {exc}")

    # -- workers ----------------------------------------------------------------------

    def finish(self, result: PageAudit) -> None:
        self.report.pages.append(result)
        if self.journal is not None and result.status != "error" and not result.resumed:
            self.journal.record(result)
        self.emit("page", 1, result.title)

    async def worker(
        self, queue: asyncio.Queue[AuditItem | None], rules: dict[str, AuditRule]
    ) -> None:
        while (item := await queue.get()) is not None:
            try:
                await self.audit_one(item, rules[item.rule])
            except Exception as exc:  # one bad page must not stop the job
                self.finish(
                    PageAudit(
                        rule=item.rule,
                        page_id=item.page_id,
                        title=item.title,
                        url=item.url,
                        version=item.version,
                        status="error",
                        error=f"{type(exc).__name__}: {exc}",
                    )
                )

    async def audit_one(self, item: AuditItem, rule: AuditRule) -> None:
        if self.journal is not None:
            earlier = self.journal.done(item.rule, item.page_id)
            if earlier is not None:
                self.finish(earlier)
                return
        intended = self.journal.intended(item.rule, item.page_id) if self.journal else []
        # Parsing and matching are CPU work: yield first so network I/O keeps flowing.
        await asyncio.sleep(0)
        result, ops = audit_page(
            item, rule, self.config.audit, now=self.now, mode=self.mode, written_before=intended
        )
        if self.mode == "apply" and ops and result.status != "error":
            await self.write(item, result, ops)
        self.finish(result)

    async def write(self, item: AuditItem, result: PageAudit, ops: list[EditOp]) -> None:
        headings = [op.title or "" for op in ops]
        lock = self.locks.setdefault(item.page_id, asyncio.Lock())
        # Two rules may select the same page: one write at a time per page.
        async with lock:
            if self.journal is not None:
                self.journal.record_intent(item.rule, item.page_id, headings, item.version)
            try:
                outcome = await asafe_update(
                    self.client,
                    item.page_id,
                    ops,
                    read_version=item.version,
                    current=item.as_page(),
                    on_conflict="reapply",
                    message=f"Documentation audit ({item.rule}): add "
                    + ", ".join(repr(h) for h in headings),
                )
            except (ConfluenceError, ValueError, LookupError) as exc:
                result.status = "error"
                result.error = f"write failed: {exc}"
                for finding in result.findings:
                    if finding.kind == "missing_topic":
                        finding.action = "failed"
                return
        if outcome.changed:
            self.writes += 1
            if self.crash_after is not None and self.writes >= self.crash_after:
                os._exit(CRASH_EXIT_STATUS)
            result.version_after = outcome.new_version
            result.diff = outcome.diff
            note = ""
        else:
            note = f" (already present at version {outcome.new_version}, nothing sent)"
        result.conflicts = outcome.conflicts
        for finding in result.findings:
            if finding.kind == "missing_topic":
                finding.action = "applied"
                finding.detail += note
        result.status = (
            "fixed" if all(f.action == "applied" for f in result.findings) else "findings"
        )


def _crash_after() -> int | None:
    raw = os.environ.get(CRASH_AFTER_WRITES_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


async def arun_audit(
    config: AuditConfig,
    client: AsyncConfluenceClient,
    *,
    mode: Mode = "check",
    checkpoint: str | Path | None = None,
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> AuditReport:
    """Run an audit with an async client (see the module docstring).

    Args:
        config: The validated configuration.
        client: Async client; its rate-limit pacing is shared by all workers.
        mode: ``check``, ``propose`` or ``apply``.
        checkpoint: Journal file making the run resumable.
        concurrency: Pages in flight (default: the config's).
        on_progress: Progress callback (for a progress bar).
        now: Reference instant for staleness (default: now, UTC).

    Returns:
        The report; :attr:`AuditReport.exit_code` gives the job's exit status.

    Raises:
        ConfigurationError: The checkpoint belongs to another audit.
    """
    started = time.perf_counter()
    fingerprint = config.fingerprint(mode)
    report = AuditReport(
        name=config.audit.name,
        mode=mode,
        started_at=datetime.now(UTC),
        fingerprint=fingerprint,
    )
    journal = AuditJournal.open(checkpoint, fingerprint) if checkpoint else None
    before = client.stats.requests, client.stats.retries, client.stats.rate_limited
    width = max(1, concurrency or config.audit.concurrency)
    run = _Run(
        config=config,
        client=client,
        mode=mode,
        concurrency=width,
        now=now or datetime.now(UTC),
        journal=journal,
        on_progress=on_progress,
        report=report,
        crash_after=_crash_after(),
    )
    if journal is not None and journal.resumed:
        run.emit("message", detail=f"resuming: {journal.resumed} page(s) already audited")
    try:
        # A bounded queue keeps memory flat on large spaces (the search pager waits
        # for the workers instead of buffering every body); two result pages deep so
        # the next search request overlaps with auditing the previous page.
        queue: asyncio.Queue[AuditItem | None] = asyncio.Queue(
            maxsize=max(width * 4, 2 * config.audit.page_size)
        )
        rules = {r.name: r for r in config.rules}
        workers = [asyncio.create_task(run.worker(queue, rules)) for _ in range(width)]
        producers: list[Any] = [run.produce_rule(rule, queue) for rule in config.rules]
        if config.drafts is not None:
            producers.append(run.produce_drafts(config.drafts))
        await asyncio.gather(*producers)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        if journal is not None and not report.errors and not report.failed:
            journal.complete()
    finally:
        if journal is not None:
            journal.close()
    stats = client.stats
    report.requests = stats.requests - before[0]
    report.retries = stats.retries - before[1]
    report.rate_limited = stats.rate_limited - before[2]
    report.finished_at = datetime.now(UTC)
    report.duration_s = time.perf_counter() - started
    report.pages.sort(key=lambda p: (p.rule, p.title, p.page_id))
    return report


def run_audit(
    config: AuditConfig,
    *,
    client: AsyncConfluenceClient | None = None,
    confluence: ConfluenceConfig | None = None,
    mode: Mode = "check",
    checkpoint: str | Path | None = None,
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> AuditReport:
    """Synchronous :func:`arun_audit`; builds the async client from ``confluence`` or the env."""

    async def _main() -> AuditReport:
        if client is not None:
            return await arun_audit(
                config,
                client,
                mode=mode,
                checkpoint=checkpoint,
                concurrency=concurrency,
                on_progress=on_progress,
                now=now,
            )
        async with AsyncConfluenceClient(config=confluence or ConfluenceConfig.from_env()) as own:
            return await arun_audit(
                config,
                own,
                mode=mode,
                checkpoint=checkpoint,
                concurrency=concurrency,
                on_progress=on_progress,
                now=now,
            )

    return asyncio.run(_main())
