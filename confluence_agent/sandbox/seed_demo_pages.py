"""Storage-format bodies of the sandbox's demo seed.

Everything here is plain strings in Confluence storage format (XHTML fragments
with ``ac:``/``ri:`` elements, no namespace declarations), built with a few small
helpers so every body stays well-formed. ``confluence_agent.sandbox.seed`` turns
them into pages; this module knows nothing about the seed dataclasses.

The account ids of the demo people live here because the bodies mention them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

# --- account ids (24-hex and "557058:uuid" forms, as on Cloud) --------------------

ADMIN_ID = "557058:9f4e2b1c-0d3a-4c5e-8b7f-1a2b3c4d5e6f"
PRIYA_ID = "5b10ac8d82e05b22cc7d4ef5"
MARCUS_ID = "5c2f1e7a9b3d4a0012e8f6c1"
ELENA_ID = "557058:3b9d2c44-7e1f-4a8b-9c6d-0e2f5a7b8c91"
DIEGO_ID = "5d8a4f2b6c1e3a0079b5d2e4"
AISHA_ID = "60a7c3e1f2b4d50068c9e1a3"
JONAS_ID = "5e3b9c7d1a2f4e0051d6a8b2"
LENA_ID = "712020:5a8c6e2f-9b1d-4f3a-8e7c-2d4b6f8a0c1e"

_MACRO_NS = uuid.UUID("6f1d3c2a-8b4e-4d5f-9a1b-0c2d3e4f5a6b")


# --- storage helpers ------------------------------------------------------------


def macro_id(name: str) -> str:
    """Return a deterministic ``ac:macro-id`` for a macro.

    Args:
        name: A key unique within the seed (for example ``"prd-toc"``).

    Returns:
        A UUID string, stable across runs.
    """
    return str(uuid.uuid5(_MACRO_NS, name))


def cdata(text: str) -> str:
    """Wrap text in CDATA, splitting any ``]]>`` inside it.

    Args:
        text: Literal text.

    Returns:
        One or more CDATA sections whose concatenated content is ``text``.
    """
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def macro(
    name: str,
    key: str,
    params: Iterable[tuple[str, str]] = (),
    *,
    rich_body: str | None = None,
    plain_body: str | None = None,
) -> str:
    """Build an ``ac:structured-macro`` element.

    Args:
        name: Macro key (``info``, ``code``, ``status`` …).
        key: Seed-unique key used to derive the ``ac:macro-id``.
        params: ``(name, value)`` pairs; values must already be escaped storage.
        rich_body: Storage placed in ``ac:rich-text-body``, if any.
        plain_body: Literal text placed in ``ac:plain-text-body`` (as CDATA), if any.

    Returns:
        The macro as storage.
    """
    parts = [
        f'<ac:structured-macro ac:name="{name}" ac:schema-version="1" '
        f'ac:macro-id="{macro_id(key)}">'
    ]
    parts.extend(f'<ac:parameter ac:name="{p}">{v}</ac:parameter>' for p, v in params)
    if rich_body is not None:
        parts.append(f"<ac:rich-text-body>{rich_body}</ac:rich-text-body>")
    if plain_body is not None:
        parts.append(f"<ac:plain-text-body>{cdata(plain_body)}</ac:plain-text-body>")
    parts.append("</ac:structured-macro>")
    return "".join(parts)


def code_macro(key: str, language: str, code: str, title: str | None = None) -> str:
    """Build a ``code`` macro.

    Args:
        key: Seed-unique key for the macro id.
        language: Value of the ``language`` parameter.
        code: Literal source code.
        title: Optional ``title`` parameter.

    Returns:
        The macro as storage.
    """
    params = [("language", language)]
    if title is not None:
        params.append(("title", title))
    return macro("code", key, params, plain_body=code)


def panel(kind: str, key: str, inner: str, title: str | None = None) -> str:
    """Build an ``info``/``note``/``tip``/``warning`` panel macro.

    Args:
        kind: Macro name.
        key: Seed-unique key for the macro id.
        inner: Storage placed in the rich-text body.
        title: Optional panel title.

    Returns:
        The macro as storage.
    """
    params = [] if title is None else [("title", title)]
    return macro(kind, key, params, rich_body=inner)


def status(key: str, colour: str, title: str) -> str:
    """Build a ``status`` lozenge macro.

    Args:
        key: Seed-unique key for the macro id.
        colour: ``Grey``, ``Red``, ``Yellow``, ``Green`` or ``Blue``.
        title: Lozenge text.

    Returns:
        The macro as storage.
    """
    return macro("status", key, [("colour", colour), ("title", title)])


def jira(key: str, issue_key: str) -> str:
    """Build a single-issue ``jira`` macro.

    Args:
        key: Seed-unique key for the macro id.
        issue_key: The Jira issue key, e.g. ``BILL-123``.

    Returns:
        The macro as storage.
    """
    return macro(
        "jira",
        key,
        [
            ("server", "System JIRA"),
            ("serverId", "8c1f4a2e-3b5d-3c6e-9f7a-1b2c3d4e5f60"),
            ("key", issue_key),
        ],
    )


def mention(account_id: str) -> str:
    """Build a user mention.

    Args:
        account_id: The mentioned user's accountId.

    Returns:
        The mention as storage.
    """
    return f'<ac:link><ri:user ri:account-id="{account_id}"/></ac:link>'


def page_link(title: str, space_key: str | None = None, text: str | None = None) -> str:
    """Build a link to a page by title.

    Args:
        title: Target page title.
        space_key: Target space key; omitted means the linking page's space.
        text: Link text; omitted means Confluence shows the title.

    Returns:
        The link as storage.
    """
    space = "" if space_key is None else f' ri:space-key="{space_key}"'
    body = (
        "" if text is None else f"<ac:plain-text-link-body>{cdata(text)}</ac:plain-text-link-body>"
    )
    return f'<ac:link><ri:page ri:content-title="{title}"{space}/>{body}</ac:link>'


def task_list(tasks: Iterable[tuple[int, bool, str]]) -> str:
    """Build an ``ac:task-list``.

    Args:
        tasks: ``(task_id, complete, body_storage)`` triples.

    Returns:
        The task list as storage.
    """
    items = []
    for task_id, complete, body in tasks:
        state = "complete" if complete else "incomplete"
        items.append(
            f"<ac:task><ac:task-id>{task_id}</ac:task-id>"
            f"<ac:task-uuid>{macro_id(f'task-{task_id}')}</ac:task-uuid>"
            f"<ac:task-status>{state}</ac:task-status>"
            f"<ac:task-body>{body}</ac:task-body></ac:task>"
        )
    return "<ac:task-list>" + "".join(items) + "</ac:task-list>"


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """Build a table with a header row.

    Args:
        header: Header cell texts (storage).
        rows: Rows of cell storage.

    Returns:
        The table as storage.
    """
    head = "".join(f"<th><p><strong>{h}</strong></p></th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td><p>{cell}</p></td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<table data-layout="default"><tbody><tr>{head}</tr>{body}</tbody></table>'


def children_macro(key: str) -> str:
    """Build a ``children`` display macro listing all descendants.

    Args:
        key: Seed-unique key for the macro id.

    Returns:
        The macro as storage.
    """
    return macro("children", key, [("all", "true")])


# --- Q3 Billing Engine PRD (page 998877) ------------------------------------------

_PRD_PRORATE = '''from decimal import ROUND_HALF_EVEN, Decimal


def prorate(
    old_price: Decimal, new_price: Decimal, seconds_left: int, cycle_seconds: int
) -> Decimal:
    """Charge (> 0) or credit (< 0) for a plan change in the middle of a cycle."""
    if cycle_seconds <= 0 or not 0 <= seconds_left <= cycle_seconds:
        raise ValueError("seconds_left must lie within the cycle")
    # upgrade & downgrade share one formula; the sign tells them apart
    delta = (new_price - old_price) * Decimal(seconds_left) / Decimal(cycle_seconds)
    return delta.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
'''

_PRD_REQUIREMENTS: tuple[tuple[str, str, str], ...] = (
    (
        "R1",
        "Support monthly, quarterly and annual billing cycles anchored to the "
        "subscription start date.",
        "Must",
    ),
    (
        "R2",
        "Prorate upgrades and downgrades to the second; credits land on the next invoice.",
        "Must",
    ),
    ("R3", "Issue invoices as PDF and structured JSON within 5 minutes of cycle close.", "Must"),
    (
        "R4",
        "Compute tax through the existing tax vendor API and store the breakdown per line item.",
        "Must",
    ),
    ("R5", "Retry failed payments on a configurable schedule with exponential back-off.", "Must"),
    ("R6", "Send dunning emails at every retry and 3 days before suspension.", "Should"),
    ("R7", "Show the full invoice history to customers in the billing portal.", "Should"),
    (
        "R8",
        "Let Finance issue credit notes and partial refunds without engineering help.",
        "Should",
    ),
    (
        "R9",
        "Export usage, invoice and revenue metrics to the finance data warehouse daily.",
        "Could",
    ),
    (
        "R10",
        "Keep an append-only audit trail of every charge &amp; adjustment for 7 years.",
        "Must",
    ),
)


def _prd_header(version: int) -> str:
    if version >= 4:
        lozenge = status("prd-status", "Yellow", "IN REVIEW")
    else:
        lozenge = status("prd-status", "Grey", "DRAFT")
    left = (
        f"<p><strong>Status:</strong> {lozenge}</p>"
        f"<p><strong>Product owner:</strong> {mention(ELENA_ID)}</p>"
        f"<p><strong>Engineering lead:</strong> {mention(MARCUS_ID)}</p>"
        "<p><strong>Target release:</strong> 2026-Q3</p>"
        f"<p><strong>Epic:</strong> {jira('prd-jira-epic', 'BILL-123')}</p>"
    )
    right = "<p><strong>On this page</strong></p>" + macro(
        "toc", "prd-toc", [("maxLevel", "3"), ("minLevel", "2"), ("style", "none")]
    )
    return (
        '<ac:layout><ac:layout-section ac:type="two_equal" ac:breakout-mode="default">'
        f"<ac:layout-cell>{left}</ac:layout-cell>"
        f"<ac:layout-cell>{right}</ac:layout-cell>"
        "</ac:layout-section></ac:layout>"
    )


def _prd_overview() -> str:
    return (
        "<h2>Overview</h2>"
        "<p>The Q3 Billing Engine replaces the nightly batch job that has produced customer "
        "invoices since 2019. The new engine rates usage and subscription changes as they "
        "happen, so Finance sees revenue the day it is earned instead of at month end, and "
        "customers see the same numbers in the billing portal that Support sees.</p>"
        + panel(
            "info",
            "prd-info-scope",
            "<p>This PRD is the source of truth for <strong>scope</strong>. Engineering design "
            f"lives in the ADRs under {page_link('Architecture', 'ENG', 'Architecture')}; "
            "pricing decisions are owned by Finance.</p>",
        )
        + '<p><ac:image ac:align="center" ac:layout="center" ac:width="640" '
        'ac:alt="Billing engine context diagram">'
        '<ri:attachment ri:filename="billing-engine-context.png" ri:version-at-save="2"/>'
        "</ac:image></p>"
        "<p>Customers affected: every self-serve and sales-assisted account on a monthly or "
        "annual plan&nbsp;&mdash; roughly 48,000 active subscriptions.</p>"
    )


def _prd_goals() -> str:
    return (
        "<h2>Goals</h2>"
        "<ul>"
        "<li><p>Invoice accuracy of 99.95&nbsp;% against the monthly finance "
        "reconciliation.</p></li>"
        "<li><p>Invoices issued within 5 minutes of a billing cycle closing.</p></li>"
        "<li><p>Self-serve plan changes with correct proration and no support ticket.</p></li>"
        "<li><p>Cut involuntary churn from failed payments by 20&nbsp;%.</p></li>"
        "</ul>"
        "<h3>Non-goals</h3>"
        "<ul>"
        "<li><p>Multi-currency price books (planned for the following year).</p></li>"
        "<li><p>Replacing the tax calculation vendor.</p></li>"
        "</ul>"
    )


def _prd_requirements() -> str:
    rows = [(rid, text, prio) for rid, text, prio in _PRD_REQUIREMENTS]
    return (
        "<h2>Requirements</h2>"
        "<p>Priorities follow MoSCoW. A requirement is done when its acceptance test in "
        "the billing test plan passes in staging.</p>"
        + table(("ID", "Requirement", "Priority"), rows)
    )


def _prd_billing_cycles() -> str:
    return (
        "<h2>Billing cycles</h2>"
        "<p>A cycle is anchored to the subscription&rsquo;s start date and closes at "
        "00:00&nbsp;UTC on the anchor day. Annual plans renew on the anniversary; plans "
        "started on the 29th&ndash;31st close on the last day of shorter months.</p>"
        "<ul>"
        "<li><p><strong>Monthly</strong> &mdash; default for self-serve plans.</p></li>"
        "<li><p><strong>Quarterly</strong> &mdash; sales-assisted plans only.</p></li>"
        "<li><p><strong>Annual</strong> &mdash; paid up front, 2 months free.</p></li>"
        "</ul>"
        "<p>Plan changes are prorated to the second. The reference implementation used by "
        "the acceptance tests is below.</p>"
        + macro(
            "expand",
            "prd-expand-proration",
            [("title", "Proration reference implementation")],
            rich_body=code_macro(
                "prd-code-proration", "python", _PRD_PRORATE, title="proration.py"
            ),
        )
    )


def _prd_invoicing() -> str:
    return (
        "<h2>Invoicing</h2>"
        "<p>Each closed cycle produces one invoice per subscription. An invoice moves "
        "through draft &rarr; finalized &rarr; paid, or finalized &rarr; void when Finance "
        "cancels it. Finalized invoices are immutable; corrections are credit notes.</p>"
        "<ol>"
        "<li><p>Collect rated usage and recurring charges for the cycle.</p></li>"
        "<li><p>Apply discounts, then credits carried over from earlier cycles.</p></li>"
        "<li><p>Request tax from the tax vendor and attach the breakdown.</p></li>"
        "<li><p>Render the PDF, store both PDF and JSON, and email the customer.</p></li>"
        "</ol>"
        "<p>Invoice numbers are sequential per legal entity (<code>INV-2026-000123</code>) "
        "and never reused, even for void invoices.</p>"
    )


def _prd_payment_retries() -> str:
    return (
        "<h2>Payment retries</h2>"
        "<p>When a charge fails with a soft decline (insufficient funds, issuer "
        "unavailable), the engine retries on days 1, 3, 5 and 7 after the due date, then "
        "suspends the subscription. Each retry triggers a dunning email.</p>"
        + table(
            ("Attempt", "Delay after due date", "Customer email"),
            (
                ("1", "1 day", "Payment failed, we will retry"),
                ("2", "3 days", "Second reminder with card update link"),
                ("3", "5 days", "Final reminder"),
                ("4", "7 days", "Subscription suspended"),
            ),
        )
        + panel(
            "warning",
            "prd-warning-hard-declines",
            "<p>Never retry <strong>hard declines</strong> (stolen card, closed account, "
            "do-not-honor). Retrying them raises the dispute rate and can get the merchant "
            "account flagged by the card networks.</p>",
            title="Hard declines",
        )
    )


def _prd_rollout() -> str:
    return (
        "<h2>Rollout</h2>"
        "<p>The engine ships behind the <code>billing-engine-v2</code> flag and is deployed "
        f"with the standard {page_link('Deployment steps', 'ENG', 'deployment runbook')}. "
        "Both engines run in shadow mode for two full cycles; any invoice that differs by "
        "more than 0.01 is investigated before the next phase.</p>"
        "<ol>"
        "<li><p>Internal and test accounts (week 1).</p></li>"
        "<li><p>5&nbsp;% of self-serve monthly plans (weeks 3&ndash;4).</p></li>"
        "<li><p>All self-serve plans (week 6).</p></li>"
        "<li><p>Sales-assisted and annual plans (week 9).</p></li>"
        "</ol>"
        + task_list(
            (
                (1, True, f"Shadow-mode comparison report {mention(MARCUS_ID)}"),
                (2, False, f"Dunning email copy approved by Marketing {mention(ELENA_ID)}"),
                (3, False, f"Runbook for suspending a cohort {mention(JONAS_ID)}"),
                (4, False, f"PCI scope review of the new card vault calls {mention(AISHA_ID)}"),
            )
        )
    )


def _prd_open_questions() -> str:
    return (
        "<h2>Open questions</h2>"
        "<ul>"
        f"<li><p>Do annual plans get a longer grace period before suspension? "
        f"{mention(ELENA_ID)}</p></li>"
        f"<li><p>Who approves credit notes above 10,000? {mention(DIEGO_ID)}</p></li>"
        "<li><p>Should the customer portal show draft invoices? "
        f"{jira('prd-jira-portal', 'BILL-131')}</p></li>"
        "</ul>"
        f'<p><ac:emoticon ac:name="information"/> Terms are defined in the '
        f"{page_link('Billing glossary', text='Billing glossary')}.</p>"
    )


_PRD_SECTIONS_BY_VERSION = {
    1: (_prd_overview, _prd_goals),
    2: (_prd_overview, _prd_goals, _prd_requirements),
    3: (_prd_overview, _prd_goals, _prd_requirements, _prd_billing_cycles, _prd_invoicing),
    4: (
        _prd_overview,
        _prd_goals,
        _prd_requirements,
        _prd_billing_cycles,
        _prd_invoicing,
        _prd_payment_retries,
    ),
    5: (
        _prd_overview,
        _prd_goals,
        _prd_requirements,
        _prd_billing_cycles,
        _prd_invoicing,
        _prd_payment_retries,
        _prd_rollout,
        _prd_open_questions,
    ),
}


def prd_body(version: int) -> str:
    """Return the Q3 Billing Engine PRD body at a version (1–5).

    Args:
        version: Version number; each version adds sections to the previous one.

    Returns:
        The storage body.
    """
    return _prd_header(version) + "".join(s() for s in _PRD_SECTIONS_BY_VERSION[version])


# --- Datadog logging guidelines (page 665544) -------------------------------------

_DD_EXAMPLE = (
    '{"timestamp":"2026-01-27T14:03:22.481Z","level":"INFO","service":"checkout-api",'
    '"env":"prod","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",'
    '"team":"payments","message":"order placed","order_id":"ord_81k2","duration_ms":142}'
)

_DD_RULES = (
    "<li><p><strong>Structured JSON only.</strong> Emit one JSON object per line to stdout. "
    "No multi-line plain-text messages; stack traces go in the <code>error.stack</code> "
    "field.</p></li>",
    "<li><p><strong>Required fields.</strong> Every line carries <code>service</code>, "
    "<code>env</code> and <code>trace_id</code> (plus <code>span_id</code> inside a span). "
    "The Datadog agent drops nothing, but lines without them cannot be correlated with "
    "APM traces.</p></li>",
    "<li><p><strong>Log levels.</strong> Use DEBUG, INFO, WARN and ERROR only. ERROR means "
    "someone must act; expected failures (validation, 404) are INFO or WARN.</p></li>",
    "<li><p><strong>No PII or secrets.</strong> Never log emails, names, addresses, card "
    "numbers, tokens, passwords or API keys. Use the shared <code>scrub()</code> helper for "
    "request payloads.</p></li>",
    "<li><p><strong>Sample debug logs.</strong> DEBUG is off in production by default; when "
    "enabled, sample at 1&nbsp;% with the <code>log.sample_rate</code> setting and switch it "
    "off within 24 hours.</p></li>",
    "<li><p><strong>Tag conventions.</strong> Tag every service with <code>team:</code>, "
    "<code>service:</code> and <code>env:</code>. Values are lowercase kebab-case "
    "(<code>team:payments</code>, <code>service:checkout-api</code>).</p></li>",
)


def datadog_body(version: int) -> str:
    """Return the Datadog logging guidelines body at a version (1–3).

    Args:
        version: Version number.

    Returns:
        The storage body.
    """
    rules = {1: _DD_RULES[:4], 2: _DD_RULES[:5], 3: _DD_RULES}[version]
    intro = (
        panel(
            "info",
            "dd-info-scope",
            "<p>These guidelines apply to every service that ships logs to Datadog. "
            f"Questions go to <code>#platform-observability</code> or {mention(PRIYA_ID)}.</p>",
        )
        if version >= 3
        else ""
    )
    tags = (
        "<h2>Tag conventions</h2>"
        + table(
            ("Tag", "Example", "Required"),
            (
                ("<code>team:</code>", "<code>team:payments</code>", "yes"),
                ("<code>service:</code>", "<code>service:checkout-api</code>", "yes"),
                ("<code>env:</code>", "<code>env:prod</code>, <code>env:staging</code>", "yes"),
                ("<code>version:</code>", "<code>version:2026.01.27-3f9c2ab</code>", "no"),
            ),
        )
        if version >= 3
        else ""
    )
    return (
        intro + "<h2>Why</h2>"
        "<p>Logs are only useful when they can be searched, joined to traces and kept "
        "within budget. These rules keep Datadog logging consistent across services and "
        "keep the monthly ingest bill predictable.</p>"
        "<h2>Rules</h2>"
        "<ol>" + "".join(rules) + "</ol>"
        "<h2>Example</h2>"
        "<p>A compliant log line from <code>checkout-api</code>:</p>"
        + code_macro(f"dd-code-example-v{version}", "json", _DD_EXAMPLE)
        + tags
        + "<h2>Related</h2>"
        f"<ul><li><p>{page_link('Observability onboarding')}</p></li>"
        f"<li><p>{page_link('Deployment steps')}</p></li></ul>"
    )


def observability_onboarding_body() -> str:
    """Return the body of "Observability onboarding" (ENG), a weaker Datadog match.

    Returns:
        The storage body.
    """
    return (
        "<p>Welcome to on-call. This page gets you from zero to reading production "
        "graphs in your first week.</p>"
        "<h2>Access</h2>"
        "<ol><li><p>Request the <code>datadog-readonly</code> group in the access portal.</p>"
        "</li><li><p>Join <code>#platform-observability</code> and <code>#incidents</code>."
        "</p></li></ol>"
        "<h2>Dashboards</h2>"
        "<p>Start with the Datadog dashboards <em>Service overview</em> and <em>Checkout "
        "golden signals</em>. Each service has an APM page with latency, error rate and "
        "throughput; monitors page the owning team.</p>"
        + panel(
            "tip",
            "obs-tip-logs",
            "<p>Writing logs for a new service? Follow the "
            + page_link("Datadog logging guidelines", text="Datadog logging guidelines")
            + " before your first deploy.</p>",
        )
    )


def datadog_archived_body() -> str:
    """Return the body of the outdated copy of the guidelines in ONB.

    Returns:
        The storage body.
    """
    return (
        panel(
            "note",
            "dd-old-note",
            "<p>Archived draft from 2024. The maintained version is "
            f"{page_link('Datadog logging guidelines', 'ENG', 'Datadog logging guidelines')}.</p>",
        )
        + "<h2>Logging (draft)</h2>"
        "<ul><li><p>Plain-text logs are fine for now; JSON is optional.</p></li>"
        "<li><p>Use whatever levels your framework provides.</p></li>"
        "<li><p>Ship logs to Datadog via the sidecar.</p></li></ul>"
    )


# --- Deployment steps (page 5543210) ----------------------------------------------

_DEPLOY_SCRIPT = """set -euo pipefail
git checkout main && git pull --ff-only
VERSION="$(date +%Y.%m.%d)-$(git rev-parse --short HEAD)"
make release VERSION="$VERSION"
./scripts/deploy.sh --env staging --version "$VERSION"
./scripts/smoke-test.sh staging
./scripts/deploy.sh --env production --version "$VERSION" --canary 10
"""


def deployment_body(version: int) -> str:
    """Return the "Deployment steps" body at a version (1–3).

    Args:
        version: Version number.

    Returns:
        The storage body.
    """
    steps = [
        "Announce the deploy in <code>#deploys</code> with the change list.",
        "Check that the <code>main</code> build is green and the change freeze calendar is clear.",
        "Cut the release and deploy to staging with the script below.",
        "Run the smoke tests against staging and wait for a green result.",
        "Deploy to production as a 10&nbsp;% canary and watch error rate and p99 latency "
        "for 15 minutes.",
        "Promote the canary to 100&nbsp;% and post the release version in <code>#deploys</code>.",
        "Close the release ticket and link the deploy in the changelog.",
    ]
    if version < 3:
        steps = steps[:5]
    rollback = (
        "<h2>Rollback</h2>"
        + panel(
            "warning",
            "deploy-warning-rollback",
            "<p>Roll back first, investigate second: "
            "<code>./scripts/deploy.sh --env production --version PREVIOUS</code>.</p>",
        )
        if version >= 2
        else ""
    )
    return (
        panel(
            "info",
            "deploy-info-window",
            "<p>Production deploys run Tuesday&ndash;Thursday, 09:00&ndash;16:00 UTC. "
            f"Outside the window ask the on-call lead ({mention(JONAS_ID)}).</p>",
        )
        + "<h2>Steps</h2><ol>"
        + "".join(f"<li><p>{s}</p></li>" for s in steps)
        + "</ol>"
        + code_macro(f"deploy-code-v{version}", "bash", _DEPLOY_SCRIPT, title="release.sh")
        + rollback
    )


# --- Architecture / Kafka ADRs ----------------------------------------------------

ADR_011_TITLE = "ADR-011: Migrate the order event bus from RabbitMQ to self-hosted Kafka"
ADR_014_TITLE = "ADR-014: Run the Kafka event bus on Amazon MSK"


def adr_body(
    key: str,
    state: tuple[str, str],
    context: str,
    decision: str,
    consequences: str,
    related: str = "",
) -> str:
    """Return an ADR body in the team's usual layout.

    Args:
        key: Seed-unique key for macro ids.
        state: ``(colour, title)`` of the status lozenge.
        context: Storage of the Context section.
        decision: Storage of the Decision section.
        consequences: Storage of the Consequences section.
        related: Optional storage appended after Consequences.

    Returns:
        The storage body.
    """
    return (
        f"<p><strong>Status:</strong> {status(key + '-status', *state)}</p>"
        f"<h2>Context</h2>{context}"
        f"<h2>Decision</h2>{decision}"
        f"<h2>Consequences</h2>{consequences}{related}"
    )


def adr_011_body(superseded: bool) -> str:
    """Return ADR-011 (self-hosted Kafka), proposed or superseded.

    Args:
        superseded: Whether ADR-014 has superseded it.

    Returns:
        The storage body.
    """
    state = ("Grey", "SUPERSEDED") if superseded else ("Blue", "PROPOSED")
    related = (
        panel(
            "note",
            "adr011-note",
            f"<p>Superseded by {page_link(ADR_014_TITLE, text='ADR-014')}.</p>",
        )
        if superseded
        else ""
    )
    return adr_body(
        "adr011",
        state,
        "<p>The order event bus runs on RabbitMQ 3.8. Consumers cannot replay events, "
        "queues back up during sales peaks and we lost messages twice in 2024.</p>",
        "<p>Migrate the order event bus from RabbitMQ to a self-hosted Kafka cluster on "
        "Kubernetes (Strimzi operator), three brokers per region.</p>",
        "<ul><li><p>Consumers can replay from any offset.</p></li>"
        "<li><p>The platform team operates brokers, ZooKeeper and upgrades.</p></li></ul>",
        related,
    )


def adr_014_body() -> str:
    """Return ADR-014 (Kafka on Amazon MSK), accepted.

    Returns:
        The storage body.
    """
    return adr_body(
        "adr014",
        ("Green", "ACCEPTED"),
        "<p>The Kafka migration proof of concept (ADR-011) showed that running brokers "
        "ourselves costs about one engineer full time.</p>",
        "<p>Run the Kafka event bus on Amazon MSK with tiered storage. Topics are created "
        "through Terraform only.</p>"
        + code_macro(
            "adr014-code",
            "hcl",
            'resource "aws_msk_cluster" "events" {\n'
            '  cluster_name           = "order-events"\n'
            '  kafka_version          = "3.6.0"\n'
            "  number_of_broker_nodes = 3\n"
            "}\n",
        ),
        "<ul><li><p>No broker operations on the platform team.</p></li>"
        "<li><p>Vendor lock-in to AWS for the event bus.</p></li></ul>",
        f"<p>Supersedes {page_link(ADR_011_TITLE, text='ADR-011')}.</p>",
    )


def adr_016_body() -> str:
    """Return ADR-016 (Kafka topic naming and retention), proposed.

    Returns:
        The storage body.
    """
    return adr_body(
        "adr016",
        ("Blue", "PROPOSED"),
        "<p>Topic names differ between teams and retention defaults to 7 days everywhere, "
        "which is too short for replaying billing events.</p>",
        "<p>Name topics <code>&lt;domain&gt;.&lt;entity&gt;.&lt;event&gt;.v&lt;n&gt;</code> "
        "and set retention per domain: 30 days for orders and billing, 7 days elsewhere.</p>",
        "<ul><li><p>Existing topics are renamed during the MSK cut-over.</p></li></ul>",
    )


# --- everything else --------------------------------------------------------------


def home_body(space_name: str, blurb: str, key: str) -> str:
    """Return a space homepage body.

    Args:
        space_name: The space name.
        blurb: One-paragraph description (storage).
        key: Seed-unique key for macro ids.

    Returns:
        The storage body.
    """
    return f"<h1>{space_name}</h1><p>{blurb}</p><h2>Pages in this space</h2>" + children_macro(
        key + "-children"
    )


def simple_body(*paragraphs: str) -> str:
    """Return a body made of paragraphs.

    Args:
        *paragraphs: Paragraph contents (storage).

    Returns:
        The storage body.
    """
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def onboarding_checklist_body() -> str:
    """Return the body of "New engineer onboarding checklist" (ONB).

    Returns:
        The storage body.
    """
    return (
        "<p>Work through this list in your first two weeks. Your buddy checks it with you "
        "on Friday.</p>"
        + task_list(
            (
                (11, True, "Laptop set up and disk encryption enabled"),
                (12, True, f"Read the {page_link('Development environment setup')}"),
                (13, False, f"Shadow a deploy using {page_link('Deployment steps', 'ENG')}"),
                (14, False, f"Observability walkthrough with {mention(JONAS_ID)}"),
            )
        )
    )


def dev_setup_body() -> str:
    """Return the body of "Development environment setup" (ONB).

    Returns:
        The storage body.
    """
    return (
        "<h2>Prerequisites</h2><ul><li><p>Docker 25+</p></li><li><p>Python 3.11 and "
        "<code>uv</code></p></li></ul>"
        "<h2>Bootstrap</h2>"
        + code_macro(
            "devsetup-code",
            "bash",
            "git clone git@github.example.com:acme/monorepo.git\n"
            "cd monorepo && make bootstrap && make test\n",
        )
    )


def glossary_body() -> str:
    """Return the body of "Billing glossary" (PROD).

    Returns:
        The storage body.
    """
    return table(
        ("Term", "Meaning"),
        (
            ("Anchor date", "Day of the month a subscription&rsquo;s cycles close."),
            ("Proration", "Partial charge or credit for a mid-cycle plan change."),
            ("Dunning", "Emails and retries that recover a failed payment."),
            ("Credit note", "Document that reduces the amount of a finalized invoice."),
            ("Soft decline", "A failed charge that may succeed if retried later."),
        ),
    )


def comment_body(text: str, mention_id: str | None = None) -> str:
    """Return a footer-comment body.

    Args:
        text: Comment text (storage).
        mention_id: Optional accountId mentioned at the start.

    Returns:
        The storage body.
    """
    lead = "" if mention_id is None else mention(mention_id) + " "
    return f"<p>{lead}{text}</p>"
