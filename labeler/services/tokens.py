"""API tokens beyond what django-rest-knox does on a request: deleting the expired ones."""

from __future__ import annotations

from django.utils import timezone
from knox.models import AuthToken


def expired_tokens_delete() -> int:
    """Delete every expired API token (they are refused anyway); returns how many."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted
