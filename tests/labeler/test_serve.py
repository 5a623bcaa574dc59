"""`make serve`'s script: gunicorn, Celery workers for retrains, imports and embedding, and the
beat scheduler against PostgreSQL and Redis; a slow PACS never delays a retrain, and the script
exits non-zero (for its supervisor to restart it) when one of its processes ends."""

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
from django.conf import settings

from labeler import services
from labeler.dicom.dicomweb import PacsQuery
from labeler.models import ImportJob, ModelRun
from tests.data import shades_zip
from tests.factories import ProjectFactory
from tests.labeler.api.conftest import team_for
from tests.labeler.api.factories import item_add, round_add
from tests.processes import (
    REPO,
    free_port,
    loopback_http,
    start,
    stop,
    wait_until,
    worker_database_url,
)

DRIP_SECONDS = 3.0

# A web process as gunicorn loads it (config.wsgi), serving the pages and API calls of a
# labeling session; prints the status of each and whether the heavy libraries got loaded.
_WEB_PROBE = """
import json, sys
import config.wsgi  # noqa: F401
from django.contrib.auth import get_user_model
from django.test import Client

project, manager, annotator = (int(value) for value in sys.argv[1:4])
users = get_user_model().objects
statuses = {}
expert = Client()
expert.force_login(users.get(pk=annotator))
for url in ("/healthz", "/", f"/projects/{project}/label/", f"/api/projects/{project}/next/"):
    statuses[url] = expert.get(url).status_code
item = expert.get(f"/api/projects/{project}/next/").json()["item"]["id"]
answer = {"item": item, "label": "spam", "client_key": "probe-1"}
url = f"/api/projects/{project}/annotations/"
statuses[url] = expert.post(url, answer, content_type="application/json").status_code
owner = Client()
owner.force_login(users.get(pk=manager))
for url in (f"/projects/{project}/", f"/projects/{project}/items/", f"/api/projects/{project}/"):
    statuses[url] = owner.get(url).status_code
heavy = ("torch", "sentence_transformers", "transformers")
print(json.dumps({"statuses": statuses, "loaded": [name for name in heavy if name in sys.modules]}))
"""


