"""The real server for the client's tests: `scripts/run-serve` (gunicorn and the Celery
workers, as `make serve` starts them) on a PostgreSQL database of its own and a Redis server
of its own, started once per session. Nothing is mocked."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from tests.processes import (
    REPO,
    free_port,
    http_answer,
    loopback_http,
    start,
    start_redis,
    stop,
    wait_until,
)

CLIENT_SRC = REPO / "clients" / "python" / "src"
# The client is importable without installing it (a fresh clone's `make test` passes with
# nothing more); `pip install clients/python` is what its users do.
if str(CLIENT_SRC) not in sys.path:
    sys.path.insert(0, str(CLIENT_SRC))

# The server takes files over this many bytes as background import jobs (2 MiB in
# production), so a test's few dozen texts exercise the job and its progress.
SYNC_IMPORT_MAX_BYTES = 4096


@dataclass(frozen=True)
class Server:
    url: str
    username: str
    password: str
    # An account without the permission to create projects.
    viewer: str
    viewer_password: str
    log_path: Path
    # A local webhook receiver the server may deliver to (its TWEEZERS_WEBHOOK_URLS), and
    # every request it got: (path, headers, body).
    hooks_url: str = ""
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def log_tail(self, size: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-size:]


def _database_url(name: str) -> str:
    """The test run's PostgreSQL server (DATABASE_URL), database ``name``."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/x")
    return urlunsplit(parts._replace(path=f"/{name}"))


def _served_database_name() -> str:
    base = urlsplit(os.environ.get("DATABASE_URL") or "").path.lstrip("/") or "tweezers"
    return f"{base}_client_served"


def _recreate_database(name: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


ACCOUNTS_SCRIPT = """
import os
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

User = get_user_model()
password = os.environ["CLIENT_PASSWORD"]
scripter = User.objects.create_user(os.environ["CLIENT_USER"], password=password)
scripter.user_permissions.add(
    Permission.objects.get(content_type__app_label="labeler", codename="add_project")
)
User.objects.create_user(os.environ["CLIENT_VIEWER"], password=password)
"""


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    received: list[tuple[str, dict[str, str], bytes]] = []

    def receive(request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
        received.append((request.path, dict(request.headers.items()), body))
        http_answer(request, 200)

    with loopback_http(receive) as receiver_port:
        yield from _served(tmp_path_factory, f"http://127.0.0.1:{receiver_port}/hooks", received)


def _served(
    tmp_path_factory: pytest.TempPathFactory,
    hooks_url: str,
    received: list[tuple[str, dict[str, str], bytes]],
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("served")
    var_dir = folder / "var"
    log_path = folder / "serve.log"
    database = _served_database_name()
    _recreate_database(database)
    # A Redis of its own: no message another test left in the shared broker reaches this
    # worker (it would name a run of another database), and none of this server's reaches
    # theirs.
    redis_port = free_port()
    redis = start_redis(redis_port, folder / "redis.log")
    port = free_port()
    password = secrets.token_urlsafe(12)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(database),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "client-test-" + secrets.token_hex(16),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_COOKIES": "0",
        "TWEEZERS_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(var_dir / "media"),
        "TWEEZERS_UPLOAD_DIR": str(var_dir / "uploads"),
        "TWEEZERS_ARTIFACT_DIR": str(var_dir / "artifacts"),
        "TWEEZERS_EMBEDDING_DIR": str(var_dir / "embeddings"),
        "TWEEZERS_SYNC_IMPORT_MAX_BYTES": str(SYNC_IMPORT_MAX_BYTES),
        "HF_HUB_OFFLINE": "1",
        "TWEEZERS_WEBHOOK_URLS": hooks_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        # On a CI machine shared with other jobs an idle-priority worker may wait for minutes.
        "WORKER_SCHED": "normal",
        "CLIENT_USER": "scripter",
        "CLIENT_VIEWER": "viewer",
        "CLIENT_PASSWORD": password,
    }
    server_process = None
    try:
        manage = [sys.executable, str(REPO / "manage.py")]
        subprocess.run(
            [*manage, "migrate", "--noinput"], env=env, cwd=REPO, check=True, capture_output=True
        )
        subprocess.run(
            [*manage, "shell", "-c", ACCOUNTS_SCRIPT],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        server_process = start([str(REPO / "scripts" / "run-serve")], env=env, log_path=log_path)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _ok(f"{url}/healthz"), timeout=120, what="gunicorn to answer")
        except AssertionError:
            print(log_path.read_text(errors="replace")[-4000:])
            raise
        yield Server(url, "scripter", password, "viewer", password, log_path, hooks_url, received)
    finally:
        if server_process is not None:
            # A TERM to the script stops gunicorn and both workers (as in test_serve.py).
            os.kill(server_process.pid, signal.SIGTERM)
            try:
                server_process.wait(timeout=60)
            finally:
                stop(server_process)
        stop(redis)
        _recreate_database(database, drop_only=True)


@pytest.fixture
def client(server: Server):
    from tweezers_client import Client

    with Client.login(server.url, server.username, server.password) as logged_in:
        yield logged_in
