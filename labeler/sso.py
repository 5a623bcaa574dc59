"""Single sign-on glue: the authentication backends settings name, and the OpenID Connect views'
settings. Each login through the directory (LDAP / Active Directory) or the identity provider
(OpenID Connect) creates the account if it is new and then hands the user's groups to
``labeler.services.members.directory_roles_apply``, which owns the roles they give. Who may
sign in which way is decided in ``labeler.access``.

Configuration: ``config/sso.py`` (from the environment) and the README's "For hospital IT:
single sign-on".
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.urls import reverse
from django_auth_ldap.backend import LDAPBackend
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from labeler import access
from labeler.services import members

logger = logging.getLogger(__name__)

OIDC_BACKEND_PATH = "labeler.sso.OpenIDBackend"

# mozilla-django-oidc's endpoint settings -> the names in the issuer's discovery document.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "TWEEZERS_OIDC_END_SESSION_ENDPOINT": "end_session_endpoint",
}
_metadata: dict[str, dict] = {}


def provider_metadata(issuer: str) -> dict:
    """The issuer's ``/.well-known/openid-configuration``, read on first use and kept: the
    server starts while the provider is down, and a login does not ask for it again."""
    if issuer not in _metadata:
        response = requests.get(
            f"{issuer}/.well-known/openid-configuration",
            timeout=getattr(settings, "OIDC_TIMEOUT", 10),
        )
        response.raise_for_status()
        metadata = response.json()
        # OpenID Connect Discovery 1.0, section 4.3: the document must name the same issuer.
        if metadata.get("issuer", "").rstrip("/") != issuer:
            raise ImproperlyConfigured(
                f"{issuer}'s discovery document names issuer {metadata.get('issuer')!r}"
            )
        _metadata[issuer] = metadata
    return _metadata[issuer]


def oidc_setting(attr: str, *default):
    """mozilla-django-oidc's settings, with endpoints not set explicitly taken from the
    issuer's discovery document. An endpoint the provider does not have is empty."""
    if attr in DISCOVERED:
        value = getattr(settings, attr, "")
        issuer = getattr(settings, "TWEEZERS_OIDC_ISSUER", "")
        if not value and issuer:
            value = provider_metadata(issuer).get(DISCOVERED[attr], "")
        return value or (default[0] if default else "")
    return import_from_settings(attr, *default)


class LocalPasswordBackend(ModelBackend):
    """Django's username-and-password login (the login page, the admin and the token
    endpoint), refused where ``labeler.access`` says local passwords are off."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and not access.may_use_local_password(user):
            logger.info("Local password login refused for %s: local passwords are off", username)
            return None
        return user


class DirectoryBackend(LDAPBackend):
    """LDAP / Active Directory: the user's own bind proves the password; the group search
    gives the groups that ``TWEEZERS_SSO_ROLE_MAP`` turns into roles at every login."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not getattr(settings, "TWEEZERS_LDAP_ENABLED", False):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_or_build_user(self, username, ldap_user):
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and not access.may_sign_in_with_directory(user):
            # Caught by django-auth-ldap: a failed login like a wrong password.
            raise ldap_user.AuthenticationFailed(
                f"{username} has a local password: the directory may not sign in to it"
            )
        return user, built

    def authenticate_ldap_user(self, ldap_user, password):
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is not None:
            searched = getattr(settings, "AUTH_LDAP_GROUP_SEARCH", None)
            groups = ldap_user.group_dns if searched else ()
            members.directory_roles_apply(
                user=user,
                groups=groups,
                role_map=settings.TWEEZERS_SSO_ROLE_MAP,
                creators_group=settings.TWEEZERS_SSO_CREATORS_GROUP,
            )
        return user


