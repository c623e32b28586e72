"""The package's public surface: every exported name resolves, and the client stays light."""

import subprocess
import sys

import confluence_agent


def test_every_exported_name_resolves() -> None:
    missing = [name for name in confluence_agent.__all__ if not hasattr(confluence_agent, name)]
    assert missing == []


def test_langchain_layer_is_reexported() -> None:
    from confluence_agent.toolkit import ConfluenceToolkit

    assert confluence_agent.ConfluenceToolkit is ConfluenceToolkit
    assert "ConfluenceToolkit" in confluence_agent.__all__


def test_importing_the_client_does_not_import_langchain() -> None:
    code = "import sys, confluence_agent; print('langchain_core' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"
