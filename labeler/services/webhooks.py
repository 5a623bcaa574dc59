"""Webhooks: the one owner of ``Webhook`` and ``WebhookDelivery`` rows.

Other services announce what happened with one call (``event_emit``, ``labels_added_emit``,
``run_succeeded_emit``, ``import_finished_emit``); each acts only after the caller's
transaction commits and never sends anything itself: it writes delivery rows and enqueues
``labeler.tasks.deliver_webhook`` on the worker's ``default`` queue, which sends
it through ``labeler/services/webhook_delivery.py``.

A delivery is one POST of a JSON envelope ``{"event", "delivery", "project", "created_at",
"data"}``, signed Stripe-style: ``X-Tweezers-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" under the hook's secret>``, with ``X-Tweezers-Event`` and
``X-Tweezers-Delivery`` (the delivery's id: a receiver drops repeats by it). A 2xx answer is a
success. Anything else is retried with exponential back-off up to
``TWEEZERS_WEBHOOK_ATTEMPTS`` attempts (a redirect, or an address the allow-list no longer
admits, fails at once: retrying cannot change them). When
``TWEEZERS_WEBHOOK_DISABLE_AFTER`` deliveries in a row fail every attempt, the hook is
disabled, with its reason shown on the project's settings page and logged.

``labels.added`` is batched: one delivery row per hook collects the items labeled until it is
sent, ``TWEEZERS_WEBHOOK_LABELS_SECONDS`` after its first label, so a hook gets at most one
such call per that many seconds.

Addresses go through ``labeler/outbound_http.py`` like the PACS importer's: normalised, then
checked against ``TWEEZERS_WEBHOOK_URLS`` at creation and again at each delivery; the request
never follows a redirect and has a total deadline."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from labeler import jobs, outbound_http
from labeler.models import ImportJob, ModelRun, Project, QueryRound
from labeler.models_webhooks import WEBHOOK_EVENTS, Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

MAX_HOOKS_PER_PROJECT = 20
MAX_LABELS_ITEM_IDS = 10_000


class WebhookRejected(ValueError):
    """Input a hook cannot have; ``field`` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- Addresses -----------------------------------------------------------------------------


def webhook_roots() -> list[str]:
    return outbound_http.allowed_roots(
        settings.TWEEZERS_WEBHOOK_URLS, setting="TWEEZERS_WEBHOOK_URLS"
    )


def webhooks_enabled() -> bool:
    """Webhooks need an allow-list, except in the demo (``DJANGO_DEBUG``)."""
    return bool(webhook_roots()) or settings.DEBUG


def webhook_url_check(url: str) -> str:
    """The normalised address, or ``WebhookRejected`` saying why it may not be used."""
    roots = webhook_roots()
    if not roots and not settings.DEBUG:
        raise WebhookRejected(
            "url",
            _(
                "Webhooks are turned off on this server: an administrator lists the addresses "
                "they may call (TWEEZERS_WEBHOOK_URLS)."
            ),
        )
    try:
        normalised = outbound_http.url_normalise(url.strip())
    except outbound_http.AddressError as error:
        reason = _("Invalid address: %(reason)s.") % {"reason": error}
        raise WebhookRejected("url", reason) from None
    # Compare what will be called: a prefix check on the text as typed would let
    # "allowed/../elsewhere" through.
    if roots and not outbound_http.url_allowed(normalised, roots):
        raise WebhookRejected(
            "url",
            _("This address is not among those webhooks may call (TWEEZERS_WEBHOOK_URLS): %(a)s")
            % {"a": ", ".join(roots)},
        )
    return normalised


