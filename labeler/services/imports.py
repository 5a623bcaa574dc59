"""Importing items: from files the server can read, from one uploaded file, or from a PACS.
The import jobs the browser starts, which a worker runs, are ``labeler.services.import_jobs``."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from labeler import importing
from labeler.dicom.dicomweb import PacsQuery, PacsStudy, pacs_entries, pacs_studies
from labeler.dicom.options import dicom_options
from labeler.models import Item, LabelClass, Project, item_file_path
from labeler.services import findings
from labeler.services.labelstudio_import import labelstudio_read
from labeler.services.projects import (
    ProjectRejected,
    class_name_normalize,
    label_classes_ensure,
)
from labeler.services.scans import ScanImport

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
IMPORT_BATCH_SIZE = 500
PACS_SOURCE_NAME = "PACS (DICOMweb)"


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    # Series and study projects: scans that existed and received slices, and series kept
    # although a slice is missing (labeler/services/scans.py).
    scans_extended: int = 0
    incomplete: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"imported": self.imported, "duplicates": self.duplicates, "rejected": self.rejected}

    def summary(self) -> str:
        extended = f", scans extended {self.scans_extended}" if self.scans_extended else ""
        return (
            f"imported {self.imported}, duplicates {self.duplicates}, rejected "
            f"{len(self.rejected)}{extended}"
        )


def import_limits() -> importing.Limits:
    return importing.Limits(
        max_file_bytes=settings.TWEEZERS_MAX_FILE_BYTES,
        max_image_pixels=settings.TWEEZERS_MAX_IMAGE_PIXELS,
        max_text_chars=settings.TWEEZERS_MAX_TEXT_CHARS,
        max_total_bytes=settings.TWEEZERS_MAX_UPLOAD_BYTES,
    )


def _batched(entries: Iterator, size: int) -> Iterator[list]:
    while batch := list(islice(entries, size)):
        yield batch


def _store_batch(
    project: Project,
    candidates: list[importing.Candidate],
    classes: dict[str, LabelClass],
    report: ImportReport,
) -> None:
    # De-duplicate against the batch itself and the items already stored.
    unique: dict[str, importing.Candidate] = {}
    for candidate in candidates:
        if candidate.checksum in unique:
            report.duplicates += 1
        else:
            unique[candidate.checksum] = candidate
    existing = set(
        Item.objects.filter(project=project, checksum__in=list(unique)).values_list(
            "checksum", flat=True
        )
    )
    report.duplicates += len(existing)
    new = [c for checksum, c in unique.items() if checksum not in existing]
    if not new:
        return

    written: list[str] = []
    items: list[Item] = []
    try:
        for candidate in new:
            prelabel = class_name_normalize(candidate.prelabel) if candidate.prelabel else None
            label = classes.get(prelabel) if prelabel else None
            item = Item(
                project=project,
                text=candidate.text,
                source_name=importing.clean_name(candidate.source_name)[:500],
                checksum=candidate.checksum,
                metadata=candidate.metadata,
                prelabel=label,
                label=label,
                status=(
                    Item.Status.LABELED
                    if label or candidate.prefindings is not None
                    else Item.Status.UNLABELED
                ),
            )
            if candidate.content:
                name = item_file_path(item, f"file{candidate.suffix}")
                # Content-addressed: an identical file already on disk is simply reused.
                if not default_storage.exists(name):
                    name = default_storage.save(name, ContentFile(candidate.content))
                    written.append(name)
                item.file.name = name
            if candidate.dicom:
                # The de-identified DICOM file, beside its rendition: renditions read it.
                dicom_name = item_file_path(item, "file.dcm")
                if not default_storage.exists(dicom_name):
                    written.append(default_storage.save(dicom_name, ContentFile(candidate.dicom)))
            items.append(item)
        with transaction.atomic():
            Item.objects.bulk_create(items)
            prefound = [
                (item, c.prefindings)
                for item, c in zip(items, new, strict=True)
                if c.prefindings is not None
            ]
            findings.prefindings_store(project=project, items=prefound)
            n_prelabeled = sum(1 for item in items if item.status == Item.Status.LABELED)
            dicom = {"has_dicom": True} if any(c.dicom for c in new) else {}
            Project.objects.filter(pk=project.pk).update(
                n_items=F("n_items") + len(items),
                n_labeled=F("n_labeled") + n_prelabeled,
                **dicom,
            )
    except BaseException:
        # The batch is atomic: no row was kept, so drop the files it wrote.
        for name in written:
            default_storage.delete(name)
        raise
    report.imported += len(items)


def items_import(
    *,
    project: Project,
    entries: Iterator[importing.Entry],
    total: int = 0,
    progress: ProgressCallback | None = None,
    batch_size: int = IMPORT_BATCH_SIZE,
) -> ImportReport:
    """Store the valid entries as items, in atomic batches; report duplicates and rejections.

    Pre-labels must name a class of the project. A project without classes takes its classes
    from its first labeled import (class sub-folders or a label column).
    """
    report = ImportReport()
    done = 0
    classes = {c.name: c for c in project.classes.all()}
    classes_from_import = not classes
    # A series or study project groups the whole import's instances before storing scans.
    scan_import = ScanImport(project) if project.unit != Project.Unit.INSTANCE else None
    try:
        for batch in _batched(entries, batch_size):
            candidates: list[importing.Candidate] = []
            for entry in batch:
                if isinstance(entry, importing.Rejection):
                    report.rejected.append(
                        {
                            "name": importing.clean_name(entry.source_name),
                            "reason": importing.clean_name(entry.reason),
                        }
                    )
                    continue
                if project.is_findings:
                    entry = _findings_entry(project, entry, classes, classes_from_import, report)
                    if entry is not None:
                        candidates.append(entry)
                    continue
                prelabel = class_name_normalize(entry.prelabel) if entry.prelabel else None
                folder_named = entry.dicom or scan_import is not None
                if prelabel and prelabel not in classes and folder_named:
                    # A DICOM file's folder (and any folder in a series or study project) is
                    # often named after the patient, study or series: it pre-labels only when it
                    # names a class, and is neither echoed nor made a class.
                    entry, prelabel = dataclasses.replace(entry, prelabel=None), None
                if prelabel and prelabel not in classes:
                    if classes_from_import:
                        try:
                            classes.update(label_classes_ensure(project=project, names=[prelabel]))
                        except ProjectRejected as refused:
                            report.rejected.append(
                                {
                                    "name": importing.clean_name(entry.source_name),
                                    "reason": importing.clean_name(refused.message),
                                }
                            )
                            continue
                    else:
                        known = ", ".join(sorted(classes))
                        report.rejected.append(
                            {
                                "name": importing.clean_name(entry.source_name),
                                "reason": importing.clean_name(
                                    _(
                                        "unknown label %(label)s; the project's classes are: "
                                        "%(classes)s"
                                    )
                                    % {"label": repr(entry.prelabel), "classes": known}
                                ),
                            }
                        )
                        continue
                candidates.append(entry)
            if scan_import is not None:
                for candidate in candidates:
                    scan_import.add(candidate, report)
            else:
                try:
                    _store_batch(project, candidates, classes, report)
                except IntegrityError:
                    # Another import stored some of the same content meanwhile: retry once, the
                    # duplicate check now sees those rows.
                    _store_batch(project, candidates, classes, report)
            done += len(batch)
            if progress:
                progress(done, max(total, done))
        if scan_import is not None:
            scan_import.finish(classes, report)
    except BaseException:
        if scan_import is not None:
            # The files of scans never written: nothing refers to them.
            scan_import.discard()
        raise
    project.refresh_from_db(fields=["n_items", "n_labeled"])
    if report.imported or report.scans_extended:
        # New items need features (embedded on their own queue, in the background), maybe
        # evaluation draws, and a place in the next round (served at once from whatever
        # features are ready, or a seeded draw).
        from labeler.services.features import feature_set_request
        from labeler.services.training import retrain_request

        feature_set_request(project=project)
        retrain_request(project=project)
    logger.info("import into project %s: %s", project.pk, report.summary())
    return report


def _findings_entry(project, entry, classes, classes_from_import, report):
    """A findings project's candidate with its pre-labeled findings checked against the
    project's (a project created without findings takes them from its first import), or
    None with the row reported."""
    if entry.prefindings:
        normalized = {class_name_normalize(k): v for k, v in entry.prefindings.items()}
        entry = replace(entry, prefindings=normalized)
    if entry.prelabel:
        entry = replace(entry, prelabel=class_name_normalize(entry.prelabel))
    candidate, missing = findings.prefindings_resolve(
        candidate=entry, finding_ids={name: c.pk for name, c in classes.items()}
    )
    if missing and classes_from_import:
        try:
            classes.update(label_classes_ensure(project=project, names=missing))
            missing = []
        except ProjectRejected as refused:
            missing = [refused.message]
    if missing:
        known = ", ".join(classes) or _("none")
        report.rejected.append(
            {
                "name": importing.clean_name(entry.source_name),
                "reason": importing.clean_name(
                    _("unknown finding %(finding)s; the project's findings are: %(findings)s")
                    % {"finding": repr(missing[0]), "findings": known}
                ),
            }
        )
        return None
    return candidate


def items_import_path(
    *, project: Project, path: Path, progress: ProgressCallback | None = None
) -> ImportReport:
    """Import a folder, a zip, an image, a CSV or a JSONL file from the server's disk."""
    limits = import_limits()
    if path.is_dir():
        total, entries = importing.read_folder(
            path, limits, kind=project.kind, dicom=dicom_options(project=project)
        )
        return items_import(project=project, entries=entries, total=total, progress=progress)
    if not path.is_file():
        raise importing.ImportSourceError(_("%(path)s: no such file or folder") % {"path": path})
    with path.open("rb") as stream:
        return items_import_stream(
            project=project, name=path.name, stream=stream, progress=progress
        )