class DrippingPacs:
    """A PACS that answers every DICOMweb request one byte every few seconds, until released:
    each byte comes well within any per-read timeout, and the answer never ends while the test
    watches. ``asked`` is set once an import has sent it a request."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.released = threading.Event()

    def respond(self, request: BaseHTTPRequestHandler) -> None:
        self.asked.set()
        request.send_response(200)
        request.send_header("Content-Type", "application/dicom+json")
        request.send_header("Content-Length", "100000")
        request.end_headers()
        while not self.released.is_set():
            try:
                request.wfile.write(b"[")
                request.wfile.flush()
            except OSError:
                return
            self.released.wait(DRIP_SECONDS)
        # Released: the answer ends short of its length, and the import fails at once.


def serve_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "test-only-secret",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "TWEEZERS_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TWEEZERS_EMBEDDING_DIR": str(settings.TWEEZERS_EMBEDDING_DIR),
        "TWEEZERS_ARTIFACT_DIR": str(settings.TWEEZERS_ARTIFACT_DIR),
        "PORT": str(port),
        # Empty, as an env file's bare `WEB_CONCURRENCY=` leaves it: the default (a worker per
        # core), not gunicorn's traceback at import.
        "WEB_CONCURRENCY": "",
        **extra,
    }
    # Unset, so only run-serve can give its retrain worker the one-thread limit.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    return env


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_run_serve_runs_a_retrain_while_a_dripping_pacs_holds_an_import(tmp_path: Path, settings):
    port = free_port()
    pacs = DrippingPacs()
    with loopback_http(pacs.respond) as pacs_port:
        root = f"http://127.0.0.1:{pacs_port}/dicom-web"
        settings.TWEEZERS_PACS_URLS = [root]
        env = serve_env(tmp_path, port, TWEEZERS_PACS_URLS=root)
        server = start([str(REPO / "scripts" / "run-serve")], env=env, log_path=tmp_path / "log")
        try:
            health = f"http://127.0.0.1:{port}/healthz"
            wait_until(lambda: _ok(health), timeout=90, what="gunicorn to answer")
            answer = requests.get(health, timeout=5).json()
            assert (answer["status"], answer["database"]) == ("ok", "postgresql")
            # The beat may not have written its heartbeat yet: "unknown" until its first tick.
            assert answer["beat"] in ("unknown", "ok")

            # Project A imports from a PACS that drips its answer (it would for the request's
            # whole time limit, TWEEZERS_PACS_REQUEST_SECONDS, 300 s by default)...
            slow = ProjectFactory(kind="image", classes=["CT", "MR"])
            job = services.pacs_import_job_create(
                project=slow, created_by=None, query=PacsQuery(url=root, limit=5)
            )
            wait_until(pacs.asked.is_set, timeout=90, what="a worker to ask the dripping PACS")
            # ... while project B's first round is queued: its retrain must not wait for A's
            # import to end.
            project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=6)
            services.items_import_stream(project=project, name="s.zip", stream=shades_zip(6))
            run = ModelRun.objects.get(project=project)
            wait_until(
                lambda: ModelRun.objects.get(pk=run.pk).status == ModelRun.Status.SUCCEEDED,
                timeout=120,
                what="B's retrain while A's import from the dripping PACS is in flight",
            )
            job.refresh_from_db()
            assert job.status == ImportJob.Status.RUNNING and not pacs.released.is_set()
            # Each of its workers reports its queues on /healthz, the imports worker while its
            # only import is held by the PACS.
            answer = requests.get(health, timeout=5)
            assert answer.status_code == 200, answer.text
            queues = answer.json()["queues"]
            assert {queue: state["worker"] for queue, state in queues.items()} == {
                "default": "ok",
                "embedding": "ok",
                "imports": "ok",
                "training": "ok",
            }

            # The processes: a retrain worker of two processes (its pool process runs the
            # numeric libraries on one thread), an imports worker, and the beat scheduler, a
            # process of its own.
            children = {pid: _cmdline(pid) for pid in _children(server.pid)}
            trainer = [pid for pid, line in children.items() if b"-Q default,training " in line]
            assert len(trainer) == 1, children
            pool = _children(trainer[0])
            assert len(pool) == 1, [_cmdline(pid) for pid in pool]
            environ = Path(f"/proc/{pool[0]}/environ").read_bytes().split(b"\0")
            assert b"OMP_NUM_THREADS=1" in environ and b"OPENBLAS_NUM_THREADS=1" in environ
            assert sum(b"-Q imports " in line for line in children.values()) == 1, children
            assert sum(b"config.beat beat " in line for line in children.values()) == 1, children
        except AssertionError:
            print((tmp_path / "log").read_text()[-4000:])
            raise
        finally:
            # The PACS ends its answer, so the import fails and its worker is free to stop.
            pacs.released.set()
            # A TERM to the script alone (as a process supervisor sends it) must stop gunicorn,
            # the workers and the beat with it, and is a clean stop.
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            finally:
                leftover = _leftover(tmp_path)
                stop(server)
    assert server.returncode == 0, (tmp_path / "log").read_text()[-4000:]
    assert not leftover, leftover
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_run_serve_stops_and_exits_non_zero_when_its_beat_scheduler_ends(tmp_path: Path):
    # Its supervisor (systemd's Restart=on-failure) then restarts the service: a beat that
    # stopped sending the sweeps is never left unnoticed while the web answers.
    port = free_port()
    server = start(
        [str(REPO / "scripts" / "run-serve")],
        env=serve_env(tmp_path, port, EMBEDDING_WORKER="0"),
        log_path=tmp_path / "log",
    )
    try:
        health = f"http://127.0.0.1:{port}/healthz"
        wait_until(lambda: _ok(health), timeout=90, what="gunicorn to answer")
        beat = [pid for pid in _children(server.pid) if b"config.beat beat " in _cmdline(pid)]
        assert len(beat) == 1, [_cmdline(pid) for pid in _children(server.pid)]

        # A TERM, the gentlest end: the beat exits 0, which is still a failure of the service.
        os.kill(beat[0], signal.SIGTERM)
        server.wait(timeout=60)

        assert server.returncode != 0
        assert "the beat scheduler" in (tmp_path / "log").read_text()
    except (AssertionError, subprocess.TimeoutExpired):
        print((tmp_path / "log").read_text()[-4000:])
        raise
    finally:
        leftover = _leftover(tmp_path)
        stop(server)
    assert not leftover, leftover


@pytest.mark.django_db(transaction=True)
def test_the_web_process_serves_a_labeling_session_without_loading_torch(settings):
    # torch and the language model cost a web process 600 MiB: they belong to the embedding
    # worker alone (the web answers from precomputed queues and shards).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    team = team_for("text", ("spam", "ham"))
    # The page and the API client are two tabs: each holds items of its own.
    round_add(team.project, [item_add(team.project, text=f"message {n}") for n in range(12)])
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "test-only-secret",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DJANGO_SECURE_COOKIES": "0",
    }
    ids = [str(team.project.pk), str(team.manager.pk), str(team.annotator.pk)]
    completed = subprocess.run(
        [sys.executable, "-c", _WEB_PROBE, *ids],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])

    assert set(found["statuses"].values()) <= {200, 201}, found["statuses"]
    assert found["loaded"] == []


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def _leftover(tmp_path: Path) -> list[str]:
    """run-serve's processes still alive: every one of them has its var folder in its
    environment (TWEEZERS_VAR_DIR)."""
    marker = b"TWEEZERS_VAR_DIR=" + str(tmp_path / "var").encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes():
                found.append(f"{entry.name} {_cmdline(int(entry.name)).decode(errors='replace')}")
        except OSError:
            continue
    return found


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False
