"""Exception hierarchy for everything the Confluence client can raise.

Every error carries a human-readable ``message`` (safe to show to an LLM or a
user) and the HTTP ``status_code`` when one was received. No error ever holds a
credential: messages are built from response bodies that the client redacts
before constructing the exception, and requests are never attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from confluence_agent.ratelimit import RateLimitState

__all__ = [
    "AuthenticationFailed",
    "ConfigurationError",
    "ConfluenceError",
    "ConnectionFailed",
    "InvalidCQL",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProblemLike",
    "RateLimited",
    "ServerError",
    "UnexpectedResponse",
    "VersionConflict",
]


class ProblemLike(Protocol):
    """The part of ``confluence_agent.cql.CQLProblem`` the client relies on."""

    @property
    def message(self) -> str:
        """What is wrong."""

    @property
    def severity(self) -> str:
        """``"error"`` or ``"warning"``."""


class ConfluenceError(Exception):
    """Base class of every error raised by ``confluence_agent``'s client.

    Attributes:
        message: Readable description, including the server's own text when any.
        status_code: HTTP status of the response, or ``None`` when no response
            was received (configuration or connection problems).
        attempts: How many times the request was sent, retries included, when this
            error ended it (1 when it was not retried or never sent).
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.attempts = 1

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments, which default pickling cannot replay.
        return (_restore, (type(self), self.message, dict(self.__dict__)))


def _restore(cls: type[ConfluenceError], message: str, state: dict[str, Any]) -> ConfluenceError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigurationError(ConfluenceError):
    """A URL or credential is missing or malformed; the message names the setting."""


class ConnectionFailed(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """No HTTP response was received (DNS, refused connection, timeout, reset).

    Attributes:
        request_sent: ``False`` when the request certainly never reached the
            server (connect errors), ``True`` when it may have been processed.
    """

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class UnexpectedResponse(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """A success response whose body did not have the documented shape."""


class NotFound(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """404: the object does not exist *or* the caller may not see it (v2 hides 403s)."""


class PermissionDenied(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """403: authenticated, but not allowed to perform this operation."""


class AuthenticationFailed(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """401: credentials rejected, expired, or missing an OAuth scope."""


class InvalidRequest(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """400 (and other unclassified 4xx): the server refused the request as malformed.

    Duplicate page titles land here with the server's own text.
    """


class InvalidCQL(InvalidRequest):
    """The CQL query is invalid, either by local validation or by the server.

    Attributes:
        problems: Problems found by ``confluence_agent.cql.validate``; empty when
            the server rejected a query that local validation accepted.
    """

    def __init__(
        self,
        message: str,
        *,
        problems: Sequence[ProblemLike] = (),
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.problems: tuple[ProblemLike, ...] = tuple(problems)


class VersionConflict(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """409: the page changed since it was read (the version number is stale).

    Attributes:
        current_version: The server's current version when it said so.
        attempted_version: The version number this request sent.
    """

    def __init__(
        self,
        message: str,
        *,
        current_version: int | None = None,
        attempted_version: int | None = None,
        status_code: int | None = 409,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.current_version = current_version
        self.attempted_version = attempted_version


class PayloadTooLarge(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """413: the body exceeds Confluence's limit (5 MB for page bodies)."""


class RateLimited(ConfluenceError):  # noqa: N818 - names fixed by docs/architecture.md
    """429 that was still failing after the retry budget was spent.

    Attributes:
        retry_after: Seconds the server asked to wait, when it said.
        state: Rate-limit headers of the final 429 response.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        state: RateLimitState | None = None,
        status_code: int | None = 429,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after
        self.state = state


class ServerError(ConfluenceError):
    """5xx: Confluence (or a proxy in front of it) failed.

    Attributes:
        retry_after: Seconds from a ``Retry-After`` header, when present (503).
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after
