"""Detect a text file's encoding from a sample, and transcode the ones DuckDB cannot read."""

from __future__ import annotations

import codecs
import contextlib
import gzip
import re
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from vitalsign.errors import IngestError

SAMPLE_BYTES = 1 << 20
# Encodings DuckDB's CSV reader decodes itself (DuckDB 1.5, without extensions).
NATIVE = {"utf-8": "utf-8", "utf-16": "utf-16"}
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


def _valid_utf8_prefix(head: bytes) -> bool:
    """True when `head` is UTF-8, allowing a character cut by the end of the sample."""
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"


def detect_encoding(head: bytes) -> str:
    """Guess a sample's encoding: a BOM, else UTF-8 if it decodes, else cp1252 or Latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _valid_utf8_prefix(head):
        return "utf-8"
    # Bytes 0x80-0x9F are printable in Windows-1252 (€, ’, “) but control codes in Latin-1.
    if any(0x80 <= byte <= 0x9F for byte in head):
        return "cp1252"
    return "latin-1"


@dataclass(frozen=True)
class Decoding:
    """How a text file is decoded: by the reader (`reader`), and line by line (`fallback`).

    With a fallback, every line that is valid UTF-8 is kept as it is and the others are
    decoded with the fallback; a line neither can decode stays as it was, so the reader
    rejects it and the quarantine keeps its bytes. Without one, the reader decodes the
    file and rejects the lines that are not valid in its encoding.
    """

    reader: str  # an encoding DuckDB's reader decodes (NATIVE)
    fallback: str | None = None  # the encoding of lines that are not UTF-8
    whole_file: str | None = None  # an encoding only a whole-file transcode can read

    @property
    def name(self) -> str:
        """The encoding recorded for the run."""
        return self.whole_file or self.fallback or self.reader


def _ascii_compatible(encoding: str) -> bool:
    try:
        return '\n,;\t|"az09'.encode(encoding) == b'\n,;\t|"az09'
    except (UnicodeError, LookupError):
        return False


def choose_decoding(head: bytes, declared: str | None) -> Decoding:
    """Decide how to decode a file from its first bytes and the source's declared encoding.

    A file with a UTF-8 BOM, valid UTF-8 or any UTF-8 character is UTF-8 (a line that is
    not is quarantined); one with no UTF-8 character but other non-ASCII bytes is a
    single-byte file (cp1252, else Latin-1). A declared encoding decodes the lines that are
    not UTF-8.
    """
    if declared is None:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return Decoding("utf-16")
        if head.startswith(codecs.BOM_UTF8) or _has_utf8_character(head):
            return Decoding("utf-8")
        guessed = detect_encoding(head)
        return Decoding("utf-8") if guessed == "utf-8" else Decoding("utf-8", guessed)
    name = canonical_name(declared)
    if name in ("utf-8", "utf-16"):
        return Decoding(name)
    if name == "utf-8-sig":
        return Decoding("utf-8")
    if _ascii_compatible(name):
        return Decoding("utf-8", name)
    return Decoding("utf-8", whole_file=name)


_UTF8_CHARACTER = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _has_utf8_character(head: bytes) -> bool:
    """True when the sample holds a multi-byte UTF-8 character (rare by chance in cp1252)."""
    return _UTF8_CHARACTER.search(head) is not None


def transcode_lines(path: Path, fallback: str) -> Path:
    """Write a UTF-8 copy of `path` (decompressed), deciding line by line; return it.

    A line that is valid UTF-8 is copied as it is; another is decoded with `fallback`; a
    line neither decodes is copied byte for byte, so the reader rejects it.
    """
    out = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the caller deletes the file
        prefix="vitalsign-", suffix=path.name.removesuffix(".gz"), delete=False
    )
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rb") as raw, out:
            rest = b""
            while block := raw.read(1 << 22):
                block = rest + block
                cut = block.rfind(b"\n") + 1
                block, rest = block[:cut], block[cut:]
                out.write(_transcode_block(block, fallback))
            out.write(_transcode_block(rest, fallback))
    except (OSError, EOFError, zlib.error) as exc:
        Path(out.name).unlink(missing_ok=True)
        raise IngestError(f"{path}: cannot read it: {exc}") from exc
    return Path(out.name)


def _transcode_block(block: bytes, fallback: str) -> bytes:
    try:
        block.decode("utf-8")
        return block
    except UnicodeDecodeError:
        pass
    lines = block.split(b"\n")
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            with contextlib.suppress(UnicodeDecodeError):
                lines[i] = line.decode(fallback).encode("utf-8")
    return b"\n".join(lines)


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
