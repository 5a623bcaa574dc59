"""Single sign-on pages: OpenID Connect's sign-in and callback (404 while it is off), the
logout that also ends the identity provider's session, and API tokens made from a signed-in
session for accounts that have no password to give the token endpoint."""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from labeler import selectors, sso
from labeler.services import tokens

logger = logging.getLogger(__name__)


def _provider_unreachable(error: Exception) -> HttpResponse:
    logger.warning("OpenID Connect provider unavailable: %s", error)
    return redirect(f"{reverse('login')}?sso=unavailable")


def oidc_sign_in(request: HttpRequest) -> HttpResponse:
    if not settings.TWEEZERS_OIDC_ENABLED:
        raise Http404("Single sign-on is not configured.")
    try:
        return sso.OpenIDSignInView.as_view()(request)
    except (requests.RequestException, ValueError, ImproperlyConfigured) as error:
        return _provider_unreachable(error)


def oidc_callback(request: HttpRequest) -> HttpResponse:
    if not settings.TWEEZERS_OIDC_ENABLED:
        raise Http404("Single sign-on is not configured.")
    try:
        return sso.OpenIDCallbackView.as_view()(request)
    except (requests.RequestException, ValueError, ImproperlyConfigured) as error:
        return _provider_unreachable(error)


class SignOutView(LogoutView):
    """Django's logout; a session the identity provider opened then goes on to the provider's
    end-session endpoint, which returns the browser to the login page."""

    def post(self, request, *args, **kwargs):
        try:
            end_session = sso.end_session_url(request)
        except (requests.RequestException, ValueError, ImproperlyConfigured) as error:
            logger.warning("No RP-initiated logout, provider unavailable: %s", error)
            end_session = ""
        response = super().post(request, *args, **kwargs)
        return redirect(end_session) if end_session else response


sign_out = SignOutView.as_view()


@login_required
@require_http_methods(["GET", "POST"])
def account_tokens(request: HttpRequest) -> HttpResponse:
    """The signed-in user's API tokens: a new one is shown once, on the page that made it."""
    new_token = None
    if request.method == "POST":
        new_token = tokens.token_create(user=request.user)
    return render(
        request,
        "labeler/account_tokens.html",
        {"tokens": selectors.api_tokens_of(user=request.user), "new_token": new_token},
    )