def items_import_stream(
    *,
    project: Project,
    name: str,
    stream: BinaryIO,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import one uploaded file (image, zip, CSV or JSONL), as the UI and the API receive it."""
    total, entries = importing.read_upload(
        name, stream, import_limits(), kind=project.kind, dicom=dicom_options(project=project)
    )
    return items_import(project=project, entries=entries, total=total, progress=progress)


def items_import_pacs(
    *, project: Project, query: PacsQuery, progress: ProgressCallback | None = None
) -> ImportReport:
    """Import the instances of the studies a DICOMweb search finds, de-identified on the way in
    (the command line runs it now; the import page queues it as a job)."""
    if project.kind != Project.Kind.IMAGE:
        raise importing.ImportSourceError(_("PACS images import into an image project"))
    total, entries = pacs_entries(query, import_limits(), dicom_options(project=project))
    return items_import(project=project, entries=entries, total=total, progress=progress)


def pacs_studies_search(*, project: Project, query: PacsQuery) -> list[PacsStudy]:
    """The studies a DICOMweb search finds and their series, under the UIDs this project
    gives them (to choose series to import); nothing identifying, nothing stored."""
    options = dicom_options(project=project)
    if options is None:
        raise importing.ImportSourceError(_("PACS images import into an image project"))
    return pacs_studies(query, options)


def items_import_labelstudio(*, project: Project, name: str, stream: BinaryIO) -> ImportReport:
    """Import a JSON file of Label Studio tasks (or of rows from this app's JSON export):
    texts and inline images, with the first choice of each task's last annotation as its
    pre-label."""
    total, entries = labelstudio_read(name, stream, import_limits(), kind=project.kind)
    return items_import(project=project, entries=entries, total=total)
