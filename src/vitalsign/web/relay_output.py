"""A relayed job command's printed output as the plain lines its `job_runs` row keeps.

`vitalsign run` and `vitalsign sync` sent to the server (web/relay_server.py) print Rich
tables and progress bars to the terminal that started them; the admin's jobs page shows the
same run as text, so the borders and bars are dropped and a table's rows kept as their cells.
"""

from __future__ import annotations

import re

BORDERS = "─━┏┓┗┛┡┩└┘┌┐├┤┼╇╈┳┻┠┨╋┬┴ "
"""The characters of a table's border lines (Rich's default box)."""
PROGRESS_BAR = re.compile("[━╸╺]{5,}")
"""A run of a Rich progress bar's characters (table borders use them only between corners)."""
KEPT_CHARS = 4000
"""How much of a job command's output its job_runs row keeps (the end of it)."""


def plain_output(text: str) -> str:
    """A command's printed output as lines: a table's rows as their cells, borders dropped.

    A cell wrapped over several lines is put back together column by column; progress bars
    are left out.
    """
    lines: list[str] = []
    row: list[list[str]] = []  # the words of each cell of the row being read

    def end_row() -> None:
        if row:
            lines.append(" ".join(" ".join(cell) for cell in row if cell))
            row.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if PROGRESS_BAR.search(line) and line.strip(BORDERS):
            continue  # a progress bar's last frame (a job's detail keeps what it did)
        if not any(bar in line for bar in "│┃"):
            end_row()
            if line.strip(BORDERS):
                lines.append(line)
            continue
        cells = [c.strip() for c in re.split("[│┃]", line.strip("│┃"))]
        if not row or cells[0] or len(cells) != len(row):  # a new row, not a wrapped one
            end_row()
            row.extend([] for _ in cells)
        for words, cell in zip(row, cells, strict=True):
            if cell:
                words.append(cell)
    end_row()
    return "\n".join(lines)


def job_outcome(argv: list[str], code: int, out: str, err: str) -> tuple[bool, str, str | None]:
    """A job command's (ok, detail, error) for job_runs, from its exit code and output."""
    shown: list[str] = []
    skip = False
    for token in argv:  # the workspace is the server's: not worth repeating
        if skip:
            skip = False
        elif token in ("-w", "--workspace"):
            skip = True
        elif not token.startswith("--workspace="):
            shown.append(token)
    detail = f"vitalsign {' '.join(shown)}\n{plain_output(out)}".strip()
    if len(detail) > KEPT_CHARS:
        detail = "…" + detail[-KEPT_CHARS:]
    if code == 0:
        return True, detail, None
    said = plain_output(err).strip()[-KEPT_CHARS:]
    return False, detail, f"exit code {code}" + (f": {said}" if said else "")