def _events_check(events: object) -> list[str]:
    if not isinstance(events, list) or not events:
        raise WebhookRejected("events", _("Choose at least one event."))
    unknown = [str(event) for event in events if event not in WEBHOOK_EVENTS]
    if unknown:
        raise WebhookRejected(
            "events",
            _("Unknown event(s): %(unknown)s. Events are: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(WEBHOOK_EVENTS)},
        )
    return [event for event in WEBHOOK_EVENTS if event in events]


# --- Hooks ---------------------------------------------------------------------------------


def webhook_create(
    *, project: Project, url: str, events: list[str], secret: str = "", created_by=None
) -> Webhook:
    """A new hook. Without a secret, one is generated; the caller shows it once."""
    normalised = webhook_url_check(url)
    chosen = _events_check(events)
    if secret and not 16 <= len(secret) <= 200:
        raise WebhookRejected("secret", _("A secret has 16 to 200 characters."))
    if Webhook.objects.filter(project=project).count() >= MAX_HOOKS_PER_PROJECT:
        raise WebhookRejected(
            "url", _("A project has at most %(n)s webhooks.") % {"n": MAX_HOOKS_PER_PROJECT}
        )
    return Webhook.objects.create(
        project=project,
        url=normalised,
        events=chosen,
        secret=secret or secrets.token_urlsafe(32),
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
    )


def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    events: list[str] | None = None,
    active: bool | None = None,
) -> Webhook:
    """Change a hook. Turning a disabled hook on again clears its failure count and reason."""
    fields = []
    if url is not None:
        webhook.url = webhook_url_check(url)
        fields.append("url")
    if events is not None:
        webhook.events = _events_check(events)
        fields.append("events")
    if active is not None and active != webhook.active:
        webhook.active = active
        fields.append("active")
        if active:
            webhook.failures_in_row, webhook.disabled_reason, webhook.disabled_at = 0, "", None
        else:
            webhook.disabled_reason = _("Turned off by a manager.")
            webhook.disabled_at = timezone.now()
        fields += ["failures_in_row", "disabled_reason", "disabled_at"]
    if fields:
        webhook.save(update_fields=fields)
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()


# --- Events --------------------------------------------------------------------------------


def delivery_enqueue(delivery_id: int, countdown: float = 0, attempt: int = 0) -> None:
    try:
        jobs.job_send(jobs.DELIVER_WEBHOOK, delivery_id, attempt, countdown=countdown)
    except Exception:  # noqa: BLE001 - a broker outage must not fail what emitted the event
        # The row is the outbox: the sweep enqueues it once the broker is back.
        logger.warning("broker unavailable; webhook delivery %s waits for the sweep", delivery_id)


def _hooks(project_id: int, event: str) -> list[Webhook]:
    return [
        hook
        for hook in Webhook.objects.filter(project_id=project_id, active=True)
        if event in hook.events
    ]


def _deliveries_create(project_id: int, event: str, payload: dict) -> list[int]:
    created = [
        WebhookDelivery.objects.create(webhook=hook, event=event, payload=payload).pk
        for hook in _hooks(project_id, event)
    ]
    for delivery_id in created:
        delivery_enqueue(delivery_id)
    return created


def event_emit(*, project_id: int, event: str, payload: dict) -> None:
    """Deliver ``event`` with ``payload`` to the project's hooks once the current transaction
    commits (at once outside one)."""
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    transaction.on_commit(lambda: _deliveries_create(project_id, event, payload))


def labels_added_emit(*, project: Project, item_ids: list[int]) -> None:
    """Items were labeled: added to each hook's collecting ``labels.added`` delivery after
    commit; also ``budget.spent`` once the project's budget is spent. Nothing at all when the
    request read the project with ``has_webhooks`` false (``selectors.project_with_role``):
    a submit to a project without hooks pays no query for them."""
    if getattr(project, "has_webhooks", True) is False:
        return
    project_id = project.pk
    transaction.on_commit(lambda: _labels_collect(project_id, list(item_ids)))


