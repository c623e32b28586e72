"""Results of a documentation audit: findings per page, JSON and Markdown reports, exit code."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "AuditReport",
    "Finding",
    "FindingKind",
    "Mode",
    "PageAudit",
    "exit_code_for",
]

Mode = Literal["check", "propose", "apply"]
FindingKind = Literal["missing_topic", "stale", "no_owner_label", "old_draft"]
Action = Literal["reported", "proposed", "applied", "failed"]
PageStatus = Literal["clean", "findings", "fixed", "error"]

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERRORS = 2


class Finding(BaseModel):
    """One problem found on one page.

    Attributes:
        kind: ``missing_topic``, ``stale``, ``no_owner_label`` or ``old_draft``.
        detail: One human-readable line.
        topic: The missing topic (``missing_topic`` only).
        action: What the audit did: ``reported`` (check), ``proposed`` (diff computed),
            ``applied`` (section written) or ``failed``.
    """

    kind: FindingKind
    detail: str
    topic: str | None = None
    action: Action = "reported"


class PageAudit(BaseModel):
    """The audit of one page under one rule.

    Attributes:
        rule: Rule name (``"drafts"`` for the draft check).
        version: Version read; ``version_after`` is set when the audit wrote the page.
        diff: Unified storage diff of the proposed/applied change.
        resumed: Taken from the checkpoint journal of an interrupted run.
    """

    rule: str
    page_id: str
    title: str
    space_key: str | None = None
    url: str | None = None
    version: int | None = None
    version_after: int | None = None
    status: PageStatus = "clean"
    findings: list[Finding] = Field(default_factory=list)
    diff: str = ""
    error: str | None = None
    conflicts: int = 0
    resumed: bool = False


class AuditReport(BaseModel):
    """Everything a run found and did; serialisable to JSON and Markdown."""

    name: str
    mode: Mode
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float = 0.0
    fingerprint: str = ""
    pages: list[PageAudit] = Field(default_factory=list)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: list[str] = Field(default_factory=list)

    # -- summaries ------------------------------------------------------------------

    @property
    def findings(self) -> list[tuple[PageAudit, Finding]]:
        """Every finding with its page."""
        return [(p, f) for p in self.pages for f in p.findings]

    @property
    def open_findings(self) -> list[tuple[PageAudit, Finding]]:
        """Findings the run did not fix."""
        return [(p, f) for p, f in self.findings if f.action != "applied"]

    @property
    def written(self) -> list[PageAudit]:
        """Pages this run (or the interrupted run it resumed) wrote."""
        return [p for p in self.pages if p.version_after is not None]

    @property
    def failed(self) -> list[PageAudit]:
        """Pages whose audit or write failed."""
        return [p for p in self.pages if p.status == "error"]

    @property
    def counts(self) -> dict[str, int]:
        """Findings per kind."""
        return dict(Counter(f.kind for _, f in self.findings))

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings (check/propose), 2 errors.

        In apply mode only errors fail the job: what could be fixed was, and the
        rest (stale pages, missing owners) is in the report for people to act on.
        """
        return exit_code_for(self)

    # -- output ---------------------------------------------------------------------

    def to_json(self) -> str:
        """The report as indented JSON (summary first, then pages)."""
        payload = {
            "summary": {
                "pages": len(self.pages),
                "findings": len(self.findings),
                "open_findings": len(self.open_findings),
                "by_kind": self.counts,
                "written": len(self.written),
                "failed": len(self.failed),
                "resumed": sum(1 for p in self.pages if p.resumed),
                "exit_code": self.exit_code,
            },
            **self.model_dump(mode="json"),
        }
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        """A Markdown report: summary table, findings per rule, diffs collapsed."""
        lines = [
            f"# {self.name}",
            "",
            "| | |",
            "|---|---|",
            f"| Mode | `{self.mode}` |",
            f"| Started | {self.started_at.isoformat(timespec='seconds')} |",
            f"| Duration | {self.duration_s:.1f} s |",
            f"| Pages audited | {len(self.pages)} |",
            f"| Findings | {len(self.findings)} ({len(self.open_findings)} open) |",
            f"| Pages written | {len(self.written)} |",
            f"| Errors | {len(self.failed) + len(self.errors)} |",
            f"| HTTP requests | {self.requests} (429 received: {self.rate_limited}) |",
            "",
        ]
        if self.counts:
            lines += ["| Finding | Count |", "|---|---|"]
            lines += [f"| {kind} | {n} |" for kind, n in sorted(self.counts.items())]
            lines.append("")
        for message in self.errors:
            lines.append(f"> **Error:** {message}")
        if self.errors:
            lines.append("")
        rules = list(dict.fromkeys(p.rule for p in self.pages))
        for rule in rules:
            pages = [p for p in self.pages if p.rule == rule and (p.findings or p.error)]
            total = sum(1 for p in self.pages if p.rule == rule)
            lines += [f"## Rule `{rule}`", "", f"{total} page(s), {len(pages)} with findings."]
            if pages:
                lines += ["", "| Page | Finding | Action |", "|---|---|---|"]
                for page in pages:
                    link = f"[{_cell(page.title)}]({page.url})" if page.url else _cell(page.title)
                    for f in page.findings:
                        lines.append(f"| {link} | {_cell(f.detail)} | {f.action} |")
                    if page.error:
                        lines.append(f"| {link} | error: {_cell(page.error)} | failed |")
                for page in pages:
                    if page.diff:
                        version = (
                            f"version {page.version} → {page.version_after}"
                            if page.version_after
                            else f"proposed on version {page.version}"
                        )
                        lines += [
                            "",
                            f"<details><summary>{_cell(page.title)}: {version}</summary>",
                            "",
                            "```diff",
                            page.diff.rstrip("\n"),
                            "```",
                            "",
                            "</details>",
                        ]
            lines.append("")
        return "\n".join(lines).rstrip("\n") + "\n"

    def write(
        self, *, json_path: str | Path | None = None, md_path: str | Path | None = None
    ) -> None:
        """Write the JSON and/or Markdown report files."""
        if json_path:
            Path(json_path).write_text(self.to_json(), encoding="utf-8")
        if md_path:
            Path(md_path).write_text(self.to_markdown(), encoding="utf-8")


def _cell(text: str) -> str:
    # Table cells: pipes and newlines would break the row.
    return text.replace("|", "\\|").replace("\n", " ")


def exit_code_for(report: AuditReport) -> int:
    """Exit code of a finished audit for cron/CI (see :attr:`AuditReport.exit_code`)."""
    if report.errors or report.failed:
        return EXIT_ERRORS
    if report.mode != "apply" and report.findings:
        return EXIT_FINDINGS
    return EXIT_CLEAN
