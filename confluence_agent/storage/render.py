"""Render storage XHTML as compact Markdown (for LLMs) or plain text (for matching).

The Markdown keeps meaning that generic HTML→Markdown converters drop: macro
names and parameters, code language and exact code, mentions, page links,
attachments, task states, layouts (flattened in order) and every table row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lxml import etree

from confluence_agent.storage.parse import RI_NS, ac_attr, parse_storage, qname, ri_attr, text_of

_WS = re.compile(r"[ \t\r\n\f\v\xa0]+")
_MULTI_SPACE = re.compile(r" {2,}")
_BACKTICKS = re.compile(r"`+")

_BLOCK_TAGS = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "pre",
        "blockquote", "hr", "div", "section", "article", "header", "footer", "nav",
        "aside", "figure", "dl", "dt", "dd", "tbody", "thead", "tfoot", "tr",
        "ac:layout", "ac:layout-section", "ac:layout-cell", "ac:rich-text-body",
        "ac:task-list", "ac:adf-extension", "ac:adf-content", "ac:adf-fallback",
        "ac:adf-node", "ac:caption",
    }
)  # fmt: skip
_PANELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": "Panel"}
_ADF_PANELS = {
    "info": "Info",
    "note": "Note",
    "warning": "Warning",
    "success": "Success",
    "error": "Error",
    "tip": "Tip",
    "custom": "Panel",
}
_INLINE_MACROS = frozenset({"status", "jira", "anchor", "profile", "toc", "children"})
_CODE_MACROS = frozenset({"code", "noformat"})
_TRANSPARENT_MACROS = frozenset({"excerpt", "section", "column", "details", "div"})
_EMOTICONS = {
    "smile": "🙂", "sad": "🙁", "cheeky": "😛", "laugh": "😃", "wink": "😉",
    "thumbs-up": "👍", "thumbs-down": "👎", "information": "ℹ️", "tick": "✅",
    "cross": "❌", "warning": "⚠️", "plus": "➕", "minus": "➖", "question": "❓",
    "light-on": "💡", "yellow-star": "⭐", "heart": "❤️", "broken-heart": "💔",
}  # fmt: skip
_INLINE_CONTAINERS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "dt", "dd", "ac:task-body"}
)
_STANDALONE = frozenset({"ac:structured-macro", "ac:macro", "ac:image"})
_SKIP = frozenset(
    {
        "ac:parameter",
        "ac:placeholder",
        "ac:task-id",
        "ac:task-uuid",
        "ac:task-status",
        "ac:adf-attribute",
        "ac:adf-parameter",
    }
)


def _params(macro: etree._Element) -> dict[str, str]:
    params: dict[str, str] = {}
    for child in macro:
        if isinstance(child.tag, str) and qname(child) == "ac:parameter":
            key = ac_attr(child, "name") or ""
            value = " ".join(text_of(child).split())
            if not value:
                # Parameter values can be resource identifiers (user, page, space…).
                refs = [_ri_name(c) for c in child.iter() if qname(c).startswith("ri:")]
                value = ", ".join(r for r in refs if r)
            params[key] = value
    return params


def _ri_name(el: etree._Element) -> str:
    for attr in ("content-title", "filename", "account-id", "userkey", "username",
                 "value", "space-key", "content-id", "key"):  # fmt: skip
        value = ri_attr(el, attr)
        if value:
            return value
    return ""


def _child(el: etree._Element, tag: str) -> etree._Element | None:
    for c in el:
        if isinstance(c.tag, str) and qname(c) == tag:
            return c
    return None


def _fence(code: str, lang: str = "") -> str:
    longest = max((len(m) for m in _BACKTICKS.findall(code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{code.strip(chr(10))}\n{ticks}"


def _clean(text: str) -> str:
    lines = (_MULTI_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _wrap(marker: str, inner: str) -> str:
    stripped = inner.strip()
    if not stripped:
        return inner
    lead = " " if inner[:1].isspace() else ""
    trail = " " if inner[-1:].isspace() else ""
    return f"{lead}{marker}{stripped}{marker}{trail}"


class _MarkdownRenderer:
    def __init__(self, users: Mapping[str, str] | None) -> None:
        self.users = users or {}

    # -- block level -------------------------------------------------------
    def blocks(self, el: etree._Element) -> list[str]:
        """Render an element's children as a list of Markdown blocks."""
        out: list[str] = []
        buf: list[str] = []

        def flush() -> None:
            text = _clean("".join(buf))
            if text:
                out.append(text)
            buf.clear()

        if el.text:
            buf.append(_WS.sub(" ", el.text))
        # Directly in a container (body, layout cell, macro body) a bodiless macro or an
        # image stands alone: give it its own line instead of gluing it to neighbours.
        container = qname(el) not in _INLINE_CONTAINERS
        for child in el:
            if isinstance(child.tag, str):
                if self.is_block(child):
                    flush()
                    out.extend(b for b in self.block(child) if b.strip())
                elif container and qname(child) in _STANDALONE:
                    flush()
                    buf.append(self.inline(child))
                    flush()
                else:
                    buf.append(self.inline(child))
            if child.tail:
                buf.append(_WS.sub(" ", child.tail))
        flush()
        return out

    def is_block(self, el: etree._Element) -> bool:
        tag = qname(el)
        if tag in _BLOCK_TAGS:
            return True
        if tag in ("ac:structured-macro", "ac:macro"):
            name = ac_attr(el, "name") or ""
            if name in _INLINE_MACROS:
                return False
            return (
                name in _CODE_MACROS
                or name in _PANELS
                or name in _TRANSPARENT_MACROS
                or name == "expand"
                or _child(el, "ac:rich-text-body") is not None
                or _child(el, "ac:plain-text-body") is not None
            )
        return False

    def block(self, el: etree._Element) -> list[str]:
        tag = qname(el)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = _clean(self.inline_children(el)).replace("\n", " ")
            return [f"{'#' * int(tag[1])} {text}"] if text else []
        if tag in ("ul", "ol"):
            return [self.list_(el)]
        if tag == "table":
            return [self.table(el)]
        if tag == "pre":
            return [_fence(text_of(el))]
        if tag == "blockquote":
            return [_quote("\n\n".join(self.blocks(el)))]
        if tag == "hr":
            return ["---"]
        if tag in ("ac:structured-macro", "ac:macro"):
            return self.macro(el)
        if tag == "ac:task-list":
            return [self.tasks(el)]
        if tag == "ac:adf-extension":
            return self.adf_extension(el)
        if tag == "ac:adf-node":
            return self.adf_node(el)
        if tag in _SKIP:
            return []
        return self.blocks(el)

    def list_(self, el: etree._Element) -> str:
        ordered = qname(el) == "ol"
        try:
            n = int(el.get("start", "1"))
        except ValueError:
            n = 1
        items: list[str] = []
        for li in el:
            if not isinstance(li.tag, str):
                continue
            marker = f"{n}." if ordered else "-"
            n += 1
            body = "\n".join(self.blocks(li)) if qname(li) == "li" else self.inline(li)
            items.append(_item(marker, body))
        return "\n".join(items)

    def tasks(self, el: etree._Element) -> str:
        items: list[str] = []
        for task in el:
            if not isinstance(task.tag, str) or qname(task) != "ac:task":
                continue
            status = _child(task, "ac:task-status")
            done = status is not None and (status.text or "").strip() == "complete"
            body_el = _child(task, "ac:task-body")
            body = "\n".join(self.blocks(body_el)) if body_el is not None else ""
            items.append(_item("- [x]" if done else "- [ ]", body))
        return "\n".join(items)

    def table(self, el: etree._Element) -> str:
        rows: list[list[str]] = []
        for row in _rows(el):
            cells: list[str] = []
            for cell in row:
                if not isinstance(cell.tag, str) or qname(cell) not in ("td", "th"):
                    continue
                text = "<br>".join(b.replace("\n", "<br>") for b in self.blocks(cell))
                cells.append(text.replace("|", "\\|"))
                try:
                    span = int(cell.get("colspan", "1"))
                except ValueError:
                    span = 1
                cells.extend([""] * (max(span, 1) - 1))
            rows.append(cells)
        if not rows:
            return ""
        width = max(len(r) for r in rows) or 1
        lines = []
        for i, r in enumerate(rows):
            r = r + [""] * (width - len(r))
            lines.append("| " + " | ".join(r) + " |")
            if i == 0:
                lines.append("|" + "---|" * width)
        return "\n".join(lines)

    def macro(self, el: etree._Element) -> list[str]:
        name = ac_attr(el, "name") or ""
        params = _params(el)
        rich = _child(el, "ac:rich-text-body")
        plain = _child(el, "ac:plain-text-body")
        inner = self.blocks(rich) if rich is not None else []
        if name in _CODE_MACROS:
            lang = params.get("language", params.get("lang", "")).strip()
            code = text_of(plain) if plain is not None else ""
            title = params.get("title")
            return ([f"**{title}**"] if title else []) + [_fence(code, lang)]
        if name in _PANELS:
            label = _PANELS[name]
            title = params.get("title")
            head = f"**{label}: {title}**" if title else f"**{label}:**"
            return [_quote(_labelled(head, inner))]
        if name == "expand":
            title = params.get("title") or params.get("", "") or "Details"
            return [f"**▸ {title}**", *inner]
        if name in _TRANSPARENT_MACROS:
            return inner
        line = self.macro_inline(el)
        if plain is not None:
            return [line, _fence(text_of(plain))]
        return [line, *inner]

    def macro_inline(self, el: etree._Element) -> str:
        name = ac_attr(el, "name") or ""
        params = _params(el)
        if name == "status":
            return f"[status: {params.get('title') or params.get('colour', '')}]"
        if name == "jira":
            key = params.get("key")
            if key:
                return f"[jira: {key}]"
            jql = params.get("jqlQuery")
            return f"[jira: {jql}]" if jql else "[jira]"
        if name == "toc":
            return "[toc]"
        if name == "anchor":
            return f"[anchor: {params.get('', '')}]"
        if name == "profile":
            ref = next(el.iter(f"{{{RI_NS}}}user"), None)
            return self.mention(ref, "") if ref is not None else "[profile]"
        shown = ", ".join(f"{k}={v}" if k else v for k, v in params.items() if v)
        return f"[macro {name}: {shown}]" if shown else f"[macro {name}]"

    def adf_extension(self, el: etree._Element) -> list[str]:
        node = _child(el, "ac:adf-node")
        if node is not None:
            out = self.adf_node(node)
            if out:
                return out
        fallback = _child(el, "ac:adf-fallback")
        return self.blocks(fallback) if fallback is not None else []

    def adf_node(self, node: etree._Element) -> list[str]:
        kind = node.get("type", "")
        attrs = {
            c.get("key", ""): (c.text or "").strip()
            for c in node
            if isinstance(c.tag, str) and qname(c) == "ac:adf-attribute"
        }
        content = _child(node, "ac:adf-content")
        inner = self.blocks(content) if content is not None else []
        children = [c for c in node if isinstance(c.tag, str) and qname(c) == "ac:adf-node"]
        if kind == "panel":
            label = _ADF_PANELS.get(attrs.get("panel-type", ""), "Panel")
            return [_quote(_labelled(f"**{label}:**", inner))]
        if kind == "decision-list":
            items = []
            for child in children:
                state = attrs_of(child).get("state", "").upper()
                box = "[decided]" if state == "DECIDED" else "[undecided]"
                items.append(_item(f"- {box}", "\n".join(self.adf_node(child))))
            return ["\n".join(items)] if items else inner
        nested = [b for c in children for b in self.adf_node(c)]
        if not inner and not nested and "extension" in kind.lower():
            params = {
                c.get("key", ""): " ".join(text_of(c).split())
                for c in node
                if isinstance(c.tag, str) and qname(c) == "ac:adf-parameter"
            }
            key = params.pop("extension-key", "") or kind
            shown = ", ".join(f"{k}={v}" for k, v in params.items() if v)
            return [f"[extension {key}: {shown}]" if shown else f"[extension {key}]"]
        return inner + nested

    # -- inline level --------------------------------------------------------
    def inline_children(self, el: etree._Element) -> str:
        parts: list[str] = [_WS.sub(" ", el.text)] if el.text else []
        for child in el:
            if isinstance(child.tag, str):
                if self.is_block(child):
                    parts.append(" " + " ".join(self.block(child)) + " ")
                else:
                    parts.append(self.inline(child))
            if child.tail:
                parts.append(_WS.sub(" ", child.tail))
        return "".join(parts)

    def inline(self, el: etree._Element) -> str:
        tag = qname(el)
        if tag in ("strong", "b"):
            return _wrap("**", self.inline_children(el))
        if tag in ("em", "i"):
            return _wrap("*", self.inline_children(el))
        if tag in ("code", "tt", "kbd"):
            text = text_of(el)
            return f"`{text}`" if "`" not in text else f"`` {text} ``"
        if tag in ("s", "del", "strike") or (
            tag == "span" and "line-through" in (el.get("style") or "")
        ):
            return _wrap("~~", self.inline_children(el))
        if tag == "br":
            return "\n"
        if tag == "a":
            label = _clean(self.inline_children(el)).replace("\n", " ")
            href = el.get("href", "")
            if not href:
                return label
            # Smart links usually repeat the URL as their text: say it once.
            return f"<{href}>" if label in ("", href) else f"[{label}]({href})"
        if tag == "ac:link":
            return self.link(el)
        if tag == "ac:image":
            return self.image(el)
        if tag == "img":
            return f"![{el.get('alt', '')}]({el.get('src', '')})"
        if tag == "ac:emoticon":
            fallback = ac_attr(el, "emoji-fallback")
            name = ac_attr(el, "name") or ""
            return fallback or _EMOTICONS.get(name) or f":{name}:"
        if tag == "time":
            return el.get("datetime") or text_of(el)
        if tag in ("ac:structured-macro", "ac:macro"):
            return self.macro_inline(el)
        if tag in _SKIP:
            return ""
        if tag.startswith("ri:"):
            return _ri_name(el)
        return self.inline_children(el)

    def mention(self, user: etree._Element, label: str) -> str:
        account = (
            ri_attr(user, "account-id")
            or ri_attr(user, "userkey")
            or ri_attr(user, "username")
            or ""
        )
        name = self.users.get(account) or label.lstrip("@").strip()
        return f"@{name} ({account})" if name else f"@{account}"

    def link(self, el: etree._Element) -> str:
        body = _child(el, "ac:link-body")
        if body is None:
            body = _child(el, "ac:plain-text-link-body")
        label = _clean(self.inline_children(body)).replace("\n", " ") if body is not None else ""
        anchor = ac_attr(el, "anchor")
        target_el = next(
            (c for c in el if isinstance(c.tag, str) and qname(c).startswith("ri:")), None
        )
        if target_el is None:
            return f"[{label or anchor}](#{anchor})" if anchor else label
        kind = qname(target_el)
        if kind == "ri:user":
            return self.mention(target_el, label)
        name = _ri_name(target_el)
        space = ri_attr(target_el, "space-key")
        if kind == "ri:page":
            target = f"page: {space}:{name}" if space else f"page: {name}"
        elif kind == "ri:blog-post":
            target = f"blog: {name}"
        elif kind == "ri:attachment":
            target = f"attachment: {name}"
        elif kind == "ri:url":
            target = name
        elif kind == "ri:space":
            target = f"space: {name}"
        else:
            target = f"{kind[3:]}: {name}"
        if anchor:
            target += f"#{anchor}"
        return f"[{label or name}]({target})"

    def image(self, el: etree._Element) -> str:
        ref = next((c for c in el if isinstance(c.tag, str) and qname(c).startswith("ri:")), None)
        alt = ac_attr(el, "alt") or ac_attr(el, "title") or ""
        caption = _child(el, "ac:caption")
        if not alt and caption is not None:
            alt = " ".join(text_of(caption).split())
        if ref is None:
            return f"![{alt}]()"
        name = _ri_name(ref)
        target = name if qname(ref) == "ri:url" else f"attachment: {name}"
        return f"![{alt}]({target})"


