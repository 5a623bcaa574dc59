"""Import jobs: the imports the browser (or the API) starts and a worker runs. One lifecycle
for every job, whatever its source: queued -> running -> succeeded (with its report) or failed
(with a reason a manager can read), ``finished_at`` set either way. The items themselves are
stored by ``labeler.services.imports``."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from labeler import importing, jobs
from labeler.dicom.dicomweb import PacsQuery
from labeler.models import ImportJob, Project
from labeler.services import webhooks
from labeler.services.imports import (
    PACS_SOURCE_NAME,
    ImportReport,
    ProgressCallback,
    items_import_labelstudio,
    items_import_pacs,
    items_import_stream,
)

logger = logging.getLogger(__name__)


def import_job_create(
    *, project: Project, created_by: AbstractBaseUser | None, name: str, stream: BinaryIO
) -> ImportJob:
    """Keep an upload under the upload folder and queue its import; the worker reports
    progress on the job row."""
    upload_dir = Path(settings.TWEEZERS_UPLOAD_DIR)
    upload_dir.mkdir(parents=True, exist_ok=True)
    safe_name = importing.clean_name(Path(name).name) or "upload"
    if project.kind == Project.Kind.IMAGE:
        # An image upload may be DICOM named after the patient (SMITH_JOHN_19510429.zip): the
        # job keeps only the kind of file, which is what its import reads.
        safe_name = f"upload{Path(safe_name).suffix.lower()}"
    with transaction.atomic():
        job = ImportJob.objects.create(
            project=project,
            created_by=created_by,
            source_name=safe_name[:300],
            upload_path="",
            language=_requester_language(),
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
            project=project,
            created_by=created_by,
            source_name=PACS_SOURCE_NAME,
            upload_path="",
            language=_requester_language(),
        )
        payload = query.as_dict()
        transaction.on_commit(lambda: jobs.job_send(jobs.IMPORT_PACS, job.pk, payload))
    return job


def _requester_language() -> str:
    """The language of the request that starts a job (the worker has none): its report's
    reasons are written in it."""
    return (translation.get_language() or "")[:16]


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
    with translation.override(job.language or settings.LANGUAGE_CODE):
        _job_run_started(job, run)


def _job_run_started(
    job: ImportJob, run: Callable[[ImportJob, ProgressCallback], ImportReport]
) -> None:
    job_id = job.pk
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
        _job_fail(
            job_id,
            _("The import stopped on an unexpected error: %(error)s.")
            % {"error": type(error).__name__},
        )
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
    failed = 0
    # Each job's reason in the language of whoever started it.
    for language in set(dead.values_list("language", flat=True)):
        with translation.override(language or settings.LANGUAGE_CODE):
            failed += dead.filter(language=language).update(
                status=ImportJob.Status.FAILED,
                error=_(
                    "The import's worker stopped before it finished; upload the file again "
                    "(items already imported are kept and will count as duplicates)."
                ),
                finished_at=now,
            )
    return failed
