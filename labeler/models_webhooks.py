"""Webhooks: a project's subscriptions to its events and the log of their deliveries. Every
write goes through ``labeler/services/webhooks.py``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The events a hook may subscribe to; their payloads are documented in the API schema
# (labeler/api/serializers/webhooks.py).
WEBHOOK_EVENTS = (
    "round.ready",
    "model.trained",
    "budget.spent",
    "target.reached",
    "import.finished",
    "labels.added",
)


class Webhook(models.Model):
    project = models.ForeignKey(
        "labeler.Project", on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.CharField(max_length=2000)
    # Kept to sign every delivery; shown once, when the hook is created.
    secret = models.CharField(max_length=200)
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    failures_in_row = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    # 0 while a labels.added delivery still collects labels; each send attempt adds one.
    attempt = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One collecting labels.added delivery per hook: concurrent submits add to it.
            models.UniqueConstraint(
                fields=["webhook"],
                condition=Q(event="labels.added", status="pending", attempt=0),
                name="webhookdelivery_one_collecting",
            )
        ]
        indexes = [models.Index(fields=["webhook", "created_at"], name="webhookdelivery_hook")]

    def __str__(self) -> str:
        return f"{self.event} to hook {self.webhook_id} ({self.status}, attempt {self.attempt})"
