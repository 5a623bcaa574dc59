"""What import readers yield and the checks every reader shares: ``Candidate`` (an item ready
to store), ``Rejection`` (what was wrong and where), the limits, and the metadata and name
checks that keep what PostgreSQL cannot store out of the database."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_image_pixels: int
    max_text_chars: int
    max_total_bytes: int


@dataclass(frozen=True)
class Candidate:
    source_name: str
    checksum: str
    text: str = ""
    content: bytes = b""
    suffix: str = ""
    prelabel: str | None = None
    metadata: dict = field(default_factory=dict)
    # A DICOM item: the de-identified file, stored beside ``content`` (its PNG rendition).
    dicom: bytes = b""
    # A DICOM file's slices and series (labeler.dicom.geometry.ScanPart): what a project whose
    # items are series or studies groups and orders.
    scan: object = None
    # Findings projects: pre-labeled states by finding name ({} is "no finding").
    prefindings: dict | None = None


@dataclass(frozen=True)
class Rejection:
    source_name: str
    reason: str


class ImportSourceError(ValueError):
    """The source as a whole cannot be read (wrong type, not a zip, no text column...)."""


Entry = Candidate | Rejection


def too_big(size: int, limits: Limits) -> str:
    return _("file is %(size)s bytes, over the %(limit)s limit") % {
        "size": f"{size:,}",
        "limit": f"{limits.max_file_bytes:,}",
    }


def line_of(name: str, line: int) -> str:
    """Where in a text file a row is, as reports name it."""
    return _("%(name)s line %(line)s") % {"name": name, "line": line}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_hidden(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def unsafe_entry_reason(name: str) -> str | None:
    """Why a zip entry name may not be trusted, or None. Checked even though nothing is ever
    extracted, because the name also becomes the item's source name and pre-label."""
    if "\x00" in name:
        return _("unsafe path in archive: contains a NUL byte")
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return _("unsafe path in archive: %(name)s is absolute") % {"name": repr(name)}
    if ".." in PurePosixPath(normalized).parts:
        return _("unsafe path in archive: %(name)s points outside the archive") % {
            "name": repr(name)
        }
    return None


# Keys the pages read from an item's metadata (image size, provenance). A row's own column of
# that name is kept under "column:<name>", so a text item with a "width" column cannot pass
# itself off as a tiny image.
RESERVED_METADATA_KEYS = frozenset({"width", "height", "labelstudio_id", "dicom"})
METADATA_MAX_DEPTH = 20
METADATA_MAX_CHARS = 20_000


def unstorable(value: str) -> str | None:
    """Why PostgreSQL cannot store this string, or None."""
    if "\x00" in value:
        return _("contains a NUL character")
    if any("\ud800" <= char <= "\udfff" for char in value):
        return _("not valid Unicode text (a lone surrogate)")
    return None


def _metadata_problem(value: object, depth: int = 0) -> str | None:
    if depth > METADATA_MAX_DEPTH:
        return _("metadata nested deeper than %(depth)s levels") % {"depth": METADATA_MAX_DEPTH}
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return _("metadata holds NaN or Infinity, which JSON cannot store")
    if isinstance(value, dict):
        for key, inner in value.items():
            problem = unstorable(str(key)) or _metadata_problem(inner, depth + 1)
            if problem:
                return _("metadata %(key)s: %(problem)s") % {
                    "key": repr(str(key)[:40]),
                    "problem": problem,
                }
    if isinstance(value, list):
        for inner in value:
            problem = _metadata_problem(inner, depth + 1)
            if problem:
                return problem
    return None


def user_metadata(columns: dict) -> dict:
    """A row's own columns as item metadata, reserved names moved aside."""
    return {
        (f"column:{key}" if key in RESERVED_METADATA_KEYS else key): value
        for key, value in columns.items()
    }


def metadata_problem(metadata: dict) -> str | None:
    """Why this metadata cannot be stored (NUL, lone surrogates, NaN, too deep or too big),
    or None."""
    problem = _metadata_problem(metadata)
    if problem is None and len(json.dumps(metadata, default=str)) > METADATA_MAX_CHARS:
        problem = _("metadata over %(limit)s characters") % {"limit": f"{METADATA_MAX_CHARS:,}"}
    return problem


def clean_name(name: str) -> str:
    """A file or row name fit to store and show: control characters (NUL above all) become
    "?"."""
    return "".join("?" if ord(char) < 32 or "\ud800" <= char <= "\udfff" else char for char in name)
