"""Detect a text file's encoding from a sample, and transcode the ones DuckDB cannot read."""

from __future__ import annotations

import codecs
import gzip
import shutil
import tempfile
import zlib
from pathlib import Path

from vitalsign.errors import IngestError

SAMPLE_BYTES = 1 << 20
# Encodings DuckDB's CSV reader decodes itself (DuckDB 1.5, without extensions).
NATIVE = {"utf-8": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16"}
ALIASES = {"iso8859-1": "latin-1", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes."""
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    """Return the first `size` bytes of the file's content, gunzipped when needed."""
    try:
        if is_gzip(path):
            with gzip.open(path, "rb") as handle:
                return handle.read(size)
        with path.open("rb") as handle:
            return handle.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{path}: cannot read it: {exc}") from exc


def check_gzip(path: Path) -> None:
    """Raise IngestError when a gzip file is truncated or corrupt (DuckDB reads such a file
    silently up to the damage, so the check runs first, in C, block by block)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 22):
                inflater.decompress(block, 0)
                while inflater.eof and inflater.unused_data:  # a multi-member gzip file
                    rest = inflater.unused_data
                    inflater = zlib.decompressobj(wbits=31)
                    inflater.decompress(rest, 0)
    except zlib.error as exc:
        raise IngestError(f"{path}: the gzip data is corrupt ({exc}); nothing was loaded") from exc
    if not inflater.eof:
        raise IngestError(
            f"{path}: the gzip file is truncated (it ends before its end marker); nothing was "
            "loaded. Copy or export it again"
        )


def canonical_name(encoding: str) -> str:
    """Return Python's name for an encoding, or raise IngestError for an unknown one."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise IngestError(
            f"encoding {encoding!r} is unknown; use e.g. utf-8, latin-1, cp1252 or utf-16"
        ) from exc
    name = {"utf-8": "utf-8", "latin-1": "latin-1", "iso8859-1": "latin-1"}.get(name, name)
    return ALIASES.get(name, name)


def detect_encoding(head: bytes) -> str:
    """Guess the encoding of a sample: a BOM, else UTF-8 if it decodes, else cp1252 or Latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the sample
            return "utf-8"
    # Bytes 0x80-0x9F are printable in Windows-1252 (€, ’, “) but control codes in Latin-1.
    if any(0x80 <= byte <= 0x9F for byte in head):
        return "cp1252"
    return "latin-1"


def transcode_to_utf8(path: Path, encoding: str) -> Path:
    """Write a UTF-8 copy of `path` (decompressed) to a temporary file, in blocks; return it."""
    out = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the caller deletes the file
        prefix="vitalsign-", suffix=path.name.removesuffix(".gz"), delete=False
    )
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rb") as raw, out:
            reader = codecs.getreader(encoding)(raw, "strict")
            writer = codecs.getwriter("utf-8")(out)
            shutil.copyfileobj(reader, writer, 1 << 20)
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        Path(out.name).unlink(missing_ok=True)
        raise IngestError(f"{path}: cannot decode it as {encoding}: {exc}") from exc
    return Path(out.name)
