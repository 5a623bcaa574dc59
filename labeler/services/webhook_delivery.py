"""Sending webhook deliveries: the signature, the envelope, one attempt with its outcome
(retry, fail, disable the hook), and the sweep for deliveries the broker never got. The rows
and the events are ``labeler/services/webhooks.py``'s; the worker's task calls
``delivery_attempt``."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from labeler import outbound_http
from labeler.models_webhooks import Webhook, WebhookDelivery
from labeler.services.webhooks import WebhookRejected, delivery_enqueue, webhook_url_check

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tweezers-Signature"
EVENT_HEADER = "X-Tweezers-Event"
DELIVERY_HEADER = "X-Tweezers-Delivery"


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def signature_verify(
    *, secret: str, header: str, body: bytes, tolerance: float = 300, now: float | None = None
) -> bool:
    """What a receiver checks (the README's snippet does the same without Django): a ``v1``
    signature of ``"<t>.<body>"`` matches, and ``t`` is within ``tolerance`` seconds."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature_header(secret=secret, body=body, timestamp=timestamp).split("v1=")[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def envelope(delivery: WebhookDelivery, project_id: int) -> bytes:
    return json.dumps(
        {
            "event": delivery.event,
            "delivery": delivery.pk,
            "project": project_id,
            "created_at": delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    retry: bool
    code: int | None
    error: str
    duration_ms: int


def _post(hook: Webhook, delivery: WebhookDelivery) -> _Outcome:
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        url = webhook_url_check(hook.url)
    except WebhookRejected as refused:
        return _Outcome(False, False, None, refused.message[:1000], 0)
    body = envelope(delivery, hook.project_id)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tweezers-Webhooks/1",
        SIGNATURE_HEADER: signature_header(secret=hook.secret, body=body, timestamp=timestamp),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
    }
    seconds = settings.TWEEZERS_WEBHOOK_REQUEST_SECONDS
    session = outbound_http.BoundedSession(
        root=url, request_seconds=seconds, job_deadline=time.monotonic() + seconds
    )
    try:
        response = session.post(url, data=body, headers=headers)
        response.close()
    except outbound_http.OutboundRefused as refused:
        code = getattr(getattr(refused, "response", None), "status_code", None)
        return _Outcome(False, False, code, str(refused)[:1000], elapsed())
    except requests.RequestException as error:
        # Connection refused, a reset, the deadline: the receiver may be back later.
        return _Outcome(False, True, None, f"{type(error).__name__}"[:1000], elapsed())
    finally:
        session.close()
    if 200 <= response.status_code < 300:
        return _Outcome(True, False, response.status_code, "", elapsed())
    if 300 <= response.status_code < 400:
        return _Outcome(False, False, response.status_code, "a redirect, not followed", elapsed())
    return _Outcome(False, True, response.status_code, f"HTTP {response.status_code}", elapsed())


def delivery_attempt(*, delivery_id: int, attempts_before: int = 0) -> float | None:
    """Send a pending delivery once, if it has had ``attempts_before`` attempts (a duplicate
    message, or the sweep's, for an attempt already made does nothing). Returns the seconds to
    wait before the next attempt, or None when the delivery is finished."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return None
        if delivery.attempt != attempts_before:
            return None
        # Counting the attempt seals a collecting labels.added row: labels from now on
        # start the next one.
        delivery.attempt += 1
        delivery.save(update_fields=["attempt"])
    hook = Webhook.objects.get(pk=delivery.webhook_id)
    if not hook.active:
        outcome = _Outcome(False, False, None, _("The webhook is disabled."), 0)
    else:
        outcome = _post(hook, delivery)
    attempts_left = delivery.attempt < settings.TWEEZERS_WEBHOOK_ATTEMPTS
    final = outcome.ok or not outcome.retry or not attempts_left
    status = WebhookDelivery.Status.PENDING
    if outcome.ok:
        status = WebhookDelivery.Status.SUCCEEDED
    elif final:
        status = WebhookDelivery.Status.FAILED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        response_code=outcome.code,
        duration_ms=outcome.duration_ms,
        error=outcome.error,
        finished_at=timezone.now() if final else None,
    )
    if outcome.ok:
        Webhook.objects.filter(pk=hook.pk).update(failures_in_row=0)
        return None
    if not final:
        return settings.TWEEZERS_WEBHOOK_RETRY_SECONDS * 2 ** (delivery.attempt - 1)
    if hook.active:
        _failure_count(hook, outcome)
    return None


def _failure_count(hook: Webhook, outcome: _Outcome) -> None:
    Webhook.objects.filter(pk=hook.pk).update(failures_in_row=F("failures_in_row") + 1)
    hook.refresh_from_db(fields=["failures_in_row", "active"])
    if hook.failures_in_row < settings.TWEEZERS_WEBHOOK_DISABLE_AFTER or not hook.active:
        return
    reason = _(
        "Disabled after %(n)s deliveries in a row failed every attempt (last: %(error)s)."
    ) % {"n": hook.failures_in_row, "error": outcome.error or "?"}
    Webhook.objects.filter(pk=hook.pk, active=True).update(
        active=False, disabled_reason=reason[:500], disabled_at=timezone.now()
    )
    logger.warning(
        "project %s: webhook %s to %s disabled: %s", hook.project_id, hook.pk, hook.url, reason
    )


def deliveries_sweep() -> int:
    """Enqueue deliveries that never reached the broker (it was down when they were created):
    pending, never attempted, older than their batching window and a grace period. Returns
    how many it enqueued."""
    grace = settings.TWEEZERS_WEBHOOK_LABELS_SECONDS * 2 + settings.TWEEZERS_OUTBOX_GRACE_SECONDS
    stale = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            attempt=0,
            created_at__lt=timezone.now() - dt.timedelta(seconds=grace),
        ).values_list("pk", flat=True)[:1000]
    )
    for delivery_id in stale:
        delivery_enqueue(delivery_id)
    return len(stale)