def attrs_of(node: etree._Element) -> dict[str, str]:
    """ADF attributes of an ``ac:adf-node`` as a dict."""
    return {
        c.get("key", ""): (c.text or "").strip()
        for c in node
        if isinstance(c.tag, str) and qname(c) == "ac:adf-attribute"
    }


def _rows(table: etree._Element) -> list[etree._Element]:
    rows: list[etree._Element] = []
    for child in table:
        if not isinstance(child.tag, str):
            continue
        tag = qname(child)
        if tag == "tr":
            rows.append(child)
        elif tag in ("thead", "tbody", "tfoot"):
            rows.extend(r for r in child if isinstance(r.tag, str) and qname(r) == "tr")
    return rows


def _item(marker: str, body: str) -> str:
    lines = body.split("\n") if body else [""]
    # Continuation lines line up with the item text; "- [ ]" nests like "-".
    pad = "  " if marker.startswith("- ") else " " * (len(marker) + 1)
    rest = [pad + line if line else line for line in lines[1:]]
    return "\n".join([f"{marker} {lines[0]}".rstrip(), *rest])


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def _labelled(head: str, blocks: list[str]) -> str:
    if blocks and not blocks[0].startswith(("#", "-", "|", "`", ">", "1.")):
        return "\n\n".join([f"{head} {blocks[0]}", *blocks[1:]])
    return "\n\n".join([head, *blocks])


