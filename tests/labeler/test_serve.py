"""`make serve`'s script: gunicorn and a Celery worker against PostgreSQL and Redis."""

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests
from django.conf import settings

from labeler import services
from labeler.models import ModelRun
from tests.data import shades_zip
from tests.factories import ProjectFactory
from tests.processes import REPO, free_port, start, stop, wait_until, worker_database_url


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
    server = start([str(REPO / "scripts" / "run-serve")], env=env, log_path=tmp_path / "serve.log")
    try:
        health = f"http://127.0.0.1:{port}/healthz"
        wait_until(lambda: _ok(health), timeout=90, what="gunicorn to answer")
        assert requests.get(health, timeout=5).json() == {"status": "ok", "database": "postgresql"}

        project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=6)
        services.items_import_stream(project=project, name="s.zip", stream=shades_zip(6))
        run = ModelRun.objects.get(project=project)
        wait_until(
            lambda: ModelRun.objects.get(pk=run.pk).status == ModelRun.Status.SUCCEEDED,
            timeout=90,
            what="the served worker to run the first round",
        )
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


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False
