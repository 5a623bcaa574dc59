"""Exporting labeled sets, streamed, and importing Label Studio's JSON task format.

An export is an iterator of byte chunks: rows come from the database in fixed-size chunks
(``.iterator(chunk_size=...)`` plus one query per chunk for its annotations) and are written
to a small buffer that is handed out whenever it fills, so memory stays flat whatever the
project's size. Zips are written by a small streaming writer (``_ZipStream``) that keeps
nothing per entry in memory.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce

from labeler import importing
from labeler.models import Annotation, Item, ModelRun, Project
from labeler.services.imports import ImportReport, import_limits, items_import

EXPORT_FORMATS = ("csv", "json", "jsonl", "imagefolder", "labelstudio")
CHUNK_SIZE = 2000
FLUSH_BYTES = 64 * 1024
FILE_CHUNK_BYTES = 256 * 1024

FINAL_COLUMNS = [
    "item_id",
    "source_name",
    "text",
    "file_name",
    "label",
    "annotators",
    "labeled_at",
    "origin",
    "is_evaluation",
    "predicted_label",
    "predicted_confidence",
]
HISTORY_COLUMNS = [*FINAL_COLUMNS, "annotation_id", "is_current", "replaces"]
# DICOM items are keyed by their de-identified (project-keyed) UIDs; added for DICOM projects.
DICOM_COLUMNS = ["study_uid", "series_uid", "sop_uid", "modality", "body_part", "frames"]


def _dicom_keys(metadata: dict | None) -> dict:
    keys = (metadata or {}).get("dicom")
    return {column: keys.get(column) for column in DICOM_COLUMNS} if keys else {}


class ExportError(ValueError):
    """The export cannot be made as asked (a format the project's kind has no use for...)."""


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    chunks: Iterator[bytes]


def _file_name(item_id: int, stored_name: str) -> str:
    return f"{item_id}{PurePosixPath(stored_name).suffix}" if stored_name else ""


def _folder_name(label: str) -> str:
    # A class name becomes one folder level, never a path.
    cleaned = label.replace("/", "_").replace("\\", "_").strip()
    return cleaned if cleaned not in ("", ".", "..") else "_"


def class_folders(names: Iterable[str]) -> dict[str, str]:
    """One folder per class, never shared: "a/b" and "a_b" would both clean to "a_b", and
    "Cat" and "cat" are one folder on Windows and macOS. A name that needs no cleaning keeps
    its folder; the others get a numbered one ("a_b~2")."""
    names = list(names)
    folders: dict[str, str] = {}
    taken: set[str] = set()
    # Names that are folder-safe as they are go first, so they keep their own spelling.
    for name in sorted(names, key=lambda n: (_folder_name(n) != n, names.index(n))):
        folder = _folder_name(name)
        candidate, number = folder, 1
        while candidate.casefold() in taken:
            number += 1
            candidate = f"{folder}~{number}"
        folders[name] = candidate
        taken.add(candidate.casefold())
    return folders


# A cell a spreadsheet would run as a formula (=, +, -, @) or that hides one behind a tab or
# carriage return (OWASP's CSV injection advice): prefixed with an apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _chunked(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def _final_rows(
    project: Project, *, include_evaluation: bool, since: datetime | None
) -> Iterator[dict]:
    """One row per labeled item with its final label; pre-labeled imports included."""
    items = Item.objects.filter(project=project, label__isnull=False).order_by("id")
    if not include_evaluation:
        items = items.filter(is_evaluation=False)
    if since is not None:
        latest = (
            Annotation.objects.filter(item=OuterRef("pk"), is_current=True)
            .values("item")
            .annotate(latest=Max("created_at"))
            .values("latest")
        )
        items = items.annotate(labeled_at=Coalesce(Subquery(latest), F("created_at"))).filter(
            labeled_at__gte=since
        )
    fields = (
        "id",
        "source_name",
        "text",
        "file",
        "label__name",
        "is_evaluation",
        "created_at",
        "metadata",
    )
    for batch in _chunked(items.values_list(*fields).iterator(chunk_size=CHUNK_SIZE), CHUNK_SIZE):
        current: dict[int, list[tuple]] = {}
        annotations = (
            Annotation.objects.filter(item_id__in=[row[0] for row in batch], is_current=True)
            .order_by("item_id", "created_at", "id")
            .values_list(
                "item_id",
                "annotator__username",
                "created_at",
                "kind",
                "predicted_label__name",
                "predicted_confidence",
            )
        )
        for annotation in annotations:
            current.setdefault(annotation[0], []).append(annotation)
        for item_id, source_name, text, stored, label, is_evaluation, created_at, meta in batch:
            answers = current.get(item_id, [])
            last = answers[-1] if answers else None
            yield {
                "item_id": item_id,
                "source_name": source_name,
                "text": text,
                "file_name": _file_name(item_id, stored),
                "stored_name": stored,
                "label": label,
                "annotators": sorted({answer[1] for answer in answers}),
                "labeled_at": (last[2] if last else created_at).isoformat(),
                "origin": last[3] if last else "import",
                "is_evaluation": is_evaluation,
                "predicted_label": last[4] if last else None,
                "predicted_confidence": last[5] if last else None,
                **_dicom_keys(meta),
            }


