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
    }
    assert tags <= allowed
