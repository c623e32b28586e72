"""markdown_to_storage: LLM Markdown to valid, escaped storage."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from confluence_agent.storage import markdown_to_storage, parse_storage, to_markdown


def test_structure_emphasis_links_and_nested_lists() -> None:
    md = "# Title\n\nSome *em*, **strong**, ~~gone~~ and `code`.\n\n- a\n  - b\n1. one\n"
    md += '\n[docs](https://x.y/?a=1&b=2 "Docs")\n'
    assert markdown_to_storage(md) == (
        "<h1>Title</h1><p>Some <em>em</em>, <strong>strong</strong>, <s>gone</s> and "
        "<code>code</code>.</p><ul><li>a<ul><li>b</li></ul></li></ul><ol><li>one</li></ol>"
        '<p><a href="https://x.y/?a=1&amp;b=2" title="Docs">docs</a></p>'
    )


def test_table_keeps_every_row() -> None:
    rows = "\n".join(f"| {n} | v{n} |" for n in range(200))
    storage = markdown_to_storage(f"| n | v |\n|---|---|\n{rows}\n")
    assert storage.startswith("<table><tbody><tr><th>n</th><th>v</th></tr><tr><td>0</td>")
    assert storage.count("<tr>") == 201


def test_fenced_code_becomes_code_macro_with_split_cdata() -> None:
    storage = markdown_to_storage('```python\ns = "]]>"\nif a < b and c > d: pass\n```\n')
    assert '<ac:parameter ac:name="language">python</ac:parameter>' in storage
    assert "]]]]><![CDATA[>" in storage
    doc = parse_storage(storage)
    body = doc.root.find(".//{*}plain-text-body")
    assert body is not None
    assert "".join(body.itertext()) == 's = "]]>"\nif a < b and c > d: pass'


def test_admonitions_become_macros() -> None:
    storage = markdown_to_storage(
        "> **Note:** mind the gap\n\n> [!WARNING]\n> hot\n\n> [!TIP] short\n\n> just a quote\n"
    )
    assert storage.startswith(
        '<ac:structured-macro ac:name="note" ac:schema-version="1"><ac:rich-text-body>'
        "<p>mind the gap</p></ac:rich-text-body></ac:structured-macro>"
    )
    assert (
        '<ac:structured-macro ac:name="warning" ac:schema-version="1"><ac:rich-text-body><p>hot'
        in storage
    )
    assert '<ac:structured-macro ac:name="tip"' in storage
    assert "<blockquote><p>just a quote</p></blockquote>" in storage


def test_raw_html_and_special_characters_are_escaped() -> None:
    storage = markdown_to_storage("<script>alert(1)</script> & <ac:link>\n\nR&D <b>x</b>")
    assert "<script>" not in storage and "<b>" not in storage
    assert "&lt;script&gt;" in storage and "R&amp;D" in storage
    parse_storage(storage)


def test_compact_forms_from_to_markdown_round_trip() -> None:
    md = (
        "See [Spec](page: ENG:Billing Spec) and [Q3: Plan](page: Q3: Plan), "
        "![d](attachment: flow.png) [status: DONE] [jira: ABC-12]\n\n[toc]\n"
    )
    storage = markdown_to_storage(md)
    assert '<ri:page ri:space-key="ENG" ri:content-title="Billing Spec"/>' in storage
    assert '<ri:page ri:content-title="Q3: Plan"/>' in storage
    assert '<ri:attachment ri:filename="flow.png"/>' in storage
    assert to_markdown(storage).strip() == md.strip()


JANE = "5b10ac8d82e05b22cc7d4ef5"
OMAR = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"


def _task(n: int, status: str, body: str) -> str:
    return (
        f"<ac:task><ac:task-id>{n}</ac:task-id><ac:task-status>{status}</ac:task-status>"
        f"<ac:task-body>{body}</ac:task-body></ac:task>"
    )


def _user(account: str) -> str:
    return f'<ac:link><ri:user ri:account-id="{account}"/></ac:link>'


def test_github_task_list_becomes_confluence_tasks() -> None:
    storage = markdown_to_storage("- [ ] ship *it*\n- [x] write docs\n* [X] review\n")
    assert storage == (
        "<ac:task-list>"
        + _task(1, "incomplete", "ship <em>it</em>")
        + _task(2, "complete", "write docs")
        + "</ac:task-list><ac:task-list>"  # a new bullet character starts a new list
        + _task(3, "complete", "review")
        + "</ac:task-list>"
    )


def test_mixed_list_splits_into_task_and_plain_runs_in_order() -> None:
    storage = markdown_to_storage("- [ ] one\n- plain\n  - [x] nested\n- [ ] two\n- [ ]\n")
    assert storage == (
        "<ac:task-list>"
        + _task(1, "incomplete", "one")
        + "</ac:task-list><ul><li>plain<ac:task-list>"
        + _task(2, "complete", "nested")
        + "</ac:task-list></li></ul><ac:task-list>"
        + _task(3, "incomplete", "two")
        + _task(4, "incomplete", "")
        + "</ac:task-list>"
    )


def test_brackets_that_are_not_task_markers_stay_plain() -> None:
    storage = markdown_to_storage("- [x](https://x.y) link\n- [ ]no space\n1. [ ] ordered\n")
    assert "ac:task" not in storage
    assert storage.startswith('<ul><li><a href="https://x.y">x</a> link</li><li>[ ]no space')


def test_mentions_in_both_forms_become_user_links() -> None:
    storage = markdown_to_storage(
        f"Ask @Jane Doe ({JANE}) and @{OMAR}, then @{JANE}.\n\n## For @Omar ({OMAR})\n"
    )
    jane, omar = _user(JANE), _user(OMAR)
    assert storage == f"<p>Ask {jane} and {omar}, then {jane}.</p><h2>For {omar}</h2>"


def test_emails_code_and_link_text_are_not_mentions() -> None:
    md = (
        f"Mail jane@example.com or ops@{JANE} ({JANE}), `@{JANE}`, "
        f"[@{JANE}](https://x.y), @team, @{JANE}ff\n\n```\n@{OMAR}\n```\n"
    )
    storage = markdown_to_storage(md)
    assert "ri:user" not in storage
    assert f"ops@{JANE} ({JANE})" in storage
    assert f"<code>@{JANE}</code>" in storage
    assert f'<a href="https://x.y">@{JANE}</a>' in storage


def test_tasks_and_mentions_survive_storage_markdown_storage() -> None:
    page = (
        "<h2>Actions</h2><ac:task-list>"
        + _task(1, "incomplete", f"{_user(JANE)} to book the room")
        + _task(2, "complete", f"Agenda from {_user(OMAR)}")
        + f"</ac:task-list><p>Owner: {_user(JANE)}</p>"
    )
    users = {JANE: "Jane Doe", OMAR: "Omar Ali"}
    for md in (to_markdown(page, users=users), to_markdown(page)):
        assert markdown_to_storage(md) == page
    assert "- [x] Agenda from @Omar Ali (" in to_markdown(page, users=users)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_converts_to_valid_storage(md: str) -> None:
    storage = markdown_to_storage(md)
    parse_storage(storage)
    # Nothing the model writes can inject elements other than the ones we emit.
    tags = {etree.QName(e).localname for e in parse_storage(storage).elements}
    allowed = {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "em",
        "strong",
        "s",
        "code",
        "a",
        "br",
        "hr",
        "blockquote",
        "table",
        "tbody",
        "tr",
        "th",
        "td",
        "structured-macro",
        "parameter",
        "plain-text-body",
        "rich-text-body",
        "image",
        "attachment",
        "url",
        "link",
        "page",
        "blog-post",
        "plain-text-link-body",
        "task-list",
        "task",
        "task-id",
        "task-status",
        "task-body",
        "user",
    }
    assert tags <= allowed
