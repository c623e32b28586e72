"""JSON shapes of every response, in one place, so v1 and v2 build them the same way.

v2 shapes follow ``openapi-v2.v3.json`` (ids as strings, camelCase, ISO-ms dates); v1
shapes follow ``swagger.v3.json`` / the 2021 snapshot (``Content``, ``User``, ``Space``,
``SearchResult``).  Absent optional values are omitted rather than sent as ``null``
where the spec does not declare them nullable.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus

from confluence_agent.sandbox.store import (
    Comment,
    Label,
    Page,
    PageQuery,
    Property,
    Space,
    Store,
    User,
    Version,
)
from confluence_agent.sandbox.text import excerpt, highlight, storage_to_adf, storage_to_view

Json = dict[str, object]

V2_LIST_BODY_FORMATS = ("storage", "atlas_doc_format")
V2_SINGLE_BODY_FORMATS = (
    "storage",
    "atlas_doc_format",
    "view",
    "export_view",
    "anonymous_export_view",
    "styled_view",
    "editor",
)


@dataclass(frozen=True, slots=True)
class Links:
    """URL parts of the site: ``base`` is the absolute ``.../wiki`` URL."""

    base: str

    @property
    def context(self) -> str:
        """The context path (``/wiki``)."""
        return "/wiki"


def tiny_id(page_id: int) -> str:
    """Confluence's short link token (``/x/<token>``): the id's little-endian bytes, base64."""
    raw = page_id.to_bytes(8, "little").rstrip(b"\0") or b"\0"
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def webui(page: Page) -> str:
    """Site-relative browser link of a page (relative to ``_links.base``)."""
    return f"/spaces/{page.space_key}/pages/{page.id}/{quote_plus(page.title)}"


def render_body(body: str, fmt: str) -> str:
    """A storage body in representation ``fmt``."""
    if fmt in ("storage", "editor"):
        return body
    if fmt == "atlas_doc_format":
        return storage_to_adf(body)
    return storage_to_view(body)


# ----------------------------------------------------------------------------- v2


def version_v2(number: int, created_at: str, author_id: str, message: str, minor: bool) -> Json:
    """v2 ``Version``."""
    return {
        "createdAt": created_at,
        "message": message,
        "number": number,
        "minorEdit": minor,
        "authorId": author_id,
    }


def label_v2(label: Label) -> Json:
    """v2 ``Label``."""
    return {"id": str(label.id), "name": label.name, "prefix": label.prefix}


def page_v2(
    page: Page,
    links: Links,
    *,
    body_format: str | None = None,
    include_version: bool = True,
    labels: Sequence[Label] | None = None,
    versions: Sequence[Version] | None = None,
    properties: Sequence[Property] | None = None,
    single: bool = True,
    parent_is_page: bool = True,
) -> Json:
    """v2 ``PageSingle`` (``single``) or ``PageBulk``."""
    out: Json = {
        "id": str(page.id),
        "status": page.status,
        "title": page.title,
        "spaceId": str(page.space_id),
    }
    if page.parent_id is not None:
        out["parentId"] = str(page.parent_id)
        out["parentType"] = "page" if parent_is_page else "folder"
    out.update(
        {
            "position": page.position,
            "authorId": page.author_id,
            "ownerId": page.owner_id,
            "lastOwnerId": None,
            "createdAt": page.created_at,
        }
    )
    if not single:
        out["subtype"] = None
    if include_version:
        out["version"] = version_v2(
            page.version, page.modified_at, page.modifier_id, page.version_message, page.minor_edit
        )
    body: Json = {}
    if body_format:
        body[body_format] = {
            "representation": body_format,
            "value": render_body(page.body, body_format),
        }
    out["body"] = body
    if labels is not None:
        out["labels"] = _embedded(
            [label_v2(lb) for lb in labels], f"/api/v2/pages/{page.id}/labels"
        )
    if properties is not None:
        out["properties"] = _embedded(
            [property_v2(p) for p in properties], f"/api/v2/pages/{page.id}/properties"
        )
    if versions is not None:
        out["versions"] = _embedded(
            [
                version_v2(v.number, v.created_at, v.author_id, v.message, v.minor_edit)
                for v in versions
            ],
            f"/api/v2/pages/{page.id}/versions",
        )
    page_links: Json = {
        "webui": webui(page),
        "editui": f"/pages/resumedraft.action?draftId={page.id}",
        "tinyui": f"/x/{tiny_id(page.id)}",
    }
    if single:
        page_links["base"] = links.base
    out["_links"] = page_links
    return out


def _embedded(results: list[Json], self_link: str) -> Json:
    # Embedded collections are capped at 50 (OptionalFieldMeta says whether more exist).
    return {
        "results": results[:50],
        "meta": {"hasMore": len(results) > 50, "cursor": ""},
        "_links": {"self": self_link},
    }


def property_v2(prop: Property) -> Json:
    """v2 ``ContentProperty``."""
    return {
        "id": str(prop.id),
        "key": prop.key,
        "value": prop.value,
        "version": {"createdAt": "", "message": "", "number": prop.version, "minorEdit": False},
    }


def page_version_v2(v: Version, page: Page) -> Json:
    """v2 ``PageVersion``."""
    out = version_v2(v.number, v.created_at, v.author_id, v.message, v.minor_edit)
    out["page"] = {"id": str(page.id), "title": v.title}
    return out


def detailed_version_v2(v: Version, current: int) -> Json:
    """v2 ``DetailedVersion`` of version ``v`` of a page whose latest number is ``current``."""
    out = version_v2(v.number, v.created_at, v.author_id, v.message, v.minor_edit)
    out["contentTypeModified"] = False
    out["collaborators"] = [v.author_id]
    # Neighbours are omitted at either end: the schema declares them as plain integers.
    if v.number > 1:
        out["prevVersion"] = v.number - 1
    if v.number < current:
        out["nextVersion"] = v.number + 1
    return out


def descendant_v2(page: Page, depth: int) -> Json:
    """v2 ``DescendantsResponse``."""
    out: Json = {"id": str(page.id), "status": page.status, "title": page.title, "type": "page"}
    if page.parent_id is not None:
        out["parentId"] = str(page.parent_id)
    out["depth"] = depth
    out["childPosition"] = page.position
    return out


def child_v2(page: Page, *, typed: bool) -> Json:
    """v2 ``ChildPage`` or (``typed``) ``ChildrenResponse``."""
    out: Json = {"id": str(page.id), "status": page.status, "title": page.title}
    if typed:
        out["type"] = "page"
    out["spaceId"] = str(page.space_id)
    out["childPosition"] = page.position
    return out


def space_v2(space: Space) -> Json:
    """v2 ``SpaceBulk``."""
    out: Json = {
        "id": str(space.id),
        "key": space.key,
        "name": space.name,
        "type": space.type,
        "status": space.status,
        "authorId": space.author_id or "",
        "createdAt": space.created_at,
    }
    if space.homepage_id is not None:
        out["homepageId"] = str(space.homepage_id)
    out["description"] = {}
    out["_links"] = {"webui": f"/spaces/{space.key}"}
    return out


def user_v2(user: User) -> Json:
    """v2 ``User``."""
    return {
        "accountId": user.account_id,
        "accountType": "atlassian",
        "accountStatus": "active",
        "displayName": user.display_name,
        "publicName": user.display_name,
        "email": user.email,
        "timeZone": "Etc/UTC",
        "isExternalCollaborator": False,
        "profilePicture": _picture(user),
    }


def _picture(user: User) -> Json:
    return {
        "path": f"/wiki/aa-avatar/{user.account_id}",
        "width": 48,
        "height": 48,
        "isDefault": True,
    }


def comment_v2(comment: Comment, page: Page, *, body_format: str | None) -> Json:
    """v2 ``FooterCommentModel`` / ``PageCommentModel``."""
    body: Json = {}
    if body_format:
        body[body_format] = {
            "representation": body_format,
            "value": render_body(comment.body, body_format),
        }
    return {
        "id": str(comment.id),
        "status": comment.status,
        "title": f"Re: {page.title}",
        "pageId": str(page.id),
        "version": version_v2(comment.version, comment.created_at, comment.author_id, "", False),
        "body": body,
        "_links": {"webui": f"{webui(page)}?focusedCommentId={comment.id}"},
    }


# ----------------------------------------------------------------------------- v1


class Expand:
    """A v1 ``expand`` list: ``Expand("body.storage,version").has("body.storage")``."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = {p.strip() for p in paths if p.strip()}

    @classmethod
    def parse(cls, raw: str | None, default: str = "") -> Expand:
        """From the comma-separated query parameter (``default`` when absent)."""
        return cls((raw if raw is not None else default).split(","))

    def has(self, path: str) -> bool:
        """Whether ``path`` or anything below it was asked for."""
        return any(p == path or p.startswith(path + ".") for p in self.paths)

    def sub(self, prefix: str) -> Expand:
        """The expansions below ``prefix`` (``content.body.storage`` → ``body.storage``)."""
        cut = len(prefix) + 1
        return Expand(p[cut:] for p in self.paths if p.startswith(prefix + "."))


