"""Services for PACS imports: run one now (the command line), or queue one for a worker (the
import page). A queued import is an ``ImportJob`` named "PACS (DICOMweb)": the search itself
travels only in the task message, never into the database (an accession number identifies)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from labeler.dicom.dicomweb import PacsQuery, pacs_entries
from labeler.dicom.options import dicom_options
from labeler.importing import ImportSourceError
from labeler.models import ImportJob, Project
from labeler.services.imports import (
    ImportReport,
    ProgressCallback,
    import_job_fail,
    import_job_succeed,
    import_limits,
    items_import,
)

PACS_SOURCE_NAME = "PACS (DICOMweb)"


def items_import_pacs(
    *, project: Project, query: PacsQuery, progress: ProgressCallback | None = None
) -> ImportReport:
    if project.kind != Project.Kind.IMAGE:
        raise ImportSourceError("PACS images import into an image project")
    total, entries = pacs_entries(query, import_limits(), dicom_options(project=project))
    return items_import(project=project, entries=entries, total=total, progress=progress)


def pacs_import_job_create(
    *, project: Project, created_by: AbstractBaseUser | None, query: PacsQuery
) -> ImportJob:
    from labeler.dicom.tasks import run_pacs_import

    with transaction.atomic():
        job = ImportJob.objects.create(
            project=project, created_by=created_by, source_name=PACS_SOURCE_NAME, upload_path=""
        )
        payload = query.as_dict()
        transaction.on_commit(lambda: run_pacs_import.delay(job.pk, payload))
    return job


def pacs_import_job_run(*, job_id: int, query: PacsQuery) -> None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != ImportJob.Status.QUEUED:
            return
        job.status = ImportJob.Status.RUNNING
        job.save(update_fields=["status"])

    def progress(done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(processed=done, total=total)

    try:
        report = items_import_pacs(project=job.project, query=query, progress=progress)
    except ImportSourceError as error:
        import_job_fail(job_id, str(error))
        return
    except Exception as error:
        # The job must end where a manager can see it; the message may hold PACS data, so
        # only its kind is kept.
        import_job_fail(
            job_id, f"the PACS import stopped on an unexpected error ({type(error).__name__})"
        )
        raise
    import_job_succeed(job_id, report)
