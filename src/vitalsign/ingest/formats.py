"""Built-in mappings for the export formats of common tools (documented in docs/connectors.md).

File layouts are those of Fivetran's normalised tables (the dbt_zendesk, dbt_stripe,
dbt_hubspot and dbt_salesforce packages); Segment formats read Segment's message JSON
(one message per NDJSON line, as exported or as posted to the event API).

Every format resolves accounts through the identity table as well (`account_keys`): Stripe
by the `stripe` key of the customer, Zendesk by the `zendesk` key of the organisation,
Segment by the `segment` key of the group. Formats that load `accounts` may name the system
their ids belong to (`key_system`: a row whose id is a known key of that system updates the
account the key names) and the keys they derive into `account_keys` (`derives`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vitalsign.errors import IngestError
from vitalsign.ingest.mapping import Case, Mapping


@dataclass(frozen=True)
class KnownFormat:
    """A tool's export format: the canonical table it fills and the mapping that does it.

    For formats of `accounts`: `key_system` is the account_keys system of the rows' ids, and
    `derives` maps account_keys systems to the accounts column whose value is their key.
    """

    name: str
    table: str
    tool: str
    mapping: Mapping
    key_system: str | None = None
    derives: dict[str, str] = field(default_factory=dict)


def _format(
    name: str,
    table: str,
    tool: str,
    key_system: str | None = None,
    derives: dict[str, str] | None = None,
    **mapping: object,
) -> KnownFormat:
    parsed = Mapping.model_validate({"format": name, **mapping})
    return KnownFormat(name, table, tool, parsed, key_system, derives or {})


_FIVETRAN_TRUE = "lower({}) == 'true'"
_SEGMENT_TIME = "coalesce(traits.createdAt, timestamp, originalTimestamp, receivedAt)"

KNOWN_FORMATS: dict[str, KnownFormat] = {
    f.name: f
    for f in (
        _format(
            "zendesk_tickets",
            "tickets",
            "Zendesk ticket export (Fivetran `ticket` table)",
            columns={
                "ticket_id": "id",
                "account_id": "organization_id",
                "created_at": "created_at",
                "solved_at": [
                    Case(when="status in ('solved', 'closed')", then="updated_at"),
                ],
                "priority": "priority",
                "status": "status",
                "subject": "subject",
            },
            identity={"crm_id": "organization_id", "zendesk": "organization_id"},
        ),
        _format(
            "stripe_customers",
            "accounts",
            "Stripe customers (Fivetran `customer` table)",
            columns={
                "account_id": "id",
                "name": "coalesce(name, description, email, id)",
                "created_at": "created",
            },
            identity={"email": "email"},
        ),
        _format(
            "stripe_customer_keys",
            "account_keys",
            "Stripe customers (Fivetran `customer` table) as keys of CRM accounts",
            columns={
                "system": "'stripe'",
                "key": "id",
                "note": "coalesce(name, description, email)",
            },
            identity={"email": "email"},
        ),
        _format(
            "stripe_subscriptions",
            "subscriptions",
            "Stripe subscription history (Fivetran `subscription_history` table)",
            columns={
                "subscription_id": "id",
                "account_id": "customer_id",
                "started_at": "coalesce(start_date, created)",
                "ended_at": "coalesce(ended_at, canceled_at)",
                "status": "status",
                "seats": "quantity",
            },
            identity={"crm_id": "customer_id", "stripe": "customer_id"},
            prefer=_FIVETRAN_TRUE.format("_fivetran_active"),
        ),
        _format(
            "stripe_invoices",
            "invoices",
            "Stripe invoices (Fivetran `invoice` table; amounts in cents)",
            columns={
                "invoice_id": "id",
                "account_id": "customer_id",
                "issued_at": "created",
                "amount": "amount_due / 100",
                "status": "status",
                "due_at": "due_date",
                "paid_at": "status_transitions_paid_at",
            },
            identity={"crm_id": "customer_id", "stripe": "customer_id"},
        ),
        _format(
            "stripe_invoice_lines",
            "invoices",
            "Stripe invoice line items (Fivetran `invoice_line_item` table; one row per line)",
            columns={
                "invoice_id": "invoice_id + '/' + id",
                "account_id": "customer_id",
                "issued_at": "coalesce(date, period_start)",
                "amount": "amount / 100",
            },
            identity={"crm_id": "customer_id", "stripe": "customer_id"},
        ),
        _format(
            "hubspot_companies",
            "accounts",
            "HubSpot companies (Fivetran `company` table)",
            key_system="hubspot",
            derives={"hubspot": "crm_id", "domain": "domain"},
            columns={
                "account_id": "id",
                "crm_id": "id",
                "name": "property_name",
                "created_at": "property_createdate",
                "owner": "property_hubspot_owner_id",
                "industry": "property_industry",
                "lifecycle_stage": "property_lifecyclestage",
                "domain": "property_domain",
            },
        ),
        _format(
            "salesforce_accounts",
            "accounts",
            "Salesforce accounts (Fivetran `account` table)",
            key_system="salesforce",
            derives={"salesforce": "crm_id", "domain": "domain"},
            columns={
                "account_id": "id",
                "crm_id": "id",
                "name": "name",
                "created_at": "created_date",
                "owner": "owner_id",
                "industry": "industry",
                "seats": "number_of_employees",
                "domain": "website",
            },
        ),
        _format(
            "salesforce_opportunities",
            "outcomes",
            "Salesforce opportunities (Fivetran `opportunity` table), closed ones as outcomes",
            columns={
                "account_id": "account_id",
                "occurred_at": "close_date",
                "kind": [
                    Case(
                        when="lower(is_won) == 'true' and contains(lower(type), 'renewal')",
                        then="'renewed'",
                    ),
                    Case(
                        when="lower(is_won) == 'true' and (contains(lower(type), 'upsell') "
                        "or contains(lower(type), 'expansion'))",
                        then="'expanded'",
                    ),
                    Case(
                        when="lower(is_closed) == 'true' and contains(lower(type), 'renewal')",
                        then="'churned'",
                    ),
                ],
                "arr_after": "amount",
            },
            identity={"crm_id": "account_id", "salesforce": "account_id"},
            require="lower(is_closed) == 'true'",
        ),
        _format(
            "segment_track",
            "events",
            "Segment track calls",
            columns={
                "event_id": "messageId",
                "account_id": "coalesce(context.groupId, properties.account_id)",
                "timestamp": "coalesce(timestamp, originalTimestamp, receivedAt)",
                "event": "event",
                "user_id": "coalesce(userId, anonymousId)",
                "feature": "properties.feature",
                "quantity": "coalesce(properties.quantity, properties.value)",
            },
            identity={
                "segment": "context.groupId",
                "email": "coalesce(context.traits.email, properties.email)",
                "user_id": "userId",
            },
            require="type == 'track'",
        ),
        _format(
            "segment_identify",
            "users",
            "Segment identify calls",
            columns={
                "user_id": "userId",
                "account_id": "coalesce(context.groupId, traits.company.id, traits.account_id)",
                "created_at": _SEGMENT_TIME,
                "email": "traits.email",
                "role": "coalesce(traits.title, traits.role)",
            },
            identity={
                "segment": "coalesce(context.groupId, traits.company.id)",
                "email": "traits.email",
            },
            require="type == 'identify'",
        ),
        _format(
            "segment_group",
            "accounts",
            "Segment group calls",
            key_system="segment",
            columns={
                "account_id": "groupId",
                "name": "coalesce(traits.name, groupId)",
                "created_at": _SEGMENT_TIME,
                "plan": "traits.plan",
                "industry": "traits.industry",
                "seats": "traits.seats",
                "domain": "coalesce(traits.domain, traits.website)",
            },
            require="type == 'group'",
        ),
    )
}

# In load order: accounts before the users that belong to them, users before their events.
SEGMENT_FORMATS = {
    "group": "segment_group",
    "identify": "segment_identify",
    "track": "segment_track",
}


def known_format(name: str) -> KnownFormat:
    """Return the known format called `name`, or raise IngestError listing them."""
    found = KNOWN_FORMATS.get(name)
    if found is None:
        raise IngestError(f"unknown format {name!r}; known: {', '.join(KNOWN_FORMATS)}")
    return found


def resolve_mapping(mapping: Mapping, table: str | None) -> tuple[Mapping, str]:
    """Lay `mapping` over its known format (if any); return it and the target table."""
    if mapping.format is None:
        if table is None:
            raise IngestError("give --into TABLE or a known --format")
        return mapping, table
    fmt = known_format(mapping.format)
    if table is not None and table != fmt.table:
        raise IngestError(
            f"format {fmt.name} loads into {fmt.table}, not {table}; drop --into or change it"
        )
    return mapping.over(fmt.mapping), fmt.table
