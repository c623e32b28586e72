"""confluence-agent: safe Confluence tooling for LLM agents."""

from importlib import metadata

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
    "ConfluenceError",
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
]
