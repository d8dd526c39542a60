"""How the demo world's accounts behave: latent health, churn, and the activity it drives.

Outcomes are decided first and their causes painted in before them: most churners decline for
60-150 days before they leave, some renewers go through a scare and recover, and a share of
churners leave without warning. Days are counted from the first day of the window; usage,
tickets and surveys are then drawn from the daily health of every account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Texts = npt.NDArray[np.object_]
Stamps = npt.NDArray[np.datetime64]

NEVER = 1 << 40  # a day that never comes
DAY_NS = 86_400 * 10**9
HOUR = 3_600.0
HISTORY_DAYS = 730  # accounts are created up to this many days before the window
SEGMENT_SHARES = (0.6, 0.3, 0.1)  # smb, mid-market, enterprise
SEGMENT_CHURN = np.array([1.2, 0.9, 0.55])
UTC_NOON = np.array([17.0, 12.0, 11.0, 4.0])  # noon at a US, UK, EU and APAC office, in UTC
LOGIN_RATE = np.array([0.12, 0.07, 0.04])  # logins per unit of user weight and day
TICKET_RATE = np.array([6.0, 12.0, 30.0]) / 365
WEEKDAY = np.array([1.25] * 5 + [0.375] * 2)
EVENTS = np.array(["login", "dashboard_view", "report_created", "export", "invite_sent"], object)
EVENT_MIX = ((1.0, 0.0), (0.35, 0.0), (0.12, 1.0), (0.06, 1.0), (0.015, 0.0))  # ratio, exponent
FEATURES = np.array([None, "dashboards", "reports", "reports", "admin"], dtype=object)
PRIORITIES = np.array(["low", "normal", "high", "urgent"], dtype=object)
RESPONSE_HOURS = np.array([12.0, 6.0, 2.0, 0.5])
SUBJECTS = np.array(
    [
        "Cannot log in", "Export failing", "Report shows wrong numbers", "How do I invite users?",
        "Dashboard slow to load", "SSO configuration", "Billing question", "Data sync delayed",
        "Feature request: API access", "Permissions issue",
    ],
    dtype=object,
)  # fmt: skip
COMMENTS = np.array(
    [
        [None, "Too slow and hard to use.", "We are evaluating alternatives."],
        [None, "Does the job, a few rough edges.", "Would like better exports."],
        [None, "Great product, the team loves the reports.", "Support is fast and helpful."],
    ],
    dtype=object,
)


@dataclass(frozen=True)
class Lifecycle:
    """Every account's latent path through the window, on a grid of days."""

    start: dt.date
    days: int
    segment: Ints  # 0 smb, 1 mid-market, 2 enterprise
    created: Ints  # creation day (negative: before the window)
    seconds: Ints  # time of day of creation, in seconds; anniversaries and bills reuse it
    noon: Floats  # the account's local noon, in UTC hours
    renewals: Ints  # (accounts, K) contract anniversaries; period k ends at renewals[:, k]
    churn: Ints  # churn day, or NEVER
    churn_seconds: Ints  # time of day of the churn
    churn_at_renewal: Bools
    payment_trouble: Bools  # payments fail in the months before churn
    champion_left: Ints  # day the champion left, or NEVER
    exec_left: Ints  # day the executive sponsor left, or NEVER
    acquired: Ints  # day the customer was acquired, or NEVER
    arr_factor: Floats  # (accounts, K) ARR of each contract period over the initial ARR
    health: Floats  # (accounts, days) latent health in [0.02, 1]
    alive: Bools  # (accounts, days) a customer that day (from the day after creation)

    @property
    def first(self) -> Ints:
        """First day with activity: the day after creation, or the window's first day."""
        return np.maximum(self.created + 1, 0)

    @property
    def last(self) -> Ints:
        """Day after the last active day: the churn day or the end of the window."""
        return np.minimum(self.churn, self.days)

    def churned_at(self) -> Stamps:
        """When each account churned (NaT when it did not)."""
        return stamps(self.start, self.churn, self.churn_seconds, self.churn < self.days)


