"""Fixtures of the single sign-on tests: a real OpenLDAP directory and a real OpenID Connect
provider (tests/sso/servers.py), and Tweezers configured for them exactly as a hospital would,
through the environment variables config/sso.py reads."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import environ
import pytest

from config.sso import LDAP_BACKEND, OIDC_BACKEND, sso_settings
from tests import processes
from tests.sso import servers

PEOPLE = {
    "alice": {"given": "Alice", "family": "Kim", "password": "alice-directory-pw"},
    "bob": {"given": "Bob", "family": "Lee", "password": "bob-directory-pw"},
    "carol": {"given": "Carol", "family": "Park", "password": "carol-directory-pw"},
}
GROUPS = {
    "radiology": ["alice", "bob"],
    "radiology-leads": ["carol", "bob"],
    "project-creators": ["carol", "bob"],
}


@pytest.fixture
def configure_sso(settings):
    """Applies single sign-on variables (``TWEEZERS_LDAP_URL=...``) the way config/settings.py
    does at start; pytest-django restores the settings after the test."""

    def configure(**variables: str) -> dict:
        env = environ.Env()
        env.ENVIRON = {key: str(value) for key, value in variables.items()}
        values = sso_settings(env)
        for name, value in values.items():
            setattr(settings, name, value)
        settings.AUTHENTICATION_BACKENDS = [
            backend
            for backend in settings.AUTHENTICATION_BACKENDS
            if backend not in (LDAP_BACKEND, OIDC_BACKEND)
        ] + values["SSO_BACKENDS"]
        policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
        policy["DIRECTIVES"]["form-action"] += values["SSO_FORM_ACTION_ORIGINS"]
        settings.CONTENT_SECURITY_POLICY = policy
        return values

    return configure


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[servers.Directory]:
    server = servers.start_directory(tmp_path / "slapd", people=PEOPLE, groups=GROUPS)
    try:
        yield server
    finally:
        processes.stop(server.process)


def ldap_variables(directory: servers.Directory, **extra: str) -> dict[str, str]:
    """Search-bind with a service account and a groupOfNames search, as most hospitals'
    OpenLDAP (Active Directory differs in the filter and group type: see the README)."""
    return {
        "TWEEZERS_LDAP_URL": directory.url,
        "TWEEZERS_LDAP_BIND_DN": servers.SERVICE_DN,
        "TWEEZERS_LDAP_BIND_PASSWORD": servers.SERVICE_PASSWORD,
        "TWEEZERS_LDAP_USER_SEARCH_BASE": servers.PEOPLE,
        "TWEEZERS_LDAP_USER_FILTER": "(uid=%(user)s)",
        "TWEEZERS_LDAP_GROUP_SEARCH_BASE": servers.GROUPS,
        "TWEEZERS_LDAP_GROUP_TYPE": "groupOfNames",
        **extra,
    }


OIDC_USERS = {
    "alice": {
        "email": "alice@hospital.test",
        "given_name": "Alice",
        "family_name": "Kim",
        "groups": ["/radiology"],
    },
    "dora": {
        "email": "dora@hospital.test",
        "given_name": "Dora",
        "family_name": "Cho",
        "groups": [],
    },
}


@pytest.fixture
def identity_provider(tmp_path: Path, live_server) -> Iterator[servers.IdentityProvider]:
    folder = tmp_path / "oidc-provider"
    folder.mkdir()
    provider = servers.start_identity_provider(
        folder,
        redirect_uri=f"{live_server.url}/oidc/callback/",
        post_logout_uri=f"{live_server.url}/accounts/login/",
        users=OIDC_USERS,
    )
    try:
        yield provider
    finally:
        processes.stop(provider.process)


def oidc_variables(provider: servers.IdentityProvider, **extra: str) -> dict[str, str]:
    """Discovery from the issuer, a confidential client, and the groups scope and claim."""
    return {
        "TWEEZERS_OIDC_ISSUER": provider.issuer,
        "TWEEZERS_OIDC_CLIENT_ID": provider.client_id,
        "TWEEZERS_OIDC_CLIENT_SECRET": provider.client_secret,
        "TWEEZERS_OIDC_SCOPES": "openid email profile groups",
        "TWEEZERS_OIDC_NAME": "Test Hospital",
        **extra,
    }
