"""Reading and validating import sources: image files, folders and zips; CSV and JSONL texts.

Readers yield ``Candidate`` (an item ready to store) or ``Rejection`` (what was wrong and where),
one per file or row, so a bad file is reported and skipped while the rest imports. Nothing here
touches the database or writes a file: zips are read in memory, entry by entry, and never
extracted, so no entry name can reach the disk.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, UnidentifiedImageError

from labeler import importing_findings

if TYPE_CHECKING:
    from labeler.dicom.reading import DicomOptions

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
TEXT_SUFFIXES = {".csv", ".jsonl", ".ndjson"}
ALLOWED_IMAGE_FORMATS = {"PNG": ".png", "JPEG": ".jpg"}
TEXT_COLUMNS = ("text", "content", "sentence")
# Reasons are translated where they are made, in the language of whoever started the import
# (a worker's job runs in the language of the request that queued it).
NOT_AN_IMAGE = gettext_lazy("not an image file (expected .png, .jpg, .jpeg)")
DICOM_NEEDS_AN_IMAGE_PROJECT = gettext_lazy("DICOM files import into an image project only")
LABEL_COLUMNS = ("label", "class", "category")


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


def image_candidate(
    name: str, data: bytes, limits: Limits, prelabel: str | None = None
) -> Candidate | Rejection:
    if len(data) > limits.max_file_bytes:
        return Rejection(name, too_big(len(data), limits))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            image_format = probe.format
            # The header alone tells the size: refuse a decompression bomb before decoding.
            if width * height > limits.max_image_pixels:
                return Rejection(
                    name,
                    _(
                        "image is %(width)s×%(height)s = %(pixels)s pixels, over the %(limit)s "
                        "pixel limit"
                    )
                    % {
                        "width": width,
                        "height": height,
                        "pixels": f"{width * height:,}",
                        "limit": f"{limits.max_image_pixels:,}",
                    },
                )
            if image_format not in ALLOWED_IMAGE_FORMATS:
                return Rejection(
                    name,
                    _("unsupported image format %(format)s; use PNG or JPEG")
                    % {"format": image_format},
                )
            probe.verify()
        # verify() does not decode pixel data; a truncated stream only fails on load().
        with Image.open(io.BytesIO(data)) as decoded:
            decoded.load()
    except Image.DecompressionBombError:
        # Pillow refuses to even open images far over its own cap.
        return Rejection(
            name,
            _("image is over the %(limit)s pixel limit (decompression bomb)")
            % {"limit": f"{limits.max_image_pixels:,}"},
        )
    except UnidentifiedImageError:
        return Rejection(name, _("not a readable image (corrupt or not PNG/JPEG)"))
    except (OSError, SyntaxError, ValueError) as error:
        return Rejection(name, _("corrupt image: %(error)s") % {"error": error})
    return Candidate(
        source_name=name,
        checksum=sha256(data),
        content=data,
        suffix=ALLOWED_IMAGE_FORMATS[image_format],
        prelabel=prelabel,
        metadata={"width": width, "height": height},
    )


# Keys the pages read from an item's metadata (image size, provenance). A row's own column of
# that name is kept under "column:<name>", so a text item with a "width" column cannot pass
# itself off as a tiny image.
RESERVED_METADATA_KEYS = frozenset({"width", "height", "labelstudio_id", "dicom"})
METADATA_MAX_DEPTH = 20
METADATA_MAX_CHARS = 20_000


def _unstorable(value: str) -> str | None:
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
        return _unstorable(value)
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return _("metadata holds NaN or Infinity, which JSON cannot store")
    if isinstance(value, dict):
        for key, inner in value.items():
            problem = _unstorable(str(key)) or _metadata_problem(inner, depth + 1)
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


def image_or_dicom_candidate(
    name: str,
    data: bytes,
    limits: Limits,
    prelabel: str | None = None,
    *,
    dicom: DicomOptions | None = None,
) -> Candidate | Rejection:
    """A PNG/JPEG image, or a DICOM file (by its name or its ``DICM`` marker)."""
    if looks_like_dicom_file(name, data):
        return dicom_candidate(name, data, limits, dicom, prelabel)
    if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
        return Rejection(name, str(NOT_AN_IMAGE))
    return image_candidate(name, data, limits, prelabel)


def text_candidate(
    name: str, text: str, limits: Limits, prelabel: str | None, metadata: dict
) -> Candidate | Rejection:
    text = text.strip()
    if not text:
        return Rejection(name, _("empty text"))
    problem = _unstorable(text) or (_unstorable(prelabel) if prelabel else None)
    if problem:
        return Rejection(name, _("text or label %(problem)s") % {"problem": problem})
    problem = metadata_problem(metadata)
    if problem:
        return Rejection(name, problem)
    if len(text) > limits.max_text_chars:
        return Rejection(
            name,
            _("text is %(chars)s characters, over the %(limit)s limit")
            % {"chars": f"{len(text):,}", "limit": f"{limits.max_text_chars:,}"},
        )
    if prelabel is not None:
        prelabel = prelabel.strip() or None
    return Candidate(
        source_name=name,
        checksum=sha256(text.encode("utf-8")),
        text=text,
        prelabel=prelabel,
        metadata=metadata,
    )


def _has_undecodable(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def _pick_column(fieldnames: Iterable[str], options: tuple[str, ...]) -> str | None:
    by_lower = {name.strip().lower(): name for name in fieldnames if name}
    for option in options:
        if option in by_lower:
            return by_lower[option]
    return None


def read_csv(name: str, stream: BinaryIO, limits: Limits) -> Iterator[Entry]:
    # surrogateescape keeps undecodable bytes as marker characters, so one bad row is reported
    # with its line number instead of failing the whole file.
    text_stream = io.TextIOWrapper(
        stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    csv.field_size_limit(max(limits.max_text_chars * 4, 131072))
    reader = csv.DictReader(text_stream)
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as error:
        raise ImportSourceError(
            _("%(name)s: not a readable CSV file (%(error)s)") % {"name": name, "error": error}
        ) from error
    text_column = _pick_column(fieldnames, TEXT_COLUMNS)
    if text_column is None:
        columns = ", ".join(repr(c) for c in fieldnames) or "none"
        raise ImportSourceError(
            _("%(name)s: no text column; expected one named 'text' (columns found: %(columns)s)")
            % {"name": name, "columns": columns}
        )
    label_column = _pick_column(fieldnames, LABEL_COLUMNS)
    labels_column = _pick_column(fieldnames, importing_findings.LABELS_COLUMNS)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Rejection(
                line_of(name, reader.line_num), _("malformed CSV: %(error)s") % {"error": error}
            )
            continue
        where = line_of(name, reader.line_num)
        if None in row:
            yield Rejection(where, _("more fields than the header has columns"))
            continue
        values = [value for value in row.values() if isinstance(value, str)]
        if any(_has_undecodable(value) for value in values):
            yield Rejection(where, _("not valid UTF-8 text; save the file as UTF-8"))
            continue
        text = row.get(text_column) or ""
        label = row.get(label_column) if label_column else None
        metadata = user_metadata(
            {
                key: value
                for key, value in row.items()
                if key not in (text_column, label_column, labels_column)
                and key
                and value not in (None, "")
            }
        )
        candidate = text_candidate(where, text, limits, label, metadata)
        prefindings = importing_findings.findings_from_labels(row.get(labels_column))
        if isinstance(candidate, Candidate) and prefindings is not None:
            candidate = replace(candidate, prefindings=prefindings)
        yield candidate


def read_jsonl(name: str, stream: BinaryIO, limits: Limits) -> Iterator[Entry]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    for line_number, raw_line in enumerate(stream, start=1):
        where = line_of(name, line_number)
        if line_number == 1 and raw_line.startswith(codecs.BOM_UTF8):
            raw_line = raw_line[len(codecs.BOM_UTF8) :]
        try:
            line = decoder.decode(raw_line, final=True)
        except UnicodeDecodeError:
            decoder.reset()
            yield Rejection(where, _("not valid UTF-8 text; save the file as UTF-8"))
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield Rejection(
                where,
                _("invalid JSON: %(error)s at column %(column)s")
                % {"error": error.msg, "column": error.colno},
            )
            continue
        except (ValueError, RecursionError) as error:
            # A number with thousands of digits, or nesting deeper than the parser goes.
            yield Rejection(
                where,
                _("invalid JSON: %(error)s")
                % {"error": str(error)[:200] or _("nested too deeply")},
            )
            continue
        if not isinstance(record, dict):
            yield Rejection(where, _("each line must be a JSON object with a 'text' field"))
            continue
        text_key = _pick_column(record.keys(), TEXT_COLUMNS)
        text = record.get(text_key) if text_key else None
        if not isinstance(text, str):
            yield Rejection(where, _("missing 'text' field (a string)"))
            continue
        label_key = _pick_column(record.keys(), LABEL_COLUMNS)
        label = record.get(label_key) if label_key else None
        if label is not None and not isinstance(label, str | int) or isinstance(label, bool):
            yield Rejection(where, _("'label' must be a string"))
            continue
        prefindings = record_findings(record)
        if isinstance(prefindings, str):
            yield Rejection(where, prefindings)
            continue
        metadata = user_metadata(
            {k: v for k, v in record.items() if k not in (text_key, label_key, *FINDINGS_FIELDS)}
        )
        candidate = text_candidate(
            where, text, limits, None if label is None else str(label), metadata
        )
        if isinstance(candidate, Candidate) and prefindings is not None:
            candidate = replace(candidate, prefindings=prefindings)
        yield candidate


FINDINGS_FIELDS = (*importing_findings.FINDINGS_KEYS, *importing_findings.LABELS_COLUMNS)


def record_findings(record: dict) -> dict | str | None:
    """A JSON record's findings pre-label: its ``findings`` object, else its ``labels``."""
    key = _pick_column(record.keys(), importing_findings.FINDINGS_KEYS)
    if key is not None:
        return importing_findings.findings_from_object(record[key])
    key = _pick_column(record.keys(), importing_findings.LABELS_COLUMNS)
    return importing_findings.findings_from_labels(record[key]) if key is not None else None


