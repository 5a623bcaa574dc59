"""A real Celery worker process consumes a task from Redis and writes to the test database."""

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from labeler import services
from labeler.models import ImportJob, Item
from tests.factories import ProjectFactory
from tests.processes import worker_database_url

REPO = Path(__file__).resolve().parents[2]
JOB_TIMEOUT_SECONDS = 30


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path: Path) -> Iterator[Path]:
    """A worker in its own process group, stopped after the test whatever its outcome.
    Yields the path of its log."""
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail(
            "the worker test runs on PostgreSQL and Redis: set DATABASE_URL and "
            "CELERY_BROKER_URL (make test does)"
        )
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TWEEZERS_VAR_DIR": str(tmp_path / "worker-var"),
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "default,training,imports",
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield log_path
    finally:
        # The worker holds a connection to the test database, which pytest-django drops at
        # the end of the session: stop it here. A warm shutdown first finishes and acknowledges
        # the task in hand (the retrain the import queued), so no half-done message is left in
        # Redis for another session's worker to receive; kill it only if that hangs.
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_process_runs_an_import_job_queued_through_redis(celery_worker_process: Path, user):
    # The import queues a retrain, which this worker also runs before it shuts down: TF-IDF
    # features keep that quick (MiniLM would load a transformer first).
    text_project = ProjectFactory(
        kind="text", classes=["spam", "ham"], created_by=user, features="tfidf"
    )
    csv_bytes = (
        b"text,label\n"
        b"Win a free cruise now,spam\n"
        b"Lunch at noon tomorrow?,ham\n"
        b"Win a free cruise now,spam\n"
        b"Quarterly report attached,invoice\n"
    )

    job = services.import_job_create(
        project=text_project, created_by=user, name="mail.csv", stream=io.BytesIO(csv_bytes)
    )

    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED):
            break
        time.sleep(0.2)
    log_tail = celery_worker_process.read_text(errors="replace")[-3000:]
    assert job.status == ImportJob.Status.SUCCEEDED, f"job {job.status}; worker log:\n{log_tail}"
    assert (job.imported, job.duplicates) == (2, 1)
    assert [r["name"] for r in job.rejected] == ["mail.csv line 5"]
    assert "unknown label 'invoice'" in job.rejected[0]["reason"]
    assert set(Item.objects.filter(project=text_project).values_list("text", flat=True)) == {
        "Win a free cruise now",
        "Lunch at noon tomorrow?",
    }
    assert not Path(job.upload_path).exists()
