"""Connection settings: base URL forms, credentials and environment loading."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from confluence_agent.errors import ConfigurationError
from confluence_agent.ratelimit import RetryPolicy

__all__ = ["ENV_API_TOKEN", "ENV_BEARER_TOKEN", "ENV_EMAIL", "ENV_URL", "ConfluenceConfig"]

ENV_URL = "CONFLUENCE_URL"
ENV_EMAIL = "CONFLUENCE_EMAIL"
ENV_API_TOKEN = "CONFLUENCE_API_TOKEN"  # noqa: S105 - an environment variable name
ENV_BEARER_TOKEN = "CONFLUENCE_BEARER_TOKEN"  # noqa: S105 - an environment variable name

_CREDENTIAL_FIELDS = ("email", "api_token", "bearer_token")


class ConfluenceConfig(BaseModel):
    """Where Confluence is and how to authenticate.

    Accepted ``url`` forms (trailing ``/`` and ``/wiki`` are both fine):
    ``https://SITE.atlassian.net``, ``https://SITE.atlassian.net/wiki``,
    ``https://api.atlassian.com/ex/confluence/{cloudId}`` (OAuth / scoped tokens),
    and ``http://127.0.0.1:PORT`` (the sandbox). The API lives under
    ``{api_root}/wiki/api/v2`` and ``{api_root}/wiki/rest/api`` for all of them.

    Attributes:
        url: Base URL as given.
        email: Account e-mail for Cloud basic auth (with ``api_token``).
        api_token: Cloud API token (basic auth).
        bearer_token: OAuth 2.0 access token or Data Center PAT; wins over basic.
        timeout: Per-request timeout in seconds.
        retry: Retry and pacing policy.
    """

    model_config = ConfigDict(frozen=True)

    url: str
    email: str | None = None
    api_token: SecretStr | None = None
    bearer_token: SecretStr | None = None
    timeout: float = Field(default=30.0, gt=0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    def model_post_init(self, context: Any, /) -> None:
        """Fail fast when no usable credential was given."""
        if self.bearer_token is not None:
            return
        if self.api_token is None:
            raise ConfigurationError(
                f"No Confluence credentials: set {ENV_EMAIL} and {ENV_API_TOKEN} "
                f"(Cloud API token) or {ENV_BEARER_TOKEN} (OAuth token / PAT)."
            )
        if not self.email:
            raise ConfigurationError(
                f"{ENV_API_TOKEN} needs the account e-mail too: set {ENV_EMAIL}."
            )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ConfigurationError(f"No Confluence URL: set {ENV_URL}.")
        try:
            parsed = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"{ENV_URL} is not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigurationError(
                f"{ENV_URL} must be an http(s) URL such as https://SITE.atlassian.net."
            )
        if parsed.query or parsed.fragment:
            raise ConfigurationError(f"{ENV_URL} must not contain a query or fragment.")
        return value

    @property
    def api_root(self) -> str:
        """URL that ``/wiki/api/v2/...`` and ``/wiki/rest/api/...`` paths are appended to."""
        root = self.url.strip().rstrip("/")
        if root.endswith("/wiki"):
            root = root[: -len("/wiki")]
        return root

    @property
    def v2_base(self) -> str:
        """Base of the v2 REST API."""
        return f"{self.api_root}/wiki/api/v2"

    @property
    def v1_base(self) -> str:
        """Base of the v1 REST API."""
        return f"{self.api_root}/wiki/rest/api"

    @property
    def site_base(self) -> str:
        """Fallback browser base when a response carries no ``_links.base``."""
        return f"{self.api_root}/wiki"

    @property
    def auth_scheme(self) -> str:
        """``"bearer"`` or ``"basic"``."""
        return "bearer" if self.bearer_token is not None else "basic"

    def authorization_header(self) -> str:
        """The ``Authorization`` header value. Never log or display it."""
        if self.bearer_token is not None:
            return f"Bearer {self.bearer_token.get_secret_value()}"
        assert self.api_token is not None and self.email is not None  # by model_post_init
        raw = f"{self.email}:{self.api_token.get_secret_value()}".encode()
        return f"Basic {base64.b64encode(raw).decode('ascii')}"

    def secrets(self) -> tuple[str, ...]:
        """Every string that must never appear in output (tokens and the header value)."""
        values = [self.authorization_header().split(" ", 1)[1]]
        for token in (self.api_token, self.bearer_token):
            if token is not None and token.get_secret_value():
                values.append(token.get_secret_value())
        return tuple(v for v in values if len(v) >= 4)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ConfluenceConfig:
        """Build a config from ``CONFLUENCE_*`` environment variables.

        Explicit ``overrides`` win. When any credential is passed explicitly, the
        environment's credentials are ignored entirely, so a stray
        ``CONFLUENCE_BEARER_TOKEN`` cannot silently replace the basic auth you asked for.

        Args:
            env: Mapping to read instead of ``os.environ`` (tests).
            **overrides: Field values; ``None`` values are treated as not given.

        Raises:
            ConfigurationError: URL or credentials missing; names the variable to set.
        """
        source = os.environ if env is None else env
        given = {k: v for k, v in overrides.items() if v is not None}
        values: dict[str, Any] = {"url": source.get(ENV_URL, "")}
        if not any(name in given for name in _CREDENTIAL_FIELDS):
            values["email"] = source.get(ENV_EMAIL) or None
            values["api_token"] = source.get(ENV_API_TOKEN) or None
            values["bearer_token"] = source.get(ENV_BEARER_TOKEN) or None
        values.update(given)
        if not values["url"]:
            raise ConfigurationError(f"No Confluence URL: set {ENV_URL} or pass url=.")
        return cls(**values)