def read_zip(
    name: str, stream: BinaryIO, limits: Limits, *, kind: str, dicom: DicomOptions | None = None
) -> tuple[int, Iterator[Entry]]:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportSourceError(
            _("%(name)s: not a readable zip file (%(error)s)") % {"name": name, "error": error}
        ) from error
    members = [info for info in archive.infolist() if not info.is_dir()]
    if not members:
        raise ImportSourceError(_("%(name)s: the zip file contains no files") % {"name": name})
    declared_total = sum(info.file_size for info in members)
    if declared_total > limits.max_total_bytes:
        raise ImportSourceError(
            _("%(name)s: unpacks to %(size)s bytes, over the %(limit)s limit")
            % {
                "name": name,
                "size": f"{declared_total:,}",
                "limit": f"{limits.max_total_bytes:,}",
            }
        )

    def entries() -> Iterator[Entry]:
        with archive:
            for info in members:
                entry_name = info.filename
                reason = unsafe_entry_reason(entry_name)
                if reason:
                    yield Rejection(entry_name, reason)
                    continue
                if is_hidden(entry_name):
                    continue
                suffix = PurePosixPath(entry_name).suffix.lower()
                if kind == "image":
                    if suffix in TEXT_SUFFIXES:
                        yield Rejection(entry_name, str(NOT_AN_IMAGE))
                        continue
                    if info.file_size > limits.max_file_bytes:
                        yield Rejection(entry_name, too_big(info.file_size, limits))
                        continue
                    try:
                        with archive.open(info) as member:
                            # Read one byte past the limit: a lying header cannot make us
                            # inflate more than that.
                            data = member.read(limits.max_file_bytes + 1)
                    except ZIP_MEMBER_ERRORS as error:
                        yield Rejection(
                            entry_name,
                            _("cannot read from the archive: %(error)s") % {"error": error},
                        )
                        continue
                    parent = PurePosixPath(entry_name).parent
                    prelabel = parent.name if parent.name else None
                    yield image_or_dicom_candidate(entry_name, data, limits, prelabel, dicom=dicom)
                elif suffix in TEXT_SUFFIXES:
                    yield from _zip_text_member(archive, info, limits)
                else:
                    yield Rejection(entry_name, _("not a CSV or JSONL file"))

    return len(members), entries()