def _history_rows(
    project: Project, *, include_evaluation: bool, since: datetime | None
) -> Iterator[dict]:
    """One row per annotation, replaced ones included, oldest first."""
    annotations = Annotation.objects.filter(project=project).order_by("id")
    if not include_evaluation:
        annotations = annotations.filter(item__is_evaluation=False)
    if since is not None:
        annotations = annotations.filter(created_at__gte=since)
    fields = (
        "id",
        "item_id",
        "item__source_name",
        "item__text",
        "item__file",
        "label__name",
        "annotator__username",
        "created_at",
        "kind",
        "item__is_evaluation",
        "predicted_label__name",
        "predicted_confidence",
        "is_current",
        "replaces_id",
        "item__metadata",
    )
    for row in annotations.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        (annotation_id, item_id, source_name, text, stored, label, annotator, created_at) = row[:8]
        yield {
            "item_id": item_id,
            "source_name": source_name,
            "text": text,
            "file_name": _file_name(item_id, stored),
            "stored_name": stored,
            "label": label,
            "annotators": [annotator],
            "labeled_at": created_at.isoformat(),
            "origin": row[8],
            "is_evaluation": row[9],
            "predicted_label": row[10],
            "predicted_confidence": row[11],
            "annotation_id": annotation_id,
            "is_current": row[12],
            "replaces": row[13],
            **_dicom_keys(row[14]),
        }


def _buffered(pieces: Iterable[str]) -> Iterator[bytes]:
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= FLUSH_BYTES:
            yield "".join(buffer).encode("utf-8")
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def _public(row: dict, columns: list[str]) -> dict:
    return {column: row[column] for column in columns}


def _csv_lines(
    rows: Iterable[dict], columns: list[str], *, neutralise: bool = False
) -> Iterator[str]:
    line = io.StringIO()
    writer = csv.writer(line)

    def render(values: list) -> str:
        line.seek(0)
        line.truncate()
        writer.writerow(values)
        return line.getvalue()

    yield render(columns)
    for row in rows:
        values = []
        for column in columns:
            value = row[column]
            if column == "annotators":
                value = ";".join(value)
            if neutralise:
                value = neutralised(value)
            values.append("" if value is None else value)
        yield render(values)


