"""The README's Python examples run as written, against the demo sandbox."""

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from confluence_agent import ConfluenceClient
from confluence_agent.sandbox import SandboxServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


class _ToolCallingFake(GenericFakeChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> "_ToolCallingFake":
        return self


def _run(block: str, namespace: dict[str, Any]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    return out.getvalue()


def test_readme_has_the_examples_this_test_runs() -> None:
    blocks = _python_blocks()
    assert len(blocks) == 3
    assert "safe_update" in blocks[0]
    assert "create_confluence_agent" in blocks[1]
    assert "SandboxServer" in blocks[2]


def test_library_and_agent_examples_run_against_the_sandbox(
    confluence_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFLUENCE_URL", confluence_sandbox.url)
    monkeypatch.setenv("CONFLUENCE_EMAIL", confluence_sandbox.email)
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", confluence_sandbox.api_token)
    library, agent, _ = _python_blocks()

    printed = _run(library, {})
    assert "665544 Datadog logging guidelines" in printed
    assert "5 → 6" in printed
    assert "CQL rejected (not sent): 1 error." in printed
    assert "error at 1:9" in printed  # position of the unterminated quote
    with ConfluenceClient(**confluence_sandbox.client_kwargs()) as client:
        assert client.get_page(998877).version.number == 6

    reply = AIMessage(content="Nothing to do.")
    namespace: dict[str, Any] = {"model": _ToolCallingFake(messages=iter([reply]))}
    _run(agent, namespace)
    assert {t.name for t in namespace["tools"]} >= {"confluence_search", "confluence_update_page"}
    result = namespace["agent"].invoke({"messages": [("user", "hello")]})
    assert result["messages"][-1].content == "Nothing to do."


def test_sandbox_example_runs() -> None:
    namespace: dict[str, Any] = {}
    _run(_python_blocks()[2], namespace)
    assert isinstance(namespace["client"], ConfluenceClient)