# What a damaged member raises while it is read: a bad CRC (BadZipFile), a corrupt deflate
# stream (zlib.error), a truncated one (EOFError), an encrypted one (RuntimeError).
ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError)


def _zip_text_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits):
    """A CSV or JSONL member, read whole (within the size limit) before parsing, so a damaged
    member is one rejection, not an error halfway through a batch."""
    if info.file_size > limits.max_total_bytes:
        yield Rejection(info.filename, too_big(info.file_size, limits))
        return
    try:
        with archive.open(info) as member:
            data = member.read(limits.max_total_bytes + 1)
    except ZIP_MEMBER_ERRORS as error:
        yield Rejection(
            info.filename, _("cannot read from the archive: %(error)s") % {"error": error}
        )
        return
    try:
        yield from read_text_file(info.filename, io.BytesIO(data), limits)
    except ImportSourceError as error:
        yield Rejection(info.filename, str(error))


def read_text_file(name: str, stream: BinaryIO, limits: Limits) -> Iterator[Entry]:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".csv":
        return read_csv(name, stream, limits)
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(name, stream, limits)
    raise ImportSourceError(
        _("%(name)s: text projects import .csv or .jsonl files") % {"name": name}
    )


def looks_like_dicom_file(name: str, data: bytes) -> bool:
    # pydicom is imported only when a DICOM import needs it.
    from labeler.dicom.reading import looks_like_dicom

    return looks_like_dicom(name, data[:132])


