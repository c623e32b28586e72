"""confluence-agent: safe Confluence tooling for LLM agents."""

from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

from confluence_agent._core import RequestStats
from confluence_agent.client import AsyncConfluenceClient, ConfluenceClient
from confluence_agent.config import ConfluenceConfig
from confluence_agent.errors import (
    AuthenticationFailed,
    ConfigurationError,
    ConfluenceError,
    ConnectionFailed,
    InvalidCQL,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    UnexpectedResponse,
    VersionConflict,
)
from confluence_agent.models import (
    ChildPage,
    Label,
    Page,
    PageList,
    PageVersion,
    SearchContent,
    SearchPage,
    SearchResult,
    Space,
    User,
    Version,
)
from confluence_agent.ratelimit import RateLimitState, RetryPolicy

if TYPE_CHECKING:
    from confluence_agent.agent import create_confluence_agent
    from confluence_agent.toolkit import ConfluenceToolkit
    from confluence_agent.tools import (
        ConfluenceCreatePage,
        ConfluenceGetPage,
        ConfluenceGetUser,
        ConfluenceListPages,
        ConfluenceSearch,
        ConfluenceUpdatePage,
    )

# The LangChain layer is re-exported lazily: `import confluence_agent` for the client
# alone should not pay for importing langchain-core and langgraph.
_LAZY_EXPORTS = {
    "ConfluenceToolkit": "confluence_agent.toolkit",
    "create_confluence_agent": "confluence_agent.agent",
    "ConfluenceSearch": "confluence_agent.tools",
    "ConfluenceListPages": "confluence_agent.tools",
    "ConfluenceGetPage": "confluence_agent.tools",
    "ConfluenceCreatePage": "confluence_agent.tools",
    "ConfluenceUpdatePage": "confluence_agent.tools",
    "ConfluenceGetUser": "confluence_agent.tools",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'confluence_agent' has no attribute {name!r}")
    return getattr(import_module(module_name), name)


try:
    __version__ = metadata.version("confluence-agent")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = ""

__all__ = [
    "AsyncConfluenceClient",
    "AuthenticationFailed",
    "ChildPage",
    "ConfigurationError",
    "ConfluenceClient",
    "ConfluenceConfig",
    "ConfluenceCreatePage",
    "ConfluenceError",
    "ConfluenceGetPage",
    "ConfluenceGetUser",
    "ConfluenceListPages",
    "ConfluenceSearch",
    "ConfluenceToolkit",
    "ConfluenceUpdatePage",
    "ConnectionFailed",
    "InvalidCQL",
    "InvalidRequest",
    "Label",
    "NotFound",
    "Page",
    "PageList",
    "PageVersion",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimitState",
    "RateLimited",
    "RequestStats",
    "RetryPolicy",
    "SearchContent",
    "SearchPage",
    "SearchResult",
    "ServerError",
    "Space",
    "UnexpectedResponse",
    "User",
    "Version",
    "VersionConflict",
    "__version__",
    "create_confluence_agent",
]
