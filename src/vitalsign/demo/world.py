"""A deterministic-by-seed B2B SaaS world, in the canonical tables, for the demo and for tests.

`generate_world` draws the accounts' latent paths (`behaviour.simulate`) and renders them into
accounts, users, usage, support, billing, surveys, CSM ratings, business events and outcomes;
`write_world` loads the tables into a workspace database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.demo import behaviour as bh
from vitalsign.demo.behaviour import NEVER, Floats, Lifecycle, People, Texts, ids, stamps
from vitalsign.model.canonical import CANONICAL_TABLES

OWNERS = np.array([
    f"{name}@vendor.example" for name in ("alice", "bob", "carol", "dan", "erin", "frank", "grace",
    "heidi", "ivan", "judy", "ken", "laura", "mike", "nina", "oscar")
], dtype=object)  # fmt: skip
SENIOR_OWNERS = 5  # the first owners look after the enterprise accounts
INDUSTRIES = np.array([
    "software", "retail", "healthcare", "fintech", "logistics", "manufacturing", "education",
    "media", "real-estate", "hospitality",
], dtype=object)  # fmt: skip
SEGMENTS = np.array(["smb", "mid-market", "enterprise"], dtype=object)
PLANS = np.array(["starter", "growth", "business", "enterprise"], dtype=object)
PLAN_PRICE = np.array([25.0, 45.0, 70.0, 95.0])  # per seat and month
SEATS = np.array([[8, 3, 40], [35, 15, 200], [150, 60, 1000]])  # median, min, max by segment
NAME_PARTS = (
    ["Nor", "Bright", "Blue", "Quant", "Vel", "Arc", "Hex", "Lum", "Cor", "Pin", "Strat", "Ever",
     "Silver", "North", "Iron", "Clear", "True", "Peak", "Nova", "Terra", "Aero", "Bold", "Cedar",
     "Delta", "Echo", "Flux", "Granite", "Harbor", "Ion", "Jade"],
    ["tex", "wave", "path", "stone", "line", "works", "field", "point", "gate", "bridge", "forge",
     "leaf", "mark", "scale", "loop", "grid", "base", "flow", "core", "ridge", "light", "view",
     "sync", "cast", "hub", "beam", "mint", "rock", "sail", "span"],
    ["Labs", "Inc", "Group", "Systems", "Health", "Logistics", "Capital", "Software", "Retail",
     "Partners"],
)  # fmt: skip
GIVEN = np.array([
    "ana", "ben", "chen", "dana", "eli", "fatima", "george", "hana", "igor", "jon", "kim", "leo",
    "maya", "noah", "olga", "pablo", "quinn", "rosa", "sam", "tara", "uma", "victor", "wen",
    "xavi", "yara", "zoe", "amir", "bea", "carl", "dev",
], dtype=object)  # fmt: skip
FAMILY = np.array([
    "smith", "garcia", "kim", "nguyen", "patel", "mueller", "rossi", "silva", "tanaka", "cohen",
    "novak", "berg", "costa", "dubois", "larsen", "moreau", "okafor", "ivanova", "haddad", "park",
], dtype=object)  # fmt: skip
ROLES = np.array(
    ["Head of Operations", "VP Finance", "Analyst", "Manager", "Engineer", "Admin", "Director"],
    dtype=object,
)
NOTES = np.array(
    [
        [None, "Renewal at risk.", "Champion gone, usage dropping."],
        [None, "Usage flat.", "New stakeholders to win over."],
        [None, "Engaged and expanding.", "Happy customer."],
    ],
    dtype=object,
)
RATINGS = np.array(["red", "yellow", "green"], dtype=object)
DTYPES: dict[str, np.dtype[Any]] = {
    t: np.dtype(d)
    for t, d in (("timestamp", "M8[ns]"), ("float", "f8"), ("int", "i8"), ("bool", "?"))
}
DETAILS = {
    "champion_left": "Our champion left the company.",
    "exec_sponsor_left": "The executive sponsor moved on.",
}


@dataclass(frozen=True)
class World:
    """The generated canonical tables and the window of days they cover."""

    tables: dict[str, pd.DataFrame]
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class _Accounts:
    """What the other tables need to know about the accounts."""

    keys: Texts
    names: Texts
    domains: Texts
    owner: Texts
    plan: Texts
    seats: Floats  # at creation
    arr: Floats  # at creation


def generate_world(
    accounts: int = 3000, seed: int = 7, end: dt.date = dt.date(2025, 12, 1), years: int = 2
) -> World:
    """Generate the demo world (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    start = end.replace(
        year=end.year - years, day=28 if (end.month, end.day) == (2, 29) else end.day
    )
    life = bh.simulate(rng, accounts, start, (end - start).days)
    acc, accounts_frame = _accounts(rng, life)
    people, users_frame = _users(rng, life, acc)
    invoices = _invoices(rng, life, acc, end)
    tables = {
        "accounts": accounts_frame,
        "users": users_frame,
        "events": bh.events(rng, life, people, acc.keys),
        "tickets": bh.tickets(rng, life, acc.keys, end),
        "subscriptions": _subscriptions(life, acc, invoices),
        "invoices": invoices,
        "surveys": bh.surveys(rng, life, people, acc.keys),
        "csm_ratings": _csm_ratings(rng, life, acc.keys, acc.owner),
        "business_events": _business_events(rng, life, acc),
        "outcomes": _outcomes(life, acc),
        "account_keys": _account_keys(acc),
        "owners": _owners(),
    }
    return World({name: _canonical(name, frame) for name, frame in tables.items()}, start, end)


def write_world(
    world: World, connection: Any, on_table: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Insert every table of `world` into the same-named table; return the row counts."""
    counts: dict[str, int] = {}
    for name, frame in world.tables.items():
        columns = ", ".join(CANONICAL_TABLES[name].column_names)
        view = f"_demo_{name}"
        connection.register(view, frame)
        try:
            connection.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {view}")
        finally:
            connection.unregister(view)
        counts[name] = len(frame)
        if on_table is not None:
            on_table(name)
    return counts


def _canonical(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the canonical columns, in order, with their canonical dtypes."""
    table = CANONICAL_TABLES[name]
    out = (
        frame
        if list(frame.columns) == table.column_names
        else frame.reindex(columns=table.column_names)
    )
    if not out.index.equals(pd.RangeIndex(len(out))):
        out = out.reset_index(drop=True)
    for column in table.columns:
        dtype = DTYPES.get(column.type)
        if dtype is not None and out[column.name].dtype != dtype:
            out[column.name] = out[column.name].astype(dtype)
    return out


def _accounts(rng: np.random.Generator, life: Lifecycle) -> tuple[_Accounts, pd.DataFrame]:
    """The accounts table, and what the other tables need from it."""
    n, seg = life.segment.size, life.segment
    size = SEATS[seg]
    seats = np.clip(np.rint(size[:, 0] * rng.lognormal(0.0, 0.5, n)), size[:, 1], size[:, 2])
    plan = np.where(seg == 2, 3, seg + (rng.random(n) < 0.4))
    arr = np.round(seats * PLAN_PRICE[plan] * 12 * rng.uniform(0.75, 1.0, n), -1)
    shape = [len(part) for part in NAME_PARTS]
    combos = rng.permutation(int(np.prod(shape)))
    first, second, kind = np.unravel_index(combos[np.arange(n) % combos.size], shape)
    lap = np.arange(n) // combos.size
    stem = [
        f"{NAME_PARTS[0][i]}{NAME_PARTS[1][j]}{r or ''}"
        for i, j, r in zip(first, second, lap, strict=True)
    ]
    names = np.array(
        [f"{s} {NAME_PARTS[2][k]}" for s, k in zip(stem, kind, strict=True)], dtype=object
    )
    domains = np.array(
        [f"{s}{NAME_PARTS[2][k]}.com".lower() for s, k in zip(stem, kind, strict=True)],
        dtype=object,
    )
    owner = OWNERS[
        np.where(seg == 2, rng.integers(0, SENIOR_OWNERS, n), rng.integers(SENIOR_OWNERS, 15, n))
    ]
    rows = np.arange(n)
    period = (life.renewals < life.last[:, None]).sum(axis=1)
    factor = life.arr_factor[rows, period]
    renewal = life.renewals[rows, period]
    churned = life.churn < life.days
    stage = np.select(
        [churned, life.days - life.created < 90, renewal - life.days < 90, factor > 1],
        ["churned", "onboarding", "renewal", "expansion"],
        "adoption",
    )
    origin = np.datetime64(life.start, "D")
    keys = ids("acct-", n)
    frame = pd.DataFrame(
        {
            "account_id": keys,
            "name": names,
            "created_at": stamps(life.start, life.created, life.seconds),
            "owner": owner,
            "segment": SEGMENTS[seg],
            "plan": PLANS[plan],
            "industry": INDUSTRIES[rng.integers(0, INDUSTRIES.size, n)],
            "lifecycle_stage": stage.astype(object),
            "seats": np.rint(seats * factor).astype(np.int64),
            "arr": np.round(arr * factor, 2),
            "renewal_date": (origin + renewal.astype("timedelta64[D]")).astype(object),
            "churned_at": life.churned_at(),
            "domain": domains,
            "crm_id": ids("001Dn0000", n),
        }
    )
    return _Accounts(keys, names, domains, owner, PLANS[plan], seats, arr), frame


def _users(
    rng: np.random.Generator, life: Lifecycle, acc: _Accounts
) -> tuple[People, pd.DataFrame]:
    """The users table: part of the seats, with a champion and an executive sponsor each."""
    n = life.segment.size
    count = np.maximum(np.rint(acc.seats * rng.uniform(0.55, 1.0, n)), 2).astype(np.int64)
    account = np.repeat(np.arange(n), count)
    m = account.size
    offset = np.cumsum(count) - count
    rank = np.arange(m) - offset[account]
    created, last = life.created[account], life.last[account]
    later = created + (rng.random(m) * (last - created)).astype(np.int64)
    settled = np.where(rng.random(m) < 0.7, created + rng.integers(0, 30, m), later)
    joined = np.minimum(np.where(rank < 2, created, settled), last - 1)
    left = np.where(rng.random(m) < 0.15, joined + rng.integers(30, 900, m), NEVER)
    key_people = [rank == 0, rank == 1]
    left = np.select(key_people, [life.champion_left[account], life.exec_left[account]], left)
    left = np.where(left < last, left, NEVER)
    weight = rng.lognormal(-0.5, 1.0, m) * np.select(key_people, [2.0, 0.3], 1.0)
    cum = np.cumsum(weight)
    before = np.concatenate([[0.0], cum])[offset]
    people = People(
        ids("user-", m), account, offset, count, joined, left, weight, cum, before,
        cum[offset + count - 1] - before,
    )  # fmt: skip
    names = GIVEN.size * FAMILY.size
    person = (rng.integers(0, names, n)[account] + rank * 613) % names
    lap = np.where(rank >= names, (rank // names + 1).astype(str), "").astype(object)
    email = GIVEN[person % GIVEN.size] + "." + FAMILY[person // GIVEN.size] + lap + "@"
    fresh = life.seconds[account] + rng.integers(60, 3600, m)
    seconds = np.where(joined == created, fresh, rng.integers(25_000, 70_000, m))
    frame = pd.DataFrame(
        {
            "user_id": people.ids,
            "account_id": acc.keys[account],
            "created_at": stamps(life.start, joined, seconds),
            "email": email + acc.domains[account],
            "role": ROLES[np.select(key_people, [0, 1], rng.integers(2, ROLES.size, m))],
            "is_champion": rank == 0,
            "is_exec_sponsor": rank == 1,
            "left_at": stamps(life.start, left, life.seconds[account], left < NEVER),
        }
    )
    return people, frame


def _invoices(
    rng: np.random.Generator, life: Lifecycle, acc: _Accounts, end: dt.date
) -> pd.DataFrame:
    """Monthly invoices on the day of the month the account was created; some fail before churn."""
    origin = np.datetime64(life.start, "D")
    created = origin + life.created.astype("timedelta64[D]")
    dom = (created - created.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    months = np.datetime64(life.start, "M") - 1 + np.arange(life.days // 28 + 3)
    issue = (months.astype("datetime64[D]") - origin).astype(np.int64)[None, :]
    issue = issue + np.minimum(dom, 27)[:, None]
    a, k = np.nonzero(
        (issue >= np.maximum(life.created, 0)[:, None]) & (issue < life.last[:, None])
    )
    d = issue[a, k]
    period = (life.renewals[a] <= d[:, None]).sum(axis=1)
    trouble = life.payment_trouble[a] & (d >= life.churn[a] - 120)
    failed = rng.random(a.size) < np.where(trouble, 0.5, 0.015)
    issued = stamps(life.start, d, life.seconds[a])
    enterprise = life.segment[a] == 2
    delay = np.where(enterprise, rng.uniform(3, 40, a.size), rng.uniform(0, 0.05, a.size))
    paid = issued + (delay * 86_400).astype("timedelta64[s]")
    edge = np.datetime64(end, "ns")
    status = np.select([failed, paid >= edge], ["failed", "open"], "paid").astype(object)
    due = issued + np.where(enterprise, 30, 0).astype("timedelta64[D]")
    nat = np.datetime64("NaT", "ns")
    return pd.DataFrame(
        {
            "invoice_id": ids("inv-", a.size),
            "account_id": acc.keys[a],
            "issued_at": issued,
            "amount": np.round(acc.arr[a] * life.arr_factor[a, period] / 12, 2),
            "status": status,
            "due_at": np.where(due < edge, due, nat),
            "paid_at": np.where(status == "paid", paid, nat),
        }
    )


def _subscriptions(life: Lifecycle, acc: _Accounts, invoices: pd.DataFrame) -> pd.DataFrame:
    """One row per contract period that overlaps the window."""
    begin = np.hstack([life.created[:, None], life.renewals[:, :-1]])
    a, k = np.nonzero((begin < life.last[:, None]) & (life.renewals >= 0))
    finish = life.renewals[a, k]
    churned = life.churn[a] <= finish
    renewed = ~churned & (finish < life.days)
    latest = invoices.groupby("account_id", sort=False)["status"].last()
    past_due = np.isin(acc.keys[a], latest.index[latest == "failed"].to_numpy(dtype=object))
    status = np.select([churned, renewed, past_due], ["canceled", "expired", "past_due"], "active")
    renewal = stamps(life.start, finish, life.seconds[a], renewed)
    factor = life.arr_factor[a, k]
    return pd.DataFrame(
        {
            "subscription_id": ids("sub-", a.size),
            "account_id": acc.keys[a],
            "started_at": stamps(life.start, begin[a, k], life.seconds[a]),
            "ended_at": np.where(churned, life.churned_at()[a], renewal),
            "plan": acc.plan[a],
            "status": status.astype(object),
            "seats": np.rint(acc.seats[a] * factor).astype(np.int64),
            "mrr": np.round(acc.arr[a] * factor / 12, 2),
        }
    )


def _business_events(rng: np.random.Generator, life: Lifecycle, acc: _Accounts) -> pd.DataFrame:
    """Champion and sponsor departures and acquisitions, on the days the latent process chose."""
    parts = []
    for kind, day in (
        ("champion_left", life.champion_left),
        ("exec_sponsor_left", life.exec_left),
        ("acquisition", life.acquired),
    ):
        a = np.flatnonzero(day < life.days)
        buyer = acc.names[rng.integers(0, acc.names.size, a.size)]
        detail = "Acquired by " + buyer if kind == "acquisition" else np.full(a.size, DETAILS[kind])
        at = stamps(life.start, day[a], life.seconds[a])
        parts.append(pd.DataFrame({"account_id": acc.keys[a], "occurred_at": at, "kind": kind}))
        parts[-1]["detail"] = detail.astype(object)
    return pd.concat(parts, ignore_index=True).sort_values("occurred_at", kind="stable")


def _account_keys(acc: _Accounts) -> pd.DataFrame:
    """The identity table: each account's Stripe customer id and its e-mail domain."""
    n = acc.keys.size
    return pd.DataFrame(
        {
            "system": np.repeat(np.array(["stripe", "domain"], dtype=object), n),
            "key": np.concatenate([ids("cus_", n), acc.domains]),
            "account_id": np.concatenate([acc.keys, acc.keys]),
            "note": None,
        }
    )


def _owners() -> pd.DataFrame:
    """The CRM's owners: an id per CSM and their e-mail (no names: pages show the e-mails)."""
    return pd.DataFrame({"owner_id": ids("owner-", OWNERS.size), "email": OWNERS, "name": None})


def _outcomes(life: Lifecycle, acc: _Accounts) -> pd.DataFrame:
    """Renewals in the window (with their expansions and contractions), and churns."""
    last_period = life.renewals.shape[1] - 1
    inside = (life.renewals >= life.first[:, None]) & (life.renewals < life.last[:, None])
    a, k = np.nonzero(inside)
    before = acc.arr[a] * life.arr_factor[a, k]
    after = acc.arr[a] * life.arr_factor[a, np.minimum(k + 1, last_period)]
    at = stamps(life.start, life.renewals[a, k], life.seconds[a])
    change = np.select(
        [after > before * 1.001, after < before * 0.999], ["expanded", "contracted"], ""
    )
    moved = change != ""
    c = np.flatnonzero(life.churn < life.days)
    lost = acc.arr[c] * life.arr_factor[c, (life.renewals[c] < life.churn[c, None]).sum(axis=1)]
    kinds = [np.full(a.size, "renewed"), change[moved], np.full(c.size, "churned")]
    frame = pd.DataFrame(
        {
            "account_id": np.concatenate([acc.keys[a], acc.keys[a][moved], acc.keys[c]]),
            "occurred_at": np.concatenate([at, at[moved], life.churned_at()[c]]),
            "kind": np.concatenate(kinds).astype(object),
            "arr_before": np.round(np.concatenate([before, before[moved], lost]), 2),
            "arr_after": np.round(np.concatenate([after, after[moved], np.zeros(c.size)]), 2),
        }
    )
    return frame.sort_values(["occurred_at", "account_id"], kind="stable")


def _csm_ratings(
    rng: np.random.Generator, life: Lifecycle, keys: Texts, owner: Texts
) -> pd.DataFrame:
    """The owner's gut rating every one to three months: a lagged, noisy view of health."""
    n, days = life.health.shape
    gaps = rng.integers(30, 92, (n, days // 30 + 2))
    gaps[:, 0] = rng.integers(7, 60, n)
    day = life.first[:, None] + np.cumsum(gaps, axis=1)
    a, k = np.nonzero(day < life.last[:, None])
    d = day[a, k]
    level = life.health[a, np.maximum(d - 14, life.first[a])] + rng.normal(0, 0.1, a.size)
    rating = np.digitize(level, [0.4, 0.6])
    return pd.DataFrame(
        {
            "account_id": keys[a],
            "rated_at": stamps(life.start, d, rng.integers(9 * 3600, 18 * 3600, a.size)),
            "rating": RATINGS[rating],
            "csm": owner[a],
            "note": NOTES[rating, rng.choice(3, size=a.size, p=[0.5, 0.25, 0.25])],
        }
    )
