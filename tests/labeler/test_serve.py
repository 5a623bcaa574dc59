"""`make serve`'s script: gunicorn and a Celery worker against PostgreSQL and Redis."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from labeler import services
from labeler.models import ModelRun
from tests.data import shades_zip
from tests.factories import ProjectFactory
from tests.labeler.api.conftest import team_for
from tests.labeler.api.factories import item_add, round_add
from tests.processes import REPO, free_port, start, stop, wait_until, worker_database_url

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


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_run_serve_answers_http_and_its_worker_runs_the_retrains(tmp_path: Path):
    port = free_port()
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
    }
    # Unset, so only run-serve can give its retrain worker the one-thread limit.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    server = start([str(REPO / "scripts" / "run-serve")], env=env, log_path=tmp_path / "serve.log")
    try:
        health = f"http://127.0.0.1:{port}/healthz"
        wait_until(lambda: _ok(health), timeout=90, what="gunicorn to answer")
        answer = requests.get(health, timeout=5).json()
        assert (answer["status"], answer["database"]) == ("ok", "postgresql")
        # The beat's heartbeat may not have run yet: "unknown" until its first sweep period.
        assert answer["beat"] in ("unknown", "ok")

        project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=6)
        services.items_import_stream(project=project, name="s.zip", stream=shades_zip(6))
        run = ModelRun.objects.get(project=project)
        wait_until(
            lambda: ModelRun.objects.get(pk=run.pk).status == ModelRun.Status.SUCCEEDED,
            timeout=90,
            what="the served worker to run the first round",
        )
        # The retrain worker is two processes (its beat is a thread, not a third process), and
        # its pool process runs the numeric libraries on one thread.
        trainer = [pid for pid in _children(server.pid) if b"default,training" in _cmdline(pid)]
        assert len(trainer) == 1, [_cmdline(pid) for pid in _children(server.pid)]
        pool = _children(trainer[0])
        assert len(pool) == 1, [_cmdline(pid) for pid in pool]
        environ = Path(f"/proc/{pool[0]}/environ").read_bytes().split(b"\0")
        assert b"OMP_NUM_THREADS=1" in environ and b"OPENBLAS_NUM_THREADS=1" in environ
    except AssertionError:
        print((tmp_path / "serve.log").read_text()[-4000:])
        raise
    finally:
        # A TERM to the script alone (as a process supervisor sends it) must stop gunicorn
        # and the worker with it.
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        finally:
            # gunicorn by its bind address, the worker by its beat schedule's folder.
            leftover = "".join(
                subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout
                for pattern in (f"127.0.0.1:{port}", str(tmp_path / "var"))
            )
            stop(server)
    assert not leftover.strip(), leftover


@pytest.mark.django_db(transaction=True)
def test_the_web_process_serves_a_labeling_session_without_loading_torch(settings):
    # torch and the language model cost a web process 600 MiB: they belong to the embedding
    # worker alone (the web answers from precomputed queues and shards).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    team = team_for("text", ("spam", "ham"))
    round_add(team.project, [item_add(team.project, text=f"message {n}") for n in range(3)])
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


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False