@dataclass(frozen=True)
class People:
    """Users sorted by account, with what is needed to pick who did something."""

    ids: Texts
    account: Ints
    offset: Ints  # per account: index of its first user
    count: Ints  # per account
    joined: Ints  # day the user was created
    left: Ints  # day the user left, or NEVER
    weight: Floats  # how active the user is
    cum_weight: Floats
    before: Floats  # per account: cumulative weight before its first user
    total: Floats  # per account: total weight of its users


def simulate(rng: np.random.Generator, accounts: int, start: dt.date, days: int) -> Lifecycle:
    """Draw every account's creation, health path, renewals and churn."""
    n = accounts
    segment = rng.choice(3, size=n, p=SEGMENT_SHARES).astype(np.int64)
    created = rng.integers(-HISTORY_DAYS, days - 60, size=n)
    seconds = rng.integers(8 * 3600, 20 * 3600, size=n)
    renewals = anniversaries(start, created, (days + HISTORY_DAYS) // 365 + 2)
    base = rng.beta(5.0, 2.2, size=n)
    health = base[:, None] + _drift(rng, n, days)
    first = np.maximum(created + 1, 0)

    risk = (0.03 + 0.55 * (1 - base) ** 2) * SEGMENT_CHURN[segment]
    in_window = (renewals >= first[:, None]) & (renewals < days)
    churns = in_window & (rng.random(renewals.shape) < risk[:, None])
    at_renewal = np.where(churns.any(axis=1), renewals[np.arange(n), churns.argmax(axis=1)], NEVER)
    hazard = np.maximum(0.09 * (1 - base) * SEGMENT_CHURN[segment], 1e-6)
    mid_term = first + 30 + np.minimum(rng.exponential(365 / hazard), NEVER).astype(np.int64)
    churn = np.minimum(at_renewal, mid_term)
    churn = np.where(churn < days, churn, NEVER)
    churner = churn < days
    last = np.minimum(churn, days)

    declining = churner & (rng.random(n) < 0.8)
    length = rng.integers(60, 151, size=n)
    _dip(health, declining, churn - length, churn, rng.uniform(0.45, 0.8, n), recovery=None)
    for k in range(renewals.shape[1]):
        renewal = renewals[:, k]
        scare = in_window[:, k] & (renewal < churn) & (rng.random(n) < 0.1)
        begin = renewal - rng.integers(60, 121, size=n)
        _dip(health, scare, begin, renewal, rng.uniform(0.3, 0.55, n), recovery=30.0)

    early = churn - length + (rng.random(n) * 0.4 * length).astype(np.int64)
    anytime = (first, last, first, last)
    champion = _some_day(rng, declining & (rng.random(n) < 0.45), early, early + 1, first, last)
    champion = np.minimum(champion, _some_day(rng, rng.random(n) < 0.08, *anytime))
    exec_left = _some_day(rng, declining & (rng.random(n) < 0.25), early, churn, first, last)
    exec_left = np.minimum(exec_left, _some_day(rng, rng.random(n) < 0.05, *anytime))
    before = churn - rng.integers(60, 200, size=n)
    acquired = _some_day(rng, churner & (rng.random(n) < 0.12), before, before + 1, first, last)
    acquired = np.minimum(acquired, _some_day(rng, rng.random(n) < 0.04, *anytime))
    _dip(health, champion < days, champion, champion, np.full(n, 0.2), recovery=45.0)
    _dip(health, exec_left < days, exec_left, exec_left, np.full(n, 0.1), recovery=45.0)
    np.clip(health, 0.02, 1.0, out=health)

    arr_factor = np.ones(renewals.shape)
    for k in range(1, renewals.shape[1]):
        at = renewals[:, k - 1]
        level = np.where(
            (at >= 0) & (at < days), health[np.arange(n), np.clip(at, 0, days - 1)], base
        )
        draw = rng.random(n)
        grow, shrink = rng.uniform(1.1, 1.5, n), rng.uniform(0.7, 0.9, n)
        change = np.select(
            [(level > 0.7) & (draw < 0.3), (level < 0.5) & (draw < 0.4)], [grow, shrink], 1.0
        )
        arr_factor[:, k] = arr_factor[:, k - 1] * change

    at_renewal_churn = churner & (churn == at_renewal)
    day = np.arange(days)
    return Lifecycle(
        start=start,
        days=days,
        segment=segment,
        created=created,
        seconds=seconds,
        noon=UTC_NOON[rng.choice(4, size=n, p=[0.45, 0.2, 0.25, 0.1])],
        renewals=renewals,
        churn=churn,
        churn_seconds=np.where(at_renewal_churn, seconds, rng.integers(0, 86_400, n)),
        churn_at_renewal=at_renewal_churn,
        payment_trouble=churner & (rng.random(n) < 0.35),
        champion_left=champion,
        exec_left=exec_left,
        acquired=acquired,
        arr_factor=arr_factor,
        health=health,
        alive=(day[None, :] >= first[:, None]) & (day[None, :] < last[:, None]),
    )


def anniversaries(start: dt.date, created: Ints, count: int) -> Ints:
    """Return the first `count` yearly anniversaries of each creation day, as days."""
    origin = np.datetime64(start, "D")
    dates = origin + created.astype("timedelta64[D]")
    months = dates.astype("datetime64[M]")
    offset = (dates - months.astype("datetime64[D]")).astype(np.int64)
    years = months[:, None] + (12 * np.arange(1, count + 1))[None, :].astype("timedelta64[M]")
    later = years.astype("datetime64[D]") + offset[:, None].astype("timedelta64[D]")
    days: Ints = (later - origin).astype(np.int64)
    return days


def stamps(start: dt.date, day: Ints, seconds: Floats | Ints, valid: Bools | None = None) -> Stamps:
    """Timestamps `seconds` into each day after `start`; NaT where not `valid`."""
    ok = np.ones(day.shape, dtype=bool) if valid is None else valid
    whole = np.asarray(seconds).astype(np.int64) * 10**9
    ns = (np.where(ok, day, 0) * DAY_NS + whole).astype("timedelta64[ns]")
    at: Stamps = np.where(ok, np.datetime64(start, "ns") + ns, np.datetime64("NaT", "ns"))
    return at


def ids(prefix: str, count: int) -> Texts:
    """Sequential keys like `prefix000042`."""
    head = len(prefix)
    raw = np.empty((count, head + max(6, len(str(count)))), dtype=np.uint8)
    raw[:, :head] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    number = np.arange(count)
    for column in range(raw.shape[1] - 1, head - 1, -1):
        raw[:, column] = number % 10 + 48
        number //= 10
    keys: Texts = raw.view(f"S{raw.shape[1]}").ravel().astype(str).astype(object)
    return keys


def pick(rng: np.random.Generator, people: People, account: Ints, day: Ints) -> Ints:
    """Pick, per activity, a user of its account active that day (by weight); -1 if none."""
    picked = np.full(account.size, -1)
    todo = np.arange(account.size)
    for _ in range(8):
        a, d = account[todo], day[todo]
        r = people.before[a] + rng.random(todo.size) * people.total[a]
        u = np.searchsorted(people.cum_weight, r, side="right")
        u = np.clip(u, people.offset[a], people.offset[a] + people.count[a] - 1)
        ok = (people.joined[u] < d) & (people.left[u] > d)
        picked[todo[ok]] = u[ok]
        todo = todo[~ok]
        if todo.size == 0:
            break
    return picked


def events(rng: np.random.Generator, life: Lifecycle, people: People, keys: Texts) -> pd.DataFrame:
    """Usage events: volume follows active users, health, weekdays and onboarding."""
    n, days = life.health.shape
    weight = np.zeros((n, days + 1))
    np.add.at(weight, (people.account, np.clip(people.joined + 1, 0, days)), people.weight)
    np.add.at(weight, (people.account, np.clip(people.left, 0, days)), -people.weight)
    day = np.arange(days)
    age = np.maximum(day[None, :] - life.created[:, None], 0)
    usage = (
        np.maximum(np.cumsum(weight, axis=1)[:, :days], 0.0)  # no float dust below 0
        * LOGIN_RATE[life.segment][:, None]
        * life.health**1.3
        * life.alive
        * WEEKDAY[(life.start.weekday() + day) % 7]
        * (1 - 0.7 * np.exp(-age / 30))
    )
    accounts, dates, codes = [], [], []
    for kind, (ratio, exponent) in enumerate(EVENT_MIX):
        a, d = _occurrences(rng.poisson(usage * ratio * life.health**exponent))
        accounts.append(a)
        dates.append(d)
        codes.append(np.full(a.size, kind))
    a, d, code = np.concatenate(accounts), np.concatenate(dates), np.concatenate(codes)
    del accounts, dates, codes, usage, weight, age
    user = pick(rng, people, a, d)
    at = stamps(life.start, d, _office_seconds(rng, life, a))
    order = np.flatnonzero(user >= 0)
    order = order[np.argsort(at[order], kind="stable")]
    a, code, user, at = a[order], code[order], user[order], at[order]
    del d, order
    export, invite = code == 3, code == 4
    feature = FEATURES[code]
    feature[export & (rng.random(a.size) < 0.3)] = "integrations"
    quantity = np.full(a.size, np.nan)
    quantity[export] = np.rint(rng.lognormal(6.0, 1.0, export.sum()))
    quantity[invite] = rng.integers(1, 4, invite.sum())
    return pd.DataFrame(
        {
            "event_id": ids("evt-", a.size),
            "account_id": keys[a],
            "timestamp": at,
            "event": EVENTS[code],
            "user_id": people.ids[user],
            "feature": feature,
            "quantity": quantity,
        }
    )


def tickets(rng: np.random.Generator, life: Lifecycle, keys: Texts, end: dt.date) -> pd.DataFrame:
    """Support tickets: more, more urgent and rated lower as health falls."""
    weekday = WEEKDAY[(life.start.weekday() + np.arange(life.days)) % 7]
    rate = TICKET_RATE[life.segment][:, None] * (0.4 + 2.0 * (1 - life.health) ** 1.5)
    a, d = _occurrences(rng.poisson(rate * life.alive * weekday))
    m = a.size
    sick = 1 - life.health[a, d]
    u = rng.random(m)
    urgent, high, low = 0.03 + 0.15 * sick, 0.10 + 0.25 * sick, 0.35 * (1 - sick)
    priority = np.select([u < urgent, u < urgent + high, u < urgent + high + low], [3, 2, 0], 1)
    opened = stamps(life.start, d, _office_seconds(rng, life, a))
    response = RESPONSE_HOURS[priority] * rng.lognormal(0.0, 0.6, m) * (1 + sick)
    hours = response + rng.lognormal(np.log(20.0), 1.0, m)
    solved = opened + (hours * HOUR).astype("timedelta64[s]")
    edge = np.datetime64(end, "ns")
    unsolved = solved >= edge
    recent = solved >= edge - np.timedelta64(3, "D")
    waiting = rng.random(m) < 0.5
    status = np.select(
        [unsolved & waiting, unsolved, recent], ["pending", "open", "solved"], "closed"
    )
    mood = rng.normal(1.2 + 3.8 * (1 - sick) - 0.3 * (priority >= 2), 0.8)
    rated = ~unsolved & (rng.random(m) < 0.45)
    order = np.argsort(opened, kind="stable")
    return pd.DataFrame(
        {
            "ticket_id": ids("tkt-", m),
            "account_id": keys[a][order],
            "created_at": opened[order],
            "solved_at": np.where(unsolved, np.datetime64("NaT", "ns"), solved)[order],
            "priority": PRIORITIES[priority][order],
            "status": status.astype(object)[order],
            "subject": SUBJECTS[rng.integers(0, SUBJECTS.size, m)][order],
            "first_response_hours": np.round(response, 2)[order],
            "satisfaction": np.where(rated, np.clip(np.rint(mood), 1, 5), np.nan)[order],
        }
    )


def surveys(rng: np.random.Generator, life: Lifecycle, people: People, keys: Texts) -> pd.DataFrame:
    """NPS (about three a year) and CSAT (four a year) answers from some accounts."""
    n = life.segment.size
    parts = []
    for kind, share, per_year, low, high in (("nps", 0.65, 3, 0, 10), ("csat", 0.4, 4, 1, 5)):
        asked = rng.random(n) < share
        a, d = _occurrences(rng.poisson(per_year / 365 * life.alive * asked[:, None]))
        spread = high - low
        level = low + spread * (0.15 + 0.85 * life.health[a, d])
        score = np.clip(np.rint(level + rng.normal(0, 0.15 * spread, a.size)), low, high)
        mood = np.digitize((score - low) / spread, [0.6, 0.8])
        comment = COMMENTS[mood, rng.choice(3, size=a.size, p=[0.7, 0.15, 0.15])]
        parts.append(
            pd.DataFrame({"a": a, "d": d, "kind": kind, "score": score, "comment": comment})
        )
    rows = pd.concat(parts, ignore_index=True)
    a, d = rows["a"].to_numpy(dtype=np.int64), rows["d"].to_numpy(dtype=np.int64)
    user = pick(rng, people, a, d)
    at = stamps(life.start, d, _office_seconds(rng, life, a))
    order = np.argsort(at, kind="stable")
    respondent = people.ids[np.maximum(user, 0)]
    respondent[user < 0] = None
    return pd.DataFrame(
        {
            "response_id": ids("rsp-", a.size),
            "account_id": keys[a][order],
            "responded_at": at[order],
            "kind": rows["kind"].to_numpy(dtype=object)[order],
            "score": rows["score"].to_numpy(dtype=np.float64)[order],
            "user_id": respondent[order],
            "comment": rows["comment"].to_numpy(dtype=object)[order],
        }
    )


def _occurrences(counts: Ints) -> tuple[Ints, Ints]:
    """Expand an (accounts, days) matrix of counts into one (account, day) pair per item."""
    a, d = np.nonzero(counts)
    c = counts[a, d]
    return np.repeat(a, c), np.repeat(d, c)


def _office_seconds(rng: np.random.Generator, life: Lifecycle, account: Ints) -> Floats:
    """Times of day around each account's office hours, in seconds (UTC)."""
    noon = life.noon[account] * HOUR + rng.normal(0, 2.5 * HOUR, account.size)
    seconds: Floats = noon % 86_400
    return seconds


def _drift(rng: np.random.Generator, n: int, days: int) -> Floats:
    """A slow weekly AR(1) wander around each account's base health."""
    weeks = days // 7 + 2
    walk = np.empty((n, weeks))
    walk[:, 0] = rng.normal(0.0, 0.09, n)
    shocks = rng.normal(0.0, 0.03, (n, weeks))
    for w in range(1, weeks):
        walk[:, w] = 0.95 * walk[:, w - 1] + shocks[:, w]
    position = np.arange(days) / 7
    week = position.astype(np.int64)
    frac = position - week
    result: Floats = walk[:, week] * (1 - frac) + walk[:, week + 1] * frac
    return result


def _dip(
    health: Floats, mask: Bools, begin: Ints, bottom: Ints, depth: Floats, recovery: float | None
) -> None:
    """Scale health down from `begin` to `bottom`, then recover (or stay down), in place."""
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return
    day = np.arange(health.shape[1])[None, :]
    b0, b1 = begin[rows, None], bottom[rows, None]
    falling = np.clip((day - b0 + 1) / np.maximum(b1 - b0 + 1, 1), 0.0, 1.0)
    after = 1.0 if recovery is None else np.exp(-np.clip(day - b1, 0, None) / recovery)
    health[rows] *= 1 - depth[rows, None] * np.where(day < b1, falling, after)


def _some_day(
    rng: np.random.Generator, mask: Bools, low: Ints, high: Ints, first: Ints, last: Ints
) -> Ints:
    """A uniform day in [low, high) where `mask` holds and it falls in [first, last); or NEVER."""
    day = low + (rng.random(mask.size) * np.maximum(high - low, 1)).astype(np.int64)
    return np.where(mask & (day >= first) & (day < last), day, NEVER)
