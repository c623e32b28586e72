"""Short CQL guidance for tool descriptions and agent prompts, generated from the field
table so it never drifts from what the validator enforces."""

from __future__ import annotations

from functools import lru_cache

from confluence_agent.cql.fields import (
    DATE_FUNCTIONS,
    FIELDS,
    FUNCTIONS,
    RESERVED_CHARACTERS,
    FieldSpec,
    FieldType,
    sort_fields_text,
)

__all__ = ["GUIDANCE_EXAMPLES", "guidance_text"]

_OP_ORDER = ("=", "!=", "~", "!~", ">", ">=", "<", "<=", "IN", "NOT IN")

#: Worked examples (each one validates cleanly; see tests/unit_tests/test_cql_guidance.py).
GUIDANCE_EXAMPLES: tuple[tuple[str, str], ...] = (
    ('title ~ "Q3 Billing Engine PRD"', "page by title words"),
    ('space = "ENG" AND text ~ "Datadog logging guidelines"', "text search in one space"),
    ('title = "Q3 Billing Engine PRD" AND type = page', "exact title"),
    ('type = page AND label IN ("prd", "spec") ORDER BY lastmodified DESC', "labels, newest first"),
    ('type = page AND lastmodified >= now("-4w") AND creator = currentUser()', "my recent pages"),
    ('ancestor = 123456 AND (title ~ "runbook" OR text ~ "on-call")', "under a page, OR grouped"),
    ('type = page AND space = "ENG" AND label != "archived"', "negative clause not first"),
    ('text ~ "\\"exact phrase\\"" AND created >= "2024-01-01"', "exact phrase, date"),
)


def _ops(spec: FieldSpec) -> str:
    return " ".join(o for o in _OP_ORDER if o in spec.operators)


@lru_cache(maxsize=1)
def guidance_text() -> str:
    """CQL rules and examples for an LLM, well under 2,500 characters."""
    groups: dict[tuple[str, str], list[str]] = {}
    for spec in FIELDS.values():
        if not spec.in_guidance:
            continue
        note = spec.summary
        if spec.functions and spec.type != FieldType.DATE:
            note += "; " + ", ".join(f"{f}()" for f in sorted(spec.functions))
        groups.setdefault((_ops(spec), note), []).append(spec.display)
    field_lines = [
        f"- {', '.join(names)}: {ops}" + (f" ({note})" if note else "")
        for (ops, note), names in groups.items()
    ]
    starts = "/".join(n.removeprefix("startOf") for n in FUNCTIONS if n.startswith("startOf"))
    date_fns = f"now(), startOf{starts}(), endOf{starts}()"
    assert all(
        n in DATE_FUNCTIONS
        for n in ("now", *(f"{p}Of{u}" for p in ("start", "end") for u in starts.split("/")))
    )
    reserved = " ".join(sorted(RESERVED_CHARACTERS - {" "}))
    multi_valued = ", ".join(s.display for s in FIELDS.values() if s.multi_valued and s.in_guidance)
    lines = [
        "CQL: clause = field operator value; join with AND / OR / NOT and parentheses; "
        "optional `ORDER BY field [ASC|DESC], ...` at the end. Keywords are case-insensitive.",
        "Fields (operators):",
        *field_lines,
        f'Dates: "yyyy-MM-dd", "yyyy-MM-dd HH:mm" or {date_fns} with optional increment, '
        'e.g. now("-4w") (units y M w d h m).',
        "Rules:",
        '- Quote values with "...": always safe, required for spaces, reserved characters '
        f"({reserved}) and reserved words (and, or, not, in, order, by, is, null, ...).",
        '- Inside quotes escape " as \\" and \\ as \\\\.',
        "- User fields take accountIds or currentUser(), never usernames, emails or display names.",
        "- ~ is word search (any order); * and ? wildcards are allowed but never as the first "
        'character; exact phrase: text ~ "\\"two words\\"".',
        "- Mixed AND/OR is evaluated left to right: always add parentheses.",
        "- The first clause must be positive (not NOT, !=, !~, NOT IN).",
        f"- ORDER BY {sort_fields_text()}; never a multi-valued field ({multi_valued}).",
        "- Ancestor/id/parent take numeric content ids; space takes a space KEY.",
        "Examples:",
        *(f"{q}  -- {why}" for q, why in GUIDANCE_EXAMPLES),
    ]
    return "\n".join(lines)
