"""Single sign-on from the environment, as the server starts: each case loads config.settings
in a fresh process (tests/test_settings.py's helper)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.test_settings import REPO, load_settings

PRINT_SSO = """
import json
import django
from django.conf import settings
django.setup()
print(json.dumps({
    "backends": settings.AUTHENTICATION_BACKENDS,
    "ldap_uri": getattr(settings, "AUTH_LDAP_SERVER_URI", None),
    "group_type": type(getattr(settings, "AUTH_LDAP_GROUP_TYPE", None)).__name__,
    "pkce": getattr(settings, "OIDC_USE_PKCE", None),
    "form_action": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"],
    "role_map": settings.TWEEZERS_SSO_ROLE_MAP,
    "local_passwords": settings.TWEEZERS_LOCAL_PASSWORDS,
}))
"""


def sso_settings_of(tmp_path, **variables):
    return subprocess.run(
        [sys.executable, "-c", PRINT_SSO],
        cwd=REPO,
        env=_env_of(tmp_path, variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _env_of(tmp_path, variables):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "TWEEZERS_")) and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        TWEEZERS_VAR_DIR=str(tmp_path),
        DJANGO_DEBUG="1",
        **variables,
    )
    return env


def test_single_sign_on_is_off_unless_configured(tmp_path):
    loaded = json.loads(sso_settings_of(tmp_path).stdout)

    assert loaded["backends"] == [
        "axes.backends.AxesStandaloneBackend",
        "labeler.sso.LocalPasswordBackend",
    ]
    assert loaded["ldap_uri"] is None and loaded["pkce"] is None
    assert loaded["local_passwords"] is True


def test_active_directory_and_openid_connect_from_the_environment(tmp_path):
    loaded = json.loads(
        sso_settings_of(
            tmp_path,
            TWEEZERS_LDAP_URL="ldaps://dc1.hospital.local",
            TWEEZERS_LDAP_BIND_DN="CN=svc-tweezers,DC=hospital,DC=local",
            TWEEZERS_LDAP_USER_SEARCH_BASE="DC=hospital,DC=local",
            TWEEZERS_LDAP_USER_FILTER="(sAMAccountName=%(user)s)",
            TWEEZERS_LDAP_GROUP_SEARCH_BASE="DC=hospital,DC=local",
            TWEEZERS_LDAP_GROUP_TYPE="nestedActiveDirectory",
            TWEEZERS_OIDC_ISSUER="https://login.microsoftonline.com/tenant/v2.0",
            TWEEZERS_OIDC_CLIENT_ID="tweezers",
            TWEEZERS_SSO_ROLE_MAP='{"CN=Radiology": [{"project": 3, "role": "viewer"}]}',
            TWEEZERS_LOCAL_PASSWORDS="0",
        ).stdout
    )

    assert loaded["backends"][-2:] == ["labeler.sso.DirectoryBackend", "labeler.sso.OpenIDBackend"]
    assert loaded["ldap_uri"] == "ldaps://dc1.hospital.local"
    assert loaded["group_type"] == "NestedActiveDirectoryGroupType"
    assert loaded["pkce"] is True
    assert "https://login.microsoftonline.com" in loaded["form_action"]
    assert loaded["role_map"] == {"cn=radiology": [{"project": "3", "role": "viewer"}]}
    assert loaded["local_passwords"] is False


def test_a_mistyped_role_map_or_ldap_setting_stops_the_server_at_start(tmp_path):
    bad_map = load_settings(
        tmp_path, DJANGO_DEBUG="1", TWEEZERS_SSO_ROLE_MAP='{"g": [{"project": 1, "role": "boss"}]}'
    )
    no_user_dn = load_settings(tmp_path, DJANGO_DEBUG="1", TWEEZERS_LDAP_URL="ldap://dc1")

    assert "ImproperlyConfigured" in bad_map.stderr and "not one of" in bad_map.stderr
    assert "TWEEZERS_LDAP_USER_DN_TEMPLATE" in no_user_dn.stderr
