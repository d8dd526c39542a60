"""The HTTP event API: Segment-shaped track, identify, group and batch calls.

Each call is authenticated by the workspace write key (HTTP Basic with the key as user
name, as Segment does, or `Authorization: Bearer KEY`), validated, and written to DuckDB in
one committed transaction before the 2xx reply: the raw message into `event_api_messages`
(unique by messageId, so a retried call adds nothing) and its rows into events, users or
accounts through the segment_* formats (bad rows into quarantine). Rows find their account
as file rows do (vitalsign.ingest.identity): a group id is an account id or a `segment` key
in `account_keys`, so a group mapped to a CRM account updates that account and its events
land on it; rows of unknown groups are quarantined until the key is added.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
from dataclasses import replace
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from vitalsign.ingest.files import canonical_table
from vitalsign.ingest.formats import SEGMENT_FORMATS, known_format
from vitalsign.ingest.readers import json_rows_relation
from vitalsign.ingest.runs import (
    LoadReport,
    ensure_ingest_tables,
    new_run_id,
    record_run,
    utc_now,
)
from vitalsign.ingest.staging import drop_staging, load_staged
from vitalsign.ingest.write_keys import is_valid_write_key
from vitalsign.store.transaction import transaction
from vitalsign.store.workspace import Workspace, open_workspace

SOURCE = "event-api"
MAX_BATCH = 2500
MB = 1024 * 1024
MAX_EVENT_BYTES = 1 * MB  # one track, identify or group call, and each message of a batch
MAX_BATCH_BYTES = 5 * MB
MAX_OTHER_BYTES = 1 * MB  # every other route (forms, the REST API)
_WRITE_LOCK = threading.Lock()
API_ROWS = "_vs_api_rows"

router = APIRouter(prefix="/v1", tags=["event API"])


class Message(BaseModel):
    """A Segment message; unknown keys are kept as they are."""

    model_config = ConfigDict(extra="allow")

    type: Literal["track", "identify", "group"]
    messageId: str | None = Field(default=None, min_length=1, max_length=200)
    userId: str | int | None = None
    anonymousId: str | int | None = None
    event: str | None = None
    groupId: str | int | None = None
    timestamp: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _required_by_type(self) -> Message:
        if self.type in ("track", "identify") and self.userId is None and self.anonymousId is None:
            raise ValueError(f"a {self.type} call needs userId or anonymousId")
        if self.type == "track" and not self.event:
            raise ValueError("a track call needs event")
        if self.type == "group" and self.groupId is None:
            raise ValueError("a group call needs groupId")
        return self


def _workspace(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


def _authenticate(request: Request, workspace: Annotated[Workspace, Depends(_workspace)]) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key = ""
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    elif scheme.lower() == "bearer":
        key = value.strip()
    cursor = workspace.duckdb.cursor()
    try:
        valid = bool(key) and is_valid_write_key(cursor, key)
    finally:
        cursor.close()
    if not valid:
        raise HTTPException(
            401,
            "missing or wrong write key: send it as the HTTP Basic user name or as "
            "`Authorization: Bearer KEY` (`vitalsign ingest-key` shows it)",
            headers={"WWW-Authenticate": 'Basic realm="vitalsign"'},
        )


def _validate(raw: Any, default_type: str | None, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise HTTPException(400, f"{where}: a message is a JSON object")
    data = dict(raw)
    if default_type is not None:
        data.setdefault("type", default_type)
    try:
        message = Message.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "message"
        raise HTTPException(400, f"{where} {key}: {first['msg']}") from exc
    out = message.model_dump(exclude_none=True)
    if "messageId" not in out:  # a content hash makes a retried call idempotent too
        canonical = json.dumps(out, sort_keys=True, default=str)
        out["messageId"] = "h:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
        out["_generated_id"] = True
    out.setdefault("receivedAt", utc_now().isoformat() + "Z")
    return out


def write_messages(workspace: Workspace, messages: list[dict[str, Any]]) -> dict[str, int]:
    """Write validated messages durably (committed before returning); return the counts."""
    con = workspace.duckdb.cursor()
    try:
        with _WRITE_LOCK:
            ensure_ingest_tables(con)
            return _write(con, messages)
    finally:
        con.close()


def _write(con: Any, messages: list[dict[str, Any]]) -> dict[str, int]:
    rows = pa.table(
        {
            "_line": list(range(1, len(messages) + 1)),
            "message_id": [str(m["messageId"]) for m in messages],
            "type": [m["type"] for m in messages],
            "_raw": [json.dumps(m, default=str) for m in messages],
        }
    )
    run_id = new_run_id()
    started = utc_now()
    totals = {"received": len(messages), "loaded": 0, "duplicates": 0, "quarantined": 0}
    con.register("_vs_api_input", rows)
    try:
        with transaction(con):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {API_ROWS} AS SELECT * FROM _vs_api_input r "
                "WHERE NOT EXISTS (SELECT 1 FROM event_api_messages m "
                "WHERE m.message_id = r.message_id) "
                "QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY _line) = 1"
            )
            fresh = int(con.execute(f"SELECT count(*) FROM {API_ROWS}").fetchone()[0])
            totals["duplicates"] = len(messages) - fresh
            con.execute(
                "INSERT INTO event_api_messages "
                f"SELECT message_id, type, ?, ?, _raw FROM {API_ROWS}",
                [utc_now(), run_id],
            )
            for kind, format_name in SEGMENT_FORMATS.items():
                report = _load_type(con, kind, format_name, run_id)
                if report is None:
                    continue
                record_run(con, report, "http", started, "ok", {"type": kind})
                totals["loaded"] += report.loaded
                totals["duplicates"] += report.unchanged
                totals["quarantined"] += report.quarantined
    finally:
        drop_staging(con)
        con.execute(f"DROP TABLE IF EXISTS {API_ROWS}")
        con.execute("DROP TABLE IF EXISTS _vs_api_type")
        con.unregister("_vs_api_input")
    return totals


def _load_type(con: Any, kind: str, format_name: str, run_id: str) -> LoadReport | None:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _vs_api_type AS SELECT _line, _raw FROM {API_ROWS} "
        "WHERE type = ?",
        [kind],
    )
    if not con.execute("SELECT count(*) FROM _vs_api_type").fetchone()[0]:
        return None
    fmt = known_format(format_name)
    relation = json_rows_relation(con, SOURCE, "_vs_api_type")
    report = load_staged(
        con, relation, canonical_table(fmt.table), fmt.mapping, f"{run_id}-{kind}", SOURCE
    )
    return replace(report, path=SOURCE, run_id=f"{run_id}-{kind}")


Authenticated = Depends(_authenticate)
JsonBody = Annotated[Any, Body()]


class EventReply(BaseModel):
    """What the event API did with the messages of one request."""

    model_config = ConfigDict(extra="allow")

    success: bool
    received: int = Field(description="Messages in the request.")
    loaded: int = Field(description="Rows written to the canonical tables.")
    duplicates: int = Field(description="Messages whose messageId was already received.")
    quarantined: int = Field(description="Messages set aside with a reason (docs/connectors.md).")


def _reply(workspace: Workspace, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"success": True, **write_messages(workspace, number_copies(messages))}


def number_copies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number identical messages without an id in one request: `h:<hash>`, `h:<hash>:2`…

    Two identical events in one call are two events; a retried call gets the same ids.
    """
    seen: dict[str, int] = {}
    for message in messages:
        if message.pop("_generated_id", False):
            key = str(message["messageId"])
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                message["messageId"] = f"{key}:{seen[key]}"
    return messages


