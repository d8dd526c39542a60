"""The canonical tables every source is loaded into, and that signals read from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "int", "float", "bool", "date", "timestamp"]

SQL_TYPES: dict[ColumnType, str] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    type: ColumnType
    required: bool
    doc: str


@dataclass(frozen=True)
class CanonicalTable:
    """A canonical table: its key, its time column and its columns."""

    name: str
    doc: str
    key: tuple[str, ...]
    time_column: str | None
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def append_only(self) -> bool:
        """True for tables whose rows are never updated or deleted (events)."""
        return self.name in APPEND_ONLY_TABLES

    def with_columns(self, extra: tuple[Column, ...]) -> CanonicalTable:
        """Return this table with `extra` columns added (a workspace's custom fields)."""
        return CanonicalTable(self.name, self.doc, self.key, self.time_column, self.columns + extra)

    def column(self, name: str) -> Column | None:
        """Return the column called `name`, or None."""
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> list[str]:
        """Names of all columns, in declaration order."""
        return [c.name for c in self.columns]


# Tables whose rows are appended, never updated nor deleted by a snapshot source.
APPEND_ONLY_TABLES = frozenset({"events"})
# The system column of every other canonical table: when a snapshot source dropped the row.
DELETED_AT = "deleted_at"


def _col(name: str, type_: ColumnType, required: bool, doc: str) -> Column:
    return Column(name, type_, required, doc)


ACCOUNTS = CanonicalTable(
    "accounts",
    "One row per customer account (the unit that is scored).",
    key=("account_id",),
    time_column="created_at",
    columns=(
        _col("account_id", "string", True, "Stable account key used by every other table."),
        _col("name", "string", True, "Display name."),
        _col("created_at", "timestamp", True, "Start of the relationship; not scored before."),
        _col("owner", "string", False, "Owner CSM (user name or e-mail)."),
        _col("segment", "string", False, "Commercial segment, e.g. smb, mid-market, enterprise."),
        _col("plan", "string", False, "Current plan."),
        _col("industry", "string", False, "Industry."),
        _col("lifecycle_stage", "string", False, "onboarding, adoption, renewal, ..."),
        _col("seats", "int", False, "Licensed seats."),
        _col("arr", "float", False, "Annual recurring revenue in the reporting currency."),
        _col("renewal_date", "date", False, "Next renewal date."),
        _col("churned_at", "timestamp", False, "When the account churned; not scored from then."),
        _col("domain", "string", False, "E-mail domain, for identity resolution."),
        _col("crm_id", "string", False, "Id of the account in the CRM."),
        _col(
            "updated_at",
            "timestamp",
            False,
            "When the source last changed the row: the time a change became true (history).",
        ),
    ),
)

USERS = CanonicalTable(
    "users",
    "People at customer accounts (users and contacts).",
    key=("user_id",),
    time_column="created_at",
    columns=(
        _col("user_id", "string", True, "User key."),
        _col("account_id", "string", True, "Account the user belongs to."),
        _col("created_at", "timestamp", True, "When the user was created or first seen."),
        _col("email", "string", False, "E-mail address."),
        _col("role", "string", False, "Job role or title."),
        _col("is_champion", "bool", False, "The account's champion."),
        _col("is_exec_sponsor", "bool", False, "The account's executive sponsor."),
        _col("left_at", "timestamp", False, "When the person left the account."),
    ),
)

EVENTS = CanonicalTable(
    "events",
    "Product usage events.",
    key=("event_id",),
    time_column="timestamp",
    columns=(
        _col("event_id", "string", False, "Event key; a content hash is used when absent."),
        _col("account_id", "string", True, "Account the event belongs to."),
        _col("timestamp", "timestamp", True, "When the event happened (UTC)."),
        _col("event", "string", True, "Event name, e.g. login, report_created."),
        _col("user_id", "string", False, "User who did it."),
        _col("feature", "string", False, "Product feature or module."),
        _col("quantity", "float", False, "A numeric amount carried by the event."),
    ),
)

TICKETS = CanonicalTable(
    "tickets",
    "Support tickets.",
    key=("ticket_id",),
    time_column="created_at",
    columns=(
        _col("ticket_id", "string", True, "Ticket key."),
        _col("account_id", "string", True, "Account that raised it."),
        _col("created_at", "timestamp", True, "When it was opened."),
        _col("solved_at", "timestamp", False, "When it was solved."),
        _col("priority", "string", False, "low, normal, high, urgent."),
        _col("status", "string", False, "open, pending, solved, closed."),
        _col("subject", "string", False, "Subject line."),
        _col("first_response_hours", "float", False, "Hours to first reply."),
        _col("satisfaction", "float", False, "Ticket satisfaction (CSAT) if rated."),
    ),
)

SUBSCRIPTIONS = CanonicalTable(
    "subscriptions",
    "Subscriptions and their periods (billing).",
    key=("subscription_id",),
    time_column="started_at",
    columns=(
        _col("subscription_id", "string", True, "Subscription key."),
        _col("account_id", "string", True, "Account."),
        _col("started_at", "timestamp", True, "Start of the subscription period."),
        _col("ended_at", "timestamp", False, "End (cancellation or expiry)."),
        _col("plan", "string", False, "Plan."),
        _col("status", "string", False, "active, trialing, past_due, canceled."),
        _col("seats", "int", False, "Seats."),
        _col("mrr", "float", False, "Monthly recurring revenue."),
    ),
)

INVOICES = CanonicalTable(
    "invoices",
    "Invoices and their payment.",
    key=("invoice_id",),
    time_column="issued_at",
    columns=(
        _col("invoice_id", "string", True, "Invoice key."),
        _col("account_id", "string", True, "Account billed."),
        _col("issued_at", "timestamp", True, "When the invoice was issued."),
        _col("amount", "float", True, "Amount due."),
        _col("status", "string", False, "paid, open, failed, void."),
        _col("due_at", "timestamp", False, "Due date."),
        _col("paid_at", "timestamp", False, "When it was paid."),
    ),
)

SURVEYS = CanonicalTable(
    "surveys",
    "Survey responses (NPS, CSAT).",
    key=("response_id",),
    time_column="responded_at",
    columns=(
        _col("response_id", "string", True, "Response key."),
        _col("account_id", "string", True, "Account of the respondent."),
        _col("responded_at", "timestamp", True, "When it was answered."),
        _col("kind", "string", True, "nps or csat."),
        _col("score", "float", True, "NPS 0-10 or CSAT 1-5."),
        _col("user_id", "string", False, "Respondent."),
        _col("comment", "string", False, "Free text."),
    ),
)

CSM_RATINGS = CanonicalTable(
    "csm_ratings",
    "A CSM's gut rating of an account.",
    key=("account_id", "rated_at"),
    time_column="rated_at",
    columns=(
        _col("account_id", "string", True, "Account rated."),
        _col("rated_at", "timestamp", True, "When it was rated."),
        _col("rating", "string", True, "green, yellow or red."),
        _col("csm", "string", False, "Who rated it."),
        _col("note", "string", False, "Why."),
    ),
)

BUSINESS_EVENTS = CanonicalTable(
    "business_events",
    "Relationship and business events: champion left, acquisition, reorg.",
    key=("account_id", "occurred_at", "kind"),
    time_column="occurred_at",
    columns=(
        _col("account_id", "string", True, "Account."),
        _col("occurred_at", "timestamp", True, "When it happened."),
        _col("kind", "string", True, "champion_left, acquisition, exec_sponsor_left, ..."),
        _col("detail", "string", False, "Free text."),
    ),
)

OUTCOMES = CanonicalTable(
    "outcomes",
    "Commercial outcomes: churned, renewed, expanded, contracted, reactivated.",
    key=("account_id", "occurred_at", "kind"),
    time_column="occurred_at",
    columns=(
        _col("account_id", "string", True, "Account."),
        _col("occurred_at", "timestamp", True, "When it happened."),
        _col(
            "kind",
            "string",
            True,
            "churned, renewed, expanded, contracted, or reactivated (a customer again after "
            "a churn).",
        ),
        _col("arr_before", "float", False, "ARR before."),
        _col("arr_after", "float", False, "ARR after."),
        _col(
            "derived_from",
            "string",
            False,
            "`subscriptions` for rows derived from billing (replaced at each derivation); "
            "empty for loaded rows.",
        ),
    ),
)

ACCOUNT_KEYS = CanonicalTable(
    "account_keys",
    "The identity table: an account's keys in other systems (CRM, billing, support, ...).",
    key=("system", "key"),
    time_column=None,
    columns=(
        _col(
            "system",
            "string",
            True,
            "The system the key belongs to: crm, stripe, zendesk, segment, hubspot, "
            "salesforce, domain, or any name (lower case).",
        ),
        _col("key", "string", True, "The account's id in that system (a domain for domain)."),
        _col("account_id", "string", True, "The account it names (must exist)."),
        _col("note", "string", False, "Free text: where the key came from."),
    ),
)

OWNERS = CanonicalTable(
    "owners",
    "People who own accounts (CSMs): a CRM's owner ids mapped to e-mails and names.",
    key=("owner_id",),
    time_column=None,
    columns=(
        _col("owner_id", "string", True, "The owner's id in the CRM (as accounts carry it)."),
        _col("email", "string", False, "E-mail: stored as accounts.owner, used to log in."),
        _col("name", "string", False, "Name shown in the web app."),
    ),
)

CANONICAL_TABLES: dict[str, CanonicalTable] = {
    t.name: t
    for t in (
        ACCOUNTS,
        USERS,
        EVENTS,
        TICKETS,
        SUBSCRIPTIONS,
        INVOICES,
        SURVEYS,
        CSM_RATINGS,
        BUSINESS_EVENTS,
        OUTCOMES,
        ACCOUNT_KEYS,
        OWNERS,
    )
}

# Columns computed on the accounts table as of the scoring date T.
ACCOUNT_DERIVED_COLUMNS: dict[str, str] = {
    "days_to_renewal": (
        "Days from T to the next renewal: renewal_date rolled back by whole 365-day terms "
        "to the first on or after T (negative when overdue)."
    ),
    "tenure_days": "Days from created_at to T.",
}
