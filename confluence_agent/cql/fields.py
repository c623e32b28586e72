"""The CQL field and function table — the single source of truth.

Built from ``shared/reference/confluence-api.md`` §6 (Cloud): §6.2 fields and operators,
§6.3 functions, §6.4 quoting/reserved words, §6.5 ORDER BY, §6.6 GDPR user-field
changes.  The validator, the guidance text and the builder all read this module.

Field names are lower-case canonical names; aliases (``content`` → ``id``,
``favorite`` → ``favourite``) are listed on the canonical spec and resolved by
:func:`canonical_field_name`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "ALL_OPERATORS",
    "DATE_FUNCTIONS",
    "ENDPOINTS",
    "EQUALITY",
    "FIELDS",
    "FUNCTIONS",
    "LIST_OPERATORS",
    "NEGATIVE_OPERATORS",
    "RANGE",
    "RESERVED_CHARACTERS",
    "RESERVED_WORDS",
    "SORT_FIELDS",
    "TEXT_OPS",
    "Endpoint",
    "FieldSpec",
    "FieldType",
    "FunctionSpec",
    "ValueKind",
    "canonical_field_name",
    "canonical_function_name",
    "lookup_field",
    "lookup_function",
    "normalise_endpoint",
    "sort_fields_text",
    "suggest_field",
]


class FieldType(StrEnum):
    CONTENT = "CONTENT"
    DATE = "DATE"
    USER = "USER"
    STRING = "STRING"
    TEXT = "TEXT"
    SPACE = "SPACE"
    TYPE = "TYPE"
    PROPERTY = "PROPERTY"  # content.property[key].path — type set by the app's index schema


class ValueKind(StrEnum):
    """What a clause value must look like."""

    CONTENT_ID = "content-id"  # numeric content id
    DATE = "date"  # "yyyy/MM/dd HH:mm" | "yyyy-MM-dd HH:mm" | "yyyy/MM/dd" | "yyyy-MM-dd"
    ACCOUNT_ID = "account-id"  # Cloud accountId (DC: username)
    SPACE_KEY = "space-key"
    ENUM = "enum"  # one of FieldSpec.enum_values
    STRING = "string"  # exact token (label, macro name, ...)
    TEXT = "text"  # Lucene text-search syntax
    ANY = "any"


class Endpoint(StrEnum):
    SEARCH = "search"  # GET /wiki/rest/api/search
    CONTENT_SEARCH = "content_search"  # GET /wiki/rest/api/content/search
    USER_SEARCH = "user_search"  # GET /wiki/rest/api/search/user


ENDPOINTS: tuple[str, ...] = tuple(e.value for e in Endpoint)
_ENDPOINT_ALIASES = {
    "search": Endpoint.SEARCH,
    "/search": Endpoint.SEARCH,
    "rest/api/search": Endpoint.SEARCH,
    "content_search": Endpoint.CONTENT_SEARCH,
    "content/search": Endpoint.CONTENT_SEARCH,
    "rest/api/content/search": Endpoint.CONTENT_SEARCH,
    "user_search": Endpoint.USER_SEARCH,
    "search/user": Endpoint.USER_SEARCH,
    "rest/api/search/user": Endpoint.USER_SEARCH,
}


def normalise_endpoint(endpoint: str) -> Endpoint:
    key = endpoint.strip().lower().removeprefix("/wiki").strip("/")
    try:
        return _ENDPOINT_ALIASES[key]
    except KeyError:
        raise ValueError(
            f"unknown endpoint {endpoint!r}; use one of {', '.join(ENDPOINTS)}"
        ) from None


EQUALITY = frozenset({"=", "!=", "IN", "NOT IN"})
RANGE = frozenset({"=", "!=", ">", ">=", "<", "<="})
TEXT_OPS = frozenset({"~", "!~"})
ALL_OPERATORS = frozenset({"=", "!=", "~", "!~", ">", ">=", "<", "<=", "IN", "NOT IN"})
LIST_OPERATORS = frozenset({"IN", "NOT IN"})
NEGATIVE_OPERATORS = frozenset({"!=", "!~", "NOT IN"})

_CONTENT_SEARCH = frozenset({Endpoint.SEARCH, Endpoint.CONTENT_SEARCH})
_USER_SEARCH = frozenset({Endpoint.USER_SEARCH})


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str  # documented spelling, e.g. "currentUser"
    returns: str  # "user" | "date" | "space-list" | "content-list"
    min_args: int
    max_args: int
    arg_kind: str  # "increment" | "int" | "none"
    aliases: tuple[str, ...] = ()
    summary: str = ""

    @property
    def returns_list(self) -> bool:
        return self.returns.endswith("-list")


_DATE_FN_NAMES = (
    "now",
    "startOfDay",
    "startOfWeek",
    "startOfMonth",
    "startOfYear",
    "endOfDay",
    "endOfWeek",
    "endOfMonth",
    "endOfYear",
)
DATE_FUNCTIONS = frozenset(_DATE_FN_NAMES)

_FUNCTION_LIST: tuple[FunctionSpec, ...] = (
    FunctionSpec("currentUser", "user", 0, 0, "none", summary="the logged-in user"),
    *(
        FunctionSpec(n, "date", 0, 1, "increment", summary='optional "(+|-)nn(y|M|w|d|h|m)"')
        for n in _DATE_FN_NAMES
    ),
    FunctionSpec(
        "favouriteSpaces",
        "space-list",
        0,
        0,
        "none",
        aliases=("favoriteSpaces",),
        summary="the user's favourite spaces",
    ),
    FunctionSpec(
        "recentlyViewedContent",
        "content-list",
        1,
        2,
        "int",
        summary="recentlyViewedContent(limit[, offset])",
    ),
    FunctionSpec(
        "recentlyViewedSpaces", "space-list", 1, 1, "int", summary="recentlyViewedSpaces(limit)"
    ),
)

FUNCTIONS: MappingProxyType[str, FunctionSpec] = MappingProxyType(
    {f.name: f for f in _FUNCTION_LIST}
)
_FUNCTION_INDEX: dict[str, FunctionSpec] = {}
for _f in _FUNCTION_LIST:
    for _n in (_f.name, *_f.aliases):
        _FUNCTION_INDEX[_n.lower()] = _f


def lookup_function(name: str) -> FunctionSpec | None:
    """Case-insensitive function lookup (aliases included)."""
    return _FUNCTION_INDEX.get(name.lower())


def canonical_function_name(name: str) -> str:
    spec = _FUNCTION_INDEX.get(name.lower())
    if spec is None:
        return name
    # Keep a documented alias spelling (favoriteSpaces) rather than rewriting it.
    for n in (spec.name, *spec.aliases):
        if n.lower() == name.lower():
            return n
    return spec.name  # pragma: no cover


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One CQL field.

    ``name`` is the canonical lower-case name, ``display`` the documented spelling.
    ``operators`` lists the allowed operators; ``value_kind`` what a value must look
    like; ``functions`` the functions allowed on the right-hand side (canonical
    names); ``sortable`` whether ORDER BY may use it (False for multi-valued fields);
    ``endpoints`` where it is accepted; ``deprecated`` (error) / ``caveat`` (warning)
    explain Cloud changes, with ``hint`` the fix.
    """

    name: str
    display: str
    type: FieldType
    operators: frozenset[str]
    value_kind: ValueKind
    functions: frozenset[str] = frozenset()
    sortable: bool = False
    multi_valued: bool = False
    aliases: tuple[str, ...] = ()
    enum_values: tuple[str, ...] = ()
    endpoints: frozenset[Endpoint] = _CONTENT_SEARCH
    deprecated: str | None = None
    caveat: str | None = None
    hint: str = ""
    summary: str = ""
    in_guidance: bool = True

    def allows(self, op: str) -> bool:
        return op in self.operators


