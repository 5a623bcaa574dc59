"""The webhook delivery task (registered by ``labeler.tasks``): takes a delivery id, sends it
once through the service, and schedules the next attempt with its back-off."""

from __future__ import annotations

from celery import shared_task

from labeler.services import webhook_delivery


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
