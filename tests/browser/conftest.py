"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server,
with a real Celery worker process on Redis and the test database."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests import processes

OUTPUT_DIR = processes.REPO / "test-output"
WORKER_READY_SECONDS = 60


@pytest.fixture
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture
def celery_worker(transactional_db, settings, tmp_path: Path) -> Iterator[Path]:
    """A real worker on Redis and the test database, sharing this test's media, feature and
    artifact folders. Stopped after the test whatever its outcome; yields its log's path."""
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail(
            "browser tests need PostgreSQL and Redis: set DATABASE_URL and CELERY_BROKER_URL"
        )
    # Tasks left in the broker by earlier tests name rows that no longer exist or are no
    # longer queued: the tasks are idempotent and return at once, so nothing is purged (the
    # broker database may be shared with a concurrent test run).
    env = {
        **os.environ,
        "DATABASE_URL": processes.worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TWEEZERS_VAR_DIR": str(tmp_path / "worker-var"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TWEEZERS_UPLOAD_DIR": str(settings.TWEEZERS_UPLOAD_DIR),
        "TWEEZERS_ARTIFACT_DIR": str(settings.TWEEZERS_ARTIFACT_DIR),
        "TWEEZERS_EMBEDDING_DIR": str(settings.TWEEZERS_EMBEDDING_DIR),
    }
    log_path = tmp_path / "worker.log"
    worker = processes.start(processes.celery_worker_command(), env=env, log_path=log_path)
    try:
        processes.wait_until(
            lambda: b" ready." in log_path.read_bytes() or worker.poll() is not None,
            timeout=WORKER_READY_SECONDS,
            what="the Celery worker",
        )
        assert worker.poll() is None, log_path.read_text(errors="replace")[-3000:]
        yield log_path
    finally:
        processes.stop(worker)
