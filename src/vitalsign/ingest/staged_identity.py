"""Identity work on a load's staged rows, before they are written (one call per load).

`prepare_staged` runs inside `staging.load_staged`, after the rows are staged and checked
and before they are compared with the table, in the load's transaction, so it applies to
files, databases, the event API and quarantine retries alike:

- `accounts`: a row whose id is a key of its format's system updates that key's account
  (derived_keys.resolve_own_keys); owner ids become the owners' e-mails
  (owners.owner_emails_for_staged), so an unchanged export stays unchanged; the keys the
  format derives are added to `account_keys` (derived_keys.derive_keys);
- `owners`: accounts and their history whose owner is one of the loaded ids get its e-mail
  (owners.carry_owner_emails).
"""

from __future__ import annotations

from typing import Any

from vitalsign.ingest.derived_keys import accounts_format, derive_keys, resolve_own_keys
from vitalsign.ingest.mapping import Mapping
from vitalsign.ingest.owners import carry_owner_emails, owner_emails_for_staged
from vitalsign.model.canonical import CanonicalTable


def prepare_staged(con: Any, table: CanonicalTable, mapping: Mapping) -> None:
    """Resolve, rewrite and derive identity for the staged rows of `table`.

    >>> prepare_staged(con, ACCOUNTS, Mapping(format="hubspot_companies"))  # doctest: +SKIP
    """
    if table.name == "accounts":
        fmt = accounts_format(mapping)
        if fmt is not None:
            resolve_own_keys(con, fmt)
        owner_emails_for_staged(con)
        if fmt is not None:
            derive_keys(con, fmt)
    elif table.name == "owners":
        carry_owner_emails(con)