@router.post("/track", dependencies=[Authenticated], response_model=EventReply)
def track(request: Request, payload: JsonBody) -> dict[str, Any]:
    """Record a product event (Segment track)."""
    return _reply(_workspace(request), [_validate(payload, "track", "track")])


@router.post("/identify", dependencies=[Authenticated], response_model=EventReply)
def identify(request: Request, payload: JsonBody) -> dict[str, Any]:
    """Record a user and their traits (Segment identify)."""
    return _reply(_workspace(request), [_validate(payload, "identify", "identify")])


@router.post("/group", dependencies=[Authenticated], response_model=EventReply)
def group(request: Request, payload: JsonBody) -> dict[str, Any]:
    """Record an account and its traits (Segment group)."""
    return _reply(_workspace(request), [_validate(payload, "group", "group")])


@router.post("/batch", dependencies=[Authenticated], response_model=EventReply)
def batch(request: Request, payload: JsonBody) -> dict[str, Any]:
    """Record many track, identify and group messages at once, in one transaction."""
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise HTTPException(400, 'batch: send {"batch": [message, ...]}')
    items = payload["batch"]
    if not items or len(items) > MAX_BATCH:
        raise HTTPException(400, f"batch: send 1 to {MAX_BATCH} messages")
    for i, item in enumerate(items):
        size = len(json.dumps(item, default=str).encode())
        if size > MAX_EVENT_BYTES:
            raise HTTPException(
                413,
                f"batch[{i}]: a message is at most {MAX_EVENT_BYTES // MB} MB, got {size:,} bytes",
            )
    shared = {k: v for k, v in payload.items() if k in ("context",)}
    messages = [
        _validate({**shared, **item} if isinstance(item, dict) else item, None, f"batch[{i}]")
        for i, item in enumerate(items)
    ]
    return _reply(_workspace(request), messages)


class BodyTooLarge(HTTPException):
    """A request body over its route's limit (413), raised while the body is read."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is larger than {limit:,} bytes ({limit / MB:g} MB), the limit "
            "of this route: send less per request",
        )


def body_limit(path: str) -> int:
    """Return the largest body, in bytes, accepted on `path`."""
    if path.startswith("/v1/batch"):
        return MAX_BATCH_BYTES
    if path.startswith("/v1/"):
        return MAX_EVENT_BYTES
    return MAX_OTHER_BYTES


class BodyLimit:
    """ASGI middleware refusing a body over its route's limit with 413, before it is all read.

    A Content-Length over the limit is answered at once, without reading the body; a body
    sent without one (chunked) is counted as it arrives, and reading stops at the limit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        started = False

        async def counted() -> AsgiMessage:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: AsgiMessage) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        detail = BodyTooLarge(limit).detail
        if scope["path"].startswith("/v1/"):  # the event API keeps FastAPI's error body
            body: dict[str, Any] = {"detail": detail}
        else:
            body = {"error": {"code": "too_large", "message": detail}}
        response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


def create_event_app(workspace: Workspace) -> FastAPI:
    """Return a FastAPI app serving only the event API for `workspace`.

    >>> app = create_event_app(open_workspace("acme"))  # doctest: +SKIP
    """
    ensure_ingest_tables(workspace.duckdb)
    app = FastAPI(title="vitalsign event API")
    app.state.workspace = workspace
    app.include_router(router)
    app.add_middleware(BodyLimit)
    return app


def app_from_environment() -> FastAPI:
    """The event API for the workspace in VITALSIGN_WORKSPACE (a uvicorn `--factory`)."""
    return create_event_app(open_workspace(os.environ.get("VITALSIGN_WORKSPACE", ".")))
