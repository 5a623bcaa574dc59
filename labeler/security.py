"""Login hardening that settings refer to by name: the username django-axes records for a
failed login (bounded, so an absurd username is a failed login, not a database error), the
lockout handler that reports password spraying and lockouts, and the translated refusal a
locked-out user sees on the page and in the API."""

from __future__ import annotations

import logging
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# django-axes stores the username in a 255-character column.
AXES_USERNAME_MAX = 255
# An administrator's alert rule can match this logger's WARNING lines.
security_log = logging.getLogger("tweezers.security")


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


def _cool_off(request) -> timedelta:
    from axes.helpers import get_cool_off

    # A permanent lockout (no cool-off) still reports spraying over a window of its own.
    return get_cool_off(request) or timedelta(minutes=15)


class SprayAwareLockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler, locking the pair of account and address only
    (``AXES_LOCKOUT_PARAMETERS``), so that an attacker elsewhere cannot lock a user out and
    one person behind a hospital's NAT cannot lock out the department. What it adds:

    - a new lockout is recorded (``SecurityEvent``) and logged as a WARNING;
    - an address that fails against ``TWEEZERS_LOGIN_SPRAY_LIMIT`` different accounts within
      the cool-off is reported once per episode the same way, and nobody is locked out for
      it: each account it tries still has only its pair's few guesses, and colleagues behind
      the same address keep signing in;
    - the lockout flag reaches Django's request under DRF's, so the token endpoint answers
      with the lockout message instead of a bare 400."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        was_locked = bool(getattr(request, "axes_locked_out", False))
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None:
            return
        locked = bool(getattr(request, "axes_locked_out", False))
        underlying = getattr(request, "_request", None)
        if locked and underlying is not None:
            underlying.axes_locked_out = True
            underlying.axes_credentials = credentials
        address = getattr(request, "axes_ip_address", None)
        if locked and not was_locked:
            self._report_lockout(request, credentials, address)
        if address:
            self._report_spraying(request, address)

    @staticmethod
    def _report_lockout(request, credentials: dict, address: str | None) -> None:
        from labeler.models import SecurityEvent
        from labeler.services.audit import security_event_record

        username = axes_username(request, credentials) or ""
        security_event_record(
            kind=SecurityEvent.Kind.LOCKOUT, ip_address=address, username=username
        )
        security_log.warning(
            "sign-in locked: account %r from address %s after repeated failures",
            username[:64],
            address,
        )

    @staticmethod
    def _report_spraying(request, address: str) -> None:
        from axes.models import AccessAttempt
        from django.conf import settings
        from django.utils import timezone

        from labeler.services.audit import password_spray_report

        limit = settings.TWEEZERS_LOGIN_SPRAY_LIMIT
        if not limit:
            return
        since = timezone.now() - _cool_off(request)
        accounts = (
            AccessAttempt.objects.filter(
                ip_address=address, failures_since_start__gt=0, attempt_time__gte=since
            )
            .values("username")
            .distinct()[:limit]
            .count()
        )
        if accounts < limit:
            return
        if password_spray_report(ip_address=address, accounts=accounts, since=since):
            security_log.warning(
                "password spraying: address %s failed to sign in to %d accounts within %s",
                address,
                accounts,
                _cool_off(request),
            )


def lockout_message(request) -> str:
    minutes = max(1, round(_cool_off(request).total_seconds() / 60))
    return ngettext(
        "Too many failed sign-ins for this account from this address. Try again in "
        "%(minutes)d minute, or ask an administrator to unlock it.",
        "Too many failed sign-ins for this account from this address. Try again in "
        "%(minutes)d minutes, or ask an administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(request, original_response=None, credentials: dict | None = None):
    """``AXES_LOCKOUT_CALLABLE``: the API's error format under /api/, a page elsewhere; 429
    with Retry-After, in the language the request asked for."""
    from django.http import JsonResponse
    from django.shortcuts import render

    message = lockout_message(request)
    if request.path_info.startswith("/api/"):
        body = {"error": {"code": "locked_out", "message": message}}
        response = JsonResponse(body, status=429)
    else:
        context = {"message": message, "title": _("Sign-in locked")}
        response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(int(_cool_off(request).total_seconds()))
    return response


PASSWORD_CHANGE_MESSAGE = (
    "This account still has its one-time password: sign in on the web page and choose your "
    "own password first."
)
# Where a user who must change their password may still go: the password page's own
# JavaScript catalogue and language switcher included, so it works, and in their language.
PASSWORD_CHANGE_EXEMPT_NAMES = frozenset(
    {
        "password_change",
        "password_change_done",
        "logout",
        "login",
        "health",
        "javascript-catalog",
        "set_language",
    }
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