def to_markdown(body: str, *, users: Mapping[str, str] | None = None) -> str:
    """Render a storage body as compact Markdown for an LLM.

    Args:
        body: Storage XHTML.
        users: accountId → display name, used to render mentions as
            ``@Display Name (accountId)`` (otherwise ``@accountId``).

    Returns:
        Markdown text (blocks separated by blank lines).

    Raises:
        StorageFormatError: The body is malformed.
    """
    doc = parse_storage(body)
    blocks = _MarkdownRenderer(users).blocks(doc.root)
    return "\n\n".join(blocks) + ("\n" if blocks else "")


_TEXT_BLOCKS = _BLOCK_TAGS | {"br", "ac:task", "ac:structured-macro"}
_TEXT_PARAMS = frozenset({"title", "key"})


def _has_link_body(el: etree._Element) -> bool:
    return qname(el) == "ac:link" and (
        _child(el, "ac:link-body") is not None or _child(el, "ac:plain-text-link-body") is not None
    )


def to_text(body: str) -> str:
    """Plain text of a storage body, for matching and search.

    Includes headings, every text node (macro bodies and CDATA code included) and
    the meaningful macro parameters (status/panel/expand titles, Jira keys); no
    markup.

    Args:
        body: Storage XHTML.

    Returns:
        Text with one line per block.

    Raises:
        StorageFormatError: The body is malformed.
    """
    doc = parse_storage(body)
    parts: list[str] = []

    def walk(el: etree._Element) -> None:
        for child in el:
            if isinstance(child.tag, str):
                tag = qname(child)
                if tag == "ac:parameter":
                    if (ac_attr(child, "name") or "") in _TEXT_PARAMS:
                        parts.append("\n" + text_of(child) + "\n")
                    users = [_ri_name(u) for u in child.iter(f"{{{RI_NS}}}user")]
                    parts.extend(f" @{u} " for u in users)
                elif tag not in _SKIP:
                    block = tag in _TEXT_BLOCKS
                    if block:
                        parts.append("\n")
                    if tag == "ri:user":
                        parts.append(" @" + _ri_name(child) + " ")
                    elif tag == "time":
                        parts.append(" " + child.get("datetime", "") + " ")
                    elif tag.startswith("ri:") and not _has_link_body(el):
                        parts.append(" " + _ri_name(child) + " ")
                    if child.text:
                        parts.append(child.text)
                    walk(child)
                    if tag in ("td", "th"):
                        parts.append(" ")
                    elif block:
                        parts.append("\n")
            if child.tail:
                parts.append(child.tail)

    if doc.root.text:
        parts.append(doc.root.text)
    walk(doc.root)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)
