"""Login hardening that settings refer to by name: the username django-axes records for a
failed login (bounded, so an absurd username is a failed login, not a database error), and the
lockout handler that also stops password spraying across accounts."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler

# django-axes stores the username in a 255-character column.
AXES_USERNAME_MAX = 255


def axes_username(request, credentials: dict | None = None) -> str | None:
    if credentials:
        username = credentials.get("username")
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        username = data.get("username") if hasattr(data, "get") else None
    if username is None:
        return None
    # NUL cannot be stored in PostgreSQL text; the cut keeps the name within axes' column.
    return str(username).replace("\x00", "?")[:AXES_USERNAME_MAX]


class SprayAwareLockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler plus a second limit: a client address that has failed
    against ``TWEEZERS_LOGIN_SPRAY_LIMIT`` different usernames within the cool-off is locked
    out for every account. The per-(username, address) limit alone lets one address try a few
    common passwords on every account; a hospital's NAT address, where one person mistypes
    their own password, stays far below this."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return super().is_locked(request, credentials) or self.is_spraying(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is not None and self.is_spraying(request):
            request.axes_locked_out = True
            request.axes_credentials = credentials

    @staticmethod
    def is_spraying(request) -> bool:
        from axes.helpers import get_cool_off
        from axes.models import AccessAttempt
        from django.conf import settings
        from django.utils import timezone

        limit = settings.TWEEZERS_LOGIN_SPRAY_LIMIT
        address = getattr(request, "axes_ip_address", None)
        if not limit or not address:
            return False
        attempts = AccessAttempt.objects.filter(ip_address=address, failures_since_start__gt=0)
        cool_off = get_cool_off(request)
        if cool_off is not None:
            attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
        usernames = attempts.values("username").distinct()[:limit]
        return usernames.count() >= limit


PASSWORD_CHANGE_MESSAGE = (
    "This account still has its one-time password: sign in on the web page and choose your "
    "own password first."
)
# Where a user who must change their password may still go.
PASSWORD_CHANGE_EXEMPT_NAMES = frozenset(
    {"password_change", "password_change_done", "logout", "login", "health"}
)


def password_change_required(user) -> bool:
    from labeler.models import PasswordChangeRequired

    return bool(user and user.pk) and PasswordChangeRequired.objects.filter(user=user).exists()


def password_changed(sender, instance, raw=False, **kwargs) -> None:
    """Connected to the user model's pre_save: a new password hash revokes every API token of
    the account (a leaked token dies with the old password) and lifts a forced change."""
    if raw or instance.pk is None:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True)
    old = stored.first()
    if old is None or old == instance.password:
        return
    from knox.models import AuthToken

    from labeler.models import PasswordChangeRequired

    AuthToken.objects.filter(user_id=instance.pk).delete()
    PasswordChangeRequired.objects.filter(user_id=instance.pk).delete()


class PasswordChangeRequiredMiddleware:
    """Sends a user whose password was set by someone else (a one-time password) to the
    password change page until they have chosen their own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.shortcuts import redirect
        from django.urls import Resolver404, resolve

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and password_change_required(user):
            try:
                name = resolve(request.path_info).url_name
            except Resolver404:
                name = None
            is_static = request.path_info.startswith(("/static/", "/favicon"))
            if name not in PASSWORD_CHANGE_EXEMPT_NAMES and not is_static:
                if request.path_info.startswith("/api/"):
                    from django.http import JsonResponse

                    body = {
                        "error": {
                            "code": "password_change_required",
                            "message": PASSWORD_CHANGE_MESSAGE,
                        }
                    }
                    return JsonResponse(body, status=403)
                return redirect("password_change")
        return self.get_response(request)


class AccessLogMiddleware:
    """One access-log line per request that names the user (gunicorn's own line cannot know
    who is signed in): ``user=<name> GET /projects/3/label/ 200 41ms``."""

    def __init__(self, get_response):
        import logging

        self.get_response = get_response
        self.logger = logging.getLogger("tweezers.access")

    def __call__(self, request):
        import time

        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        name = user.get_username() if user is not None and user.is_authenticated else "-"
        self.logger.info(
            "user=%s %s %s %s %.0fms",
            name,
            request.method,
            request.get_full_path()[:300],
            response.status_code,
            1000 * (time.perf_counter() - started),
        )
        return response