_USER_FUNCS = frozenset({"currentUser"})
_ACCOUNT_HINT = (
    'Cloud user fields take accountIds, e.g. creator = "5b10ac8d82e05b22cc7d4ef5", '
    "or currentUser(); look the accountId up via /wiki/rest/api/search/user"
)

_FIELD_LIST: tuple[FieldSpec, ...] = (
    FieldSpec(
        "ancestor",
        "ancestor",
        FieldType.CONTENT,
        EQUALITY,
        ValueKind.CONTENT_ID,
        frozenset({"recentlyViewedContent"}),
        multi_valued=True,
        summary="content id",
    ),
    FieldSpec(
        "id",
        "id",
        FieldType.CONTENT,
        EQUALITY,
        ValueKind.CONTENT_ID,
        frozenset({"recentlyViewedContent"}),
        sortable=True,
        aliases=("content",),
        summary="content id",
    ),
    FieldSpec(
        "parent",
        "parent",
        FieldType.CONTENT,
        EQUALITY,
        ValueKind.CONTENT_ID,
        frozenset({"recentlyViewedContent"}),
        summary="content id",
    ),
    FieldSpec(
        "container",
        "container",
        FieldType.CONTENT,
        EQUALITY,
        ValueKind.CONTENT_ID,
        summary="content contained in an id (e.g. a page's attachments)",
        in_guidance=False,
    ),
    FieldSpec(
        "created",
        "created",
        FieldType.DATE,
        RANGE,
        ValueKind.DATE,
        DATE_FUNCTIONS,
        sortable=True,
        summary="date",
    ),
    FieldSpec(
        "lastmodified",
        "lastmodified",
        FieldType.DATE,
        RANGE,
        ValueKind.DATE,
        DATE_FUNCTIONS,
        sortable=True,
        summary="date",
    ),
    FieldSpec(
        "creator",
        "creator",
        FieldType.USER,
        EQUALITY,
        ValueKind.ACCOUNT_ID,
        _USER_FUNCS,
        sortable=True,
        hint=_ACCOUNT_HINT,
        summary="accountId",
    ),
    FieldSpec(
        "contributor",
        "contributor",
        FieldType.USER,
        EQUALITY,
        ValueKind.ACCOUNT_ID,
        _USER_FUNCS,
        multi_valued=True,
        hint=_ACCOUNT_HINT,
        summary="accountId",
    ),
    FieldSpec(
        "mention",
        "mention",
        FieldType.USER,
        EQUALITY,
        ValueKind.ACCOUNT_ID,
        _USER_FUNCS,
        multi_valued=True,
        hint=_ACCOUNT_HINT,
        summary="accountId",
    ),
    FieldSpec(
        "watcher",
        "watcher",
        FieldType.USER,
        EQUALITY,
        ValueKind.ACCOUNT_ID,
        _USER_FUNCS,
        multi_valued=True,
        hint=_ACCOUNT_HINT,
        summary="accountId",
    ),
    FieldSpec(
        "favourite",
        "favourite",
        FieldType.USER,
        EQUALITY,
        ValueKind.ACCOUNT_ID,
        _USER_FUNCS,
        multi_valued=True,
        aliases=("favorite",),
        caveat="only the logged-in user's favourites are searchable",
        hint="use favourite = currentUser()",
        summary="currentUser() only",
        in_guidance=False,
    ),
    FieldSpec(
        "label",
        "label",
        FieldType.STRING,
        EQUALITY,
        ValueKind.STRING,
        multi_valued=True,
        summary="label name",
    ),
    FieldSpec(
        "macro",
        "macro",
        FieldType.STRING,
        EQUALITY,
        ValueKind.STRING,
        multi_valued=True,
        summary="macro name, e.g. jira",
        in_guidance=False,
    ),
    FieldSpec(
        "space",
        "space",
        FieldType.SPACE,
        EQUALITY,
        ValueKind.SPACE_KEY,
        frozenset({"favouriteSpaces", "recentlyViewedSpaces"}),
        sortable=True,
        summary="space key",
    ),
    FieldSpec(
        "space.key",
        "space.key",
        FieldType.STRING,
        EQUALITY,
        ValueKind.SPACE_KEY,
        sortable=True,
        summary="space key",
        in_guidance=False,
    ),
    FieldSpec(
        "space.title", "space.title", FieldType.TEXT, TEXT_OPS, ValueKind.TEXT, summary="space name"
    ),
    FieldSpec(
        "space.type",
        "space.type",
        FieldType.TYPE,
        EQUALITY,
        ValueKind.ENUM,
        enum_values=("personal", "global", "favourite", "favorite"),
        in_guidance=False,
    ),
    FieldSpec(
        "space.category",
        "space.category",
        FieldType.STRING,
        EQUALITY,
        ValueKind.STRING,
        in_guidance=False,
    ),
    FieldSpec(
        "title",
        "title",
        FieldType.TEXT,
        frozenset({"=", "!=", "~", "!~", "IN", "NOT IN"}),
        ValueKind.TEXT,
        sortable=True,
        summary="= exact, ~ text",
    ),
    FieldSpec(
        "text", "text", FieldType.TEXT, TEXT_OPS, ValueKind.TEXT, summary="title + body + labels"
    ),
    FieldSpec(
        "type",
        "type",
        FieldType.TYPE,
        EQUALITY,
        ValueKind.ENUM,
        sortable=True,
        enum_values=(
            "page",
            "blogpost",
            "comment",
            "attachment",
            "whiteboard",
            "database",
            "embed",
            "folder",
            "space",
            "user",
        ),
        summary="page, blogpost, comment, attachment, folder, ...",
    ),
    FieldSpec(
        "pagestatus",
        "pageStatus",
        FieldType.TEXT,
        EQUALITY,
        ValueKind.STRING,
        summary='status lozenge, e.g. "Rough draft"',
        in_guidance=False,
    ),
    FieldSpec(
        "sitesearch",
        "siteSearch",
        FieldType.TEXT,
        frozenset({"~"}),
        ValueKind.TEXT,
        summary="the UI's relevance search",
        in_guidance=False,
    ),
    # Visibility-dependent name matches (Cloud doc example uses creator.fullname).
    *(
        FieldSpec(
            f"{u}.fullname",
            f"{u}.fullname",
            FieldType.TEXT,
            TEXT_OPS,
            ValueKind.TEXT,
            caveat="name matching depends on each user's profile visibility and may miss people",
            hint=f'prefer {u} = "<accountId>" (exact) when you know the accountId',
            in_guidance=False,
        )
        for u in ("creator", "contributor", "mention")
    ),
    # /wiki/rest/api/search/user only.
    FieldSpec(
        "user",
        "user",
        FieldType.USER,
        frozenset({"=", "IN"}),
        ValueKind.ACCOUNT_ID,
        _USER_FUNCS,
        endpoints=_USER_SEARCH,
        in_guidance=False,
    ),
    FieldSpec(
        "user.fullname",
        "user.fullname",
        FieldType.TEXT,
        frozenset({"~"}),
        ValueKind.TEXT,
        endpoints=_USER_SEARCH,
        in_guidance=False,
    ),
    FieldSpec(
        "user.accountid",
        "user.accountid",
        FieldType.USER,
        frozenset({"=", "IN"}),
        ValueKind.ACCOUNT_ID,
        endpoints=_USER_SEARCH,
        in_guidance=False,
    ),
    FieldSpec(
        "user.userkey",
        "user.userkey",
        FieldType.USER,
        frozenset({"=", "IN"}),
        ValueKind.ANY,
        endpoints=_USER_SEARCH,
        deprecated="userKeys were removed from Cloud APIs (GDPR migration, 2019)",
        hint='use user.accountid = "<accountId>"',
        in_guidance=False,
    ),
)

