"""parse_storage: accepts what Confluence emits, rejects what it rejects, with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_agent.storage import StorageFormatError, is_valid_storage, parse_storage
from confluence_agent.storage.parse import qname

SAMPLES = Path("/work/shared/reference/samples/mcp-atlassian")
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "storage"


def _bodies() -> list[Path]:
    return sorted(SAMPLES.glob("*.xml")) + sorted(CORPUS.glob("*.xml"))


@pytest.mark.parametrize("path", _bodies(), ids=lambda p: p.stem)
def test_every_sample_and_corpus_page_parses(path: Path) -> None:
    doc = parse_storage(path.read_text(encoding="utf-8"))
    assert doc.top_level, "a page has top-level blocks"


def test_fragment_with_many_top_level_nodes_and_loose_text() -> None:
    doc = parse_storage("intro <p>a</p><h2>b</h2>tail<ul><li>c</li></ul>")
    assert [qname(e) for e in doc.top_level] == ["p", "h2", "ul"]
    assert doc.root.text == "intro "


def test_named_entities_become_characters_but_cdata_stays_literal() -> None:
    body = (
        '<p title="a&nbsp;b">x&nbsp;&mdash;&rsquo;&amp;&lt;</p>'
        '<ac:structured-macro ac:name="code"><ac:plain-text-body>'
        "<![CDATA[&nbsp; stays]]></ac:plain-text-body></ac:structured-macro>"
    )
    doc = parse_storage(body)
    p = doc.top_level[0]
    assert p.text == "x\xa0\u2014\u2019&<"
    assert p.get("title") == "a\xa0b"
    assert "".join(doc.top_level[1].itertext()) == "&nbsp; stays"
    assert doc.text == body  # the original text is kept verbatim


def test_accepts_cloud_only_constructs_and_unknown_prefixes() -> None:
    body = (
        '<p><time datetime="2024-01-15" /> <a href="https://x.y" data-card-appearance="inline">'
        'https://x.y</a><ac:inline-comment-marker ac:ref="u-1">c</ac:inline-comment-marker></p>'
        '<ac:adf-extension><ac:adf-node type="panel"><ac:adf-attribute key="panel-type">note'
        "</ac:adf-attribute><ac:adf-content><p>t</p></ac:adf-content></ac:adf-node>"
        "</ac:adf-extension>"
        '<ac:structured-macro ac:name="no-such-macro" ac:local-id="z" data-foo="1" />'
        '<fab:media-single fab:layout="center"><p>x</p></fab:media-single>'
        '<at:var at:name="title" />'
    )
    assert is_valid_storage(body)


def test_mismatched_close_tag_reports_confluence_style_message_and_position() -> None:
    body = "<p>one</p>\n<p>&nbsp;&mdash; two</br></p>"
    with pytest.raises(StorageFormatError) as info:
        parse_storage(body)
    err = info.value
    assert "Unexpected close tag </br>; expected </p>" in err.message
    assert str(err).startswith("Error parsing xhtml: ")
    assert err.line == 2
    # The column counts characters of the caller's text (entities not expanded):
    # it points just past the offending "</br>".
    line = body.split("\n")[1]
    assert line[: err.column - 1].endswith("</br>")


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("<p>fish & chips</p>", 1, "&amp;"),
        ("<p>ok</p>\n<p>&bogus; entity</p>", 2, "bogus"),
        ("<p>unclosed", 1, "expected </p>"),
        ("<p>a</p>\n\n<td colspan=2>x</td>", 3, "quoted"),
        ("</p>", 1, "no element is open"),
    ],
)
def test_malformed_bodies_are_rejected_with_a_useful_message(
    body: str, line: int, needle: str
) -> None:
    with pytest.raises(StorageFormatError) as info:
        parse_storage(body)
    assert info.value.line == line
    assert needle in info.value.message
    assert isinstance(info.value, ValueError)


def test_doctype_and_external_entities_are_refused() -> None:
    body = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><p>&e;</p>'
    with pytest.raises(StorageFormatError):
        parse_storage(body)


def test_non_string_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_storage(b"<p>x</p>")  # type: ignore[arg-type]
