"""Seed data for the Confluence sandbox.

``load_seed`` returns an immutable :class:`SeedData` that the sandbox server loads
into its SQLite store:

* ``"empty"`` (or ``None``): only :data:`DEMO_ADMIN`, no spaces.
* ``"demo"``: a small, hand-written site that makes the product's two scenarios
  real: the "Q3 Billing Engine PRD" audit (page :data:`PRD_PAGE_ID`, version 5,
  rich storage, no mention of the payment processor's event integration) and the
  "Datadog logging guidelines" discovery in ENG (page :data:`DATADOG_PAGE_ID`,
  written by Priya Natarajan).
* ``"synthetic:N"``: the demo site plus ``N`` generated pages spread over ten more
  spaces, deterministic for a given ``N``.

All timestamps are fixed; nothing depends on the clock.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from confluence_agent.sandbox import seed_demo_pages as pages
from confluence_agent.sandbox.seed_demo_pages import (
    ADMIN_ID,
    AISHA_ID,
    DIEGO_ID,
    ELENA_ID,
    JONAS_ID,
    LENA_ID,
    MARCUS_ID,
    PRIYA_ID,
)

__all__ = [
    "ADR_PAGE_IDS",
    "AISHA",
    "DATADOG_PAGE_ID",
    "DEMO_ADMIN",
    "DEMO_USERS",
    "DEPLOYMENT_PAGE_ID",
    "DIEGO",
    "ELENA",
    "JONAS",
    "LENA",
    "MARCUS",
    "PRD_PAGE_ID",
    "PRIYA",
    "SeedComment",
    "SeedData",
    "SeedPage",
    "SeedSpace",
    "SeedUser",
    "SeedVersion",
    "load_seed",
]


# --- contract ----------------------------------------------------------------------


@dataclass(frozen=True)
class SeedUser:
    """A user the sandbox knows, with the credentials it accepts.

    Attributes:
        account_id: Cloud accountId (24 hex digits or ``"557058:<uuid>"``).
        display_name: Human display name.
        email: Email, used as the Basic-auth user name.
        api_token: Basic-auth password (API token).
        bearer_token: Bearer token, if the user may authenticate with one.
        is_admin: Whether the user bypasses space permissions.
    """

    account_id: str
    display_name: str
    email: str
    api_token: str
    bearer_token: str | None = None
    is_admin: bool = False


@dataclass(frozen=True)
class SeedSpace:
    """A space.

    Attributes:
        id: Numeric space id as a string.
        key: Space key.
        name: Space name.
        type: ``"global"`` or ``"personal"``.
        homepage_id: Id of the space homepage, if any.
        readers: AccountIds that may read; ``None`` means everyone.
        writers: AccountIds that may write; ``None`` means everyone.
    """

    id: str
    key: str
    name: str
    type: str = "global"
    homepage_id: str | None = None
    readers: frozenset[str] | None = None
    writers: frozenset[str] | None = None


@dataclass(frozen=True)
class SeedVersion:
    """One version of a page.

    Attributes:
        number: Version number, starting at 1.
        body: Storage-format body.
        author_id: AccountId of the author of this version.
        created_at: ISO-8601 UTC timestamp with milliseconds.
        message: Version message.
    """

    number: int
    body: str
    author_id: str
    created_at: str
    message: str = ""


@dataclass(frozen=True)
class SeedPage:
    """A page with its full version history.

    Attributes:
        id: Numeric page id as a string.
        space_key: Key of the owning space.
        title: Title, unique within the space.
        versions: Versions oldest first; the last one is current.
        status: ``"current"``, ``"draft"`` or ``"archived"``.
        parent_id: Parent page id, if any.
        labels: Label names.
        properties: Content properties (key → JSON-serialisable value).
    """

    id: str
    space_key: str
    title: str
    versions: tuple[SeedVersion, ...]
    status: str = "current"
    parent_id: str | None = None
    labels: tuple[str, ...] = ()
    properties: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedComment:
    """A footer comment on a page.

    Attributes:
        id: Numeric comment id as a string.
        page_id: Id of the commented page.
        body: Storage-format body.
        author_id: AccountId of the author.
        created_at: ISO-8601 UTC timestamp with milliseconds.
    """

    id: str
    page_id: str
    body: str
    author_id: str
    created_at: str


@dataclass(frozen=True)
class SeedData:
    """Everything the sandbox loads at start-up.

    Attributes:
        users: Users, :data:`DEMO_ADMIN` first.
        spaces: Spaces.
        pages: Pages, parents before children.
        comments: Footer comments.
    """

    users: tuple[SeedUser, ...]
    spaces: tuple[SeedSpace, ...]
    pages: tuple[SeedPage, ...]
    comments: tuple[SeedComment, ...] = ()


# --- users -------------------------------------------------------------------------

DEMO_ADMIN = SeedUser(
    account_id=ADMIN_ID,
    display_name="Sandbox Admin",
    email="admin@sandbox.local",
    api_token="sandbox-token",  # noqa: S106 - published sandbox default
    bearer_token="sandbox-bearer",  # noqa: S106 - published sandbox default
    is_admin=True,
)
"""The default credentials the sandbox prints at start-up."""


def _person(account_id: str, name: str, email: str, token: str) -> SeedUser:
    return SeedUser(account_id=account_id, display_name=name, email=email, api_token=token)


PRIYA = _person(PRIYA_ID, "Priya Natarajan", "priya.natarajan@example.com", "token-priya")
"""Platform engineer; author of the Datadog logging guidelines."""
MARCUS = _person(MARCUS_ID, "Marcus Chen", "marcus.chen@example.com", "token-marcus")
"""Billing engineering lead."""
ELENA = _person(ELENA_ID, "Elena Rossi", "elena.rossi@example.com", "token-elena")
"""Product manager; owner of the Q3 Billing Engine PRD."""
DIEGO = _person(DIEGO_ID, "Diego Álvarez", "diego.alvarez@example.com", "token-diego")
"""Finance systems engineer."""
AISHA = _person(AISHA_ID, "Aisha Okafor", "aisha.okafor@example.com", "token-aisha")
"""Security engineer; the only non-admin who can see the SEC space."""
JONAS = _person(JONAS_ID, "Jonas Weber", "jonas.weber@example.com", "token-jonas")
"""Site reliability engineer; current author of the PRD (version 5)."""
LENA = _person(LENA_ID, "Lena Fischer", "lena.fischer@example.com", "token-lena")
"""Support agent with read-only access everywhere she can read."""

DEMO_USERS: tuple[SeedUser, ...] = (DEMO_ADMIN, PRIYA, MARCUS, ELENA, DIEGO, AISHA, JONAS, LENA)
"""All users of the demo seed, admin first."""

_EDITORS = frozenset(u.account_id for u in DEMO_USERS if u is not LENA)
_SEC_MEMBERS = frozenset({ADMIN_ID, AISHA_ID})

# --- well-known ids ----------------------------------------------------------------

PRD_PAGE_ID = "998877"
""""Q3 Billing Engine PRD" (PROD), version 5."""
DATADOG_PAGE_ID = "665544"
""""Datadog logging guidelines" (ENG), by Priya Natarajan."""
DEPLOYMENT_PAGE_ID = "5543210"
""""Deployment steps" (ENG)."""
ADR_PAGE_IDS = ("229401", "229402", "229403")
"""Kafka ADRs under "Architecture" (ENG): superseded, accepted, proposed."""

_ENG_HOME = "163841"
_PROD_HOME = "163842"
_ONB_HOME = "163843"
_SEC_HOME = "163844"
_ARCHITECTURE = "229377"

_DEMO_SPACES: tuple[SeedSpace, ...] = (
    SeedSpace(id="1001", key="ENG", name="Engineering", homepage_id=_ENG_HOME, writers=_EDITORS),
    SeedSpace(id="1002", key="PROD", name="Product", homepage_id=_PROD_HOME, writers=_EDITORS),
    SeedSpace(id="2005", key="ONB", name="Onboarding", homepage_id=_ONB_HOME, writers=_EDITORS),
    SeedSpace(
        id="1003",
        key="SEC",
        name="Security",
        homepage_id=_SEC_HOME,
        readers=_SEC_MEMBERS,
        writers=_SEC_MEMBERS,
    ),
)


# --- demo pages --------------------------------------------------------------------

_V = tuple[str, str, str, str]  # (body, author_id, created_at, message)


def _versions(*specs: _V) -> tuple[SeedVersion, ...]:
    return tuple(
        SeedVersion(number=i, body=body, author_id=author, created_at=ts, message=msg)
        for i, (body, author, ts, msg) in enumerate(specs, start=1)
    )


def _page(
    page_id: str,
    space_key: str,
    title: str,
    versions: tuple[SeedVersion, ...],
    *,
    parent_id: str | None,
    labels: tuple[str, ...] = (),
    status: str = "current",
    properties: Mapping[str, object] | None = None,
) -> SeedPage:
    return SeedPage(
        id=page_id,
        space_key=space_key,
        title=title,
        versions=versions,
        status=status,
        parent_id=parent_id,
        labels=labels,
        properties=MappingProxyType(dict(properties or {})),
    )


def _demo_pages() -> tuple[SeedPage, ...]:
    p = pages
    prd_authors = (
        (ELENA_ID, "2026-01-12T10:04:00.000Z", "Initial draft: overview and goals"),
        (MARCUS_ID, "2026-01-19T15:31:00.000Z", "Added requirements table"),
        (DIEGO_ID, "2026-02-03T11:20:00.000Z", "Billing cycles and invoicing"),
        (AISHA_ID, "2026-02-17T09:45:00.000Z", "Payment retries and hard declines"),
        (JONAS_ID, "2026-03-02T09:15:00.000Z", "Rollout plan and open questions"),
    )
    prd_versions = _versions(
        *((p.prd_body(n), a, ts, m) for n, (a, ts, m) in enumerate(prd_authors, start=1))
    )
    return (
        # ENG ------------------------------------------------------------------
        _page(
            _ENG_HOME,
            "ENG",
            "Engineering Home",
            _versions(
                (
                    p.home_body(
                        "Engineering",
                        "Runbooks, architecture decisions and standards of "
                        "the engineering organisation.",
                        "eng-home",
                    ),
                    ADMIN_ID,
                    "2024-02-05T08:00:00.000Z",
                    "",
                ),
            ),
            parent_id=None,
        ),
        _page(
            _ARCHITECTURE,
            "ENG",
            "Architecture",
            _versions(
                (
                    p.simple_body(
                        "Architecture decision records (ADRs). One decision per page; "
                        "never edit an accepted ADR&nbsp;&mdash; supersede it."
                    )
                    + p.children_macro("arch-children"),
                    MARCUS_ID,
                    "2024-09-30T13:00:00.000Z",
                    "",
                ),
            ),
            parent_id=_ENG_HOME,
            labels=("architecture", "owner-team-platform"),
        ),
        _page(
            ADR_PAGE_IDS[0],
            "ENG",
            p.ADR_011_TITLE,
            _versions(
                (
                    p.adr_011_body(superseded=False),
                    MARCUS_ID,
                    "2024-10-02T09:30:00.000Z",
                    "Proposed",
                ),
                (
                    p.adr_011_body(superseded=True),
                    PRIYA_ID,
                    "2025-03-18T16:10:00.000Z",
                    "Superseded by ADR-014",
                ),
            ),
            parent_id=_ARCHITECTURE,
            labels=("adr", "kafka", "architecture"),
        ),
        _page(
            ADR_PAGE_IDS[1],
            "ENG",
            p.ADR_014_TITLE,
            _versions(
                (p.adr_014_body(), PRIYA_ID, "2025-03-18T15:55:00.000Z", "Accepted"),
            ),
            parent_id=_ARCHITECTURE,
            labels=("adr", "kafka", "architecture", "owner-team-platform"),
        ),
        _page(
            ADR_PAGE_IDS[2],
            "ENG",
            "ADR-016: Kafka topic naming and retention",
            _versions(
                (p.adr_016_body(), DIEGO_ID, "2025-11-04T10:20:00.000Z", "Proposed"),
            ),
            parent_id=_ARCHITECTURE,
            labels=("adr", "kafka"),
        ),
        _page(
            DATADOG_PAGE_ID,
            "ENG",
            "Datadog logging guidelines",
            _versions(
                (p.datadog_body(1), PRIYA_ID, "2025-09-08T08:40:00.000Z", "First version"),
                (
                    p.datadog_body(2),
                    JONAS_ID,
                    "2025-11-20T14:05:00.000Z",
                    "Added debug sampling rule",
                ),
                (
                    p.datadog_body(3),
                    PRIYA_ID,
                    "2026-01-27T10:30:00.000Z",
                    "Tag conventions, scope panel",
                ),
            ),
            parent_id=_ENG_HOME,
            labels=("logging", "datadog", "observability", "guidelines", "owner-team-platform"),
            properties={
                "doc-review": {
                    "reviewCycleDays": 180,
                    "lastReviewed": "2026-01-27",
                    "ownerAccountId": PRIYA_ID,
                }
            },
        ),
        _page(
            "665545",
            "ENG",
            "Observability onboarding",
            _versions(
                (p.observability_onboarding_body(), JONAS_ID, "2025-10-14T12:00:00.000Z", ""),
            ),
            parent_id=_ENG_HOME,
            labels=("observability", "onboarding"),
        ),
        _page(
            DEPLOYMENT_PAGE_ID,
            "ENG",
            "Deployment steps",
            _versions(
                (p.deployment_body(1), JONAS_ID, "2025-06-02T09:00:00.000Z", "First version"),
                (p.deployment_body(2), MARCUS_ID, "2025-08-21T17:45:00.000Z", "Rollback section"),
                (
                    p.deployment_body(3),
                    JONAS_ID,
                    "2026-02-10T11:15:00.000Z",
                    "Promote and close steps",
                ),
            ),
            parent_id=_ENG_HOME,
            labels=("deployment", "runbook", "owner-team-sre"),
            properties={"runbook": {"criticality": "high", "oncall": "team-sre"}},
        ),
        _page(
            "440011",
            "ENG",
            "Legacy CI pipeline (Jenkins)",
            _versions(
                (
                    p.simple_body(
                        "The monolith still builds on Jenkins at "
                        "<code>ci-legacy.internal</code>. Nightly jobs run at 02:00 UTC.",
                        "Ask in <code>#ci</code> before changing job definitions.",
                    ),
                    DIEGO_ID,
                    "2023-05-16T10:00:00.000Z",
                    "",
                ),
                (
                    p.simple_body(
                        "The monolith still builds on Jenkins at "
                        "<code>ci-legacy.internal</code>. Nightly jobs run at 03:00 UTC.",
                        "Ask in <code>#ci</code> before changing job definitions.",
                    ),
                    MARCUS_ID,
                    "2024-08-19T07:30:00.000Z",
                    "Moved nightly jobs",
                ),
            ),
            parent_id=_ENG_HOME,
            labels=("ci", "jenkins"),
        ),
        _page(
            "440012",
            "ENG",
            "On-call handbook",
            _versions(
                (
                    p.simple_body(
                        "Primary on-call acknowledges pages within 5 minutes; secondary within 15.",
                        f"Escalate to {p.mention(JONAS_ID)} for Sev-1.",
                    ),
                    JONAS_ID,
                    "2025-01-15T09:00:00.000Z",
                    "",
                ),
            ),
            parent_id=_ENG_HOME,
            labels=("oncall", "owner-team-sre"),
        ),
        _page(
            "440013",
            "ENG",
            "Service mesh evaluation",
            _versions(
                (
                    p.simple_body(
                        "Draft: comparing Istio and Linkerd for mTLS between services.",
                        "TODO: latency numbers.",
                    ),
                    DIEGO_ID,
                    "2025-04-10T15:20:00.000Z",
                    "",
                ),
            ),
            parent_id=_ARCHITECTURE,
            status="draft",
        ),
        _page(
            "440014",
            "ENG",
            "Legacy deploy script (Capistrano)",
            _versions(
                (
                    p.simple_body("Replaced by the Deployment steps runbook in 2025."),
                    JONAS_ID,
                    "2023-11-03T11:00:00.000Z",
                    "",
                ),
            ),
            parent_id=_ENG_HOME,
            status="archived",
            labels=("deployment",),
        ),
        # PROD -----------------------------------------------------------------
        _page(
            _PROD_HOME,
            "PROD",
            "Product Home",
            _versions(
                (
                    p.home_body("Product", "PRDs, roadmaps and customer research.", "prod-home"),
                    ADMIN_ID,
                    "2024-02-05T08:05:00.000Z",
                    "",
                ),
            ),
            parent_id=None,
        ),
        _page(
            PRD_PAGE_ID,
            "PROD",
            "Q3 Billing Engine PRD",
            prd_versions,
            parent_id=_PROD_HOME,
            labels=("prd", "billing", "q3-2026", "owner-team-billing"),
            properties={
                "prd-review": {
                    "state": "in-review",
                    "targetRelease": "2026-Q3",
                    "approvers": [ELENA_ID, MARCUS_ID],
                }
            },
        ),
        _page(
            "998878",
            "PROD",
            "Billing glossary",
            _versions(
                (p.glossary_body(), DIEGO_ID, "2025-12-01T10:00:00.000Z", ""),
            ),
            parent_id=_PROD_HOME,
            labels=("glossary",),
        ),
        _page(
            "998879",
            "PROD",
            "Q4 Usage-based pricing PRD",
            _versions(
                (
                    p.simple_body("Draft. Pricing tiers TBD with Finance."),
                    ELENA_ID,
                    "2025-10-01T13:00:00.000Z",
                    "",
                ),
            ),
            parent_id=_PROD_HOME,
            status="draft",
            labels=("prd",),
        ),
        _page(
            "998880",
            "PROD",
            "Customer portal redesign",
            _versions(
                (
                    p.simple_body(
                        "Research summary from 14 customer interviews.",
                        "Top ask: download all invoices at once.",
                    ),
                    ELENA_ID,
                    "2025-12-09T16:00:00.000Z",
                    "",
                ),
            ),
            parent_id=_PROD_HOME,
            labels=("research",),
        ),
        # ONB ------------------------------------------------------------------
        _page(
            _ONB_HOME,
            "ONB",
            "Onboarding Home",
            _versions(
                (
                    p.home_body(
                        "Onboarding",
                        "Everything a new joiner needs in the first month.",
                        "onb-home",
                    ),
                    ADMIN_ID,
                    "2024-02-05T08:10:00.000Z",
                    "",
                ),
            ),
            parent_id=None,
        ),
        _page(
            "778899",
            "ONB",
            "Datadog logging guidelines (archived draft)",
            _versions(
                (p.datadog_archived_body(), JONAS_ID, "2024-05-14T09:00:00.000Z", ""),
            ),
            parent_id=_ONB_HOME,
            labels=("logging", "datadog", "archived"),
        ),
        _page(
            "778900",
            "ONB",
            "New engineer onboarding checklist",
            _versions(
                (p.onboarding_checklist_body(), PRIYA_ID, "2025-07-01T09:00:00.000Z", ""),
            ),
            parent_id=_ONB_HOME,
            labels=("onboarding", "checklist", "owner-team-platform"),
        ),
        _page(
            "778901",
            "ONB",
            "Development environment setup",
            _versions(
                (p.dev_setup_body(), DIEGO_ID, "2025-07-02T09:00:00.000Z", ""),
            ),
            parent_id=_ONB_HOME,
            labels=("onboarding",),
        ),
        # SEC (restricted) -----------------------------------------------------------
        _page(
            _SEC_HOME,
            "SEC",
            "Security Home",
            _versions(
                (
                    p.home_body("Security", "Restricted: security team only.", "sec-home"),
                    ADMIN_ID,
                    "2024-02-05T08:15:00.000Z",
                    "",
                ),
            ),
            parent_id=None,
        ),
        _page(
            "881001",
            "SEC",
            "Incident response runbook",
            _versions(
                (
                    p.simple_body(
                        "Sev-1 security incidents: page the security on-call, open a "
                        "private channel, preserve evidence before remediation."
                    ),
                    AISHA_ID,
                    "2025-05-20T10:00:00.000Z",
                    "",
                ),
            ),
            parent_id=_SEC_HOME,
            labels=("runbook", "owner-team-security"),
        ),
        _page(
            "881002",
            "SEC",
            "Secrets rotation policy",
            _versions(
                (
                    p.simple_body(
                        "Rotate service credentials every 90 days and immediately after "
                        "any suspected exposure."
                    ),
                    AISHA_ID,
                    "2025-06-03T10:00:00.000Z",
                    "",
                ),
            ),
            parent_id=_SEC_HOME,
            labels=("policy",),
        ),
    )


def _demo_comments() -> tuple[SeedComment, ...]:
    c = pages.comment_body
    return (
        SeedComment(
            "9000001",
            PRD_PAGE_ID,
            c("Should the retry schedule differ for annual plans?", ELENA_ID),
            MARCUS_ID,
            "2026-03-02T14:20:00.000Z",
        ),
        SeedComment(
            "9000002",
            PRD_PAGE_ID,
            c("PCI review is booked for next week."),
            AISHA_ID,
            "2026-03-03T08:55:00.000Z",
        ),
        SeedComment(
            "9000003",
            DATADOG_PAGE_ID,
            c("Could we add guidance on log retention per index?", PRIYA_ID),
            JONAS_ID,
            "2026-02-02T10:12:00.000Z",
        ),
        SeedComment(
            "9000004",
            ADR_PAGE_IDS[1],
            c("Approved in the architecture review on 2025-03-18."),
            MARCUS_ID,
            "2025-03-18T16:30:00.000Z",
        ),
        SeedComment(
            "9000005",
            DEPLOYMENT_PAGE_ID,
            c("Step 5: the canary dashboard link moved to the release board."),
            DIEGO_ID,
            "2026-02-12T09:05:00.000Z",
        ),
    )


def _demo() -> SeedData:
    return SeedData(
        users=DEMO_USERS,
        spaces=_DEMO_SPACES,
        pages=_demo_pages(),
        comments=_demo_comments(),
    )


# --- synthetic ---------------------------------------------------------------------

_SYN_SPACES: tuple[tuple[str, str], ...] = (
    ("PLAT", "Platform"),
    ("DATA", "Data Platform"),
    ("MOB", "Mobile"),
    ("WEB", "Web Frontend"),
    ("SRE", "Site Reliability"),
    ("SUP", "Customer Support"),
    ("MKT", "Marketing Tech"),
    ("FIN", "Finance Systems"),
    ("PEOPLE", "People Ops"),
    ("QA", "Quality Assurance"),
)

# Titles avoid words of the demo scenarios' title searches (billing, engine, PRD,
# Q3, Datadog, logging, guidelines) so synthetic pages never outrank the demo pages.
_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Kafka",
        (
            "consumer lag",
            "partition rebalancing",
            "topic retention",
            "exactly-once delivery",
            "schema registry",
        ),
    ),
    (
        "PostgreSQL",
        (
            "connection pooling",
            "vacuum tuning",
            "read replicas",
            "index bloat",
            "logical replication",
        ),
    ),
    (
        "Kubernetes",
        ("pod autoscaling", "resource limits", "node pools", "readiness probes", "Helm charts"),
    ),
    (
        "Terraform",
        (
            "state locking",
            "module versioning",
            "drift detection",
            "workspace layout",
            "plan review",
        ),
    ),
    (
        "Redis",
        ("cache eviction", "key expiry", "cluster failover", "hot keys", "memory fragmentation"),
    ),
    (
        "GraphQL",
        (
            "schema stitching",
            "query complexity limits",
            "resolver batching",
            "persisted queries",
            "field deprecation",
        ),
    ),
    (
        "OAuth",
        ("token refresh", "scope design", "PKCE flow", "client credentials", "session revocation"),
    ),
    (
        "Observability",
        ("APM traces", "log pipelines", "alert routing", "SLO tracking", "metric cardinality"),
    ),
    (
        "CI/CD",
        (
            "build caching",
            "flaky tests",
            "canary releases",
            "artifact signing",
            "pipeline parallelism",
        ),
    ),
    (
        "Feature flags",
        (
            "gradual rollout",
            "kill switches",
            "flag cleanup",
            "targeting rules",
            "experiment analysis",
        ),
    ),
    (
        "Elasticsearch",
        (
            "shard sizing",
            "index lifecycle",
            "query latency",
            "mapping conflicts",
            "snapshot restore",
        ),
    ),
    (
        "gRPC",
        (
            "deadline propagation",
            "retry policies",
            "load balancing",
            "protobuf versioning",
            "streaming backpressure",
        ),
    ),
    (
        "Incident management",
        (
            "on-call rotation",
            "postmortems",
            "severity levels",
            "status page updates",
            "runbook coverage",
        ),
    ),
)
_COMPONENTS = (
    "checkout-api",
    "search-service",
    "identity",
    "notifications",
    "order-service",
    "catalog",
    "recommendations",
    "mobile-gateway",
    "reporting",
    "inventory",
    "shipping",
    "admin-console",
    "data-lake",
    "event-bus",
    "auth-proxy",
)
_DOC_TYPES = (
    "runbook",
    "design review",
    "postmortem",
    "how-to",
    "RFC",
    "migration plan",
    "FAQ",
    "troubleshooting",
    "capacity plan",
    "checklist",
)
_TEAMS = (
    "platform",
    "data",
    "mobile",
    "web",
    "sre",
    "support",
    "growth",
    "payments",
    "identity",
    "search",
)
_SENTENCE_TEMPLATES = (
    "We rely on {term} to keep {topic} predictable during peak traffic.",
    "The {component} team saw problems with {term} twice last quarter.",
    "Before changing {term}, open a ticket and tag the owning team.",
    "{Topic} {term} is covered by dashboards and a paging alert.",
    "Most incidents involving {term} started with a configuration change.",
    "Document every {topic} change to {term} in the changelog of {component}.",
    "A load test in staging is required before tuning {term} in production.",
    "The default settings for {term} are good enough for most services.",
    "If {term} degrades, {component} falls back to its read-only mode.",
    "Ownership of {term} moved to the platform group after the {topic} review.",
    "Measure {term} before and after the change; attach graphs to the review.",
    "New services inherit the {topic} defaults, including {term}.",
)
_HEADINGS = (
    "Context",
    "Background",
    "Current state",
    "Proposal",
    "Details",
    "Risks",
    "Steps",
    "Verification",
    "Rollback",
    "Open issues",
    "References",
    "Decision",
)
_STRIDES = (7, 11, 13, 17, 19, 23, 29, 31)  # coprime to the pool size (60)
_STATUSES = (("Green", "DONE"), ("Yellow", "IN PROGRESS"), ("Red", "BLOCKED"))
_JIRA_PROJECTS = ("PLAT", "OPS", "DATA", "WEB")
_SYN_START = datetime(2024, 3, 1, tzinfo=UTC)
_SYN_SPAN_SECONDS = 730 * 86400  # two years of creation dates
_SYN_LAST = datetime(2026, 3, 15, tzinfo=UTC)


def _sentence_pools() -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """Pre-render sentences per topic: (topic, terms, sentences)."""
    pools = []
    for topic, terms in _TOPICS:
        sentences = tuple(
            tpl.format(
                term=term, topic=topic, Topic=topic[0].upper() + topic[1:], component=component
            )
            for i, term in enumerate(terms)
            for j, tpl in enumerate(_SENTENCE_TEMPLATES)
            for component in (_COMPONENTS[(i + j) % len(_COMPONENTS)],)
        )
        pools.append((topic, terms, sentences))
    return tuple(pools)


_POOLS = _sentence_pools()
_ALL_SENTENCES = tuple(s for _, _, sentences in _POOLS for s in sentences)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _synthetic_body(rng: random.Random, page_id: str, topic_index: int) -> str:
    """Build a 1–4 KB current-version body from the topic's sentence pool.

    Uses ``rng.random()`` almost exclusively: it is several times cheaper than
    ``randint``/``sample`` and keeps ``synthetic:10000`` well under a second.
    """
    _, terms, own = _POOLS[topic_index]
    n_own = len(own)
    n_all = len(_ALL_SENTENCES)
    rand = rng.random
    target = 1000 + int(rand() * 2000)
    parts: list[str] = []
    size = 0
    first_heading = int(rand() * len(_HEADINGS))
    section = 0
    while size < target:
        heading = _HEADINGS[(first_heading + section) % len(_HEADINGS)]
        section += 1
        chunk = [f"<h2>{heading}</h2>"]
        for _ in range(1 + int(rand() * 2)):
            # Distinct sentences: walk the pool with a stride coprime to its size.
            start = int(rand() * n_own)
            step = _STRIDES[int(rand() * len(_STRIDES))]
            count = 2 + int(rand() * 3)
            picked = [own[(start + k * step) % n_own] for k in range(count)]
            picked.append(_ALL_SENTENCES[int(rand() * n_all)])
            chunk.append("<p>" + " ".join(picked) + "</p>")
        roll = rand()
        key = f"syn-{page_id}-{section}"
        if roll < 0.15:
            component = _COMPONENTS[int(rand() * len(_COMPONENTS))]
            term = terms[int(rand() * len(terms))]
            chunk.append(
                pages.code_macro(
                    key,
                    "bash",
                    f"kubectl -n {component} rollout status deploy/app && echo '{term} ok'\n",
                )
            )
        elif roll < 0.25:
            chunk.append(pages.panel("info", key, f"<p>{own[int(rand() * n_own)]}</p>"))
        elif roll < 0.30:
            colour, label = _STATUSES[int(rand() * len(_STATUSES))]
            chunk.append(f"<p>Status: {pages.status(key, colour, label)}</p>")
        elif roll < 0.35:
            project = _JIRA_PROJECTS[int(rand() * len(_JIRA_PROJECTS))]
            chunk.append(
                f"<p>Tracked in {pages.jira(key, f'{project}-{10 + int(rand() * 2990)}')}</p>"
            )
        text = "".join(chunk)
        parts.append(text)
        size += len(text)
    return "".join(parts)


def _synthetic(n: int) -> SeedData:
    demo = _demo()
    rng = random.Random(n)
    authors = tuple(u.account_id for u in DEMO_USERS if u is not LENA)
    n_spaces = min(len(_SYN_SPACES), n)
    spaces = tuple(
        SeedSpace(
            id=str(4001 + i), key=key, name=name, homepage_id=str(20_000_001 + i), writers=_EDITORS
        )
        for i, (key, name) in enumerate(_SYN_SPACES[:n_spaces])
    )
    titles: list[set[str]] = [set() for _ in spaces]
    parents: list[list[str]] = [[] for _ in spaces]
    new_pages: list[SeedPage] = []
    comments: list[SeedComment] = []
    for i in range(n):
        page_id = str(20_000_001 + i)
        s = i % n_spaces
        space = spaces[s]
        topic_index = rng.randrange(len(_TOPICS))
        topic, terms, _ = _POOLS[topic_index]
        term = rng.choice(terms)
        if i < n_spaces:
            title = f"{space.name} Home"
            parent_id = None
            status = "current"
            labels: tuple[str, ...] = ()
        else:
            base = f"{rng.choice(_COMPONENTS)}: {topic} {term} {rng.choice(_DOC_TYPES)}"
            title = base
            k = 2
            while title in titles[s]:
                title = f"{base} ({k})"
                k += 1
            pool = parents[s]
            parent_id = (
                pool[rng.randrange(len(pool))] if rng.random() < 0.6 else (space.homepage_id)
            )
            roll = rng.random()
            status = "draft" if roll < 0.05 else "archived" if roll < 0.07 else "current"
            slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")
            labels = (slug, re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-"))
            if rng.random() < 0.4:
                labels += (f"owner-team-{rng.choice(_TEAMS)}",)
        titles[s].add(title)
        if status == "current":
            parents[s].append(page_id)
        created = _SYN_START + timedelta(seconds=rng.randrange(_SYN_SPAN_SECONDS))
        n_versions = 1 if status == "draft" else rng.choice((1, 1, 2, 2, 3))
        versions: list[SeedVersion] = []
        moment = created
        for number in range(1, n_versions + 1):
            if number > 1:
                moment = min(
                    moment + timedelta(seconds=rng.randrange(3600, 120 * 86400)), _SYN_LAST
                )
            body = (
                _synthetic_body(rng, page_id, topic_index)
                if number == n_versions
                else f"<p>{topic}: {term}. Earlier revision {number}.</p>"
            )
            versions.append(
                SeedVersion(
                    number=number,
                    body=body,
                    author_id=rng.choice(authors),
                    created_at=_ts(moment),
                    message="" if number == 1 else "Updated",
                )
            )
        new_pages.append(
            SeedPage(
                id=page_id,
                space_key=space.key,
                title=title,
                versions=tuple(versions),
                status=status,
                parent_id=parent_id,
                labels=labels,
            )
        )
        if status == "current" and rng.random() < 0.1:
            comments.append(
                SeedComment(
                    id=str(30_000_001 + len(comments)),
                    page_id=page_id,
                    body=pages.comment_body(f"Is the {term} section still accurate?"),
                    author_id=rng.choice(authors),
                    created_at=_ts(min(moment + timedelta(days=rng.randint(1, 30)), _SYN_LAST)),
                )
            )
    return SeedData(
        users=demo.users,
        spaces=demo.spaces + spaces,
        pages=demo.pages + tuple(new_pages),
        comments=demo.comments + tuple(comments),
    )


# --- entry point -------------------------------------------------------------------

_SYNTHETIC_RE = re.compile(r"synthetic:(\d{1,7})")


def load_seed(name: str | None) -> SeedData:
    """Return a named seed.

    Args:
        name: ``"demo"``, ``"synthetic:N"`` (N generated pages on top of the demo
            seed, 0 ≤ N ≤ 9,999,999), or ``None``/``"empty"`` (only
            :data:`DEMO_ADMIN`).

    Returns:
        The seed data.

    Raises:
        ValueError: If ``name`` is none of the forms above.
    """
    if name is None or name == "empty":
        return SeedData(users=(DEMO_ADMIN,), spaces=(), pages=())
    if name == "demo":
        return _demo()
    match = _SYNTHETIC_RE.fullmatch(name)
    if match:
        return _synthetic(int(match.group(1)))
    raise ValueError(
        f"unknown seed {name!r}; valid seeds: 'demo', 'synthetic:N' (N a non-negative "
        "integer), 'empty' (or None)"
    )
