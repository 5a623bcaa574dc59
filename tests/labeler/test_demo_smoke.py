"""The embedded demo path end to end: SQLite and the filesystem broker, no services.

Everything runs in subprocesses with DATABASE_URL and CELERY_BROKER_URL empty and a private
TWEEZERS_VAR_DIR, as `make demo` runs it, so the test database and Redis of the suite are never
touched.
"""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
DEMO_PROJECTS = ("Handwritten digits", "Debian package descriptions")
ADMIN = ("admin", "tweezers-demo")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWEEZERS_", "DJANGO_")) and key not in ("MEDIA_ROOT",)
    }
    env.update(
        DJANGO_DEBUG="1",
        DATABASE_URL="",
        CELERY_BROKER_URL="",
        TWEEZERS_VAR_DIR=str(tmp_path / "var"),
        PORT=str(free_port()),
    )
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, f"manage.py {args[0]} failed:\n{completed.stderr[-3000:]}"
    return completed.stdout


@pytest.fixture
def running_demo(demo_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """scripts/run-demo (runserver and a worker on the filesystem broker) in its own process
    group, stopped whole after the test. Yields the base URL."""
    log_path = tmp_path / "run-demo.log"
    with log_path.open("wb") as log:
        demo = subprocess.Popen(
            ["scripts/run-demo"],
            cwd=REPO,
            env=demo_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{demo_env['PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert demo.poll() is None, f"run-demo exited:\n{log_path.read_text()[-3000:]}"
            try:
                if requests.get(f"{base_url}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"no /healthz:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.3)
        yield base_url
    finally:
        stop_process_group(demo)


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop the script, runserver, the worker and its pool and beat processes. A warm shutdown
    would wait for whatever retrain the worker is running, which this test does not need."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # The script has exited; its children may still be finishing a task.
            time.sleep(1)
    process.wait()


def import_job_status(database: Path, job_id: int) -> tuple[str, int, str]:
    connection = sqlite3.connect(database, timeout=20)
    try:
        row = connection.execute(
            "SELECT status, imported, error FROM labeler_importjob WHERE id = ?", (job_id,)
        ).fetchone()
    finally:
        connection.close()
    return row


@pytest.fixture
def demo_database(demo_env: dict[str, str]) -> Path:
    migrate_output = manage(demo_env, "migrate", "--noinput")
    assert "Applying labeler" in migrate_output
    setup_output = manage(
        demo_env, "demo_setup", "--digits-limit", "40", "--texts-limit", "40", "--dicom-limit", "6"
    )
    assert "Admin user: admin / tweezers-demo" in setup_output
    for name in DEMO_PROJECTS:
        assert f"{name}: imported 40" in setup_output
    assert "Radiology samples (DICOM): imported 6" in setup_output
    # The first six files: two NM encodings are one series, one ultrasound image another, and
    # the three CT encodings of one image at one position are refused as a volume.
    assert "Radiology series (DICOM, one item per series): imported 2, duplicates 1" in setup_output
    database = Path(demo_env["TWEEZERS_VAR_DIR"]) / "tweezers.sqlite3"
    assert database.is_file()
    return database


QUEUE_IMPORT = """
import io
from django.contrib.auth import get_user_model
from labeler import services
from labeler.models import Project
project = Project.objects.get(name="Debian package descriptions")
admin = get_user_model().objects.get(username="admin")
csv = b"text,label\\nA smoke test package that imports one row,games\\n"
job = services.import_job_create(
    project=project, created_by=admin, name="smoke.csv", stream=io.BytesIO(csv)
)
print(f"job={job.pk}")
"""


def rows_of(body):
    """A list endpoint's rows, paginated or not."""
    return body["results"] if isinstance(body, dict) else body


def next_ready(session: requests.Session, url: str) -> dict:
    """The next item, once the demo's first round is queued."""
    deadline = time.monotonic() + 120
    while True:
        body = session.get(url, timeout=10).json()
        if body["state"] == "ready" or time.monotonic() > deadline:
            assert body["state"] == "ready", body
            return body["item"]
        time.sleep(1)


@pytest.mark.slow
def test_demo_serves_both_projects_and_its_embedded_worker_runs_jobs(
    demo_database: Path, demo_env: dict[str, str], running_demo: str
):
    session = requests.Session()
    login_page = session.get(f"{running_demo}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    response = session.post(
        f"{running_demo}/accounts/login/",
        data={
            "username": ADMIN[0],
            "password": ADMIN[1],
            "csrfmiddlewaretoken": token,
            "next": "/",
        },
        timeout=10,
    )
    assert response.ok
    assert "/accounts/login/" not in response.url, "login with the demo credentials failed"

    project_list = session.get(f"{running_demo}/", timeout=10)
    assert project_list.status_code == 200
    for name in DEMO_PROJECTS:
        assert name in project_list.text

    # The labeling loop on SQLite: the request path's plain SQL (leases, submits) runs on the
    # demo's database as on PostgreSQL.
    api = f"{running_demo}/api/projects"
    listed = session.get(f"{api}/", timeout=10).json()
    digits = next(p for p in rows_of(listed) if p["name"] == DEMO_PROJECTS[0])
    classes = [c["name"] for c in rows_of(session.get(f"{api}/{digits['id']}/classes/").json())]
    served = next_ready(session, f"{api}/{digits['id']}/next/")
    answer = session.post(
        f"{api}/{digits['id']}/annotations/",
        json={"item": served["id"], "label": classes[0], "client_key": "demo-smoke-1"},
        headers={"X-CSRFToken": session.cookies["csrftoken"]},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["item"] == served["id"] and answer.json()["label"] == classes[0]
    assert next_ready(session, f"{api}/{digits['id']}/next/")["id"] != served["id"]
    with sqlite3.connect(demo_database) as db:
        stored = db.execute(
            "SELECT i.status, c.name FROM labeler_item i JOIN labeler_labelclass c"
            " ON c.id = i.label_id WHERE i.id = ?",
            (served["id"],),
        ).fetchone()
    assert stored == ("labeled", classes[0])

    # The worker started by run-demo must pick the job up from the filesystem broker; it may
    # first work through the retrains demo_setup queued, so allow for those.
    job_id = int(re.search(r"job=(\d+)", manage(demo_env, "shell", "-c", QUEUE_IMPORT)).group(1))
    deadline = time.monotonic() + 120
    status = import_job_status(demo_database, job_id)
    while status[0] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = import_job_status(demo_database, job_id)
    assert status[:2] == ("succeeded", 1), f"import job {status}"
