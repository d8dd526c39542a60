"""A mapping: how a source's columns become a canonical table's columns.

A mapping file is YAML:

    format: zendesk_tickets          # optional: start from a known format (formats.py)
    columns:                          # target column: source column or expression
      ticket_id: id
      subject: lower(subject)
      kind:                           # or a list of cases, first match wins
        - when: "type == 'Renewal'"
          then: "'renewed'"
        - then: "'expanded'"          # no `when`: the default
    identity:                         # how rows find their account (docs/connectors.md)
      email: requester_email
      stripe: customer_id             # a system name: a key of that system in account_keys
    prefer: "_fivetran_active == 'true'"   # which row wins among one file's duplicates
    require: "type == 'track'"       # rows where this is not true are quarantined
    options: {delimiter: ";", encoding: latin-1}
    future_tolerance: 1d
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from vitalsign.errors import IngestError
from vitalsign.ingest.identity import BUILT_IN_RULES, is_rule_name
from vitalsign.model.spec import parse_days

FileFormat = Literal["csv", "tsv", "json", "ndjson", "parquet"]


class Case(BaseModel):
    """One case of a column's case list: `then` when `when` holds (no `when`: always)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: str | None = None
    then: str


class ReaderOptions(BaseModel):
    """How to read a file; anything left out is detected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: FileFormat | None = None
    delimiter: str | None = None
    quote: str | None = None
    escape: str | None = None
    header: bool | None = None
    encoding: str | None = None
    skip: int = Field(default=0, ge=0)


ColumnSpec = str | list[Case]


class Mapping(BaseModel):
    """Columns, identity rules, duplicate preference and reader options of one source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str | None = None
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    identity: dict[str, str] = Field(default_factory=dict)
    prefer: str | None = None
    require: str | None = None
    options: ReaderOptions = Field(default_factory=ReaderOptions)
    future_tolerance: str = "1d"

    @field_validator("identity")
    @classmethod
    def _rule_names(cls, identity: dict[str, str]) -> dict[str, str]:
        for name in identity:
            if not is_rule_name(name):
                raise ValueError(
                    f"{name!r} is not an identity rule: use {', '.join(BUILT_IN_RULES)} or the "
                    "lower-case name of a system in account_keys (e.g. stripe, zendesk, segment)"
                )
        return identity

    @property
    def future_tolerance_days(self) -> int:
        """The tolerance for timestamps in the future, in days (0 allowed)."""
        if str(self.future_tolerance).strip() in ("0", "0d"):
            return 0
        try:
            return parse_days(self.future_tolerance)
        except ValueError as exc:
            raise IngestError(f"future_tolerance: {exc}") from exc

    def over(self, base: Mapping) -> Mapping:
        """Return this mapping laid over `base` (this one's keys win)."""
        options = {
            **base.options.model_dump(exclude_defaults=True),
            **self.options.model_dump(exclude_defaults=True),
        }
        return Mapping(
            format=self.format or base.format,
            columns={**base.columns, **self.columns},
            identity={**base.identity, **self.identity},
            prefer=self.prefer or base.prefer,
            require=self.require or base.require,
            options=ReaderOptions(**options),
            future_tolerance=(
                self.future_tolerance
                if "future_tolerance" in self.model_fields_set
                else base.future_tolerance
            ),
        )

    def to_json(self) -> str:
        """Return the mapping as JSON, as kept with quarantined rows for a later retry."""
        return self.model_dump_json(exclude_defaults=True)


def parse_mapping(data: Any, where: str) -> Mapping:
    """Validate a mapping from parsed YAML or a dict, or raise IngestError naming `where`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise IngestError(f"{where}: a mapping is `columns: {{target: source}}`")
    known = set(Mapping.model_fields)
    if data and not set(data) & known:
        data = {"columns": data}  # a bare {target: source} dict
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise IngestError(f"{where} {key}: {first['msg']}") from exc


def load_mapping(path: str | Path) -> Mapping:
    """Read a mapping file (YAML), or raise IngestError saying what is wrong."""
    try:
        data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise IngestError(f"{path}: cannot read the mapping: {exc}") from exc
    return parse_mapping(data, str(path))


def read_mapping(path: str | Path) -> dict[str, str]:
    """Read a mapping file's plain `columns` (target → source column or expression)."""
    return {k: v for k, v in load_mapping(path).columns.items() if isinstance(v, str)}


def mapping_from_pairs(pairs: list[str], base: Mapping | None = None) -> Mapping:
    """Lay `target=source` pairs (`identity.email=Email` for identity rules) over `base`."""
    columns: dict[str, ColumnSpec] = {}
    identity: dict[str, str] = {}
    for item in pairs:
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise IngestError(f"--map {item!r}: use target=source")
        target, source = target.strip(), source.strip()
        if target.startswith("identity."):
            identity[target.removeprefix("identity.")] = source
        else:
            columns[target] = source
    extra = parse_mapping({"columns": columns, "identity": identity}, "--map")
    return extra.over(base or Mapping())
