"""API token authentication: django-rest-knox's, without its scan of the user's other tokens
on every request (a query per request, to delete expired ones). The presented token is still
refused, and deleted, once expired; the other expired tokens are deleted by the periodic sweep
(``services.expired_tokens_delete``)."""

from __future__ import annotations

from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.signals import token_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False