def _jsonl_lines(rows: Iterable[dict], columns: list[str]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(_public(row, columns), ensure_ascii=False) + "\n"


def _json_array(objects: Iterable[dict]) -> Iterator[str]:
    yield "["
    separator = "\n"
    for obj in objects:
        yield separator + json.dumps(obj, ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


def _labelstudio_tasks(
    rows: Iterable[dict], kind: str, file_url: Callable[[int], str]
) -> Iterator[dict]:
    data_key = "image" if kind == Project.Kind.IMAGE else "text"
    for row in rows:
        value = file_url(row["item_id"]) if kind == Project.Kind.IMAGE else row["text"]
        result = [
            {
                "from_name": "label",
                "to_name": data_key,
                "type": "choices",
                "value": {"choices": [row["label"]]},
            }
        ]
        task = {
            "id": row["item_id"],
            "data": {data_key: value},
            "meta": {
                "source_name": row["source_name"],
                "annotators": row["annotators"],
                "origin": row["origin"],
                "is_evaluation": row["is_evaluation"],
            },
            "annotations": [
                {"result": result, "created_at": row["labeled_at"], "was_cancelled": False}
            ],
        }
        if row["predicted_label"] is not None:
            task["predictions"] = [
                {
                    "model_version": "tweezers",
                    "score": row["predicted_confidence"],
                    "result": [
                        {**result[0], "value": {"choices": [row["predicted_label"]]}},
                    ],
                }
            ]
        yield task


# Zip constants: format version 4.5 (zip64), entries followed by a data descriptor (sizes and
# CRC are known only after the data is streamed) with UTF-8 names, every time 2000-01-01.
_ZIP_VERSION = 45
_ZIP_FLAGS = 0x08 | 0x800
_ZIP_DOS_DATE = (20 << 9) | (1 << 5) | 1
_ZIP_UNKNOWN = 0xFFFFFFFF


class _ZipStream:
    """Writes a zip archive as a stream of bytes in constant memory.

    ``zipfile`` keeps a ZipInfo per entry until it writes the central directory at the end,
    about a kilobyte per file: 100,000 images cost ~80 MB and a million would not fit. Here
    each entry's central-directory record goes to a temporary file as soon as the entry is
    written and is copied out at the end. Every entry is zip64, so no size limit applies."""

    def __init__(self, directory: BinaryIO) -> None:
        self._offset = 0
        self._count = 0
        self._directory = directory

    def _out(self, data: bytes) -> bytes:
        self._offset += len(data)
        return data

    def entry(self, name: str, chunks: Iterable[bytes], *, compress: bool) -> Iterator[bytes]:
        encoded = name.encode("utf-8")
        method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        header_offset = self._offset
        yield self._out(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                _ZIP_VERSION,
                _ZIP_FLAGS,
                method,
                0,
                _ZIP_DOS_DATE,
                0,
                _ZIP_UNKNOWN,
                _ZIP_UNKNOWN,
                len(encoded),
                20,
            )
            + encoded
            + struct.pack("<HHQQ", 0x0001, 16, 0, 0)
        )
        crc = size = compressed = 0
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15) if compress else None
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            data = compressor.compress(chunk) if compressor else chunk
            compressed += len(data)
            if data:
                yield self._out(data)
        if compressor:
            data = compressor.flush()
            compressed += len(data)
            yield self._out(data)
        yield self._out(struct.pack("<IIQQ", 0x08074B50, crc, compressed, size))
        extra = struct.pack("<HHQQQ", 0x0001, 24, size, compressed, header_offset)
        self._directory.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (3 << 8) | _ZIP_VERSION,
                _ZIP_VERSION,
                _ZIP_FLAGS,
                method,
                0,
                _ZIP_DOS_DATE,
                crc,
                _ZIP_UNKNOWN,
                _ZIP_UNKNOWN,
                len(encoded),
                len(extra),
                0,
                0,
                0,
                0o100644 << 16,
                _ZIP_UNKNOWN,
            )
            + encoded
            + extra
        )
        self._count += 1

    def close(self) -> Iterator[bytes]:
        directory_offset = self._offset
        self._directory.seek(0)
        while chunk := self._directory.read(FILE_CHUNK_BYTES):
            yield self._out(chunk)
        directory_size = self._offset - directory_offset
        end64_offset = self._offset
        yield self._out(
            struct.pack(
                "<IQHHIIQQQQ",
                0x06064B50,
                44,
                (3 << 8) | _ZIP_VERSION,
                _ZIP_VERSION,
                0,
                0,
                self._count,
                self._count,
                directory_size,
                directory_offset,
            )
            + struct.pack("<IIQI", 0x07064B50, 0, end64_offset, 1)
            + struct.pack(
                "<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, _ZIP_UNKNOWN, _ZIP_UNKNOWN, 0
            )
        )


def _coalesced(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Joins small pieces (zip headers) into response chunks of about FLUSH_BYTES."""
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= FLUSH_BYTES:
            yield b"".join(buffer)
            buffer.clear()
            size = 0
    if buffer:
        yield b"".join(buffer)


def _stored_file(name: str) -> Iterator[bytes]:
    with default_storage.open(name, "rb") as source:
        while chunk := source.read(FILE_CHUNK_BYTES):
            yield chunk


def _imagefolder_zip(
    rows: Callable[[], Iterator[dict]],
    folders: dict[str, str],
    columns: list[str] = FINAL_COLUMNS,
) -> Iterator[bytes]:
    """A zip of class folders, ``<label>/<item id>.<ext>``, with a ``metadata.csv`` whose
    ``file_name`` column gives each file's path (Hugging Face's imagefolder layout).
    The rows are read twice, once for the metadata and once for the files, so neither pass
    keeps them in memory."""

    def pieces() -> Iterator[bytes]:
        with tempfile.TemporaryFile() as directory:
            archive = _ZipStream(directory)
            lines = _csv_lines(
                ({**row, "file_name": _zip_path(row, folders)} for row in rows()), columns
            )
            yield from archive.entry("metadata.csv", _buffered(lines), compress=True)
            for row in rows():
                if not row["stored_name"] or not default_storage.exists(row["stored_name"]):
                    continue
                # Images are compressed already: storing them costs no size and saves CPU.
                yield from archive.entry(
                    _zip_path(row, folders), _stored_file(row["stored_name"]), compress=False
                )
            yield from archive.close()

    return _coalesced(pieces())


def _zip_path(row: dict, folders: dict[str, str]) -> str:
    folder = folders.get(row["label"]) or _folder_name(row["label"])
    return f"{folder}/{row['file_name']}"


def export_labeled(
    *,
    project: Project,
    format: str,
    final: bool = True,
    include_evaluation: bool = True,
    since: datetime | None = None,
    file_url: Callable[[int], str] | None = None,
    neutralise_formulas: bool = True,
) -> Export:
    """Stream the project's labeled set in ``format``. ``final`` gives one row per item with
    its final label; otherwise one row per annotation, corrections included. ``file_url``
    turns an item id into the URL a Label Studio task points at for image items.

    CSV cells that a spreadsheet would run as a formula are prefixed with ``'`` unless
    ``neutralise_formulas`` is off (for scripts that read the CSV, not people)."""
    if format not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {format!r}; use one of: {', '.join(EXPORT_FORMATS)}")
    if format == "imagefolder" and project.kind != Project.Kind.IMAGE:
        raise ExportError("imagefolder exports image projects; use csv, json or jsonl for texts")
    if format in ("imagefolder", "labelstudio") and not final:
        raise ExportError(f"{format} exports final labels only (final=true)")

    def rows() -> Iterator[dict]:
        read = _final_rows if final else _history_rows
        return read(project, include_evaluation=include_evaluation, since=since)

    columns = FINAL_COLUMNS if final else HISTORY_COLUMNS
    # Read fresh: the caller's project row may predate its first DICOM import.
    if Project.objects.filter(pk=project.pk, has_dicom=True).exists():
        columns = [*columns, *DICOM_COLUMNS]
    stem = f"project-{project.pk}-labels"
    if format == "csv":
        lines = _csv_lines(rows(), columns, neutralise=neutralise_formulas)
        return Export(f"{stem}.csv", "text/csv", _buffered(lines))
    if format == "jsonl":
        return Export(
            f"{stem}.jsonl", "application/x-ndjson", _buffered(_jsonl_lines(rows(), columns))
        )
    if format == "json":
        objects = (_public(row, columns) for row in rows())
        return Export(f"{stem}.json", "application/json", _buffered(_json_array(objects)))
    if format == "labelstudio":
        tasks = _labelstudio_tasks(rows(), project.kind, file_url or (lambda pk: str(pk)))
        return Export(f"{stem}-labelstudio.json", "application/json", _buffered(_json_array(tasks)))
    folders = class_folders(project.classes.values_list("name", flat=True))
    return Export(f"{stem}.zip", "application/zip", _imagefolder_zip(rows, folders, columns))


def model_artifact_export(*, run: ModelRun) -> Export:
    """A run's model artifact (its folder: ``model.json`` and the weights) as a streamed zip.
    Raises ExportError when the run has none, or when its stored path is not inside the
    artifact folder."""
    root = Path(settings.TWEEZERS_ARTIFACT_DIR).resolve()
    directory = Path(run.artifact_path).resolve() if run.artifact_path else None
    if directory is None or not directory.is_relative_to(root) or not directory.is_dir():
        raise ExportError("this run has no model artifact")
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.is_symlink())

    def chunks() -> Iterator[bytes]:
        with tempfile.TemporaryFile() as directory:
            archive = _ZipStream(directory)
            for path in files:
                yield from archive.entry(path.name, _path_chunks(path), compress=True)
            yield from archive.close()

    filename = f"project-{run.project_id}-run-{run.pk}-model.zip"
    return Export(filename, "application/zip", _coalesced(chunks()))


def _path_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(FILE_CHUNK_BYTES):
            yield chunk


class _MalformedTask(ValueError):
    """A Label Studio task whose annotations do not have Label Studio's shape."""


