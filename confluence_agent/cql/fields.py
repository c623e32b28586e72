"""CQL field table (stub — being filled in)."""

from __future__ import annotations

ALIASES: dict[str, str] = {"content": "id", "favorite": "favourite"}


def canonical_field_name(name: str) -> str:
    low = name.lower()
    return ALIASES.get(low, low)


def canonical_function_name(name: str) -> str:
    return name
