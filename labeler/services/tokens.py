"""API tokens beyond what django-rest-knox does on a request: made from a signed-in session
(for accounts that sign in through single sign-on and have no password), listed, and the
expired ones deleted."""

from __future__ import annotations

from django.utils import timezone
from knox.models import AuthToken


def expired_tokens_delete() -> int:
    """Delete every expired API token (they are refused anyway); returns how many."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted


def token_create(*, user) -> str:
    """A new API token for ``user``, expiring like the token endpoint's; returns the token
    itself, which is stored only as a hash and cannot be shown again."""
    from knox.settings import knox_settings

    _, token = AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)
    return token
