"""Exporting labeled sets and model artifacts, streamed.

An export is an iterator of byte chunks: rows come from the database in fixed-size chunks
(``.iterator(chunk_size=...)`` plus one query per chunk for its annotations) and are written
to a small buffer that is handed out whenever it fills, so memory stays flat whatever the
project's size. Zips are written by ``labeler.zip_stream``, which keeps nothing per entry in
memory. Importing Label Studio's task format is in ``services.labelstudio_import``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce

from labeler.models import Annotation, Item, ModelRun, Project
from labeler.selectors_findings import annotation_states, item_states
from labeler.services.export_columns import (
    DICOM_COLUMNS,
    FINAL_COLUMNS,
    HISTORY_COLUMNS,
    SCAN_COLUMNS,
)
from labeler.services.export_findings import findings_columns
from labeler.services.export_formats import (
    buffered,
    class_folders,
    csv_lines,
    folder_name,
    json_array,
    jsonl_lines,
    labelstudio_tasks,
    public,
)
from labeler.zip_stream import ZipStream, coalesced

EXPORT_FORMATS = ("csv", "json", "jsonl", "imagefolder", "labelstudio")
CHUNK_SIZE = 2000
FILE_CHUNK_BYTES = 256 * 1024


def _dicom_keys(metadata: dict | None) -> dict:
    scan = (metadata or {}).get("scan")
    if scan and "slices" in scan:
        keys = {
            "study_uid": scan.get("study_uid"),
            "series_uid": " ".join(scan.get("series_uids") or []),
            "modality": scan.get("modality"),
            "series_description": scan.get("series_description"),
            "slices": scan.get("slices"),
        }
        # The imagefolder export holds the scan's montage of key slices.
        return {**keys, "stored_name": scan["montage"]} if scan.get("montage") else keys
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


def _chunked(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def _final_rows(
    project: Project, *, include_evaluation: bool, since: datetime | None
) -> Iterator[dict]:
    """One row per labeled item with its final label (or findings); pre-labeled imports
    included."""
    if project.is_findings:
        items = Item.objects.filter(project=project, status=Item.Status.LABELED).order_by("id")
    else:
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
        findings = (
            item_states(project=project, item_ids=[row[0] for row in batch])
            if project.is_findings
            else {}
        )
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
                "findings": findings.get(item_id),
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
    for batch in _chunked(
        annotations.values_list(*fields).iterator(chunk_size=CHUNK_SIZE), CHUNK_SIZE
    ):
        findings = (
            annotation_states(project=project, annotation_ids=[row[0] for row in batch])
            if project.is_findings
            else {}
        )
        for row in batch:
            yield _history_row(row, findings.get(row[0]))


def _history_row(row: tuple, findings: dict | None) -> dict:
    (annotation_id, item_id, source_name, text, stored, label, annotator, created_at) = row[:8]
    return {
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
        "findings": findings,
        **_dicom_keys(row[14]),
    }


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
            archive = ZipStream(directory)
            lines = csv_lines(
                ({**row, "file_name": _zip_path(row, folders)} for row in rows()), columns
            )
            yield from archive.entry("metadata.csv", buffered(lines), compress=True)
            for row in rows():
                if not row["stored_name"] or not default_storage.exists(row["stored_name"]):
                    continue
                # Images are compressed already: storing them costs no size and saves CPU.
                yield from archive.entry(
                    _zip_path(row, folders), _stored_file(row["stored_name"]), compress=False
                )
            yield from archive.close()

    return coalesced(pieces())


def _zip_path(row: dict, folders: dict[str, str]) -> str:
    if row["findings"] is not None:
        # Several findings per image: one folder, the findings in metadata.csv's columns.
        return f"images/{row['file_name']}"
    folder = folders.get(row["label"]) or folder_name(row["label"])
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
    if project.unit != Project.Unit.INSTANCE:
        columns = [*columns, *SCAN_COLUMNS]
    elif Project.objects.filter(pk=project.pk, has_dicom=True).exists():
        columns = [*columns, *DICOM_COLUMNS]
    stem = f"project-{project.pk}-labels"
    if project.is_findings:
        columns, rows = findings_columns(
            project, columns, rows, tabular=format != "json" and format != "jsonl"
        )
    if format == "csv":
        lines = csv_lines(rows(), columns, neutralise=neutralise_formulas)
        return Export(f"{stem}.csv", "text/csv", buffered(lines))
    if format == "jsonl":
        return Export(
            f"{stem}.jsonl", "application/x-ndjson", buffered(jsonl_lines(rows(), columns))
        )
    if format == "json":
        objects = (public(row, columns) for row in rows())
        return Export(f"{stem}.json", "application/json", buffered(json_array(objects)))
    if format == "labelstudio":
        tasks = labelstudio_tasks(rows(), project.kind, file_url or (lambda pk: str(pk)))
        return Export(f"{stem}-labelstudio.json", "application/json", buffered(json_array(tasks)))
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
            archive = ZipStream(directory)
            for path in files:
                yield from archive.entry(path.name, _path_chunks(path), compress=True)
            yield from archive.close()

    filename = f"project-{run.project_id}-run-{run.pk}-model.zip"
    return Export(filename, "application/zip", coalesced(chunks()))


def _path_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(FILE_CHUNK_BYTES):
            yield chunk
