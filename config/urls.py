from django.conf import settings
from django.contrib import admin
from django.http import Http404
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from labeler.views import account, errors
from labeler.views import sso as sso_views


def password_reset_off(request, *args, **kwargs):
    raise Http404("Password reset by email is not configured; ask an administrator.")


# Without email configured a reset link could never arrive: the reset pages answer 404.
password_reset_off_patterns = [
    path(f"accounts/{route}", password_reset_off, name=name)
    for route, name in (
        ("password_reset/", "password_reset"),
        ("password_reset/done/", "password_reset_done"),
        ("reset/<uidb64>/<token>/", "password_reset_confirm"),
        ("reset/done/", "password_reset_complete"),
    )
]

urlpatterns = [
    *([] if settings.TWEEZERS_PASSWORD_RESET else password_reset_off_patterns),
    path("admin/", admin.site.urls),
    # Before Django's own: the password pages in Tweezers' layout, leading back to the
    # projects (Django's fall back to the admin's templates, which annotators cannot use).
    path("accounts/password_change/", account.password_change, name="password_change"),
    path(
        "accounts/password_change/done/",
        account.password_change_done,
        name="password_change_done",
    ),
    # Single sign-on: a logout that also ends the identity provider's session, before
    # Django's own; OpenID Connect's sign-in and callback (404 while it is off).
    path("accounts/logout/", sso_views.sign_out, name="logout"),
    path("oidc/authenticate/", sso_views.oidc_sign_in, name="oidc_authentication_init"),
    path("oidc/callback/", sso_views.oidc_callback, name="oidc_authentication_callback"),
    path("accounts/tokens/", sso_views.account_tokens, name="account-tokens"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("labeler.api.urls")),
    # The language switcher posts here (Django's set_language: a cookie remembers the choice).
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("labeler.urls")),
]

handler403 = errors.forbidden
handler404 = errors.not_found
handler500 = errors.server_error
