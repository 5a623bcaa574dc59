"""The background jobs services ask for, by task name: a service sends a job without importing
:mod:`labeler.tasks` (which imports the services), so the dependency runs one way, tasks ->
services. Send from ``transaction.on_commit``: the row a job reads is the outbox, committed
before the message that names it.

A name is resolved through Celery's registry when the task is registered in this process (then
``task_always_eager`` and the task's own options apply, as with ``.delay``), else sent by name
to the broker; the routes in ``CELERY_TASK_ROUTES`` apply either way.
"""

from __future__ import annotations

import logging

from celery import current_app

logger = logging.getLogger(__name__)

RETRAIN = "labeler.tasks.retrain_project"
EMBED_FEATURES = "labeler.tasks.embed_features"
IMPORT_FILE = "labeler.tasks.run_import_job"
# The name it had when it lived in labeler/dicom/tasks.py: messages already queued keep working.
IMPORT_PACS = "labeler.dicom.tasks.run_pacs_import"
DELIVER_WEBHOOK = "labeler.tasks.deliver_webhook"
BUILD_MODEL_EXPORT = "labeler.tasks.build_model_export"


def job_send(task_name: str, *args: object, countdown: float = 0) -> None:
    """Send one job, to start ``countdown`` seconds from now; raises when the broker cannot be
    reached."""
    signature = current_app.signature(task_name, args=args)
    if countdown:
        signature.apply_async(countdown=countdown)
    else:
        signature.delay()


def job_send_or_wait(task_name: str, *args: object) -> bool:
    """Send a job whose row is its own outbox; False when the broker cannot be reached. That
    never fails the caller's request: the row stays queued and the periodic sweep sends it."""
    try:
        job_send(task_name, *args)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the request
        logger.warning(
            "broker unavailable; %s%r waits for the sweep", task_name, args, exc_info=True
        )
        return False
    return True
