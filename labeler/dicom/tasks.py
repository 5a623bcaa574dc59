"""The PACS import task (registered through ``labeler.tasks``)."""

from celery import shared_task

from labeler.dicom.dicomweb import PacsQuery
from labeler.importing import ImportSourceError


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_pacs_import(job_id: int, query: dict) -> None:
    from labeler.dicom.pacs import pacs_import_job_run
    from labeler.models import ImportJob

    try:
        parsed = PacsQuery(**query)
    except (ImportSourceError, TypeError) as error:
        ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.FAILED, error=str(error))
        return
    pacs_import_job_run(job_id=job_id, query=parsed)