def user_v1(user: User | None, links: Links, account_id: str = "") -> Json:
    """v1 ``User`` (``type: known``); an unknown account gives ``type: unknown``."""
    if user is None:
        return {
            "type": "unknown",
            "accountId": account_id,
            "accountType": "unknown",
            "displayName": "Unknown user",
            "publicName": "Unknown user",
            "_expandable": {},
            "_links": {},
        }
    return {
        "type": "known",
        "accountId": user.account_id,
        "accountType": "atlassian",
        "email": user.email,
        "publicName": user.display_name,
        "profilePicture": _picture(user),
        "displayName": user.display_name,
        "timeZone": "Etc/UTC",
        "isExternalCollaborator": False,
        "isGuest": False,
        "_expandable": {"operations": "", "personalSpace": ""},
        "_links": {
            "self": f"{links.base}/rest/api/user?accountId={user.account_id}",
            "base": links.base,
            "context": links.context,
        },
    }


def space_v1(space: Space, links: Links) -> Json:
    """v1 ``Space``."""
    return {
        "id": space.id,
        "key": space.key,
        "name": space.name,
        "type": space.type,
        "status": space.status,
        "_expandable": {
            "settings": f"/rest/api/space/{space.key}/settings",
            "metadata": "",
            "operations": "",
            "lookAndFeel": f"/rest/api/settings/lookandfeel?spaceKey={space.key}",
            "permissions": "",
            "icon": "",
            "description": "",
            "theme": f"/rest/api/space/{space.key}/theme",
            "history": "",
            "homepage": f"/rest/api/content/{space.homepage_id}" if space.homepage_id else "",
        },
        "_links": {
            "webui": f"/spaces/{space.key}",
            "self": f"{links.base}/rest/api/space/{space.key}",
        },
    }


