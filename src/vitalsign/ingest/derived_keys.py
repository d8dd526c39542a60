"""Keys that formats of `accounts` derive into the identity table (`account_keys`).

A CRM's companies export says which id each account has in that CRM and which domain it
uses: loading `hubspot_companies` records the keys `hubspot → id` and `domain → domain`,
so tickets, invoices and events that carry only those find the account. Formats declare it
(`KnownFormat.key_system` and `KnownFormat.derives`, in formats.py); these functions apply
it to the staged rows of a load (`vitalsign.ingest.changes.STAGED`), inside its transaction:

- `resolve_own_keys`: a row whose id is a known key of the format's system updates the
  account the key names (a Segment group mapped to a CRM account updates that account);
- `derive_keys`: every key the rows carry that `account_keys` does not hold yet is added,
  pointing at the row's account. Keys already there are left alone (a person or an earlier
  load decided them), and a key the load gives to two accounts is not added.
"""

from __future__ import annotations

from typing import Any

from vitalsign.ingest.changes import STAGED
from vitalsign.ingest.formats import KNOWN_FORMATS, KnownFormat
from vitalsign.ingest.identity import DOMAIN_SYSTEM, domain_sql, keys_sql
from vitalsign.ingest.mapping import Mapping
from vitalsign.ingest.readers import quote_identifier, quote_literal


def accounts_format(mapping: Mapping) -> KnownFormat | None:
    """The known format of an accounts load's mapping, if it names one."""
    found = KNOWN_FORMATS.get(mapping.format or "")
    return found if found is not None and found.table == "accounts" else None


def resolve_own_keys(con: Any, fmt: KnownFormat) -> int:
    """Point staged rows whose id is a key of the format's system at that key's account.

    Returns the number of rows that now name another account.
    """
    if fmt.key_system is None:
        return 0
    keys = keys_sql(fmt.key_system)
    moved = int(
        con.execute(
            f"SELECT count(*) FROM {STAGED} s JOIN ({keys}) k ON s.account_id = k.k "
            "WHERE s._reason IS NULL AND k.a <> s.account_id"
        ).fetchone()[0]
    )
    if moved:
        con.execute(
            f"UPDATE {STAGED} SET account_id = k.a FROM ({keys}) k "
            f"WHERE {STAGED}.account_id = k.k AND {STAGED}._reason IS NULL"
        )
    return moved


def derive_keys(con: Any, fmt: KnownFormat) -> int:
    """Add the keys the staged rows carry (per `fmt.derives`); return how many were added.

    >>> derive_keys(workspace.duckdb, KNOWN_FORMATS["hubspot_companies"])  # doctest: +SKIP
    """
    added = 0
    for system, column in fmt.derives.items():
        value = f"CAST({quote_identifier(column)} AS VARCHAR)"
        if system == DOMAIN_SYSTEM:
            value = domain_sql(value)
        candidates = (
            f"SELECT {value} AS k, min(account_id) AS a FROM {STAGED} "
            f"WHERE _reason IS NULL AND {value} IS NOT NULL GROUP BY 1 "
            "HAVING count(DISTINCT account_id) = 1"
        )
        key = domain_sql("x.key") if system == DOMAIN_SYSTEM else "x.key"
        before = int(con.execute("SELECT count(*) FROM account_keys").fetchone()[0])
        con.execute(  # a key deleted by a snapshot of account_keys stays deleted
            "INSERT INTO account_keys (system, key, account_id, note) "
            f"SELECT {quote_literal(system)}, c.k, c.a, {quote_literal('from ' + fmt.name)} "
            f"FROM ({candidates}) c WHERE NOT EXISTS (SELECT 1 FROM account_keys x "
            f"WHERE lower(x.system) = {quote_literal(system)} AND {key} = c.k)"
        )
        added += int(con.execute("SELECT count(*) FROM account_keys").fetchone()[0]) - before
    return added
