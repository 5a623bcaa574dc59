"""Real processes for tests: Celery workers and Redis servers, always stopped afterwards; and a
loopback HTTP server for what the app sends out."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from django.db import connection

REPO = Path(__file__).resolve().parents[1]


def worker_database_url() -> str:
    """The URL of the database pytest-django created, so a subprocess writes where the test
    reads."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], *, env: dict, log_path: Path) -> subprocess.Popen:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, *, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def celery_worker_command(
    *, pool: str = "solo", beat: bool = False, queues: str = "default,training,embedding,imports"
) -> list[str]:
    """One worker for every queue by default (scripts/run-serve gives retrains, imports and
    embedding a worker each: start them with ``queues`` where a test is about that)."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues]
    command += ["--pool", pool, "--concurrency", "1", "--without-mingle", "--without-gossip"]
    command += ["--loglevel", "INFO"]
    if beat:
        # The sweeps, for a test that needs them to run: Celery's -B, a beat process forked by
        # the worker (in its process group, so it stops with it). scripts/run-serve runs
        # ``celery_beat_command``'s process beside the workers instead.
        schedule = str(Path(os.environ.get("TMPDIR", "/tmp")) / "beat")
        command += ["--beat", "--schedule", schedule]
    return command


def celery_beat_command(schedule: Path) -> list[str]:
    """The beat scheduler as a process of its own, as scripts/run-serve and compose run it."""
    command = [sys.executable, "-m", "celery", "-A", "config.beat", "beat"]
    return command + ["--schedule", str(schedule), "--loglevel", "INFO"]


def start_redis(port: int, log_path: Path) -> subprocess.Popen:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no"]
    process = start(command, env=dict(os.environ), log_path=log_path)
    wait_until(lambda: _port_open(port), timeout=10, what=f"redis on port {port}")
    return process


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    condition: Callable[[], bool], *, timeout: float, what: str, every: float = 0.2
) -> None:
    """Wait for a condition another process brings about (a port open, a row written), asking
    ``every`` seconds, and fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def apt_install_missing(program: str, packages: list[str]) -> None:
    """Install Debian ``packages`` when ``program`` is not on the PATH (as root, the way CI and
    the developers' machines run); skip the test where that cannot be done."""
    import shutil

    import pytest

    if shutil.which(program):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{program} is missing and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        env=env,
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )


def http_answer(
    handler: BaseHTTPRequestHandler,
    code: int,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer one request of a :func:`loopback_http` server: status, headers, the whole body."""
    handler.send_response(code)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


@contextmanager
def loopback_http(respond: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[int]:
    """A threaded HTTP server on 127.0.0.1 (a free port, yielded) for the outbound requests a
    test watches (a PACS, a webhook receiver): ``respond(handler)`` answers every GET and
    POST, reading ``handler.path`` and ``handler.rfile``; shut down when the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            respond(self)

        do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