def version_v1(
    number: int,
    when: str,
    author: User | None,
    author_id: str,
    message: str,
    minor: bool,
    links: Links,
    page_id: int,
) -> Json:
    """v1 ``Version``."""
    return {
        "by": user_v1(author, links, author_id),
        "when": when,
        "friendlyWhen": when[:10],
        "message": message,
        "number": number,
        "minorEdit": minor,
        "_expandable": {"content": f"/rest/api/content/{page_id}", "collaborators": ""},
        "_links": {"self": f"{links.base}/rest/api/content/{page_id}/version/{number}"},
    }


def label_v1(label: Label) -> Json:
    """v1 ``Label``."""
    return {"prefix": label.prefix, "name": label.name, "id": str(label.id), "label": label.name}


def history_v1(page: Page, store: Store, links: Links) -> Json:
    """v1 ``ContentHistory`` (``lastUpdated`` is what clients read the version from)."""
    latest = store.get_page(page.id)
    current = latest or page
    return {
        "latest": current.version == page.version,
        "createdBy": user_v1(store.get_user(page.author_id), links, page.author_id),
        "ownedBy": user_v1(store.get_user(page.owner_id), links, page.owner_id),
        "createdDate": page.created_at,
        "lastUpdated": version_v1(
            current.version,
            current.modified_at,
            store.get_user(current.modifier_id),
            current.modifier_id,
            current.version_message,
            current.minor_edit,
            links,
            page.id,
        ),
        "_expandable": {"previousVersion": "", "contributors": "", "nextVersion": ""},
        "_links": {"self": f"{links.base}/rest/api/content/{page.id}/history"},
    }


def content_v1(page: Page, store: Store, links: Links, expand: Expand) -> Json:
    """v1 ``Content`` with the requested expansions."""
    out: Json = {"id": str(page.id), "type": page.type, "status": page.status, "title": page.title}
    expandable: Json = {}
    if expand.has("space"):
        space = store.get_space(page.space_id)
        if space is not None:
            out["space"] = space_v1(space, links)
    else:
        expandable["space"] = f"/rest/api/space/{page.space_key}"
    if expand.has("history"):
        out["history"] = history_v1(page, store, links)
    else:
        expandable["history"] = f"/rest/api/content/{page.id}/history"
    if expand.has("version"):
        out["version"] = version_v1(
            page.version,
            page.modified_at,
            store.get_user(page.modifier_id),
            page.modifier_id,
            page.version_message,
            page.minor_edit,
            links,
            page.id,
        )
    else:
        expandable["version"] = ""
    if expand.has("ancestors"):
        out["ancestors"] = [
            content_v1(a, store, links, Expand(())) for a in store.ancestors(page.id)
        ]
    else:
        expandable["ancestors"] = ""
    if expand.has("container"):
        space = store.get_space(page.space_id)
        if space is not None:
            out["container"] = space_v1(space, links)
    else:
        expandable["container"] = f"/rest/api/space/{page.space_key}"
    if expand.has("body"):
        body: Json = {}
        body_expand = expand.sub("body")
        for fmt in ("storage", "view", "export_view", "styled_view", "editor", "atlas_doc_format"):
            if body_expand.has(fmt):
                body[fmt] = {
                    "value": render_body(page.body, fmt),
                    "representation": fmt,
                    "embeddedContent": [],
                    "_expandable": {"content": f"/rest/api/content/{page.id}"},
                }
        out["body"] = body
    else:
        expandable["body"] = ""
    if expand.has("metadata"):
        labels = [label_v1(lb) for lb in store.labels(page.id)]
        out["metadata"] = {
            "labels": {"results": labels, "start": 0, "limit": 200, "size": len(labels)},
            "_expandable": {"properties": "", "currentuser": "", "frontend": ""},
        }
    else:
        expandable["metadata"] = ""
    if expand.has("children"):
        kids, _ = store.list_pages(_children_query(page.id), readable=None, limit=200)
        out["children"] = {
            "page": array_v1(
                [content_v1(k, store, links, Expand(())) for k in kids], links, 0, 200
            ),
            "_expandable": {"attachment": "", "comment": ""},
        }
    else:
        expandable["children"] = f"/rest/api/content/{page.id}/child"
    out["extensions"] = {"position": page.position}
    expandable.update({"childTypes": "", "operations": "", "restrictions": "", "descendants": ""})
    out["_expandable"] = expandable
    out["_links"] = {
        "webui": webui(page),
        "edit": f"/pages/resumedraft.action?draftId={page.id}",
        "tinyui": f"/x/{tiny_id(page.id)}",
        "self": f"{links.base}/rest/api/content/{page.id}",
    }
    return out


