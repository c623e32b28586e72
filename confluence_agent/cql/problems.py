"""Structured CQL problems and the syntax-error exception."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CQLProblem", "CQLSyntaxError", "Severity", "format_problems"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class CQLProblem:
    """One problem found in a CQL query.

    ``offset`` is the 0-based character offset of the offending text, ``line`` and
    ``column`` are 1-based, ``length`` is the length of ``text`` (the offending source
    text).  ``message`` says what is wrong, ``hint`` gives a concrete fix.
    """

    code: str
    message: str
    hint: str
    severity: Severity
    text: str
    offset: int
    line: int
    column: int
    length: int = 0

    @property
    def is_error(self) -> bool:
        return self.severity == Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}"
        snippet = f" `{_clip(self.text)}`" if self.text else ""
        fix = f" Fix: {self.hint}" if self.hint else ""
        return f"{self.severity.value} at {where}{snippet}: {self.message}{fix}"


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CQLSyntaxError(ValueError):
    """The query cannot be parsed.  ``problems`` holds at least one error."""

    def __init__(self, problems: Sequence[CQLProblem]) -> None:
        self.problems: tuple[CQLProblem, ...] = tuple(problems)
        super().__init__(format_problems(self.problems))


def format_problems(problems: Iterable[CQLProblem], *, limit: int = 10) -> str:
    """Render problems for an LLM tool result: short, one line per problem, errors first."""
    items = sorted(problems, key=lambda p: (p.severity != Severity.ERROR, p.offset))
    if not items:
        return "CQL OK: no problems found."
    n_err = sum(1 for p in items if p.is_error)
    n_warn = len(items) - n_err
    parts = []
    if n_err:
        parts.append(f"{n_err} error{'s' if n_err != 1 else ''}")
    if n_warn:
        parts.append(f"{n_warn} warning{'s' if n_warn != 1 else ''}")
    head = "CQL rejected (not sent): " if n_err else "CQL accepted with "
    lines = [head + ", ".join(parts) + "."]
    for i, p in enumerate(items[:limit], 1):
        lines.append(f"{i}. {p}")
    if len(items) > limit:
        lines.append(f"... and {len(items) - limit} more.")
    return "\n".join(lines)