def dicom_candidate(
    name: str,
    data: bytes,
    limits: Limits,
    options: DicomOptions | None,
    prelabel: str | None = None,
    *,
    own_name: bool = False,
) -> Candidate | Rejection:
    """One DICOM file in, its de-identified copy and rendition out (or why not), named without
    ``name`` unless ``own_name`` says Tweezers made it (a PACS position); everything after
    that (batches, duplicates, pre-labels from class folders) is the same as for PNG and
    JPEG."""
    from labeler.dicom.reading import DicomRejected, dicom_file, file_reference, item_name

    # A DICOM file's or folder's name may be the patient's: reports name the file by its
    # checksum, items by their de-identified keys.
    reference = name if own_name else file_reference(data)
    if options is None:
        return Rejection(reference, str(DICOM_NEEDS_AN_IMAGE_PROJECT))
    if len(data) > limits.max_file_bytes:
        return Rejection(reference, too_big(len(data), limits))
    try:
        stored = dicom_file(data, options, max_pixels=limits.max_image_pixels)
    except DicomRejected as rejected:
        return Rejection(reference, str(rejected))
    return Candidate(
        source_name=name if own_name else item_name(stored.metadata["dicom"]),
        checksum=stored.checksum,
        content=stored.rendition,
        suffix=".png",
        prelabel=prelabel,
        metadata=stored.metadata,
        dicom=stored.dicom,
        scan=stored.scan,
    )


def _count_lines(stream: BinaryIO) -> int:
    count = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
    stream.seek(0)
    return count


def read_upload(
    name: str, stream: BinaryIO, limits: Limits, *, kind: str, dicom: DicomOptions | None = None
) -> tuple[int, Iterator[Entry]]:
    """Read one uploaded or named file. Returns an estimate of the entry count (for progress
    bars) and the entries."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".zip":
        return read_zip(name, stream, limits, kind=kind, dicom=dicom)
    if kind == "image":
        data = stream.read(limits.max_file_bytes + 1)
        base = PurePosixPath(name).name
        if suffix not in IMAGE_SUFFIXES and not looks_like_dicom_file(base, data):
            raise ImportSourceError(
                _(
                    "%(name)s: image projects import .png/.jpg or DICOM files, folders or "
                    ".zip archives"
                )
                % {"name": name}
            )
        return 1, iter([image_or_dicom_candidate(base, data, limits, dicom=dicom)])
    total = max(_count_lines(stream) - (1 if suffix == ".csv" else 0), 0)
    return total, read_text_file(PurePosixPath(name).name, stream, limits)


def read_folder(
    root: Path, limits: Limits, *, kind: str, dicom: DicomOptions | None = None
) -> tuple[int, Iterator[Entry]]:
    """Images in a folder; a file's immediate class sub-folder is its pre-label. Links are not
    followed, so a folder cannot smuggle in files from elsewhere."""
    if kind != "image":
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
    else:
        files = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    files = [p for p in files if not is_hidden(str(p.relative_to(root)))]

    def entries() -> Iterator[Entry]:
        for path in files:
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                yield Rejection(relative, _("symbolic links are not followed"))
                continue
            if kind != "image":
                with path.open("rb") as stream:
                    yield from read_text_file(relative, stream, limits)
                continue
            if path.suffix.lower() in TEXT_SUFFIXES:
                yield Rejection(relative, str(NOT_AN_IMAGE))
                continue
            size = path.stat().st_size
            if size > limits.max_file_bytes:
                yield Rejection(relative, too_big(size, limits))
                continue
            parent = path.parent
            prelabel = parent.name if parent != root else None
            yield image_or_dicom_candidate(
                relative, path.read_bytes(), limits, prelabel, dicom=dicom
            )

    return len(files), entries()