def _labels_collect(project_id: int, item_ids: list[int]) -> None:
    for hook in _hooks(project_id, "labels.added"):
        created = False
        for _try in range(2):
            try:
                with transaction.atomic():
                    collecting = (
                        WebhookDelivery.objects.select_for_update()
                        .filter(webhook=hook, event="labels.added", status="pending", attempt=0)
                        .first()
                    )
                    if collecting is None:
                        collecting = WebhookDelivery.objects.create(
                            webhook=hook,
                            event="labels.added",
                            payload={"count": 0, "item_ids": []},
                        )
                        created = True
                    ids = collecting.payload["item_ids"]
                    collecting.payload = {
                        "count": collecting.payload["count"] + len(item_ids),
                        "item_ids": (ids + item_ids)[:MAX_LABELS_ITEM_IDS],
                    }
                    collecting.save(update_fields=["payload"])
                break
            except IntegrityError:
                created = False  # another submit created it meanwhile: add to theirs
        if created:
            delivery_enqueue(collecting.pk, countdown=settings.TWEEZERS_WEBHOOK_LABELS_SECONDS)
    _budget_spent_check(project_id)


def _budget_spent_check(project_id: int) -> None:
    hooks = _hooks(project_id, "budget.spent")
    if not hooks:
        return
    budget, spent = Project.objects.values_list("budget", "n_annotations").get(pk=project_id)
    if budget is None or spent < budget:
        return
    payload = {"budget": budget, "n_annotations": spent}
    for hook in hooks:
        # Once per hook (a manager who raises the budget later adds a new hook or re-reads).
        if not hook.deliveries.filter(event="budget.spent").exists():
            delivery = WebhookDelivery.objects.create(
                webhook=hook, event="budget.spent", payload=payload
            )
            delivery_enqueue(delivery.pk)


def run_succeeded_emit(*, run: ModelRun) -> None:
    """A retrain finished and wrote its round: ``model.trained``, ``round.ready`` and, the
    first time the evaluation metric reaches the project's target, ``target.reached``."""
    transaction.on_commit(lambda: _run_events(run.pk))


def _run_events(run_id: int) -> None:
    run = ModelRun.objects.select_related("project").get(pk=run_id)
    project = run.project
    if run.artifact_path:  # a cold-start draw trains no model
        _deliveries_create(project.pk, "model.trained", model_trained_payload(run))
    # A cold-start round names no run: it is the one written while this run was running.
    query_round = (
        QueryRound.objects.filter(project=project, created_at__gte=run.started_at)
        .filter(Q(model_run=run) | Q(model_run__isnull=True))
        .order_by("-number")
        .first()
    )
    if query_round is not None:
        _deliveries_create(
            project.pk,
            "round.ready",
            {
                "round": query_round.number,
                "round_id": query_round.pk,
                "size": query_round.size,
                "run": run.pk,
                "strategy": query_round.strategy,
            },
        )
    value = run.metrics.get(project.target_metric)
    if project.target_value is None or not isinstance(value, (int, float)):
        return
    if value < project.target_value:
        return
    earlier = (
        ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
        .filter(pk__lt=run.pk)
        .filter(**{f"metrics__{project.target_metric}__gte": project.target_value})
        .exists()
    )
    if not earlier:
        _deliveries_create(
            project.pk,
            "target.reached",
            {
                "run": run.pk,
                "metric": project.target_metric,
                "value": value,
                "target": project.target_value,
            },
        )


def model_trained_payload(run: ModelRun) -> dict:
    metrics = {key: value for key, value in run.metrics.items() if not isinstance(value, list)}
    return {
        "run": run.pk,
        "model": run.model_name,
        "strategy": run.strategy,
        "n_labels": run.n_labels,
        "train_seconds": run.train_seconds,
        "metrics": metrics,
    }


def import_finished_emit(*, job_id: int) -> None:
    transaction.on_commit(lambda: _import_event(job_id))


def _import_event(job_id: int) -> None:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    _deliveries_create(
        job.project_id,
        "import.finished",
        {
            "import": job.pk,
            "status": job.status,
            "imported": job.imported,
            "duplicates": job.duplicates,
            "rejected": len(job.rejected) if isinstance(job.rejected, list) else 0,
            "error": job.error,
        },
    )