def _labelstudio_choice(task: dict) -> str | None:
    """The label of a Label Studio task: the first choice of its last annotation that was
    not cancelled. Wrong types anywhere on that path refuse the task (with the path named)
    rather than import it silently without its label."""
    annotations = task.get("annotations") or task.get("completions") or []
    if not isinstance(annotations, list):
        raise _MalformedTask("'annotations' must be a list")
    for index, annotation in enumerate(reversed(annotations)):
        where = f"annotations[{len(annotations) - 1 - index}]"
        if not isinstance(annotation, dict):
            raise _MalformedTask(f"{where} must be an object")
        if annotation.get("was_cancelled"):
            continue
        results = annotation.get("result")
        results = [] if results is None else results
        if not isinstance(results, list):
            raise _MalformedTask(f"{where}.result must be a list")
        for number, result in enumerate(results):
            if not isinstance(result, dict):
                raise _MalformedTask(f"{where}.result[{number}] must be an object")
            if result.get("type", "choices") != "choices":
                continue
            value = result.get("value") or {}
            if not isinstance(value, dict):
                raise _MalformedTask(f"{where}.result[{number}].value must be an object")
            choices = value.get("choices") or []
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise _MalformedTask(
                    f"{where}.result[{number}].value.choices must be a list of strings"
                )
            if choices:
                return choices[0]
    return None


def _data_uri_bytes(value: str) -> bytes | None:
    header, _, payload = value.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _pick(record: dict, keys: tuple[str, ...]) -> object:
    for key, value in record.items():
        if isinstance(key, str) and key.strip().lower() in keys:
            return value
    return None


def labelstudio_entries(
    name: str, tasks: object, limits: importing.Limits, *, kind: str
) -> Iterator[importing.Entry]:
    """Turn Label Studio tasks (or this app's own JSON export rows) into importer entries,
    validated exactly like uploaded files and rows."""
    if not isinstance(tasks, list):
        raise importing.ImportSourceError(
            f"{name}: expected a JSON array of Label Studio tasks or of rows with a 'text' field"
        )
    for number, task in enumerate(tasks, start=1):
        where = f"{name} task {number}"
        if not isinstance(task, dict):
            yield importing.Rejection(where, "each task must be a JSON object")
            continue
        data = task.get("data")
        if "data" in task and not isinstance(data, dict):
            yield importing.Rejection(where, '\'data\' must be an object, e.g. {"text": "…"}')
            continue
        if isinstance(data, dict):
            try:
                label = _labelstudio_choice(task)
            except _MalformedTask as malformed:
                yield importing.Rejection(where, f"not a Label Studio task: {malformed}")
                continue
            metadata = {"labelstudio_id": task["id"]} if "id" in task else {}
            if isinstance(task.get("meta"), dict):
                metadata.update(importing.user_metadata(task["meta"]))
        else:
            data = task
            label = _pick(task, importing.LABEL_COLUMNS)
            label = None if label is None else str(label)
            metadata = {}
        if kind == Project.Kind.IMAGE:
            value = data.get("image") if isinstance(data.get("image"), str) else None
            content = _data_uri_bytes(value) if value else None
            if content is None:
                yield importing.Rejection(
                    where,
                    "image tasks must carry the image inline as a base64 data: URI; "
                    "upload the image files as a zip instead",
                )
                continue
            yield importing.image_candidate(where, content, limits, label)
            continue
        text = _pick(data, importing.TEXT_COLUMNS)
        if text is None:
            strings = [value for value in data.values() if isinstance(value, str)]
            text = strings[0] if len(strings) == 1 else None
        if not isinstance(text, str):
            yield importing.Rejection(where, "no text: expected data.text (a string)")
            continue
        yield importing.text_candidate(where, text, limits, label, metadata)


def items_import_labelstudio(*, project: Project, name: str, stream: BinaryIO) -> ImportReport:
    """Import a JSON file of Label Studio tasks (or of rows from this app's JSON export):
    texts and inline images, with the first choice of each task's last annotation as its
    pre-label. The file is parsed whole, so it is held to the upload size limit."""
    limits = import_limits()
    raw = stream.read(limits.max_total_bytes + 1)
    if len(raw) > limits.max_total_bytes:
        raise importing.ImportSourceError(
            f"{name}: over the {limits.max_total_bytes:,} byte limit for JSON imports"
        )
    try:
        tasks = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise importing.ImportSourceError(f"{name}: not UTF-8 text ({error.reason})") from error
    except json.JSONDecodeError as error:
        raise importing.ImportSourceError(
            f"{name}: invalid JSON: {error.msg} at line {error.lineno}"
        ) from error
    except (ValueError, RecursionError) as error:
        # A number with thousands of digits, or nesting deeper than the parser goes.
        reason = str(error)[:200] if isinstance(error, ValueError) else "nested too deeply"
        raise importing.ImportSourceError(f"{name}: invalid JSON: {reason}") from error
    del raw
    # A source that is not an array fails on the first entry, before anything is stored.
    entries = labelstudio_entries(name, tasks, limits, kind=project.kind)
    total = len(tasks) if isinstance(tasks, list) else 0
    return items_import(project=project, entries=entries, total=total)
