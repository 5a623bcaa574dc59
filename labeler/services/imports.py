"""Importing items: from files the server can read, from one uploaded file, or from a PACS; and
the import jobs the browser starts, which a worker runs. One lifecycle for every job, whatever
its source: queued -> running -> succeeded (with its report) or failed (with a reason a manager
can read), ``finished_at`` set either way."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from labeler import importing, jobs
from labeler.dicom.dicomweb import PacsQuery, PacsStudy, pacs_entries, pacs_studies
from labeler.dicom.options import dicom_options
from labeler.models import ImportJob, Item, LabelClass, Project, item_file_path
from labeler.services import webhooks
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
                status=Item.Status.LABELED if label else Item.Status.UNLABELED,
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
            n_prelabeled = sum(1 for item in items if item.label_id)
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
                prelabel = class_name_normalize(entry.prelabel) if entry.prelabel else None
                if prelabel and prelabel not in classes and scan_import is not None:
                    # DICOM folders are mostly named by patient, study or series: in a series or
                    # study project only a folder named as a class pre-labels its scan.
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
                                    f"unknown label {entry.prelabel!r}; the project's classes "
                                    f"are: {known}"
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
        raise importing.ImportSourceError(f"{path}: no such file or folder")
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
        raise importing.ImportSourceError("PACS images import into an image project")
    total, entries = pacs_entries(query, import_limits(), dicom_options(project=project))
    return items_import(project=project, entries=entries, total=total, progress=progress)


def pacs_studies_search(*, project: Project, query: PacsQuery) -> list[PacsStudy]:
    """The studies a DICOMweb search finds and their series, under the UIDs this project
    gives them (to choose series to import); nothing identifying, nothing stored."""
    options = dicom_options(project=project)
    if options is None:
        raise importing.ImportSourceError("PACS images import into an image project")
    return pacs_studies(query, options)


def items_import_labelstudio(*, project: Project, name: str, stream: BinaryIO) -> ImportReport:
    """Import a JSON file of Label Studio tasks (or of rows from this app's JSON export):
    texts and inline images, with the first choice of each task's last annotation as its
    pre-label."""
    total, entries = labelstudio_read(name, stream, import_limits(), kind=project.kind)
    return items_import(project=project, entries=entries, total=total)


def import_job_create(
    *, project: Project, created_by: AbstractBaseUser | None, name: str, stream: BinaryIO
) -> ImportJob:
    """Keep an upload under the upload folder and queue its import; the worker reports
    progress on the job row."""
    upload_dir = Path(settings.TWEEZERS_UPLOAD_DIR)
    upload_dir.mkdir(parents=True, exist_ok=True)
    safe_name = importing.clean_name(Path(name).name) or "upload"
    with transaction.atomic():
        job = ImportJob.objects.create(
            project=project, created_by=created_by, source_name=safe_name[:300], upload_path=""
        )
        # Named by the job id, never by the client's file name.
        upload_path = upload_dir / f"import-{job.pk}{Path(safe_name).suffix.lower()}"
        with upload_path.open("wb") as target:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                target.write(chunk)
        job.upload_path = str(upload_path)
        job.save(update_fields=["upload_path"])
        transaction.on_commit(lambda: jobs.job_send(jobs.IMPORT_FILE, job.pk))
    return job


def pacs_import_job_create(
    *, project: Project, created_by: AbstractBaseUser | None, query: PacsQuery
) -> ImportJob:
    """Queue a PACS import. The search itself travels only in the task message, never into
    the database (an accession number identifies a patient)."""
    with transaction.atomic():
        job = ImportJob.objects.create(
            project=project, created_by=created_by, source_name=PACS_SOURCE_NAME, upload_path=""
        )
        payload = query.as_dict()
        transaction.on_commit(lambda: jobs.job_send(jobs.IMPORT_PACS, job.pk, payload))
    return job


def _job_start(job_id: int) -> ImportJob | None:
    """queued -> running, under the row lock; None when the job is not queued (a duplicate
    message, or the sweep failed it)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != ImportJob.Status.QUEUED:
            return None
        job.status = ImportJob.Status.RUNNING
        job.save(update_fields=["status"])
    return job


def _job_progress(job_id: int) -> ProgressCallback:
    def progress(done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(processed=done, total=total)

    return progress


def _job_run(job_id: int, run: Callable[[ImportJob, ProgressCallback], ImportReport]) -> None:
    """The lifecycle every import job shares: start it if it is queued, ``run`` it, and end it
    succeeded with its report or failed with a reason, whatever went wrong."""
    job = _job_start(job_id)
    if job is None:
        return
    try:
        report = run(job, _job_progress(job_id))
    except importing.ImportSourceError as error:
        _job_fail(job_id, str(error))
        return
    except Exception as error:
        # Whatever went wrong, the job ends where a person can see it: failed, with the
        # reason; the batches already stored stay (each was atomic) and are counted. Only the
        # error's kind is kept: its message may quote the source (a PACS search, a file).
        logger.exception("import job %s failed", job_id)
        _job_fail(job_id, f"The import stopped on an unexpected error: {type(error).__name__}.")
        return
    import_job_succeed(job_id, report)


def import_job_run(*, job_id: int) -> None:
    """Run a queued upload's import (the worker's task); the upload is deleted afterwards."""

    def run(job: ImportJob, progress: ProgressCallback) -> ImportReport:
        upload_path = Path(job.upload_path)
        try:
            with upload_path.open("rb") as stream:
                if job.source_name.lower().endswith(".json"):
                    return items_import_labelstudio(
                        project=job.project, name=job.source_name, stream=stream
                    )
                return items_import_stream(
                    project=job.project, name=job.source_name, stream=stream, progress=progress
                )
        finally:
            upload_path.unlink(missing_ok=True)

    _job_run(job_id, run)


def pacs_import_job_run(*, job_id: int, query: dict) -> None:
    """Run a queued PACS import (the worker's task) with the search its message carried."""

    def run(job: ImportJob, progress: ProgressCallback) -> ImportReport:
        try:
            search = PacsQuery(**query)
        except TypeError as error:
            raise importing.ImportSourceError(str(error)) from error
        return items_import_pacs(project=job.project, query=search, progress=progress)

    _job_run(job_id, run)


def import_job_succeed(job_id: int, report: ImportReport) -> None:
    """End a job with its report."""
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.SUCCEEDED,
        imported=report.imported,
        duplicates=report.duplicates,
        rejected=report.rejected,
        incomplete=report.incomplete,
        finished_at=timezone.now(),
    )
    webhooks.import_finished_emit(job_id=job_id)


def _job_fail(job_id: int, reason: str) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED,
        error=importing.clean_name(reason)[:5000],
        finished_at=timezone.now(),
    )
    webhooks.import_finished_emit(job_id=job_id)


def import_jobs_sweep(*, now: dt.datetime | None = None) -> int:
    """Fail the jobs whose worker died: still running (or never picked up) long after the
    import task's hard time limit. Returns how many were failed."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.TWEEZERS_IMPORT_STALE_SECONDS)
    dead = ImportJob.objects.filter(
        status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING], created_at__lt=cutoff
    )
    return dead.update(
        status=ImportJob.Status.FAILED,
        error="The import's worker stopped before it finished; upload the file again "
        "(items already imported are kept and will count as duplicates).",
        finished_at=now,
    )
