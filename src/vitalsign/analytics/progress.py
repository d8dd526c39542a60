"""Progress bars for the long analytics commands (backtest, diff): Rich, on stderr.

The library functions take a `Step` callback and call it as each stage starts ("re-scoring
52 dates under model b", "bootstrap of the AUCs", ...). The CLI turns the calls into a bar
that appears only once the command has run for `DELAY` seconds (a quick run prints nothing),
shows the stage running and how many are done, and disappears when the command ends. On a
console that is not a terminal (a pipe, a log file) Rich draws nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

Step = Callable[[str], None]
DELAY = 1.0  # seconds before the bar appears


def no_progress(stage: str) -> None:
    """A Step that shows nothing (the default of the library functions)."""


class _Bar:
    """A Rich progress bar over stages, started late (from a timer thread) or never."""

    def __init__(self, progress: Progress, title: str, stages: int) -> None:
        self.progress = progress
        self.title = title
        self.stages = stages
        self.task = progress.add_task(title, total=stages)
        self.begun = 0
        self.lock = threading.Lock()
        self.started = False
        self.stopped = False

    def step(self, stage: str) -> None:
        """Show `stage` as running; the ones before it are done."""
        completed = min(self.begun, self.stages)
        self.begun += 1
        self.progress.update(self.task, completed=completed, description=f"{self.title}: {stage}")

    def start(self) -> None:
        """Draw the bar (unless the command already ended)."""
        with self.lock:
            if not self.stopped:
                self.progress.start()
                self.started = True

    def stop(self) -> None:
        """Remove the bar if it was drawn; never draw it after this."""
        with self.lock:
            self.stopped = True
            if self.started:
                self.progress.update(self.task, completed=self.stages)
                self.progress.stop()


@contextmanager
def progress_steps(
    title: str,
    stages: int,
    show: bool = True,
    console: Console | None = None,
    delay: float | None = None,
) -> Iterator[Step]:
    """Yield a Step drawing a bar of `stages` stages on stderr after `delay` (DELAY) seconds.

    >>> with progress_steps("Backtest", 3) as step:  # doctest: +SKIP
    ...     step("labelling snapshots")
    """
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=True,
        disable=not show,
    )
    bar = _Bar(progress, title, stages)
    timer = threading.Timer(DELAY if delay is None else delay, bar.start)
    timer.daemon = True
    if show:
        timer.start()
    try:
        yield bar.step
    finally:
        timer.cancel()
        bar.stop()