def _children_query(page_id: int) -> PageQuery:
    return PageQuery(parent_id=page_id, statuses=("current",), sort="child-position")


def array_v1(
    results: list[Json],
    links: Links,
    start: int,
    limit: int,
    *,
    next_link: str | None = None,
    self_link: str | None = None,
) -> Json:
    """v1 array envelope ``{results, start, limit, size, _links}``."""
    link_map: Json = {"base": links.base, "context": links.context}
    if next_link:
        link_map["next"] = next_link
    if self_link:
        link_map["self"] = self_link
    return {
        "results": results,
        "start": start,
        "limit": limit,
        "size": len(results),
        "_links": link_map,
    }


def search_results_v1(
    hits: Sequence[tuple[Page, float]],
    store: Store,
    links: Links,
    *,
    expand: Expand,
    terms: Sequence[str],
    excerpt_mode: str,
) -> list[Json]:
    """v1 ``SearchResult`` objects for one page of hits.

    Spaces and parent pages are fetched for the whole page in two queries, so the cost
    does not grow with one lookup per hit.
    """
    spaces = store.spaces_by_id([page.space_id for page, _ in hits])
    parents = store.pages_by_id(
        list(dict.fromkeys(page.parent_id for page, _ in hits if page.parent_id is not None))
    )
    return [
        search_result_v1(
            page,
            score,
            store,
            links,
            expand=expand,
            terms=terms,
            excerpt_mode=excerpt_mode,
            space=spaces.get(page.space_id),
            parent=parents.get(page.parent_id) if page.parent_id is not None else None,
        )
        for page, score in hits
    ]


def search_result_v1(
    page: Page,
    score: float,
    store: Store,
    links: Links,
    *,
    expand: Expand,
    terms: Sequence[str],
    excerpt_mode: str,
    space: Space | None,
    parent: Page | None,
) -> Json:
    """v1 ``SearchResult`` for a page hit (title and excerpt highlighted as asked).

    Args:
        page: the hit.
        score: its relevance.
        store: used for the ``content`` expansions only.
        links: site URL parts.
        expand: the request's ``expand`` (``content.*`` applies to ``content``).
        terms: query words to highlight.
        excerpt_mode: the ``excerpt`` query parameter.
        space: the hit's space (``None`` falls back to its key).
        parent: the hit's parent page, if it has one.
    """
    title = highlight(page.title, terms) if excerpt_mode == "highlight" else page.title
    out: Json = {
        "content": content_v1(page, store, links, expand.sub("content")),
        "title": title,
        "excerpt": excerpt(page.body_text, terms, mode=excerpt_mode),
        "url": webui(page),
        "resultGlobalContainer": {
            "title": space.name if space else page.space_key,
            "displayUrl": f"/spaces/{page.space_key}",
        },
        "breadcrumbs": [],
        "entityType": "content",
        "iconCssClass": "aui-icon content-type-page",
        "lastModified": page.modified_at,
        "friendlyLastModified": page.modified_at[:10],
        "score": round(score, 4),
    }
    if parent is not None:
        out["resultParentContainer"] = {"title": parent.title, "displayUrl": webui(parent)}
    return out


def property_v1(prop: Property, links: Links) -> Json:
    """v1 ``ContentProperty``."""
    return {
        "id": str(prop.id),
        "key": prop.key,
        "value": prop.value,
        "version": {
            "when": prop.modified_at,
            "message": "",
            "number": prop.version,
            "minorEdit": False,
        },
        "_links": {"self": f"{links.base}/rest/api/content/{prop.page_id}/property/{prop.key}"},
        "_expandable": {"content": f"/rest/api/content/{prop.page_id}"},
    }
