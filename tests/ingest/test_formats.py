"""Known formats: the sample exports, and generated files of each tool's shape."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from ingest_support import SAMPLES, add_account, count

from vitalsign.ingest.files import load_file
from vitalsign.ingest.formats import KNOWN_FORMATS
from vitalsign.ingest.mapping import Mapping
from vitalsign.store.workspace import Workspace


def _format(name: str) -> Mapping:
    return Mapping(format=name)


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_every_known_format_has_a_field_map_for_its_table_and_a_docs_section() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "connectors.md").read_text(encoding="utf-8")
    for name, fmt in KNOWN_FORMATS.items():
        assert fmt.mapping.columns, name
        assert f"### `{name}`" in docs, f"docs/connectors.md lacks a section for {name}"
        for target in fmt.mapping.columns:
            assert f"`{target}`" in docs.split(f"### `{name}`", 1)[1].split("### ", 1)[0], (
                name,
                target,
            )


def test_the_zendesk_sample_loads_tickets_by_organisation_crm_id(
    workspace: Workspace,
) -> None:
    add_account(workspace, "acme", crm_id="370295712714")
    report = load_file(
        workspace, SAMPLES / "zendesk_ticket_data.csv", None, _format("zendesk_tickets")
    )
    assert report.read == 10 and report.balanced
    loaded = count(workspace, "SELECT count(*) FROM tickets WHERE account_id = 'acme'")
    assert loaded == report.loaded >= 1
    about_accounts = "reason LIKE 'unknown account%' OR reason LIKE 'account_id is missing%'"
    assert count(workspace, f"SELECT count(*) FROM quarantine WHERE {about_accounts}") == (
        report.quarantined
    )
    solved = workspace.duckdb.execute(
        "SELECT count(*) FROM tickets WHERE status = 'solved' AND solved_at IS NULL"
    ).fetchone()[0]
    assert solved == 0


def test_the_stripe_samples_load_subscriptions_and_invoice_lines(workspace: Workspace) -> None:
    for customer in ("sdf6547", "123fsdf", "sdgfs84854", "dfd54654"):
        add_account(workspace, customer)
    subs = load_file(
        workspace,
        SAMPLES / "stripe_subscription_history_data.csv",
        None,
        _format("stripe_subscriptions"),
    )
    assert (subs.read, subs.loaded) == (2, 2)
    seats = workspace.duckdb.execute(
        "SELECT seats, status FROM subscriptions WHERE subscription_id = 'sdgfs4536'"
    ).fetchone()
    assert seats == (4, "active")
    lines = load_file(
        workspace, SAMPLES / "stripe_invoice_line_data.csv", None, _format("stripe_invoice_lines")
    )
    assert (lines.read, lines.loaded) == (2, 2)
    amount = workspace.duckdb.execute(
        "SELECT amount FROM invoices WHERE invoice_id = 'sdg545641/sdfg54545'"
    ).fetchone()[0]
    assert amount == 0.45


def test_generated_stripe_customers_and_invoices_load(workspace: Workspace, tmp_path: Path) -> None:
    customers = _write_csv(
        tmp_path / "customer.csv",
        [
            {
                "id": "cus_1",
                "name": "Acme",
                "description": "",
                "email": "ap@acme.com",
                "created": "1700000000",
                "is_deleted": "false",
            },
            {
                "id": "cus_2",
                "name": "",
                "description": "Beta Ltd",
                "email": "x@gmail.com",
                "created": "2023-11-14 22:13:20",
                "is_deleted": "false",
            },
        ],
    )
    report = load_file(workspace, customers, None, _format("stripe_customers"))
    assert report.loaded == 2
    rows = workspace.duckdb.execute(
        "SELECT account_id, name, domain, created_at FROM accounts ORDER BY 1"
    ).fetchall()
    assert [r[:3] for r in rows] == [("cus_1", "Acme", "acme.com"), ("cus_2", "Beta Ltd", None)]
    assert str(rows[0][3]) == "2023-11-14 22:13:20"
    invoices = _write_csv(
        tmp_path / "invoice.csv",
        [
            {
                "id": "in_1",
                "customer_id": "cus_1",
                "created": "2024-01-01 00:00:00",
                "amount_due": "12000",
                "status": "paid",
                "due_date": "2024-01-31",
                "status_transitions_paid_at": "2024-01-03 10:00:00",
            },
            {
                "id": "in_2",
                "customer_id": "cus_3",
                "created": "2024-01-01 00:00:00",
                "amount_due": "500",
                "status": "open",
                "due_date": "",
                "status_transitions_paid_at": "",
            },
        ],
    )
    report = load_file(workspace, invoices, None, _format("stripe_invoices"))
    assert (report.loaded, report.quarantined) == (1, 1)
    assert workspace.duckdb.execute("SELECT amount, status FROM invoices").fetchone() == (
        120.0,
        "paid",
    )


def test_generated_hubspot_and_salesforce_exports_load(
    workspace: Workspace, tmp_path: Path
) -> None:
    hubspot = _write_csv(
        tmp_path / "company.csv",
        [
            {
                "id": "101",
                "property_name": "Acme",
                "property_createdate": "2022-05-01T09:00:00Z",
                "property_hubspot_owner_id": "77",
                "property_industry": "SOFTWARE",
                "property_lifecyclestage": "customer",
                "property_domain": "https://www.Acme.com/",
            }
        ],
    )
    assert load_file(workspace, hubspot, None, _format("hubspot_companies")).loaded == 1
    salesforce = _write_csv(
        tmp_path / "account.csv",
        [
            {
                "id": "001A",
                "name": "Beta",
                "created_date": "2021-03-04 05:06:07",
                "owner_id": "005X",
                "industry": "Retail",
                "number_of_employees": "250",
                "website": "beta.io",
            }
        ],
    )
    assert load_file(workspace, salesforce, None, _format("salesforce_accounts")).loaded == 1
    rows = dict(workspace.duckdb.execute("SELECT account_id, domain FROM accounts").fetchall())
    assert rows == {"101": "acme.com", "001A": "beta.io"}
    opportunities = _write_csv(
        tmp_path / "opportunity.csv",
        [
            {
                "id": "o1",
                "account_id": "001A",
                "close_date": "2024-02-01",
                "type": "Renewal",
                "is_won": "true",
                "is_closed": "true",
                "amount": "5000",
            },
            {
                "id": "o2",
                "account_id": "001A",
                "close_date": "2024-03-01",
                "type": "Upsell",
                "is_won": "true",
                "is_closed": "true",
                "amount": "900",
            },
            {
                "id": "o3",
                "account_id": "101",
                "close_date": "2024-04-01",
                "type": "Renewal",
                "is_won": "false",
                "is_closed": "true",
                "amount": "0",
            },
            {
                "id": "o4",
                "account_id": "101",
                "close_date": "2024-05-01",
                "type": "Renewal",
                "is_won": "false",
                "is_closed": "false",
                "amount": "0",
            },
        ],
    )
    report = load_file(workspace, opportunities, None, _format("salesforce_opportunities"))
    assert (report.loaded, report.quarantined) == (3, 1)
    kinds = [
        k
        for (k,) in workspace.duckdb.execute(
            "SELECT kind FROM outcomes ORDER BY occurred_at"
        ).fetchall()
    ]
    assert kinds == ["renewed", "expanded", "churned"]
    reason = workspace.duckdb.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert "requirement" in reason


def test_a_segment_export_loads_groups_users_and_tracks(
    workspace: Workspace, tmp_path: Path
) -> None:
    messages = [
        {
            "type": "group",
            "groupId": "acme",
            "traits": {"name": "Acme", "domain": "acme.com"},
            "timestamp": "2024-01-01T00:00:00Z",
            "messageId": "g1",
        },
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"email": "ann@acme.com", "title": "CTO"},
            "timestamp": "2024-01-02T00:00:00Z",
            "messageId": "i1",
        },
        {
            "type": "track",
            "event": "Report Built",
            "userId": "u1",
            "messageId": "t1",
            "properties": {"feature": "reports", "quantity": 2},
            "timestamp": "2024-01-03T12:00:00+01:00",
        },
        {
            "type": "track",
            "event": "Login",
            "anonymousId": "anon",
            "messageId": "t2",
            "context": {"traits": {"email": "zed@acme.com"}},
            "timestamp": "2024-01-03T12:00:00Z",
        },
        {"type": "identify", "userId": "u2", "messageId": "t3", "timestamp": "2024-01-03"},
    ]
    path = tmp_path / "segment.ndjson"
    path.write_text("\n".join(json.dumps(m) for m in messages))
    assert load_file(workspace, path, None, _format("segment_group")).loaded == 1
    users = load_file(workspace, path, None, _format("segment_identify"))
    assert (users.loaded, users.quarantined) == (1, 4)
    events = load_file(workspace, path, None, _format("segment_track"))
    assert (events.loaded, events.quarantined) == (2, 3)
    rows = workspace.duckdb.execute(
        "SELECT event_id, account_id, timestamp, feature, quantity FROM events ORDER BY 1"
    ).fetchall()
    assert [(r[0], r[1], str(r[2]), r[3], r[4]) for r in rows] == [
        ("t1", "acme", "2024-01-03 11:00:00", "reports", 2.0),
        ("t2", "acme", "2024-01-03 12:00:00", None, None),
    ]


@pytest.mark.parametrize("name", sorted(KNOWN_FORMATS))
def test_each_format_mapping_compiles_against_a_generated_file_of_its_shape(
    name: str, workspace: Workspace, tmp_path: Path
) -> None:
    fmt = KNOWN_FORMATS[name]
    if name.startswith("segment_"):
        path = tmp_path / "m.ndjson"
        path.write_text(json.dumps({"type": "other", "messageId": "x"}) + "\n")
    else:
        from vitalsign.ingest.plan import _alias_paths
        from vitalsign.model.expressions import parse_expression

        names: set[str] = set()
        texts = [*fmt.mapping.identity.values(), fmt.mapping.prefer, fmt.mapping.require]
        for spec in fmt.mapping.columns.values():
            texts += (
                [spec] if isinstance(spec, str) else [c.when for c in spec] + [c.then for c in spec]
            )
        for text in filter(None, texts):
            aliased, _ = _alias_paths(text)
            names |= parse_expression(aliased).names()
        path = _write_csv(tmp_path / "f.csv", [dict.fromkeys(sorted(names), "")])
    report = load_file(workspace, path, None, Mapping(format=name))
    assert report.read == 1 and report.quarantined == 1 and report.table == fmt.table
