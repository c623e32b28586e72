"""Convert LLM-written Markdown into Confluence storage XHTML.

Uses markdown-it-py (CommonMark + tables + strikethrough, raw HTML disabled so
nothing the model writes can break the XML). Fenced code becomes a ``code``
macro with a CDATA body; admonition blockquotes (``> **Note:** …`` and GitHub's
``> [!WARNING]``) become info/note/warning/tip macros. The compact forms that
:func:`to_markdown` emits for page links, attachments, status, Jira and TOC are
understood too, so rendered Markdown can be edited and written back, as are
GitHub task lists (``- [ ]`` / ``- [x]`` → ``ac:task-list``) and mentions
(``@Display Name (accountId)`` / ``@accountId`` → ``ri:user`` links).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from markdown_it import MarkdownIt
from markdown_it.token import Token

from confluence_agent.storage.parse import parse_storage

# Characters XML 1.0 forbids even as references: drop them rather than fail.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_GITHUB_ALERT = re.compile(r"^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*", re.I)
_LABEL_ALERT = re.compile(r"^(note|info|warning|tip|caution|important)s?\s*:?\s*$", re.I)
_GITHUB_MACRO = {"NOTE": "info", "TIP": "tip", "IMPORTANT": "note", "WARNING": "warning",
                 "CAUTION": "warning"}  # fmt: skip
_LABEL_MACRO = {"note": "note", "info": "info", "warning": "warning", "tip": "tip",
                "caution": "warning", "important": "note"}  # fmt: skip
# Atlassian Cloud account ids: legacy 24-hex ids and "<number>:<uuid>" ids.
_ACCOUNT_ID = r"(?:[0-9a-fA-F]{24}|\d+:[0-9a-fA-F-]{36})"
# Compact forms produced by to_markdown; not CommonMark links (space in target).
_SPECIAL = re.compile(
    r"!\[(?P<alt>[^\]]*)\]\(attachment:\s*(?P<img>[^)]+?)\s*\)"
    r"|\[(?P<label>[^\]]+)\]\((?P<kind>page|attachment|blog):\s*(?P<target>[^)]+?)\s*\)"
    r"|\[status:\s*(?P<status>[^\]]+?)\s*\]"
    r"|\[jira:\s*(?P<jira>[A-Z][A-Z0-9_]+-\d+)\s*\]"
    r"|(?P<toc>\[toc\])"
    # Mentions as to_markdown writes them. The lookbehind keeps e-mail addresses
    # ("jane@…") and paths out; the display name is at most six words so a stray
    # "@" cannot swallow a whole sentence before a parenthesised id.
    r"|(?<![\w.+@/-])@(?:"
    rf"(?P<mname>[^\s@()\[\]]+(?: [^\s@()\[\]]+){{0,5}}) \((?P<mid>{_ACCOUNT_ID})\)"
    rf"|(?P<bare>{_ACCOUNT_ID})(?![\w:-]))"
)
# GitHub task-list marker at the start of a list item's first paragraph.
_TASK_MARKER = re.compile(r"^\[([ xX])\](?:[ \t]+|$)")
# "page: DEV:Title" names the space; "page: Q3: Plan" is just a title with a colon.
_SPACE_SCOPED = re.compile(r"^([A-Za-z0-9~_]+):(?!\s)(.+)$")


def _text(value: str) -> str:
    return escape(_INVALID_XML.sub("", value))


def _attr(value: str) -> str:
    return quoteattr(_INVALID_XML.sub("", value))


def _cdata(value: str) -> str:
    # "]]>" would end the section early: split it across two CDATA sections.
    return "<![CDATA[" + _INVALID_XML.sub("", value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _macro(name: str, params: Sequence[tuple[str, str]] = (), body: str = "") -> str:
    parts = [f'<ac:structured-macro ac:name="{name}" ac:schema-version="1">']
    parts += [f"<ac:parameter ac:name={_attr(k)}>{_text(v)}</ac:parameter>" for k, v in params]
    parts.append(body)
    parts.append("</ac:structured-macro>")
    return "".join(parts)


def _special(m: re.Match[str]) -> str:
    account = m.group("mid") or m.group("bare")
    if account is not None:
        # Confluence shows the user's current display name, so only the id is kept.
        return f"<ac:link><ri:user ri:account-id={_attr(account)}/></ac:link>"
    if m.group("img") is not None:
        alt = f" ac:alt={_attr(m.group('alt'))}" if m.group("alt") else ""
        return f"<ac:image{alt}><ri:attachment ri:filename={_attr(m.group('img'))}/></ac:image>"
    if m.group("kind") is not None:
        kind, target, label = m.group("kind"), m.group("target"), m.group("label")
        body = f"<ac:plain-text-link-body>{_cdata(label)}</ac:plain-text-link-body>"
        if kind == "attachment":
            ref = f"<ri:attachment ri:filename={_attr(target)}/>"
        else:
            scoped = _SPACE_SCOPED.match(target)
            space, title = (scoped.group(1), scoped.group(2)) if scoped else ("", target)
            tag = "ri:page" if kind == "page" else "ri:blog-post"
            space_attr = f" ri:space-key={_attr(space)}" if space else ""
            ref = f"<{tag}{space_attr} ri:content-title={_attr(title.strip())}/>"
        return f"<ac:link>{ref}{body}</ac:link>"
    if m.group("status") is not None:
        return _macro("status", [("title", m.group("status"))])
    if m.group("jira") is not None:
        return _macro("jira", [("key", m.group("jira"))])
    return _macro("toc")


def _inline_text(content: str, *, mentions: bool = True) -> str:
    out: list[str] = []
    pos = 0
    for m in _SPECIAL.finditer(content):
        out.append(_text(content[pos : m.start()]))
        if not mentions and (m.group("mid") or m.group("bare")):
            # Inside <a> a user link would nest one link in another: keep the text.
            out.append(_text(m.group(0)))
            pos = m.end()
            continue
        out.append(_special(m))
        pos = m.end()
    out.append(_text(content[pos:]))
    return "".join(out)


def _render_inline(tokens: Sequence[Token]) -> str:
    out: list[str] = []
    links = 0
    for tok in tokens:
        t = tok.type
        if t == "text":
            out.append(_inline_text(tok.content, mentions=not links))
        elif t == "softbreak":
            out.append(" ")
        elif t == "hardbreak":
            out.append("<br/>")
        elif t == "code_inline":
            out.append(f"<code>{_text(tok.content)}</code>")
        elif t == "link_open":
            href = str(tok.attrGet("href") or "")
            title = tok.attrGet("title")
            title_attr = f" title={_attr(str(title))}" if title else ""
            out.append(f"<a href={_attr(href)}{title_attr}>")
            links += 1
        elif t == "link_close":
            out.append("</a>")
            links -= 1
        elif t == "image":
            src = str(tok.attrGet("src") or "")
            alt = f" ac:alt={_attr(tok.content)}" if tok.content else ""
            if re.match(r"^[a-z][a-z0-9+.-]*://", src, re.I):
                ref = f"<ri:url ri:value={_attr(src)}/>"
            else:
                ref = f"<ri:attachment ri:filename={_attr(src)}/>"
            out.append(f"<ac:image{alt}>{ref}</ac:image>")
        elif t.endswith("_open") and tok.tag:
            out.append(f"<{tok.tag}>")
        elif t.endswith("_close") and tok.tag:
            out.append(f"</{tok.tag}>")
        elif tok.content:
            out.append(_text(tok.content))
    return "".join(out)


def _admonition(tokens: list[Token], i: int) -> str | None:
    """Detect an admonition at blockquote_open ``tokens[i]``; strip its marker."""
    if i + 2 >= len(tokens) or tokens[i + 1].type != "paragraph_open":
        return None
    inline = tokens[i + 2]
    children = inline.children or []
    # markdown-it leaves an empty text token before a leading delimiter run.
    while children and children[0].type == "text" and not children[0].content:
        del children[0]
    if not children:
        return None
    first = children[0]
    if first.type == "text" and (m := _GITHUB_ALERT.match(first.content)):
        first.content = first.content[m.end() :]
        if not first.content and len(children) > 1 and children[1].type == "softbreak":
            del children[1]
        return _GITHUB_MACRO[m.group(1).upper()]
    if (
        first.type == "strong_open"
        and len(children) >= 3
        and children[1].type == "text"
        and children[2].type == "strong_close"
    ):
        label = _LABEL_ALERT.match(children[1].content)
        if label is None:
            return None
        del children[:3]
        if children and children[0].type == "text":
            children[0].content = children[0].content.lstrip(": ")
        return _LABEL_MACRO[label.group(1).lower()]
    return None


def _task_status(tokens: list[Token], item: int) -> str | None:
    """Task status of the list item opened at ``tokens[item]``, or None if no task.

    A task is an item whose first block is a paragraph starting ``[ ]`` or ``[x]``;
    the marker is stripped from the inline tokens so it does not reach the body.
    """
    if item + 2 >= len(tokens) or tokens[item + 1].type != "paragraph_open":
        return None
    inline = tokens[item + 2]
    children = inline.children or []
    first = next((c for c in children if c.type != "text" or c.content), None)
    if first is None or first.type != "text":
        return None
    marker = _TASK_MARKER.match(first.content)
    if marker is None:
        return None
    first.content = first.content[marker.end() :]
    return "incomplete" if marker.group(1) == " " else "complete"


def _plan_task_lists(tokens: list[Token]) -> dict[int, tuple[str, str | None]]:
    """Decide how bullet lists containing GitHub task items are emitted.

    Confluence cannot mix tasks and plain items in one list, so a bullet list is
    split into runs: consecutive task items become one ``ac:task-list``, consecutive
    plain items one ``ul``, in source order. Nothing is lost and the order stays.
    Lists without any task item are not in the plan and render as usual.

    Args:
        tokens: markdown-it block tokens (task markers are stripped in place).

    Returns:
        Token index → (markup to emit before the token, task status). Entries
        exist for the ``bullet_list_open``/``close`` and ``list_item_open``/``close``
        tokens of affected lists; the status is set on task ``list_item_open``s.
    """
    plan: dict[int, tuple[str, str | None]] = {}
    for start, tok in enumerate(tokens):
        if tok.type != "bullet_list_open":
            continue
        items: list[tuple[int, int, str | None]] = []
        depth, open_at, end = 0, start, start
        for j in range(start + 1, len(tokens)):
            nesting = tokens[j].nesting
            if depth == 0 and tokens[j].type == "list_item_open":
                open_at = j
            depth += nesting
            if depth == 0 and tokens[j].type == "list_item_close":
                items.append((open_at, j, None))
            if depth < 0:  # this list's bullet_list_close
                end = j
                break
        statuses = [_task_status(tokens, o) for o, _, _ in items]
        if all(s is None for s in statuses):
            continue
        plan[start] = ("", None)
        current: str | None = None  # closing tag of the run being emitted
        for (opening, closing, _), status in zip(items, statuses, strict=True):
            wanted = "</ac:task-list>" if status else "</ul>"
            switch = ""
            if wanted != current:
                switch = (current or "") + ("<ac:task-list>" if status else "<ul>")
                current = wanted
            plan[opening] = (switch, status)
            plan[closing] = ("</ac:task-body></ac:task>" if status else "</li>", None)
        plan[end] = (current or "", None)
    return plan


def markdown_to_storage(md: str) -> str:
    """Convert Markdown (as an LLM writes it) to storage XHTML.

    Supports headings, paragraphs, nested lists, pipe tables, emphasis,
    strikethrough, inline code, links, images, fenced code (→ ``code`` macro with
    ``language`` and a CDATA body), admonitions (``> **Note:** …``, ``> [!TIP]``) and
    the compact forms of :func:`to_markdown` (``[T](page: Title)``,
    ``![a](attachment: f.png)``, ``[status: DONE]``, ``[jira: KEY-1]``, ``[toc]``).
    Raw HTML is escaped, never passed through.

    GitHub task items (``- [ ] todo``, ``- [x] done``) become ``ac:task`` entries with
    ids numbered 1, 2, … in document order; a bullet list mixing tasks and plain
    items is split into consecutive task-list / ``ul`` runs. Mentions written as
    ``@Display Name (accountId)`` or ``@accountId`` (Cloud ids: 24 hex digits or
    ``<number>:<uuid>``) become ``ri:user`` links; the display name is not stored.
    E-mail addresses, code spans, code blocks and link text are never mentions.

    Args:
        md: Markdown text.

    Returns:
        Storage XHTML that always passes :func:`parse_storage`.
    """
    parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    tokens = parser.parse(md)
    tasks = _plan_task_lists(tokens)
    task_id = 0
    out: list[str] = []
    quotes: list[str | None] = []
    for i, tok in enumerate(tokens):
        t = tok.type
        if i in tasks:
            markup, status = tasks[i]
            out.append(markup)
            if t == "list_item_open":
                if status is None:
                    out.append("<li>")
                else:
                    # Ids are numbered in document order, unique within the fragment.
                    task_id += 1
                    out.append(
                        f"<ac:task><ac:task-id>{task_id}</ac:task-id>"
                        f"<ac:task-status>{status}</ac:task-status><ac:task-body>"
                    )
        elif t == "inline":
            out.append(_render_inline(tok.children or []))
        elif t in ("fence", "code_block"):
            lang = tok.info.strip().split(" ")[0] if t == "fence" else ""
            code = tok.content[:-1] if tok.content.endswith("\n") else tok.content
            params = [("language", lang)] if lang else []
            out.append(
                _macro("code", params, f"<ac:plain-text-body>{_cdata(code)}</ac:plain-text-body>")
            )
        elif t == "blockquote_open":
            kind = _admonition(tokens, i)
            quotes.append(kind)
            out.append(
                f'<ac:structured-macro ac:name="{kind}" ac:schema-version="1"><ac:rich-text-body>'
                if kind
                else "<blockquote>"
            )
        elif t == "blockquote_close":
            kind = quotes.pop() if quotes else None
            out.append("</ac:rich-text-body></ac:structured-macro>" if kind else "</blockquote>")
        elif t in ("paragraph_open", "paragraph_close") and tok.hidden:
            continue  # tight list items: no <p> inside <li>
        elif t in ("thead_open", "thead_close", "tbody_close"):
            continue  # Confluence keeps every row in one <tbody>
        elif t == "tbody_open":
            continue
        elif t == "table_open":
            out.append("<table><tbody>")
        elif t == "table_close":
            out.append("</tbody></table>")
        elif t == "hr":
            out.append("<hr/>")
        elif t == "ordered_list_open":
            start = tok.attrGet("start")
            out.append(f'<ol start="{int(start)}">' if start and int(start) != 1 else "<ol>")
        elif t.endswith("_open") and tok.tag:
            out.append(f"<{tok.tag}>")
        elif t.endswith("_close") and tok.tag:
            out.append(f"</{tok.tag}>")
        elif t == "html_block":  # pragma: no cover - html is disabled
            out.append(f"<p>{_text(tok.content)}</p>")
    result = _drop_empty_paragraphs("".join(out))
    parse_storage(result)  # guarantee: never hand back something Confluence rejects
    return result


def _drop_empty_paragraphs(storage: str) -> str:
    # An admonition with only a marker ("> [!NOTE]") leaves an empty paragraph.
    return storage.replace("<p></p>", "")
