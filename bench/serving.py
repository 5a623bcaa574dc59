"""What the benchmarks that drive the real server share: a fresh PostgreSQL database, the
server's environment, and `scripts/run-serve` started, waited for and stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parents[1]
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def recreate_database(name: str, broker_url: str | None = None) -> None:
    """Drop and create database ``name``; flush the broker's database too, so messages left
    by an earlier run do not name runs of a database that no longer exists."""
    if broker_url:
        import redis

        redis.Redis.from_url(broker_url).flushdb()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
        slow_ms = int(os.environ.get("TWEEZERS_BENCH_PG_SLOW_MS", "0"))
        if slow_ms:
            # Diagnosis: PostgreSQL's own log names statements slower than this and lock
            # waits longer than this (deadlock detection then also runs after this long).
            for setting in ("log_min_duration_statement", "deadlock_timeout"):
                conn.execute(f"ALTER DATABASE {name} SET {setting} = {slow_ms}")
            conn.execute(f"ALTER DATABASE {name} SET log_lock_waits = on")


def server_env(database: str, broker_url: str, var_dir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_DEBUG": "0",
        # Plain HTTP on 127.0.0.1: session cookies must travel without TLS.
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "TWEEZERS_VAR_DIR": str(var_dir),
        "PORT": str(port),
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "4"),
        "DJANGO_LOG_LEVEL": os.environ.get("DJANGO_LOG_LEVEL", "WARNING"),
    }


def serve(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`scripts/run-serve` in a session of its own (its workers stop with it), logging to
    ``log_path``; returns once /healthz answers (or after a minute)."""
    log = log_path.open("wb")
    server = subprocess.Popen(
        ["scripts/run-serve"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    base = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.3)
    return server


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
