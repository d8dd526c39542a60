"""Identity resolution: which account a row belongs to.

The rules, tried in order; the first that names exactly one account wins:

1. `account_id`: an explicit account id that exists in `accounts`;
2. `crm_id`: equal to `accounts.crm_id`, or a key of system `crm` in `account_keys`;
3. a system name (`stripe`, `zendesk`, `segment`, `hubspot`, ... any lower-case name): a key
   of that system in `account_keys` (the identity table);
4. `email` / `domain`: the e-mail's domain (after `@`) or the domain equals
   `accounts.domain` or a key of system `domain` in `account_keys` (all normalised:
   lower-cased, without scheme, `www.` or path); free-mail domains such as gmail.com never
   match;
5. `user_id`: a user already in `users` gives its account.

A value that matches several accounts matches none. A row no rule resolves is quarantined
with a reason naming every key it carried (`unknown account: no account matches stripe
"cus_1"`), and loads on `vitalsign quarantine retry` once the key is in `account_keys`.
"""

from __future__ import annotations

import re

FREE_MAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "mail.com",
    "yandex.com",
    "qq.com",
)
BUILT_IN_RULES = ("crm_id", "email", "domain", "user_id")
CRM_SYSTEM = "crm"  # account_keys system that the crm_id rule also reads
DOMAIN_SYSTEM = "domain"  # account_keys system that the email and domain rules also read
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
NOT_SYSTEMS = frozenset({"account_id", "key", "system"})


def is_rule_name(name: str) -> bool:
    """True for a built-in rule or a system name usable as an identity rule."""
    return name in BUILT_IN_RULES or (bool(SYSTEM_NAME.match(name)) and name not in NOT_SYSTEMS)


def _q(value: str) -> str:
    """SQL quoting a value in a reason: `"value"`, NULL when the value is NULL."""
    return f"('\"' || {value} || '\"')"


def domain_sql(value: str) -> str:
    """SQL normalising a domain or URL: lower-case, no scheme, `www.`, port or path."""
    return (
        f"NULLIF(regexp_replace(regexp_replace(lower(trim({value})), "
        r"'^[a-z]+://', ''), '^www\.|[:/?#].*$', '', 'g'), '')"
    )


def email_domain_sql(value: str) -> str:
    """SQL of the domain of an e-mail address, or NULL for free-mail and malformed ones."""
    domain = domain_sql(f"CASE WHEN contains({value}, '@') THEN split_part({value}, '@', -1) END")
    frees = ", ".join(f"'{d}'" for d in FREE_MAIL_DOMAINS)
    return f"CASE WHEN {domain} NOT IN ({frees}) THEN {domain} END"


def keys_sql(system: str, key: str = "key") -> str:
    """SQL selecting (k, a): the live keys of `system` in account_keys and their accounts.

    `key` is the SQL of the key (e.g. a normalised domain). Systems compare in lower case.
    """
    assert SYSTEM_NAME.match(system), system
    return (
        f"SELECT {key} AS k, account_id AS a FROM account_keys "
        f"WHERE lower(system) = '{system}' AND deleted_at IS NULL AND account_id IN "
        "(SELECT account_id FROM accounts WHERE deleted_at IS NULL)"
    )


def _lookup(alias: str, pairs: list[str], value: str) -> str:
    """A LEFT JOIN of (k, a) pairs grouped by key, with the number of distinct accounts."""
    union = " UNION ALL ".join(pairs)
    return (
        f"LEFT JOIN (SELECT k, min(a) AS a, count(DISTINCT a) AS n FROM ({union}) "
        f"WHERE k IS NOT NULL GROUP BY k) {alias} ON {alias}.k = CAST({value} AS VARCHAR)"
    )


def _ambiguous(alias: str, label: str) -> str:
    return f"CASE WHEN {alias}.n > 1 THEN {label} || ' matches ' || {alias}.n || ' accounts' END"


def identity_joins(identity: dict[str, str], explicit: str | None) -> tuple[str, str, str]:
    """Return (joins, resolved account SQL, reason SQL) for the identity inputs present.

    `identity` maps rule names (built-in rules or account_keys systems) to the staged
    columns holding their inputs; `explicit` is the staged column of an explicit account
    id, if mapped.
    """
    joins: list[str] = []
    resolved: list[str] = []
    tried: list[str] = []
    ambiguous: list[str] = []
    if explicit:
        joins.append(
            f"LEFT JOIN (SELECT DISTINCT account_id AS k FROM accounts) id_a ON id_a.k = {explicit}"
        )
        resolved.append("id_a.k")
        tried.append(f"'account_id ' || {_q(explicit)}")
    if "crm_id" in identity:
        col = identity["crm_id"]
        crm = (
            "SELECT crm_id AS k, account_id AS a FROM accounts "
            "WHERE crm_id IS NOT NULL AND deleted_at IS NULL"
        )
        joins.append(_lookup("id_c", [crm, keys_sql(CRM_SYSTEM)], col))
        resolved.append("CASE WHEN id_c.n = 1 THEN id_c.a END")
        label = f"'crm_id ' || {_q(col)}"
        tried.append(label)
        ambiguous.append(_ambiguous("id_c", label))
    systems = [rule for rule in identity if rule not in BUILT_IN_RULES]
    for i, system in enumerate(systems):
        col, alias = identity[system], f"id_s{i}"
        joins.append(_lookup(alias, [keys_sql(system)], col))
        resolved.append(f"CASE WHEN {alias}.n = 1 THEN {alias}.a END")
        label = f"'{system} ' || {_q(col)}"
        tried.append(label)
        ambiguous.append(_ambiguous(alias, label))
    domains = []
    if "domain" in identity:
        domains.append(domain_sql(identity["domain"]))
    if "email" in identity:
        domains.append(email_domain_sql(identity["email"]))
    if domains:
        domain = f"coalesce({', '.join(domains)})" if len(domains) > 1 else domains[0]
        own = (
            f"SELECT {domain_sql('domain')} AS k, account_id AS a FROM accounts "
            "WHERE deleted_at IS NULL"
        )
        joins.append(_lookup("id_d", [own, keys_sql(DOMAIN_SYSTEM, domain_sql("key"))], domain))
        resolved.append("CASE WHEN id_d.n = 1 THEN id_d.a END")
        if "domain" in identity:
            tried.append(f"'domain ' || {_q(domain_sql(identity['domain']))}")
        if "email" in identity:
            tried.append(f"'e-mail ' || {_q(identity['email'])}")
        ambiguous.append(_ambiguous("id_d", f"'domain ' || {_q(domain)}"))
    if "user_id" in identity:
        col = identity["user_id"]
        joins.append(
            "LEFT JOIN (SELECT user_id AS k, min(account_id) AS a FROM users GROUP BY 1) id_u "
            f"ON id_u.k = {col}"
        )
        resolved.append("id_u.a")
        tried.append(f"'user ' || {_q(col)}")
    if not resolved:
        return "", "NULL", "'account_id is missing (required)'"
    account = f"coalesce({', '.join(resolved)})" if len(resolved) > 1 else resolved[0]
    reason = (
        "coalesce(NULLIF(concat_ws('; ', "
        + ", ".join([*ambiguous, "NULL"])
        + "), ''), CASE WHEN "
        + " AND ".join(f"({t}) IS NULL" for t in tried)
        + " THEN 'account_id is missing (required): no identity value in the row' ELSE "
        + "'unknown account: no account matches ' || concat_ws(' or ', "
        + ", ".join(tried)
        + ") END)"
    )
    return " ".join(joins), account, reason
