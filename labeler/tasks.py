"""Celery tasks: take ids, load rows, call a service. Each is idempotent: it acts only on a
row in the state it expects and returns otherwise.

The dependency runs one way: this module imports the services; a service sends a task by its
name (:mod:`labeler.jobs`), after commit, and never imports this module."""

from __future__ import annotations

import logging

from celery import shared_task

from labeler import jobs, services
from labeler.services import model_exports, webhook_delivery
from labeler.transient import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)

# Only errors that a later attempt can fix are retried (labeler.transient); a run that fails on
# its data stays failed with its traceback, and the previous model keeps serving.


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=30 * 60,
    time_limit=35 * 60,
)
def retrain_project(self, run_id: int) -> None:
    services.model_run_execute(run_id=run_id, task_id=self.request.id or "")


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
)
def embed_features(self, feature_set_id: int) -> None:
    # A time slice per message: a big pool hands over to a fresh message instead of pinning
    # the worker, and a killed job resumes from the last committed chunk.
    more = services.feature_set_embed(
        feature_set_id=feature_set_id, worker=self.request.id or "local"
    )
    if more:
        embed_features.delay(feature_set_id)


@shared_task(acks_late=True, ignore_result=True)
def enqueue_stale_runs() -> int:
    return services.stale_runs_enqueue() + services.stale_feature_sets_enqueue()


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_import_job(job_id: int) -> None:
    services.import_job_run(job_id=job_id)


@shared_task(name=jobs.IMPORT_PACS, acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_pacs_import(job_id: int, query: dict) -> None:
    # The search travels only in the message, never into the database (an accession number
    # identifies a patient).
    services.pacs_import_job_run(job_id=job_id, query=query)


@shared_task(acks_late=True, ignore_result=True)
def fail_dead_import_jobs() -> int:
    return services.import_jobs_sweep()


@shared_task(ignore_result=True)
def delete_expired_tokens() -> int:
    return services.expired_tokens_delete()


# Not acks_late: a delivery whose worker died mid-request is not sent twice on redelivery;
# the receiver would drop the repeat by its delivery id anyway. A slow receiver is cut at
# TWEEZERS_WEBHOOK_REQUEST_SECONDS, well inside these limits.
@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def deliver_webhook(delivery_id: int, attempts_before: int = 0) -> None:
    wait = webhook_delivery.delivery_attempt(
        delivery_id=delivery_id, attempts_before=attempts_before
    )
    if wait is not None:
        deliver_webhook.apply_async((delivery_id, attempts_before + 1), countdown=wait)


@shared_task(acks_late=True, ignore_result=True)
def sweep_webhook_deliveries() -> int:
    return webhook_delivery.deliveries_sweep()


# A model's encoder files for download (MiniLM's ONNX graph takes minutes): on the training
# queue, beside the retrains that use the same libraries; not retried (a failure is written
# for the next request to tell, and asking again builds again).
@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30 * 60, time_limit=35 * 60)
def build_model_export(run_id: int, format: str) -> None:
    model_exports.model_export_build(run_id=run_id, format=format)
