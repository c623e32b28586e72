"""confluence-agent: safe Confluence tooling for LLM agents."""

from importlib import metadata

try:
    __version__ = metadata.version("confluence-agent")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = ""

__all__ = ["__version__"]
