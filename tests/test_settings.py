"""Production settings are safe by default: each case loads config.settings in a fresh process
with a controlled environment, since settings are read once at import."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PRINT_SETTINGS = """
import json
import django
from django.conf import settings
django.setup()
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
}))
"""


def load_settings(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "TWEEZERS_")) and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", TWEEZERS_VAR_DIR=str(tmp_path), **variables
    )
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_to_load_without_a_secret_key_when_debug_is_off(tmp_path):
    # Set but empty, so a developer's .env (read for unset variables only) cannot supply one.
    result = load_settings(tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_settings_use_secure_cookies_and_allow_no_host_by_default(tmp_path):
    result = load_settings(tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "DEBUG": False,
        "ALLOWED_HOSTS": [],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }


def test_production_settings_take_allowed_hosts_from_the_environment(tmp_path):
    result = load_settings(
        tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_ALLOWED_HOSTS="tweezers.example.org,10.0.0.5",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ALLOWED_HOSTS"] == ["tweezers.example.org", "10.0.0.5"]


def test_debug_settings_fall_back_to_a_development_key_and_local_hosts(tmp_path):
    result = load_settings(tmp_path, DJANGO_DEBUG="1")

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["DEBUG"] is True
    assert loaded["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]
    assert loaded["SESSION_COOKIE_SECURE"] is False


def test_env_example_documents_every_variable_the_settings_read():
    # config/sso.py reads the single sign-on variables for settings.py.
    settings_source = "".join(
        (REPO / "config" / name).read_text() for name in ("settings.py", "sso.py")
    )
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', settings_source))
    example = (REPO / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))

    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"} <= read
    assert read - documented == set(), "add these to .env.example"
