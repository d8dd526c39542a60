"""Owners: a CRM's owner ids become the e-mails of the people they name.

`accounts.owner` holds the owner CSM's e-mail: web books, digests and alert routing match it
with the e-mail people log in with. CRMs export owners as ids (HubSpot's
`hubspot_owner_id`, Salesforce's `OwnerId`), so the `owners` table maps an id to an e-mail
and a name:

- loading accounts, an `owner` equal to a known `owners.owner_id` is stored as its e-mail
  (`owner_emails_for_staged`), so an unchanged export stays unchanged;
- loading owners, accounts (and every version in account_history) whose owner is one of
  the ids, or the old e-mail of an owner whose e-mail changed, get the new e-mail
  (`carry_owner_emails`): a fix of how the owner is written, not a change of owner, so no
  new version is recorded.

Both run on the staged rows of the load (`vitalsign.ingest.changes.STAGED`), inside its
transaction. Owners without an e-mail are left as ids.
"""

from __future__ import annotations

from typing import Any

from vitalsign.ingest.changes import STAGED

LIVE_OWNERS = "SELECT owner_id, email FROM owners WHERE email IS NOT NULL AND deleted_at IS NULL"


def owner_emails_for_staged(con: Any) -> int:
    """Replace staged accounts' owner ids by the owners' e-mails; return how many rows changed.

    >>> owner_emails_for_staged(workspace.duckdb)  # doctest: +SKIP
    """
    before = _count(
        con,
        f"SELECT count(*) FROM {STAGED} s JOIN ({LIVE_OWNERS}) o "
        "ON s.owner = o.owner_id WHERE s._reason IS NULL",
    )
    if before:
        con.execute(
            f"UPDATE {STAGED} SET owner = o.email FROM ({LIVE_OWNERS}) o "
            f"WHERE {STAGED}.owner = o.owner_id AND {STAGED}._reason IS NULL"
        )
    return before


def _staged_owners() -> str:
    """SQL of the staged owners that will be written: one row per owner_id, the last wins."""
    return (
        f"SELECT owner_id, email FROM {STAGED} WHERE _reason IS NULL AND email IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY owner_id "
        "ORDER BY _prefer DESC NULLS LAST, _line DESC) = 1"
    )


def carry_owner_emails(con: Any) -> int:
    """Rewrite accounts' and history's owner ids (and changed e-mails) to the staged e-mails.

    Runs before the staged owners are written, so `owners` still holds the old e-mails.
    Returns the number of `accounts` rows rewritten.
    """
    renames = (
        f"SELECT s.owner_id AS old, s.email AS new FROM ({_staged_owners()}) s "
        "UNION ALL "
        f"SELECT o.email AS old, s.email AS new FROM ({_staged_owners()}) s "
        "JOIN owners o ON o.owner_id = s.owner_id "
        "WHERE o.email IS NOT NULL AND o.email <> s.email"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _vs_owner_renames AS "
        f"SELECT old, min(new) AS new FROM ({renames}) WHERE old <> new GROUP BY old"
    )
    try:
        changed = 0
        for table in ("accounts", "account_history"):
            found = _count(
                con,
                f"SELECT count(*) FROM {table} t JOIN _vs_owner_renames r ON t.owner = r.old",
            )
            if found:
                con.execute(
                    f"UPDATE {table} SET owner = r.new FROM _vs_owner_renames r "
                    f"WHERE {table}.owner = r.old"
                )
            if table == "accounts":
                changed = found
        return changed
    finally:
        con.execute("DROP TABLE IF EXISTS _vs_owner_renames")


def _count(con: Any, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])
