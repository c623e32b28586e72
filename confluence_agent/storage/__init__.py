"""Confluence storage format: safe parsing, lossless section edits, macro guard, Markdown.

Public surface (see docs/architecture.md):

- :func:`parse_storage` validates a body (``StorageFormatError`` with line/column).
- :func:`list_sections`, :func:`find_section`, :func:`append_section`,
  :func:`insert_after_section`, :func:`replace_section` edit by heading while
  re-emitting every untouched byte unchanged.
- :func:`inventory`, :func:`check_preserved`, :func:`guard_edit` refuse edits that
  lose macros, layouts, mentions, images… outside the edited sections.
- :func:`to_markdown`, :func:`to_text` render for LLMs and matching;
  :func:`markdown_to_storage` converts LLM-written Markdown to storage.
"""

from confluence_agent.storage.errors import (
    MacroGuardError,
    SectionNotFoundError,
    StorageFormatError,
)
from confluence_agent.storage.from_markdown import markdown_to_storage
from confluence_agent.storage.guard import (
    GuardViolation,
    PreservedElement,
    check_preserved,
    guard_edit,
    inventory,
)
from confluence_agent.storage.parse import StorageDocument, is_valid_storage, parse_storage
from confluence_agent.storage.render import to_markdown, to_text
from confluence_agent.storage.sections import (
    EditResult,
    LayoutCell,
    Section,
    append_section,
    find_section,
    insert_after_section,
    list_layout_cells,
    list_sections,
    normalize_title,
    replace_section,
)

__all__ = [
    "EditResult",
    "GuardViolation",
    "LayoutCell",
    "MacroGuardError",
    "PreservedElement",
    "Section",
    "SectionNotFoundError",
    "StorageDocument",
    "StorageFormatError",
    "append_section",
    "check_preserved",
    "find_section",
    "guard_edit",
    "insert_after_section",
    "inventory",
    "is_valid_storage",
    "list_layout_cells",
    "list_sections",
    "markdown_to_storage",
    "normalize_title",
    "parse_storage",
    "replace_section",
    "to_markdown",
    "to_text",
]
