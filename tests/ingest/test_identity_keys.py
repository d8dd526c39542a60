"""The identity table: Stripe, Zendesk and Segment rows found through `account_keys`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
from ingest_support import SAMPLES, add_account, count

from vitalsign.errors import IngestError
from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import Mapping, parse_mapping
from vitalsign.ingest.quarantine import retry_quarantine
from vitalsign.store.workspace import Workspace


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _hubspot_companies(path: Path, n: int) -> Path:
    """A HubSpot companies export (Fivetran `company` table) of `n` companies."""
    return _write_csv(
        path,
        [
            {
                "id": str(9000 + i),
                "property_name": f"Company {i}",
                "property_createdate": "2023-01-01T00:00:00Z",
                "property_hubspot_owner_id": "71",
                "property_industry": "software",
                "property_lifecyclestage": "customer",
                "property_domain": f"https://www.company{i}.com/",
            }
            for i in range(n)
        ],
    )


def _stripe_subscriptions(path: Path, customers: int, each: int) -> Path:
    """A Stripe subscription history export: `each` rows for each of `customers` customers."""
    return _write_csv(
        path,
        [
            {
                "id": f"sub_{c:03d}_{k}",
                "_fivetran_active": "true",
                "customer_id": f"cus_{c:03d}",
                "start_date": f"2024-{k % 12 + 1:02d}-01 00:00:00",
                "created": "2024-01-01 00:00:00",
                "ended_at": "",
                "canceled_at": "",
                "status": "active",
                "quantity": "5",
            }
            for c in range(customers)
            for k in range(each)
        ],
    )


def _keys(workspace: Workspace) -> set[tuple[str, str, str]]:
    rows = workspace.duckdb.execute("SELECT system, key, account_id FROM account_keys").fetchall()
    return {(str(s), str(k), str(a)) for s, k, a in rows}


def test_stripe_rows_with_their_own_ids_are_quarantined_then_load_after_the_keys_are_added(
    workspace: Workspace, tmp_path: Path
) -> None:
    # The trial: a CRM's accounts, then Stripe whose customer ids the CRM does not know.
    crm = load_file(
        workspace,
        _hubspot_companies(tmp_path / "companies.csv", 20),
        None,
        Mapping(format="hubspot_companies"),
    )
    assert crm.inserted == 20
    stripe = _stripe_subscriptions(tmp_path / "subscription_history.csv", 20, 10)
    first = load_file(workspace, stripe, None, Mapping(format="stripe_subscriptions"))
    assert (first.read, first.loaded, first.quarantined) == (200, 0, 200)
    reason = workspace.duckdb.execute(
        "SELECT reason FROM quarantine WHERE raw LIKE '%cus_003%' LIMIT 1"
    ).fetchone()[0]
    assert reason == (
        'unknown account: no account matches account_id "cus_003" or crm_id "cus_003" '
        'or stripe "cus_003"'
    )

    # The identity: which CRM account each Stripe customer is, loaded from a file.
    keys = _write_csv(
        tmp_path / "keys.csv",
        [
            {"system": "stripe", "key": f"cus_{i:03d}", "account_id": str(9000 + i)}
            for i in range(20)
        ],
    )
    added = load_file(workspace, keys, "account_keys")
    assert (added.inserted, added.quarantined) == (20, 0)

    retried = retry_quarantine(workspace)
    assert sum(r.loaded for r in retried) == 200
    assert count(workspace, "SELECT count(*) FROM quarantine WHERE status = 'loaded'") == 200
    wrong = count(
        workspace,
        "SELECT count(*) FROM subscriptions s JOIN account_keys k ON k.key = "
        "split_part(s.subscription_id, '_', 1) || '_' || split_part(s.subscription_id, '_', 2) "
        "WHERE k.system = 'stripe' AND k.account_id <> s.account_id",
    )
    assert count(workspace, "SELECT count(*) FROM subscriptions") == 200 and wrong == 0

    # A new export of the same customers loads directly; the old rows are unchanged.
    again = load_file(workspace, stripe, None, Mapping(format="stripe_subscriptions"))
    assert (again.unchanged, again.quarantined) == (200, 0)


def test_stripe_invoices_resolve_through_the_stripe_key(workspace: Workspace) -> None:
    add_account(workspace, "acme")
    workspace.duckdb.execute(
        "INSERT INTO account_keys (system, key, account_id) VALUES ('stripe', 'sdgfs84854', 'acme')"
    )
    report = load_file(
        workspace,
        SAMPLES / "stripe_invoice_line_data.csv",
        None,
        Mapping(format="stripe_invoice_lines"),
    )
    assert (report.loaded, report.quarantined) == (1, 1)
    assert count(workspace, "SELECT count(*) FROM invoices WHERE account_id = 'acme'") == 1


def test_zendesk_tickets_resolve_through_the_zendesk_key_of_their_organisation(
    workspace: Workspace,
) -> None:
    add_account(workspace, "acme")
    add_account(workspace, "beta")
    workspace.duckdb.execute(
        "INSERT INTO account_keys (system, key, account_id) VALUES "
        "('zendesk', '370295712714', 'acme'), ('Zendesk', '370469077513', 'beta')"
    )
    report = load_file(
        workspace, SAMPLES / "zendesk_ticket_data.csv", None, Mapping(format="zendesk_tickets")
    )
    assert report.read == 10 and report.balanced
    owners = dict(workspace.duckdb.execute("SELECT ticket_id, account_id FROM tickets").fetchall())
    assert owners == {"1595": "acme", "16988": "beta"}
    assert report.quarantined == 8
    reasons = [r[0] for r in workspace.duckdb.execute("SELECT reason FROM quarantine").fetchall()]
    assert 'unknown account: no account matches account_id "370321120273" or crm_id ' in "".join(
        reasons
    )
    assert any('zendesk "370321120273"' in r for r in reasons)


def _segment_file(path: Path, messages: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(m) + "\n" for m in messages), encoding="utf-8")
    return path


def test_segment_calls_resolve_through_the_segment_key_of_their_group(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "acme", owner="alice@vendor.example")
    workspace.duckdb.execute(
        "INSERT INTO account_keys (system, key, account_id) VALUES ('segment', 'grp_1', 'acme')"
    )
    path = _segment_file(
        tmp_path / "segment.ndjson",
        [
            {
                "type": "group",
                "messageId": "m1",
                "groupId": "grp_1",
                "timestamp": "2024-01-02",
                "traits": {"name": "Acme Corp", "plan": "pro"},
            },
            {
                "type": "identify",
                "messageId": "m2",
                "userId": "u1",
                "timestamp": "2024-01-02",
                "context": {"groupId": "grp_1"},
                "traits": {"email": "ann@gmail.com"},
            },
            {
                "type": "track",
                "messageId": "m3",
                "userId": "u1",
                "event": "login",
                "timestamp": "2024-01-03",
                "context": {"groupId": "grp_1"},
            },
            {
                "type": "track",
                "messageId": "m4",
                "userId": "u9",
                "event": "login",
                "timestamp": "2024-01-03",
                "context": {"groupId": "grp_9"},
            },
        ],
    )
    group = load_file(workspace, path, None, Mapping(format="segment_group"))
    assert (group.inserted, group.updated, group.quarantined) == (0, 1, 3)
    assert workspace.duckdb.execute(
        "SELECT account_id, name, plan, owner FROM accounts"
    ).fetchall() == [("acme", "Acme Corp", "pro", "alice@vendor.example")]
    users = load_file(workspace, path, None, Mapping(format="segment_identify"))
    assert users.loaded == 1
    events = load_file(workspace, path, None, Mapping(format="segment_track"))
    assert (events.loaded, events.quarantined) == (1, 3)
    assert workspace.duckdb.execute("SELECT account_id FROM users").fetchall() == [("acme",)]
    assert workspace.duckdb.execute("SELECT account_id FROM events").fetchall() == [("acme",)]
    reason = workspace.duckdb.execute(
        "SELECT reason FROM quarantine WHERE raw LIKE '%grp_9%' AND target_table = 'events'"
    ).fetchone()[0]
    assert 'segment "grp_9"' in reason


def test_keys_of_unknown_accounts_are_quarantined_and_domains_can_be_several(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "acme", domain="acme.com")
    keys = _write_csv(
        tmp_path / "keys.csv",
        [
            {"system": "domain", "key": "https://www.Acme.io/about", "account_id": "acme"},
            {"system": "crm", "key": "SF-1", "account_id": "acme"},
            {"system": "stripe", "key": "cus_1", "account_id": "nobody"},
        ],
    )
    report = load_file(workspace, keys, "account_keys")
    assert (report.inserted, report.quarantined) == (2, 1)
    raw, reason = workspace.duckdb.execute("SELECT raw, reason FROM quarantine").fetchone()
    assert json.loads(raw)["key"] == "cus_1"
    assert reason == 'unknown account: no account matches account_id "nobody"'
    events = _write_csv(
        tmp_path / "events.csv",
        [
            {"id": "e1", "email": "ann@acme.com", "crm": "", "at": "2024-01-01", "what": "login"},
            {"id": "e2", "email": "bob@ACME.io", "crm": "", "at": "2024-01-01", "what": "login"},
            {"id": "e3", "email": "", "crm": "SF-1", "at": "2024-01-01", "what": "login"},
        ],
    )
    mapping = Mapping.model_validate(
        {
            "columns": {"event_id": "id", "timestamp": "at", "event": "what"},
            "identity": {"email": "email", "crm_id": "crm"},
        }
    )
    loaded = load_file(workspace, events, "events", mapping)
    assert (loaded.loaded, loaded.quarantined) == (3, 0)
    add_account(workspace, "nobody")
    assert sum(r.loaded for r in retry_quarantine(workspace)) == 1
    assert ("stripe", "cus_1", "nobody") in _keys(workspace)


def test_an_account_key_given_to_two_accounts_resolves_none(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "a1", crm_id="SF-9")
    add_account(workspace, "a2")
    workspace.duckdb.execute(
        "INSERT INTO account_keys (system, key, account_id) VALUES ('crm', 'SF-9', 'a2')"
    )
    tickets = _write_csv(tmp_path / "t.csv", [{"id": "t1", "org": "SF-9", "at": "2024-01-01"}])
    mapping = Mapping.model_validate(
        {"columns": {"ticket_id": "id", "created_at": "at"}, "identity": {"crm_id": "org"}}
    )
    report = load_file(workspace, tickets, "tickets", mapping)
    assert report.quarantined == 1
    reason = workspace.duckdb.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert reason == 'crm_id "SF-9" matches 2 accounts'


def test_hubspot_companies_derive_their_hubspot_and_domain_keys(
    workspace: Workspace, tmp_path: Path
) -> None:
    companies = _hubspot_companies(tmp_path / "companies.csv", 3)
    load_file(workspace, companies, None, Mapping(format="hubspot_companies"))
    assert _keys(workspace) == {
        *(("hubspot", str(9000 + i), str(9000 + i)) for i in range(3)),
        *(("domain", f"company{i}.com", str(9000 + i)) for i in range(3)),
    }
    notes = {r[0] for r in workspace.duckdb.execute("SELECT note FROM account_keys").fetchall()}
    assert notes == {"from hubspot_companies"}
    # A key someone pointed elsewhere stays; loading again adds nothing.
    workspace.duckdb.execute(
        "UPDATE account_keys SET account_id = '9001' WHERE system = 'domain' "
        "AND key = 'company0.com'"
    )
    again = load_file(workspace, companies, None, Mapping(format="hubspot_companies"))
    assert again.unchanged == 3
    assert count(workspace, "SELECT count(*) FROM account_keys") == 6
    assert ("domain", "company0.com", "9001") in _keys(workspace)
    # Tickets of another tool that carry the HubSpot company id find the account.
    tickets = _write_csv(
        tmp_path / "tickets.csv", [{"id": "t1", "company": "9002", "at": "2024-01-01"}]
    )
    mapping = Mapping.model_validate(
        {"columns": {"ticket_id": "id", "created_at": "at"}, "identity": {"hubspot": "company"}}
    )
    assert load_file(workspace, tickets, "tickets", mapping).loaded == 1
    assert workspace.duckdb.execute("SELECT account_id FROM tickets").fetchall() == [("9002",)]


def test_a_company_whose_hubspot_id_is_a_key_of_another_account_updates_that_account(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "sf-acme", name="Acme (Salesforce)")
    workspace.duckdb.execute(
        "INSERT INTO account_keys (system, key, account_id) VALUES ('hubspot', '9000', 'sf-acme')"
    )
    companies = _hubspot_companies(tmp_path / "companies.csv", 2)
    report = load_file(workspace, companies, None, Mapping(format="hubspot_companies"))
    assert (report.inserted, report.updated) == (1, 1)
    names = dict(workspace.duckdb.execute("SELECT account_id, name FROM accounts").fetchall())
    assert names == {"sf-acme": "Company 0", "9001": "Company 1"}


def test_stripe_customers_become_keys_of_the_accounts_their_email_domain_names(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "acme", domain="acme.com")
    customers = _write_csv(
        tmp_path / "customer.csv",
        [
            {"id": "cus_A", "name": "Acme", "description": "", "email": "billing@acme.com"},
            {"id": "cus_B", "name": "Solo", "description": "", "email": "solo@gmail.com"},
        ],
    )
    report = load_file(workspace, customers, None, Mapping(format="stripe_customer_keys"))
    assert (report.table, report.inserted, report.quarantined) == ("account_keys", 1, 1)
    assert _keys(workspace) == {("stripe", "cus_A", "acme")}
    with_crm = Mapping.model_validate(
        {"format": "stripe_customer_keys", "identity": {"crm_id": "description"}}
    )
    workspace.duckdb.execute("UPDATE accounts SET crm_id = 'SF-7'")
    _write_csv(
        customers,
        [{"id": "cus_B", "name": "Solo", "description": "SF-7", "email": "solo@gmail.com"}],
    )
    assert load_file(workspace, customers, None, with_crm).inserted == 1
    assert ("stripe", "cus_B", "acme") in _keys(workspace)


@pytest.mark.parametrize("rule", ["Stripe", "account_id", "stripe-id"])
def test_an_identity_rule_that_is_not_a_system_name_is_refused_with_the_rules(rule: str) -> None:
    with pytest.raises(IngestError, match=r"mapping\.yml identity: .*is not an identity rule"):
        parse_mapping({"identity": {rule: "x"}}, "mapping.yml")


def test_any_lower_case_system_name_is_an_identity_rule() -> None:
    mapping = parse_mapping({"identity": {"stripe": "customer", "chargebee": "cb"}}, "m.yml")
    assert mapping.identity == {"stripe": "customer", "chargebee": "cb"}


def test_the_event_api_resolves_groups_through_the_segment_key(tmp_path: Path) -> None:
    from test_event_api import event_server

    from vitalsign.ingest.write_keys import ensure_write_key
    from vitalsign.store.workspace import init_workspace, open_workspace

    ws = init_workspace(tmp_path / "ws")
    add_account(ws, "acme")
    ws.duckdb.execute(
        "INSERT INTO account_keys (system, key, account_id) VALUES ('segment', 'grp_1', 'acme')"
    )
    key = ensure_write_key(ws.duckdb)
    ws.close()
    at = "2024-01-02T00:00:00Z"
    batch = [
        {"type": "group", "groupId": "grp_1", "traits": {"plan": "pro"}, "timestamp": at},
        {"type": "identify", "userId": "u1", "context": {"groupId": "grp_1"}, "timestamp": at},
        {"type": "track", "userId": "u1", "event": "login", "context": {"groupId": "grp_1"}},
        {"type": "track", "userId": "u9", "event": "login", "context": {"groupId": "grp_9"}},
    ]
    with event_server(tmp_path / "ws") as (_, url):
        reply = httpx.post(f"{url}/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=30)
        assert reply.status_code == 200, reply.text
        assert (reply.json()["loaded"], reply.json()["quarantined"]) == (3, 1)
    ws = open_workspace(tmp_path / "ws")
    try:
        con = ws.duckdb
        assert con.execute("SELECT account_id, plan FROM accounts").fetchall() == [("acme", "pro")]
        assert con.execute("SELECT account_id FROM users").fetchall() == [("acme",)]
        assert con.execute("SELECT account_id FROM events").fetchall() == [("acme",)]
        reason = con.execute("SELECT reason FROM quarantine").fetchone()[0]
        assert 'segment "grp_9"' in reason
        add_account(ws, "beta")
        con.execute(
            "INSERT INTO account_keys (system, key, account_id) VALUES ('segment', 'grp_9', 'beta')"
        )
        assert sum(r.loaded for r in retry_quarantine(ws)) == 1
        assert count(ws, "SELECT count(*) FROM events WHERE account_id = 'beta'") == 1
    finally:
        ws.close()
