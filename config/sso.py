"""Single sign-on settings from the environment: LDAP / Active Directory (django-auth-ldap) and
OpenID Connect (mozilla-django-oidc), each off unless its variable is set, and the one map from
directory groups to project roles. ``config/settings.py`` calls :func:`sso_settings` in its
"Single sign-on" block; the tests call it with their own environment, so what a hospital types
in ``.env`` is what the tests run. The README's "For hospital IT: single sign-on" explains each
variable with Active Directory, Keycloak and Azure AD examples.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

ROLES = ("manager", "annotator", "viewer")

# TWEEZERS_LDAP_GROUP_TYPE -> django-auth-ldap's class, by the directory's group schema.
LDAP_GROUP_TYPES = {
    "groupOfNames": "GroupOfNamesType",
    "nestedGroupOfNames": "NestedGroupOfNamesType",
    "groupOfUniqueNames": "GroupOfUniqueNamesType",
    "posixGroup": "PosixGroupType",
    "activeDirectory": "ActiveDirectoryGroupType",
    "nestedActiveDirectory": "NestedActiveDirectoryGroupType",
}

LDAP_BACKEND = "labeler.sso.DirectoryBackend"
OIDC_BACKEND = "labeler.sso.OpenIDBackend"


def role_map(raw: str) -> dict[str, list[dict[str, str]]]:
    """``{"<group>": [{"project": "<name or id>", "role": "annotator"}, ...]}``, checked now so
    a typo stops the server at start instead of silently granting nothing. Group keys are
    compared case-insensitively (directory DNs are)."""
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"TWEEZERS_SSO_ROLE_MAP is not valid JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured("TWEEZERS_SSO_ROLE_MAP must be a JSON object of groups.")
    checked: dict[str, list[dict[str, str]]] = {}
    for group, grants in parsed.items():
        if isinstance(grants, dict):
            grants = [grants]
        if not isinstance(grants, list):
            raise ImproperlyConfigured(f"TWEEZERS_SSO_ROLE_MAP[{group!r}] must be a list.")
        for grant in grants:
            if not isinstance(grant, dict) or {"project", "role"} - grant.keys():
                raise ImproperlyConfigured(
                    f"TWEEZERS_SSO_ROLE_MAP[{group!r}]: each entry needs 'project' and 'role'."
                )
            if grant["role"] not in ROLES:
                raise ImproperlyConfigured(
                    f"TWEEZERS_SSO_ROLE_MAP[{group!r}]: role {grant['role']!r} is not one of "
                    f"{', '.join(ROLES)}."
                )
        checked.setdefault(group.casefold(), []).extend(
            {"project": str(grant["project"]), "role": grant["role"]} for grant in grants
        )
    return checked


def _ldap_settings(env: environ.Env, url: str) -> dict[str, object]:
    # python-ldap is imported only where LDAP is configured.
    import ldap
    from django_auth_ldap import config as ldap_config

    values: dict[str, object] = {
        "AUTH_LDAP_SERVER_URI": url,
        "AUTH_LDAP_BIND_DN": env.str("TWEEZERS_LDAP_BIND_DN", default=""),
        "AUTH_LDAP_BIND_PASSWORD": env.str("TWEEZERS_LDAP_BIND_PASSWORD", default=""),
        "AUTH_LDAP_START_TLS": env.bool("TWEEZERS_LDAP_START_TLS", default=False),
        "AUTH_LDAP_USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        # Groups are read at every login and mapped to roles by Tweezers, never cached.
        "AUTH_LDAP_CACHE_TIMEOUT": 0,
        # Active Directory answers searches at the domain root with referrals that a bind
        # cannot follow; following none is what Microsoft's own clients do.
        "AUTH_LDAP_CONNECTION_OPTIONS": {
            ldap.OPT_REFERRALS: 0,
            ldap.OPT_NETWORK_TIMEOUT: env.int("TWEEZERS_LDAP_TIMEOUT_SECONDS", default=10),
        },
    }
    ca_file = env.str("TWEEZERS_LDAP_CA_FILE", default="")
    if ca_file:
        values["AUTH_LDAP_GLOBAL_OPTIONS"] = {ldap.OPT_X_TLS_CACERTFILE: ca_file}
    template = env.str("TWEEZERS_LDAP_USER_DN_TEMPLATE", default="")
    search_base = env.str("TWEEZERS_LDAP_USER_SEARCH_BASE", default="")
    if template:
        # Direct bind: the user's own DN and password, no service account needed.
        values["AUTH_LDAP_USER_DN_TEMPLATE"] = template
    elif search_base:
        values["AUTH_LDAP_USER_SEARCH"] = ldap_config.LDAPSearch(
            search_base,
            ldap.SCOPE_SUBTREE,
            env.str("TWEEZERS_LDAP_USER_FILTER", default="(uid=%(user)s)"),
        )
    else:
        raise ImproperlyConfigured(
            "TWEEZERS_LDAP_URL is set: set TWEEZERS_LDAP_USER_DN_TEMPLATE (direct bind) or "
            "TWEEZERS_LDAP_USER_SEARCH_BASE (search with the bind DN)."
        )
    group_base = env.str("TWEEZERS_LDAP_GROUP_SEARCH_BASE", default="")
    if group_base:
        type_name = env.str("TWEEZERS_LDAP_GROUP_TYPE", default="groupOfNames")
        if type_name not in LDAP_GROUP_TYPES:
            raise ImproperlyConfigured(
                f"TWEEZERS_LDAP_GROUP_TYPE {type_name!r} is not one of "
                f"{', '.join(LDAP_GROUP_TYPES)}."
            )
        group_type = getattr(ldap_config, LDAP_GROUP_TYPES[type_name])()
        default_filter = {
            "posixGroup": "(objectClass=posixGroup)",
            "groupOfUniqueNames": "(objectClass=groupOfUniqueNames)",
            "activeDirectory": "(objectClass=group)",
            "nestedActiveDirectory": "(objectClass=group)",
        }.get(type_name, "(objectClass=groupOfNames)")
        values["AUTH_LDAP_GROUP_SEARCH"] = ldap_config.LDAPSearch(
            group_base,
            ldap.SCOPE_SUBTREE,
            env.str("TWEEZERS_LDAP_GROUP_FILTER", default=default_filter),
        )
        values["AUTH_LDAP_GROUP_TYPE"] = group_type
    return values


def _oidc_settings(env: environ.Env) -> dict[str, object]:
    client_id = env.str("TWEEZERS_OIDC_CLIENT_ID", default="")
    if not client_id:
        raise ImproperlyConfigured("TWEEZERS_OIDC_ISSUER is set: set TWEEZERS_OIDC_CLIENT_ID.")
    endpoints = {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "TWEEZERS_OIDC_AUTHORIZATION_ENDPOINT",
        "OIDC_OP_TOKEN_ENDPOINT": "TWEEZERS_OIDC_TOKEN_ENDPOINT",
        "OIDC_OP_USER_ENDPOINT": "TWEEZERS_OIDC_USERINFO_ENDPOINT",
        "OIDC_OP_JWKS_ENDPOINT": "TWEEZERS_OIDC_JWKS_ENDPOINT",
        "TWEEZERS_OIDC_END_SESSION_ENDPOINT": "TWEEZERS_OIDC_END_SESSION_ENDPOINT",
    }
    return {
        "TWEEZERS_OIDC_ISSUER": env.str("TWEEZERS_OIDC_ISSUER", default="").rstrip("/"),
        # Explicit endpoints win over the issuer's discovery document (labeler/sso.py reads
        # it on first use, so the server starts while the provider is down).
        **{setting: env.str(variable, default="") for setting, variable in endpoints.items()},
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": env.str("TWEEZERS_OIDC_CLIENT_SECRET", default=""),
        "OIDC_RP_SCOPES": env.str("TWEEZERS_OIDC_SCOPES", default="openid email profile"),
        "OIDC_RP_SIGN_ALGO": env.str("TWEEZERS_OIDC_SIGN_ALGO", default="RS256"),
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        # Kept for the id_token_hint of RP-initiated logout.
        "OIDC_STORE_ID_TOKEN": True,
        "OIDC_TIMEOUT": env.int("TWEEZERS_OIDC_TIMEOUT_SECONDS", default=10),
        "OIDC_AUTHENTICATE_CLASS": "labeler.sso.OpenIDSignInView",
        "OIDC_CALLBACK_CLASS": "labeler.sso.OpenIDCallbackView",
        "LOGIN_REDIRECT_URL_FAILURE": "/accounts/login/?sso=failed",
        "TWEEZERS_OIDC_NAME": env.str("TWEEZERS_OIDC_NAME", default="single sign-on"),
        "TWEEZERS_OIDC_GROUPS_CLAIM": env.str("TWEEZERS_OIDC_GROUPS_CLAIM", default="groups"),
        "TWEEZERS_OIDC_USERNAME_CLAIM": env.str(
            "TWEEZERS_OIDC_USERNAME_CLAIM", default="preferred_username"
        ),
    }


def sso_settings(env: environ.Env) -> dict[str, object]:
    """Every single sign-on setting, with ``SSO_BACKENDS`` for AUTHENTICATION_BACKENDS."""
    ldap_url = env.str("TWEEZERS_LDAP_URL", default="")
    oidc_on = bool(
        env.str("TWEEZERS_OIDC_ISSUER", default="")
        or env.str("TWEEZERS_OIDC_AUTHORIZATION_ENDPOINT", default="")
    )
    values: dict[str, object] = {
        "TWEEZERS_LDAP_ENABLED": bool(ldap_url),
        "TWEEZERS_OIDC_ENABLED": oidc_on,
        "TWEEZERS_SSO_ROLE_MAP": role_map(env.str("TWEEZERS_SSO_ROLE_MAP", default="")),
        "TWEEZERS_SSO_CREATORS_GROUP": env.str("TWEEZERS_SSO_CREATORS_GROUP", default=""),
        # Off: only single sign-on logs in, except superusers (the break-glass account when
        # the directory or the identity provider is down).
        "TWEEZERS_LOCAL_PASSWORDS": env.bool("TWEEZERS_LOCAL_PASSWORDS", default=True),
        "SSO_BACKENDS": [],
        "SSO_FORM_ACTION_ORIGINS": [],
    }
    if ldap_url:
        values.update(_ldap_settings(env, ldap_url))
        values["SSO_BACKENDS"].append(LDAP_BACKEND)
    if oidc_on:
        values.update(_oidc_settings(env))
        values["SSO_BACKENDS"].append(OIDC_BACKEND)
        # The header's logout form is redirected to the provider's end-session endpoint, which
        # the Content-Security-Policy's form-action must allow (Chromium checks redirects).
        values["SSO_FORM_ACTION_ORIGINS"] = sorted(
            {
                f"{parts.scheme}://{parts.netloc}"
                for parts in map(
                    urlsplit,
                    (values["TWEEZERS_OIDC_ISSUER"], values["TWEEZERS_OIDC_END_SESSION_ENDPOINT"]),
                )
                if parts.netloc
            }
        )
    return values
