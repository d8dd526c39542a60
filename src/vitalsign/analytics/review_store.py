"""Where quarterly reviews are kept: one folder per review date under the workspace.

`reviews/<as_of>/` holds review.json (what `ReviewReport.to_dict` returns), review.html and
the calibrated proposal. Files, not a table: a review is a document people open, mail and
keep in version control next to the model it judged, and the next review reads the previous
one's JSON to compare. Running a review again on the same date replaces its folder's files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from vitalsign.errors import VitalsignError
from vitalsign.store.output_paths import _mode
from vitalsign.store.workspace import Workspace

REVIEWS_FOLDER = "reviews"
REVIEW_FILE = "review.json"
REPORT_FILE = "review.html"


def reviews_root(workspace: Workspace) -> Path:
    """The folder holding every review of the workspace."""
    return workspace.root / REVIEWS_FOLDER


def review_folder(root: Path, as_of: dt.date) -> Path:
    """The folder of the review as of `as_of`."""
    return root / as_of.isoformat()


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (a reader never sees half a file); return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, _mode(path))  # mkstemp makes files private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path.resolve()


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write `payload` as JSON to `path` atomically."""
    return write_text(path, json.dumps(payload, indent=2, default=str) + "\n")


def read_review(path: Path) -> dict[str, Any]:
    """Read one review.json; a damaged file is a user's problem to fix, said so."""
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VitalsignError(
            f"{path}: not a readable review ({exc}); delete the folder or run "
            "`vitalsign review` again for that date"
        ) from exc
    return loaded


def stored_reviews(root: Path, model_name: str | None = None) -> list[dict[str, Any]]:
    """Every stored review (of `model_name`, or all), oldest first."""
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.glob(f"*/{REVIEW_FILE}")):
        review = read_review(path)
        if model_name is None or (review.get("model") or {}).get("name") == model_name:
            found.append(review)
    return sorted(found, key=lambda r: str(r.get("as_of")))


def previous_review(
    root: Path, as_of: dt.date, model_name: str, exclude: Path | None = None
) -> dict[str, Any] | None:
    """The latest stored review of `model_name` before `as_of` (not the one in `exclude`)."""
    earlier = [
        r
        for r in stored_reviews(root, model_name)
        if str(r.get("as_of")) < as_of.isoformat()
        and (exclude is None or Path(str(r.get("folder"))) != exclude)
    ]
    return earlier[-1] if earlier else None


def last_review_date(root: Path) -> dt.date | None:
    """The date of the latest stored review (of any model), or None."""
    reviews = stored_reviews(root)
    return dt.date.fromisoformat(str(reviews[-1]["as_of"])) if reviews else None