FIELDS: MappingProxyType[str, FieldSpec] = MappingProxyType({f.name: f for f in _FIELD_LIST})
_FIELD_INDEX: dict[str, FieldSpec] = {}
for _s in _FIELD_LIST:
    for _n in (_s.name, *_s.aliases):
        _FIELD_INDEX[_n.lower()] = _s

PROPERTY_PREFIX = "content.property["

#: §6.5 — the sort fields suggested in hints and guidance (the commonly used ones; every
#: one is single-valued and ``sortable`` in the table above).
SORT_FIELDS: tuple[str, ...] = ("created", "lastmodified", "title", "space")


def sort_fields_text() -> str:
    """``"created, lastmodified, title or space"``, from :data:`SORT_FIELDS`."""
    names = [FIELDS[name].display for name in SORT_FIELDS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def canonical_field_name(name: str) -> str:
    """Lower-case canonical name; aliases resolved (``content`` → ``id``)."""
    if name.lower().startswith(PROPERTY_PREFIX):
        head, _, rest = name.partition("[")
        return head.lower() + "[" + rest
    spec = _FIELD_INDEX.get(name.lower())
    return spec.name if spec is not None else name.lower()


def lookup_field(name: str) -> FieldSpec | None:
    """Case-insensitive field lookup (aliases included); None if unknown.

    ``content.property[key].path`` fields get a permissive PROPERTY spec (their type
    comes from the app's index schema, which we cannot see).
    """
    low = name.lower()
    if low.startswith(PROPERTY_PREFIX):
        return _PROPERTY_SPEC
    return _FIELD_INDEX.get(low)


_PROPERTY_SPEC = FieldSpec(
    "content.property",
    "content.property[key].path",
    FieldType.PROPERTY,
    ALL_OPERATORS,
    ValueKind.ANY,
    frozenset(FUNCTIONS),
    sortable=True,
    in_guidance=False,
)

#: Names LLMs (and JQL habits) use for fields that do not exist, with the fix.
FIELD_MISTAKES: MappingProxyType[str, str] = MappingProxyType(
    {
        "author": "creator",
        "owner": "creator",
        "createdby": "creator",
        "created_by": "creator",
        "reporter": "creator",
        "assignee": "contributor",
        "editor": "contributor",
        "modifier": "contributor",
        "updated": "lastmodified",
        "modified": "lastmodified",
        "lastupdated": "lastmodified",
        "last_modified": "lastmodified",
        "updatedate": "lastmodified",
        "createddate": "created",
        "createdate": "created",
        "spacekey": "space",
        "space_key": "space",
        "spacename": "space.title",
        "labels": "label",
        "tag": "label",
        "tags": "label",
        "name": "title",
        "pagetitle": "title",
        "body": "text",
        "content.body": "text",
        "summary": "text",
        "description": "text",
        "contenttype": "type",
        "content_type": "type",
        "pageid": "id",
        "page_id": "id",
        "contentid": "id",
        "parentid": "parent",
        "parent_id": "parent",
        "ancestorid": "ancestor",
        "watchers": "watcher",
        "mentions": "mention",
        "contributors": "contributor",
        "favorites": "favourite",
        "favourites": "favourite",
    }
)

#: Field names that are not CQL fields at all, with what to do instead.
NOT_A_FIELD: MappingProxyType[str, str] = MappingProxyType(
    {
        "status": 'content status is not a CQL field; pass cqlcontext={"contentStatuses":[...]} '
        "(for the status lozenge use pageStatus)",
        "project": "project is a Jira (JQL) field; Confluence content lives in spaces: "
        'use space = "KEY"',
    }
)


def suggest_field(name: str) -> str | None:
    """Best replacement for an unknown field name, or None."""
    low = name.lower()
    if low in FIELD_MISTAKES:
        return FIELDS[FIELD_MISTAKES[low]].display
    candidates = {n: s.display for n, s in _FIELD_INDEX.items()}
    close = difflib.get_close_matches(low, list(candidates), n=1, cutoff=0.6)
    return candidates[close[0]] if close else None


#: §6.4 — must be quoted when used in a value.
RESERVED_CHARACTERS = frozenset(" +.,;?|*/%^$#@[]")
RESERVED_WORDS = frozenset(
    [
        "after",
        "and",
        "as",
        "avg",
        "before",
        "begin",
        "by",
        "commit",
        "contains",
        "count",
        "distinct",
        "else",
        "empty",
        "end",
        "explain",
        "from",
        "having",
        "if",
        "in",
        "inner",
        "insert",
        "into",
        "is",
        "isnull",
        "left",
        "like",
        "limit",
        "max",
        "min",
        "not",
        "null",
        "or",
        "order",
        "outer",
        "right",
        "select",
        "sum",
        "then",
        "was",
        "where",
        "update",
    ]
)
