"""Typed views of Confluence responses.

Attributes are snake_case; the API's camelCase names are accepted as aliases,
and unknown fields are kept (``extra="allow"``) so nothing the server sends is
lost. Ids are always strings, as in v2 (v1 sometimes sends numbers).

Absolute browser links (``webui_url``) are built from ``_links.base`` of the
object or of its envelope; the client passes the envelope's base as validation
context ``{"base": ...}``.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "ChildPage",
    "ConfluenceModel",
    "Label",
    "Page",
    "PageList",
    "PageVersion",
    "SearchContent",
    "SearchPage",
    "SearchResult",
    "Space",
    "User",
    "Version",
]


class ConfluenceModel(BaseModel):
    """Base of all response models: camelCase aliases, extra fields kept, ids as str."""

    model_config = ConfigDict(
        extra="allow",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        coerce_numbers_to_str=True,
    )

    links: dict[str, Any] = Field(default_factory=dict, alias="_links")


def _absolute(base: str | None, path: str | None) -> str | None:
    if not path:
        return None
    if path.startswith(("http://", "https://")):
        return path
    if not base:
        return None
    return base.rstrip("/") + "/" + path.lstrip("/")


def _context_base(data: dict[str, Any], info: ValidationInfo) -> str | None:
    links = data.get("_links") or data.get("links") or {}
    base = links.get("base") if isinstance(links, dict) else None
    if not base and isinstance(info.context, dict):
        base = info.context.get("base")
    return base if isinstance(base, str) else None


def _set_webui_url(data: dict[str, Any], info: ValidationInfo) -> None:
    """Fill ``webui_url`` from ``_links.webui`` (absolute, from ``_links.base``) unless given."""
    if "webui_url" not in data:
        links = data.get("_links") or {}
        data["webui_url"] = _absolute(_context_base(data, info), links.get("webui"))


def _flatten_storage(data: dict[str, Any]) -> None:
    if "body_storage" in data or "bodyStorage" in data:
        return
    body = data.get("body")
    if isinstance(body, dict):
        storage = body.get("storage")
        if isinstance(storage, dict) and isinstance(storage.get("value"), str):
            data["body_storage"] = storage["value"]


def _results(collection: Any) -> Any:
    # v2 embeds collections as {"results": [...], "meta": {...}}; v1 as {"results": [...]}.
    if isinstance(collection, dict):
        return collection.get("results", [])
    return collection


class Version(ConfluenceModel):
    """A content version (v2 ``Version``; v1's ``when``/``by`` shapes are accepted).

    Attributes:
        number: Version number; an update must send ``number + 1``.
    """

    number: int
    created_at: datetime | None = Field(
        default=None, validation_alias=AliasChoices("createdAt", "created_at", "when")
    )
    author_id: str | None = None
    message: str | None = None
    minor_edit: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _v1_author(cls, data: Any) -> Any:
        if isinstance(data, dict) and "authorId" not in data and "author_id" not in data:
            by = data.get("by")
            if isinstance(by, dict) and by.get("accountId"):
                data = {**data, "authorId": by["accountId"]}
        return data


class Label(ConfluenceModel):
    """A content label."""

    id: str | None = None
    name: str
    prefix: str | None = None


class Page(ConfluenceModel):
    """A v2 page (``PageSingle`` / ``PageBulk``).

    Attributes:
        version: Current version; send ``version.number + 1`` when updating.
        body_storage: Storage-format XHTML when requested (``body-format=storage``).
        labels: Labels when requested with ``include_labels=True``.
        webui_url: Absolute browser URL.
    """

    id: str
    status: str | None = None
    title: str
    space_id: str | None = None
    parent_id: str | None = None
    parent_type: str | None = None
    author_id: str | None = None
    owner_id: str | None = None
    created_at: datetime | None = None
    version: Version
    body: dict[str, Any] = Field(default_factory=dict)
    body_storage: str | None = None
    labels: list[Label] = Field(default_factory=list)
    webui_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        _flatten_storage(data)
        if "labels" in data:
            data["labels"] = _results(data["labels"])
        if "webuiUrl" not in data:
            _set_webui_url(data, info)
        return data


class PageList(ConfluenceModel):
    """One page of ``GET /pages`` results.

    Attributes:
        next_cursor: Cursor for the next page, ``None`` on the last page.
        next_link: The server's opaque ``_links.next`` (what iterators follow).
    """

    results: list[Page]
    next_cursor: str | None = None
    next_link: str | None = None


class SearchContent(ConfluenceModel):
    """The ``content`` object of a CQL search hit (v1 ``Content``)."""

    id: str
    type: str | None = None
    status: str | None = None
    title: str | None = None
    space_key: str | None = None
    version: Version | None = None
    body_storage: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        _flatten_storage(data)
        space = data.get("space")
        if isinstance(space, dict) and "space_key" not in data:
            data["space_key"] = space.get("key")
        return data


_HIGHLIGHT = re.compile(r"@@@(?:end)?hl@@@")
_SPACE_URL = re.compile(r"/spaces/([^/?#]+)")


class SearchResult(ConfluenceModel):
    """One CQL search hit.

    Attributes:
        id: Content id (or space key / account id for space / user hits).
        type: ``page``, ``blogpost``, ``attachment``, ``comment``, ``space`` …
        excerpt: Server excerpt; with ``excerpt="highlight"`` it holds
            ``@@@hl@@@`` markers and HTML escapes (see :attr:`excerpt_text`).
        url: Site-relative URL as returned (``/spaces/KEY/pages/ID/Title``).
        webui_url: Absolute browser URL.
        space_key: Key of the containing space, when known.
        last_modified: Last modification time.
        content: The content object for content hits.
    """

    id: str | None = None
    type: str | None = None
    title: str = ""
    excerpt: str = ""
    url: str | None = None
    webui_url: str | None = None
    space_key: str | None = None
    last_modified: datetime | None = None
    entity_type: str | None = None
    content: SearchContent | None = None

    @property
    def excerpt_text(self) -> str:
        """The excerpt without highlight markers and HTML escapes."""
        return html.unescape(_HIGHLIGHT.sub("", self.excerpt))

    @property
    def title_text(self) -> str:
        """The title without highlight markers and HTML escapes."""
        return html.unescape(_HIGHLIGHT.sub("", self.title))

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        content = data.get("content")
        space = data.get("space")
        user = data.get("user")
        if isinstance(content, dict):
            data.setdefault("id", content.get("id"))
            data.setdefault("type", content.get("type"))
            content_space = content.get("space")
            if isinstance(content_space, dict) and content_space.get("key"):
                data.setdefault("space_key", content_space["key"])
        elif isinstance(space, dict):
            data.setdefault("id", space.get("key"))
            data.setdefault("type", "space")
            data.setdefault("space_key", space.get("key"))
        elif isinstance(user, dict):
            data.setdefault("id", user.get("accountId"))
            data.setdefault("type", "user")
        if data.get("space_key") is None:
            container = data.get("resultGlobalContainer")
            display = container.get("displayUrl") if isinstance(container, dict) else None
            match = _SPACE_URL.match(display or "")
            if match:
                data["space_key"] = match.group(1)
        if "webui_url" not in data:
            data["webui_url"] = _absolute(_context_base({}, info), data.get("url"))
        return data


class SearchPage(ConfluenceModel):
    """One page of CQL search results.

    Attributes:
        next_cursor: Pass to ``search(cursor=...)`` for the next page.
        next_link: The server's opaque ``_links.next``.
        total_size: Total hits reported by the server.
    """

    results: list[SearchResult]
    next_cursor: str | None = None
    next_link: str | None = None
    total_size: int | None = None
    size: int | None = None
    cql_query: str | None = None


class Space(ConfluenceModel):
    """A space (v2 ``SpaceBulk``)."""

    id: str
    key: str
    name: str | None = None
    type: str | None = None
    status: str | None = None
    homepage_id: str | None = None
    webui_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _links_to_url(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            _set_webui_url(data, info)
        return data


class User(ConfluenceModel):
    """A user (v1 ``User`` or v2 ``User``); ``email`` is ``None`` when hidden."""

    account_id: str
    display_name: str | None = None
    public_name: str | None = None
    email: str | None = None
    account_type: str | None = None
    account_status: str | None = None
    time_zone: str | None = None
    personal_space_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_email(cls, data: Any) -> Any:
        # Cloud sends "" when the profile hides the address; None says that better.
        if isinstance(data, dict) and data.get("email") == "":
            data = {**data, "email": None}
        return data


class ChildPage(ConfluenceModel):
    """A direct child of a page (page, folder, whiteboard, database or embed)."""

    id: str
    status: str | None = None
    title: str | None = None
    type: str = "page"
    space_id: str | None = None
    child_position: int | None = None


class PageVersion(Version):
    """An entry of a page's version history (``GET /pages/{id}/versions``)."""

    page: dict[str, Any] | None = None
