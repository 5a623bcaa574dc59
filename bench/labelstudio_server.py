"""Label Studio (community edition, from PyPI) as bench/labelstudio_load.py drives it:
`label-studio start` on 127.0.0.1 with a throwaway data dir on a fresh PostgreSQL database
(created and dropped) or SQLite, and the set-up through its own API and forms — a project,
its tasks (Label Studio's word for items), annotators who sign up and use API tokens.

Imports neither Django nor Tweezers: Label Studio runs from its own venv.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CHOICES = ["negative", "positive"]
LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="label" toName="text" choice="single">'
    + "".join(f'<Choice value="{c}"/>' for c in CHOICES)
    + "</Choices></View>"
)
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


class BenchError(RuntimeError):
    """A step that cannot go on; the message says which and why."""


# --- PostgreSQL: a fresh database, dropped afterwards ------------------------------------


def _pg_execute(statement: str) -> None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(statement)
        return
    except ImportError:
        pass
    import psycopg2  # Label Studio's own venv has this one

    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def database_recreate(name: str) -> None:
    _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_execute(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- The Label Studio server --------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(first: int, span: int = 50) -> int:
    for port in range(first, first + span):
        if port_is_free(port):
            return port
    raise BenchError(f"no free port in {first}-{first + span - 1}")


def ls_env(backend: str, data_dir: Path, pg_db: str) -> dict[str, str]:
    """A clean environment: Label Studio reads LABEL_STUDIO_*, HEARTEX_* and bare names such
    as PORT, USERNAME or HOST, so nothing of the caller's environment leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(data_dir),
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        # No traffic to Sentry, PyPI's version check or analytics.
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "DEBUG": "false",
    }
    if backend == "postgresql":
        env.update(
            DJANGO_DB="default",
            POSTGRE_NAME=pg_db,
            POSTGRE_USER="postgres",
            POSTGRE_PASSWORD="",
            POSTGRE_HOST="127.0.0.1",
            POSTGRE_PORT="5432",
        )
    else:
        env.update(DJANGO_DB="sqlite", DATABASE_NAME=str(data_dir / "label_studio.sqlite3"))
    return env


class LabelStudio:
    """`label-studio start` in a session of its own, so that stopping it stops everything it
    started; its output goes to a log file in the data dir."""

    def __init__(self, ls_bin: str, backend: str, port: int, pg_db: str, start_timeout: float):
        self.backend, self.port, self.pg_db = backend, port, pg_db
        self.base = f"http://127.0.0.1:{port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"ls-bench-{backend}-"))
        self.log_path = self.data_dir / "label-studio.log"
        self.admin_email = "admin@bench.local"
        self.admin_token = secrets.token_hex(20)
        self.process: subprocess.Popen | None = None
        self.ls_bin, self.start_timeout = ls_bin, start_timeout

    def start(self) -> float:
        """Start and wait until /health answers; returns the seconds it took (migrations)."""
        if self.backend == "postgresql":
            database_recreate(self.pg_db)
        command = [
            self.ls_bin,
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--username",
            self.admin_email,
            "--password",
            secrets.token_hex(12),
            "--user-token",
            self.admin_token,
            # Community edition 1.2x turned legacy tokens off by default; the annotator
            # threads authenticate like an API client would, with a token each.
            "--enable-legacy-api-token",
            "--log-level",
            "WARNING",
        ]
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=ls_env(self.backend, self.data_dir, self.pg_db),
                cwd=self.data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = started + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"label-studio exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.base}/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        else:
            raise BenchError(f"label-studio did not answer /health within {self.start_timeout} s")
        # Another server may have taken the port meanwhile (label-studio then moves on to
        # the next one): make sure our admin token works here.
        me = self.admin().get(f"{self.base}/api/current-user/whoami", timeout=10)
        if me.status_code != 200 or me.json().get("email") != self.admin_email:
            raise BenchError(f"port {self.port} answers, but not as our Label Studio")
        return time.monotonic() - started

    def admin(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.admin_token}"
        return session

    def version(self) -> str:
        try:
            body = self.admin().get(f"{self.base}/api/version/", timeout=10).json()
            return str(
                body.get("release") or body.get("label-studio-os-package", {}).get("version")
            )
        except (requests.RequestException, ValueError, AttributeError):
            return "unknown"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.backend == "postgresql":
            try:
                database_drop(self.pg_db)
            except Exception as error:  # cleanup must not hide the original failure
                print(f"warning: could not drop database {self.pg_db}: {error}", file=sys.stderr)
        shutil.rmtree(self.data_dir, ignore_errors=True)


# --- Set-up through Label Studio's API ----------------------------------------------------


def expect(response: requests.Response, codes: tuple[int, ...], what: str) -> dict | list:
    if response.status_code not in codes:
        raise BenchError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return response.json() if response.content else {}


def project_create(ls: LabelStudio, n_tasks: int, title: str) -> int:
    admin = ls.admin()
    project = expect(
        admin.post(
            f"{ls.base}/api/projects/",
            json={"title": title, "label_config": LABEL_CONFIG},
            timeout=60,
        ),
        (201,),
        "create project",
    )
    for start in range(0, n_tasks, 1000):
        tasks = [
            {
                "text": f"synthetic item {row}: "
                + " ".join(WORDS[(row + k) % len(WORDS)] for k in range(8))
            }
            for row in range(start, min(start + 1000, n_tasks))
        ]
        expect(
            admin.post(f"{ls.base}/api/projects/{project['id']}/import", json=tasks, timeout=600),
            (200, 201),
            "import tasks",
        )
    return project["id"]


def annotator_signup(ls: LabelStudio, index: int) -> str:
    """Sign up through the form (the community edition's way to add a member: it joins the
    one organization) and fetch the account's API token."""
    session = requests.Session()
    page = session.get(f"{ls.base}/user/signup/", timeout=30)
    csrf = session.cookies.get("csrftoken")
    if not csrf:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        csrf = match.group(1) if match else ""
    email = f"annotator{index}-{secrets.token_hex(3)}@bench.local"
    response = session.post(
        f"{ls.base}/user/signup/",
        data={"csrfmiddlewaretoken": csrf, "email": email, "password": secrets.token_hex(12)},
        headers={"Referer": f"{ls.base}/user/signup/"},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302:
        raise BenchError(f"sign up {email}: HTTP {response.status_code} {response.text[:300]}")
    token = expect(
        session.get(f"{ls.base}/api/current-user/token", timeout=30), (200,), "get token"
    )
    return token["token"]


def labels_stored(ls: LabelStudio, project: int) -> tuple[int, int]:
    body = expect(
        ls.admin().get(f"{ls.base}/api/projects/{project}/", timeout=60), (200,), "count labels"
    )
    return int(body["total_annotations_number"]), int(body["num_tasks_with_annotations"])
