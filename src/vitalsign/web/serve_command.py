"""`vitalsign serve`: the web app, its scheduled jobs and the command relay in one process."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from vitalsign.web.commands import WorkspaceOption

if TYPE_CHECKING:
    from vitalsign.web.jobs import JobRun

console = Console(highlight=False)


def _show_app_log(level: str) -> None:
    """Print the app's own log lines (e.g. the serving cache's build) like uvicorn's."""
    import logging

    log = logging.getLogger("vitalsign.web")
    if not any(h.get_name() == "vitalsign-serve" for h in log.handlers):  # once per process
        handler = logging.StreamHandler()
        handler.set_name("vitalsign-serve")
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
    log.setLevel("DEBUG" if level.lower() == "trace" else level.upper())


def serve(
    workspace: WorkspaceOption = Path("."),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[
        bool,
        typer.Option(help="Send cookies over HTTPS only (set it behind a TLS proxy)."),
    ] = False,
    session_hours: Annotated[float, typer.Option(help="How long a login lasts.")] = 12.0,
    root_path: Annotated[
        str, typer.Option(help="URL prefix when a proxy serves the app under a path.")
    ] = "",
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.")
    ] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-* headers are trusted.")
    ] = "127.0.0.1",
    base_url: Annotated[
        str | None,
        typer.Option(
            help="Public address used in links and redirects, e.g. https://cs.acme.com "
            "(default: web.base_url in vitalsign.yml, else http://HOST:PORT; never the "
            "request's Host header)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    schedule: Annotated[
        str | None,
        typer.Option(
            help='Also run the daily job (`vitalsign run`) on this crontab, e.g. "0 6 * * *". '
            "Other `vitalsign` commands keep working: the server runs them (docs/workspace.md)."
        ),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone of --schedule (default local).")
    ] = None,
    no_sync: Annotated[
        bool, typer.Option("--no-sync", help="Scheduled runs skip syncing the sources.")
    ] = False,
) -> None:
    """Serve the web app and REST API (and the event API) of a workspace."""
    import uvicorn

    from vitalsign.alerts.job_commands import daily_jobs, describe_schedule
    from vitalsign.alerts.scheduler import build_scheduler, parse_cron
    from vitalsign.errors import VitalsignError
    from vitalsign.store.workspace import open_workspace
    from vitalsign.web.app import checkpoint, create_app
    from vitalsign.web.state import WebSettings

    if (timezone or no_sync) and not schedule:
        raise VitalsignError(
            "--timezone and --no-sync go with --schedule CRON: add it, or drop them"
        )
    _show_app_log(log_level)
    trigger = parse_cron(schedule, timezone, "--schedule") if schedule else None
    ws = open_workspace(workspace)
    settings = WebSettings.from_config(
        ws.config.web,
        secure_cookies=secure_cookies,
        session_hours=session_hours,
        base_url=_base_url(base_url, ws.config.web.base_url, host, port, root_path),
    )
    app = create_app(ws, settings)
    jobs = app.state.jobs  # web/jobs.py: the schedule and "run now" share one queue and job_runs
    jobs.sync, jobs.schedule, jobs.trigger = not no_sync, schedule, trigger
    jobs.on_finish.append(_log_line())
    scheduler = None
    if schedule and trigger is not None:
        _, retries = daily_jobs(ws.root, sync=not no_sync, model=None)
        daily = partial(jobs.run, "daily")
        scheduler = build_scheduler(trigger, daily, retries, 60.0, timezone, background=True)
        scheduler.start()
        console.print(describe_schedule(schedule, trigger))
    console.print(f"Serving {ws.root} on http://{host}:{port}{root_path}/ (Ctrl-C stops)")
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            root_path=root_path,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            log_level=log_level,
        )
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        checkpoint(ws)  # the app's shutdown did it too, unless uvicorn stopped before it
        ws.close()


def _log_line() -> Callable[[JobRun], None]:
    """Print one line per finished job run on the server's own output (its log).

    The run may end on the thread of a relayed command, whose `sys.stdout` goes to that
    terminal: the line goes to the process's stdout all the same.
    """
    import sys

    stream = getattr(sys.stdout, "default", sys.stdout)  # relay_server.ThreadStreams
    log = Console(file=stream, highlight=False, soft_wrap=True)

    def line(run: JobRun) -> None:
        from vitalsign.web.jobs import describe_finished

        log.print(
            f"{run.finished_at or run.started_at:%H:%M:%S} UTC {describe_finished(run)}",
            markup=False,
        )
        stream.flush()

    return line


def _base_url(
    given: str | None, configured: str | None, host: str, port: int, root: str
) -> str | None:
    """Return the links' base: --base-url, else web.base_url, else the bind address.

    Bound to every address (0.0.0.0, ::) there is no one address to name: links are then
    paths on whatever address the browser used.
    """
    from vitalsign.errors import VitalsignError

    if given is not None and not re.match(r"^https?://[^\s?#]+$", given):
        raise VitalsignError(
            f"--base-url {given!r}: give an http(s) address without query, e.g. "
            "https://cs.acme.com or https://acme.com/vitalsign"
        )
    if given or configured:
        return str(given or configured)
    if host in ("0.0.0.0", "::", ""):
        return None
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}{root}"
