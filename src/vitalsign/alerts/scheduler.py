"""`vitalsign schedule` (or `serve --schedule`): the daily job on a cron expression, APScheduler.

Two jobs share one worker thread, so they never overlap: the daily job on the cron
expression, and an outbox retry every `retry_seconds` so a channel that comes back is
served within a minute, not the next morning. Each job opens the workspace and closes it
when done, so other processes can use the database between runs. Inside `vitalsign serve`
the jobs run on a background thread of the server, which holds the database (DuckDB lets one
process write); opening the workspace there shares the server's database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from vitalsign.errors import VitalsignError


def parse_cron(expression: str, timezone: str | None = None, option: str = "--cron") -> CronTrigger:
    """Return the trigger of a crontab expression ("0 6 * * *": 06:00 every day).

    Five fields (minute hour day month weekday) as in crontab, or six with a seconds field
    first as in Quartz and Spring ("*/10 * * * * *": every ten seconds, for a trial run).

    >>> parse_cron("0 6 * * 1-5", "Europe/Paris")  # doctest: +SKIP
    """
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise VitalsignError(
            f'{option} "{expression}": use five fields, minute hour day month weekday, '
            'e.g. "0 6 * * *" for 06:00 every day (or six, seconds first: "*/10 * * * * *")'
        )
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=cron_weekdays(weekday),
            timezone=timezone,
        )
    except (ValueError, LookupError) as exc:  # bad fields, unknown time zone
        raise VitalsignError(f'{option} "{expression}": {exc}') from exc


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_weekdays(field: str) -> str:
    """Translate a crontab weekday field (0 or 7 = Sunday) into APScheduler's day names.

    APScheduler 3 numbers days from Monday = 0, so `CronTrigger.from_crontab("0 6 * * 1-5")`
    would run Tuesday to Saturday; numbers are turned into names, which mean the same to both.

    >>> cron_weekdays("1-5")
    'mon,tue,wed,thu,fri'
    """
    parts: list[str] = []
    for token in field.split(","):
        base, _, step_text = token.partition("/")
        if not any(ch.isdigit() for ch in base) and not (base == "*" and step_text):
            parts.append(token)  # "*" or names such as mon-fri: the same in both
            continue
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        else:
            low, _, high = base.partition("-")
            first, last = int(low), int(high) if high else int(low)
            if step_text and not high:
                last = 6
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step > 0):
            raise ValueError(f"weekday field {field!r}: use 0-7 (0 and 7 are Sunday) or mon-sun")
        parts += [_DAY_NAMES[day % 7] for day in range(first, last + 1, step)]
    return ",".join(dict.fromkeys(parts))


def next_fire_times(trigger: BaseTrigger, count: int, now: dt.datetime) -> list[dt.datetime]:
    """Return the next `count` times a trigger fires after `now` (an aware datetime)."""
    times: list[dt.datetime] = []
    previous: dt.datetime | None = None
    current = now
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, current)
        if fire is None:
            break
        times.append(fire)
        previous, current = fire, fire + dt.timedelta(microseconds=1)
    return times


def build_scheduler(
    trigger: BaseTrigger,
    job: Callable[[], Any],
    retry_job: Callable[[], Any] | None = None,
    retry_seconds: float = 60.0,
    timezone: str | None = None,
    background: bool = False,
) -> BaseScheduler:
    """Return a scheduler running `job` on `trigger` and `retry_job` periodically.

    It blocks in `start()`, or with `background` runs on its own thread.
    """
    options: dict[str, Any] = {"executors": {"default": ThreadPoolExecutor(1)}}
    if timezone is not None:
        options["timezone"] = timezone
    scheduler = (BackgroundScheduler if background else BlockingScheduler)(**options)
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    scheduler.add_job(job, trigger, id="daily", name="vitalsign run", **defaults)
    if retry_job is not None:
        scheduler.add_job(
            retry_job,
            IntervalTrigger(seconds=retry_seconds),
            id="outbox",
            name="outbox retries",
            **defaults,
        )
    return scheduler
