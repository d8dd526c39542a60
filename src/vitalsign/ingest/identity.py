"""Identity resolution: which account a row belongs to.

The rules, tried in order; the first that names exactly one account wins:

1. `account_id`: an explicit account id that exists in `accounts`;
2. `crm_id`: equal to `accounts.crm_id`;
3. `email` / `domain`: the e-mail's domain (after `@`) or the domain equals
   `accounts.domain` (both lower-cased, without scheme, `www.` or path); free-mail domains
   such as gmail.com never match;
4. `user_id`: a user already in `users` gives its account.

A value that matches several accounts matches none. A row no rule resolves is quarantined
with a reason naming what was tried.
"""

from __future__ import annotations

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


def identity_joins(identity: dict[str, str], explicit: str | None) -> tuple[str, str, str]:
    """Return (joins, resolved account SQL, reason SQL) for the identity inputs present.

    `identity` maps rule names to the staged columns holding their inputs; `explicit` is the
    staged column of an explicit account id, if mapped.
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
        joins.append(
            "LEFT JOIN (SELECT crm_id AS k, min(account_id) AS a, count(*) AS n FROM accounts "
            f"WHERE crm_id IS NOT NULL GROUP BY crm_id) id_c ON id_c.k = {col}"
        )
        resolved.append("CASE WHEN id_c.n = 1 THEN id_c.a END")
        tried.append(f"'crm_id ' || {_q(col)}")
        ambiguous.append(
            f"CASE WHEN id_c.n > 1 THEN 'crm_id ' || {_q(col)} || ' matches ' "
            "|| id_c.n || ' accounts' END"
        )
    domains = []
    if "domain" in identity:
        domains.append(domain_sql(identity["domain"]))
    if "email" in identity:
        domains.append(email_domain_sql(identity["email"]))
    if domains:
        domain = f"coalesce({', '.join(domains)})" if len(domains) > 1 else domains[0]
        joins.append(
            f"LEFT JOIN (SELECT {domain_sql('domain')} AS k, min(account_id) AS a, count(*) AS n "
            "FROM accounts WHERE domain IS NOT NULL GROUP BY 1) id_d ON id_d.k = " + domain
        )
        resolved.append("CASE WHEN id_d.n = 1 THEN id_d.a END")
        if "domain" in identity:
            tried.append(f"'domain ' || {_q(domain_sql(identity['domain']))}")
        if "email" in identity:
            tried.append(f"'e-mail ' || {_q(identity['email'])}")
        ambiguous.append(
            f"CASE WHEN id_d.n > 1 THEN 'domain ' || {_q(domain)} || ' matches ' "
            "|| id_d.n || ' accounts' END"
        )
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
