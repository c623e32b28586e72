"""Exceptions raised by the storage-format package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confluence_agent.storage.guard import GuardViolation


class StorageFormatError(ValueError):
    """Storage XHTML that Confluence would reject (not well-formed).

    Attributes:
        message: Human readable description, in the spirit of Confluence's
            ``Error parsing xhtml: …`` messages.
        line: 1-based line in the caller's original text.
        column: 1-based column in the caller's original text.
    """

    def __init__(self, message: str, line: int, column: int) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(f"Error parsing xhtml: {message} at [row,col]: [{line},{column}]")


class SectionNotFoundError(LookupError):
    """No section has the requested heading.

    Attributes:
        title: The title that was looked up.
        available: Titles of the sections that do exist (to help an LLM retry).
    """

    def __init__(self, title: str, available: Sequence[str]) -> None:
        self.title = title
        self.available = tuple(available)
        shown = ", ".join(repr(t) for t in self.available[:30]) or "none"
        super().__init__(f"No section titled {title!r}. Sections on the page: {shown}")

    def __str__(self) -> str:
        # LookupError/KeyError-style repr quoting would hide the hint otherwise.
        return str(self.args[0])


class MacroGuardError(ValueError):
    """An edit would lose or alter preserved elements outside the edited sections.

    Attributes:
        violations: What vanished or changed, one entry per element.
    """

    def __init__(self, violations: Sequence[GuardViolation]) -> None:
        self.violations = tuple(violations)
        lines = [v.describe() for v in self.violations[:20]]
        more = len(self.violations) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__(
            "Refusing a lossy edit: elements outside the edited sections would be lost or "
            "altered:\n" + "\n".join(f"- {line}" for line in lines)
        )
