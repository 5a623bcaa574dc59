"""Celery tasks: take ids, load rows, call a service. Each is idempotent: it acts only on a
row in the state it expects and returns otherwise."""

from __future__ import annotations

import logging

from celery import shared_task

from labeler import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_import_job(job_id: int) -> None:
    services.import_job_run(job_id=job_id)
