"""`vitalsign schedule`: cron parsing, and a job really firing in a bounded time."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from apscheduler.triggers.cron import CronTrigger
from typer.testing import CliRunner

from vitalsign.alerts.scheduler import (
    build_scheduler,
    cron_weekdays,
    next_fire_times,
    parse_cron,
)
from vitalsign.cli import app
from vitalsign.errors import VitalsignError

UTC = dt.UTC


def test_a_crontab_expression_gives_the_expected_run_times() -> None:
    start = dt.datetime(2024, 3, 1, 7, 0, tzinfo=UTC)  # a Friday, after 06:00
    daily = next_fire_times(parse_cron("0 6 * * *", "UTC"), 3, start)
    assert [t.isoformat() for t in daily] == [
        "2024-03-02T06:00:00+00:00",
        "2024-03-03T06:00:00+00:00",
        "2024-03-04T06:00:00+00:00",
    ]
    weekdays = next_fire_times(parse_cron("30 5 * * 1-5", "UTC"), 2, start)
    assert [t.strftime("%a %H:%M") for t in weekdays] == ["Mon 05:30", "Tue 05:30"]
    paris = next_fire_times(parse_cron("0 6 * * *", "Europe/Paris"), 1, start)[0]
    assert paris.astimezone(UTC).hour == 5  # 06:00 in Paris is 05:00 UTC in March


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("*/2", "sun,tue,thu,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("mon-fri", "mon-fri"),
        ("*", "*"),
        ("6,0", "sat,sun"),
    ],
)
def test_cron_weekday_numbers_count_from_sunday_as_in_crontab(field: str, days: str) -> None:
    assert cron_weekdays(field) == days


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 6 * *", "use five fields"),
        ("61 6 * * *", "--cron"),
        ("0 6 * * funday", "--cron"),
        ("0 6 * * 8", "0 and 7 are Sunday"),
    ],
)
def test_a_wrong_cron_expression_is_a_user_error(expression: str, problem: str) -> None:
    with pytest.raises(VitalsignError, match=problem):
        parse_cron(expression, "UTC")


def test_an_unknown_time_zone_is_a_user_error() -> None:
    with pytest.raises(VitalsignError, match="--cron"):
        parse_cron("0 6 * * *", "Mars/Olympus_Mons")


def test_the_schedule_command_rejects_a_wrong_cron_before_starting(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["schedule", "--cron", "every day", "-w", str(tmp_path)])
    assert result.exit_code == 1 and "five fields" in str(result.exception)


def test_the_scheduler_fires_the_job_and_the_outbox_retries() -> None:
    fired: list[float] = []
    retried: list[float] = []
    started = time.monotonic()
    scheduler = build_scheduler(
        CronTrigger(second="*", timezone="UTC"),  # every second, for the test
        lambda: fired.append(time.monotonic() - started),
        lambda: retried.append(time.monotonic() - started),
        retry_seconds=0.3,
        timezone="UTC",
    )

    def stop_when_done() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (fired and len(retried) >= 2):
            time.sleep(0.05)
        scheduler.shutdown(wait=False)

    watcher = threading.Thread(target=stop_when_done, daemon=True)
    watcher.start()
    scheduler.start()  # blocks, like `vitalsign schedule`, until the watcher stops it
    watcher.join(timeout=1)
    assert fired and fired[0] < 2.5
    assert len(retried) >= 2
