"""Configuration of the scheduled documentation audit (``confluence-agent audit CONFIG.toml``).

A config is a TOML file with an optional ``[audit]`` table, one ``[[rules]]`` array
and an optional ``[drafts]`` table::

    [audit]
    name = "Weekly documentation audit"
    concurrency = 4
    owner_label_prefix = "owner-"

    [[rules]]
    name = "billing-prds"
    cql = 'space = "PROD" and type = page and label = "prd"'
    stale_after_days = 365
    require_owner_label = true

      [[rules.topics]]
      topic = "Stripe webhook integration"
      section = '''
    Stripe calls our webhook endpoint for every payment event...
    '''

    [drafts]
    max_age_days = 30
    spaces = ["PROD"]

Everything is validated when the file is loaded (CQL included, with the local CQL
validator), so a typo fails the cron job at once with one line instead of halfway
through a run.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from confluence_agent.cql import format_problems
from confluence_agent.cql import validate as validate_cql
from confluence_agent.errors import ConfigurationError

__all__ = [
    "AuditConfig",
    "AuditRule",
    "AuditSettings",
    "DraftCheck",
    "TopicRequirement",
    "load_audit_config",
    "parse_audit_config",
]

# The search API returns at most 50 results per request when bodies are expanded.
MAX_BODY_PAGE_SIZE = 50


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt "stale_after_day" must not silently disable a check.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicRequirement(_Strict):
    """A topic every selected page must cover, and the section to add when it does not.

    Attributes:
        topic: What the page must cover, e.g. ``"Stripe webhook integration"``.
        section_title: Heading of the section to add (default: the topic).
        section: Section content in Markdown (default: a short template naming the topic).
    """

    topic: str = Field(min_length=1)
    section_title: str | None = None
    section: str | None = None

    @property
    def heading(self) -> str:
        """The heading the audit adds (and recognises as "already added")."""
        return (self.section_title or self.topic).strip()

    def markdown(self) -> str:
        """Section content to add, the configured text or an offline template."""
        if self.section and self.section.strip():
            return self.section.strip() + "\n"
        return (
            f"This section covers **{self.topic}**. It was added by the documentation audit "
            f"because the page did not address it yet.\n\n"
            f"- **Scope:** what {self.topic} includes.\n"
            f"- **Owner:** who maintains this section.\n"
            f"- **Open questions:** to be resolved by the owners.\n"
        )


class AuditRule(_Strict):
    """One selection of pages (CQL) and what each selected page must satisfy.

    Attributes:
        name: Rule name used in reports and the checkpoint journal.
        cql: CQL selecting the pages (validated locally when loaded).
        topics: Topics each page must cover; missing ones get a section in apply mode.
        stale_after_days: Report pages not modified for more than this many days.
        require_owner_label: Report pages without a label starting with the owner prefix.
        max_pages: Stop after this many pages (safety net for broad queries).
    """

    name: str = Field(min_length=1)
    cql: str = Field(min_length=1)
    topics: list[TopicRequirement] = Field(default_factory=list)
    stale_after_days: int | None = Field(default=None, ge=1)
    require_owner_label: bool = False
    max_pages: int | None = Field(default=None, ge=1)

    @field_validator("cql")
    @classmethod
    def _valid_cql(cls, value: str) -> str:
        problems = [p for p in validate_cql(value) if p.severity == "error"]
        if problems:
            raise ValueError("invalid CQL: " + " ".join(format_problems(problems).split()))
        return value

    @property
    def needs_body(self) -> bool:
        """Whether page bodies must be read (topic checks)."""
        return bool(self.topics)


class DraftCheck(_Strict):
    """Report drafts older than ``max_age_days`` (optionally only in ``spaces``)."""

    max_age_days: int = Field(ge=1)
    spaces: list[str] = Field(default_factory=list)


class AuditSettings(_Strict):
    """The ``[audit]`` table.

    Attributes:
        name: Title of the report.
        concurrency: Pages audited (and written) at the same time.
        owner_label_prefix: Label prefix that names a page's owner.
        page_size: Search results per request (bodies cap this at 50).
    """

    name: str = "Documentation audit"
    concurrency: int = Field(default=4, ge=1, le=64)
    owner_label_prefix: str = Field(default="owner-", min_length=1)
    page_size: int = Field(default=MAX_BODY_PAGE_SIZE, ge=1, le=250)


class AuditConfig(_Strict):
    """A whole audit configuration file."""

    audit: AuditSettings = Field(default_factory=AuditSettings)
    rules: list[AuditRule] = Field(default_factory=list)
    drafts: DraftCheck | None = None

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[AuditRule]) -> list[AuditRule]:
        names = [r.name for r in rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique (repeated: {', '.join(dupes)})")
        return rules

    def fingerprint(self, mode: str) -> str:
        """Stable digest of the config and mode: a checkpoint only resumes the same audit."""
        canonical = json.dumps(
            {"mode": mode, "config": self.model_dump(mode="json")}, sort_keys=True
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "config"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts[:5]) + (f" (+{len(parts) - 5} more)" if len(parts) > 5 else "")


def parse_audit_config(data: dict[str, Any], *, source: str = "config") -> AuditConfig:
    """Validate already-parsed TOML data.

    Raises:
        ConfigurationError: One line naming every problem (first five).
    """
    try:
        config = AuditConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: {_one_line(exc)}") from None
    if not config.rules and config.drafts is None:
        raise ConfigurationError(f"{source}: no [[rules]] and no [drafts]: nothing to audit")
    return config


def load_audit_config(path: str | Path) -> AuditConfig:
    """Read and validate an audit TOML file.

    Raises:
        ConfigurationError: Missing file, TOML syntax error or invalid settings.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read audit config {file}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{file}: TOML syntax error: {exc}") from None
    return parse_audit_config(data, source=str(file))