class OpenIDBackend(OIDCAuthenticationBackend):
    """OpenID Connect's authorization code flow (with PKCE, from the views below): the
    account is the one named by ``TWEEZERS_OIDC_USERNAME_CLAIM``, created on first login; the
    groups come from ``TWEEZERS_OIDC_GROUPS_CLAIM`` in the ID token or the userinfo answer."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # Django builds every listed backend for each login: with OpenID Connect off this
        # one must not ask for settings that do not exist.
        self.enabled = getattr(settings, "TWEEZERS_OIDC_ENABLED", False)
        self.UserModel = get_user_model()
        if self.enabled:
            super().__init__(*args, **kwargs)

    def authenticate(self, request, **kwargs):
        if not self.enabled:
            return None
        return super().authenticate(request, **kwargs)

    def get_userinfo(self, access_token, id_token, payload):
        # Azure AD puts groups in the ID token only; Keycloak can put them in either.
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            claims.update(super().get_userinfo(access_token, id_token, payload))
        return claims

    @staticmethod
    def _username(claims) -> str:
        return str(claims.get(settings.TWEEZERS_OIDC_USERNAME_CLAIM) or "").strip()

    def verify_claims(self, claims) -> bool:
        return bool(self._username(claims))

    def filter_users_by_claims(self, claims):
        field = self.UserModel.USERNAME_FIELD
        return self.UserModel.objects.filter(**{f"{field}__iexact": self._username(claims)})

    def describe_user_by_claims(self, claims) -> str:
        return f"username {self._username(claims)}"

    def create_user(self, claims):
        # No password: this account signs in only through the identity provider.
        user = self.UserModel.objects.create_user(self._username(claims))
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        if not access.may_sign_in_with_directory(user):
            # mozilla-django-oidc turns this into a failed login (and logs it).
            raise SuspiciousOperation(
                f"{user.get_username()} has a local password: the identity provider may not "
                "sign in to it"
            )
        fields = {
            "email": claims.get("email") or "",
            "first_name": claims.get("given_name") or "",
            "last_name": claims.get("family_name") or "",
        }
        changed = [name for name, value in fields.items() if getattr(user, name) != value]
        for name in changed:
            setattr(user, name, fields[name][:150])
        if changed:
            user.save(update_fields=changed)
        groups = claims.get(settings.TWEEZERS_OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        members.directory_roles_apply(
            user=user,
            groups=groups,
            role_map=settings.TWEEZERS_SSO_ROLE_MAP,
            creators_group=settings.TWEEZERS_SSO_CREATORS_GROUP,
        )
        return user


class OpenIDSignInView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider with state, nonce and a PKCE challenge."""

    get_settings = staticmethod(oidc_setting)


class OpenIDCallbackView(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(oidc_setting)


def sign_in_options(request) -> dict:
    """Template context (settings' context processors): the login page's single sign-on
    button, hint and notice. The password form is shown in full where a password can be
    typed by everyone (local passwords on, or LDAP), else folded away for administrators."""
    ldap = getattr(settings, "TWEEZERS_LDAP_ENABLED", False)
    return {
        "sso": {
            "oidc": getattr(settings, "TWEEZERS_OIDC_ENABLED", False),
            "oidc_name": getattr(settings, "TWEEZERS_OIDC_NAME", ""),
            "ldap": ldap,
            "password_form": ldap or settings.TWEEZERS_LOCAL_PASSWORDS,
            "notice": request.GET.get("sso", "") if request.method == "GET" else "",
        }
    }


def end_session_url(request) -> str:
    """Where to send a browser that logs out of a session the identity provider opened
    (RP-initiated logout 1.0), or "" for any other session. Read before the session ends:
    it needs the ID token kept in it."""
    if request.session.get(BACKEND_SESSION_KEY) != OIDC_BACKEND_PATH:
        return ""
    endpoint = oidc_setting("TWEEZERS_OIDC_END_SESSION_ENDPOINT")
    if not endpoint:
        return ""
    query = {
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
    }
    if request.session.get("oidc_id_token"):
        query["id_token_hint"] = request.session["oidc_id_token"]
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(query)}"
