"""Each Celery worker writes a heartbeat per queue it consumes from, from its main process
(config/heartbeat.py), and ``/healthz`` reports each queue's: a hung (stopped) or killed
worker turns its queues stale and /healthz a 503 naming them; a worker busy for longer than the
stale limit with one long task (prefork: the task runs in a pool process) stays fresh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from labeler import services
from labeler.dicom.dicomweb import PacsQuery
from labeler.models import Heartbeat, ImportJob
from tests.factories import ProjectFactory
from tests.labeler.test_serve import DrippingPacs
from tests.processes import (
    REPO,
    celery_beat_command,
    celery_worker_command,
    free_port,
    loopback_http,
    start,
    start_redis,
    stop,
    wait_until,
    worker_database_url,
)


def _worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "TWEEZERS_VAR_DIR": str(tmp_path / "var"),
        # A heartbeat each half second: the test waits seconds, not minutes.
        "TWEEZERS_SWEEP_SECONDS": "0.5",
        **extra,
    }


def _health() -> tuple[int, dict]:
    answer = Client().get("/healthz")
    return answer.status_code, answer.json()


def _queue(name: str) -> str:
    return _health()[1]["queues"][name]["worker"]


def _container_check(tmp_path: Path, *names: str) -> subprocess.CompletedProcess:
    env = _worker_env(tmp_path, TWEEZERS_WORKER_STALE_SECONDS="3")
    command = [sys.executable, "-m", "config.healthcheck", *names]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def _heartbeat_at(process: str):
    """When ``beat`` or a queue's worker last wrote."""
    name = process if process == "beat" else f"worker:{process}"
    return Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_a_hung_or_killed_worker_turns_its_queue_stale_and_healthz_a_503_naming_it(
    tmp_path: Path, settings, broker: str
):
    # Redis: the heartbeat is a timer of the worker's event loop. The demo's filesystem
    # broker has none: Celery's timer thread writes it.
    settings.TWEEZERS_WORKER_STALE_SECONDS = 3
    log = tmp_path / "worker.log"
    url = django_settings.CELERY_BROKER_URL if broker == "redis" else ""
    worker = start(
        celery_worker_command(pool="prefork", queues="default,training"),
        env=_worker_env(tmp_path, CELERY_BROKER_URL=url),
        log_path=log,
    )
    try:
        wait_until(lambda: _queue("training") == "ok", timeout=120, what="the worker's heartbeat")
        status, body = _health()
        assert (status, body["status"], body["broker"]) == (200, "ok", "ok")
        assert body["queues"]["default"]["worker"] == "ok"
        assert body["queues"]["imports"] == {"worker": "unknown"}  # no worker ever served it
        # The worker container's own check (docker-compose.yml) agrees.
        assert _container_check(tmp_path, "worker:default", "worker:training").returncode == 0

        # Hung: its main process stopped (as a deadlock or a swapping machine would hold it).
        os.kill(worker.pid, signal.SIGSTOP)
        wait_until(lambda: _health()[0] == 503, timeout=30, what="/healthz to see it hang")
        os.kill(worker.pid, signal.SIGCONT)
        wait_until(lambda: _health()[0] == 200, timeout=30, what="the worker to beat again")

        os.killpg(worker.pid, signal.SIGKILL)  # as the OOM killer would: no goodbye
        worker.wait()
        both = ["queue default", "queue training"]
        wait_until(lambda: _health()[1].get("down") == both, timeout=30, what="both stale")
        status, body = _health()
        assert (status, body["status"]) == (503, "unhealthy")
        assert body["queues"]["training"]["worker"] == "stale"
        check = _container_check(tmp_path, "worker:default", "worker:training")
        assert check.returncode == 1 and "worker:training: silent for" in check.stderr
        missing = _container_check(tmp_path, "worker:imports")
        assert missing.returncode == 1 and "no heartbeat yet" in missing.stderr
    except AssertionError:
        print(log.read_text(errors="replace")[-3000:])
        raise
    finally:
        stop(worker)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_busy_with_one_long_task_keeps_its_queue_fresh(tmp_path: Path, settings):
    # A PACS that drips its answer holds the imports worker's only pool process for as long
    # as the test wants; the worker's main process goes on writing its heartbeat.
    settings.TWEEZERS_WORKER_STALE_SECONDS = 3
    pacs = DrippingPacs()
    log = tmp_path / "worker.log"
    with loopback_http(pacs.respond) as pacs_port:
        root = f"http://127.0.0.1:{pacs_port}/dicom-web"
        settings.TWEEZERS_PACS_URLS = [root]
        worker = start(
            celery_worker_command(pool="prefork", queues="imports"),
            env=_worker_env(tmp_path, TWEEZERS_PACS_URLS=root),
            log_path=log,
        )
        job = None
        try:
            project = ProjectFactory(kind="image", classes=["CT", "MR"])
            job = services.pacs_import_job_create(
                project=project, created_by=None, query=PacsQuery(url=root, limit=5)
            )
            wait_until(pacs.asked.is_set, timeout=120, what="the worker to ask the PACS")
            busy_since = _heartbeat_at("imports")
            past_the_limit = busy_since + timedelta(seconds=2 * 3)
            wait_until(
                lambda: _heartbeat_at("imports") > past_the_limit,
                timeout=60,
                what="a heartbeat written twice the stale limit into the long task",
            )

            status, body = _health()
            assert (status, body["queues"]["imports"]["worker"]) == (200, "ok")
            job.refresh_from_db()
            assert job.status == ImportJob.Status.RUNNING and not pacs.released.is_set()
        except AssertionError:
            print(log.read_text(errors="replace")[-3000:])
            raise
        finally:
            # The PACS ends its answer and the import fails: its message is acknowledged, not
            # left in the broker for the next test's worker.
            pacs.released.set()
            try:
                if job is not None:
                    wait_until(
                        lambda: ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.FAILED,
                        timeout=60,
                        what="the import to fail once the PACS ends its answer",
                    )
            finally:
                stop(worker)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_broker_gone_away_is_degraded_not_a_503_and_the_worker_beats_again_when_it_returns(
    tmp_path: Path, settings
):
    # A Redis of the test's own, so stopping it disturbs nobody else's. The beat beside the
    # worker: it does not wait for the broker, the worker does.
    port = free_port()
    redis = start_redis(port, tmp_path / "redis.log")
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    settings.TWEEZERS_WORKER_STALE_SECONDS = 3
    settings.TWEEZERS_BEAT_STALE_SECONDS = 3
    log = tmp_path / "worker.log"
    env = _worker_env(tmp_path, CELERY_BROKER_URL=settings.CELERY_BROKER_URL)
    worker = start(celery_worker_command(pool="prefork", queues="training"), env=env, log_path=log)
    beat = start(celery_beat_command(tmp_path / "schedule"), env=env, log_path=log)
    try:
        wait_until(lambda: _queue("training") == "ok", timeout=120, what="the worker's heartbeat")
        wait_until(lambda: _health()[1]["beat"] == "ok", timeout=120, what="the beat's heartbeat")

        stop(redis)
        wait_until(lambda: _health()[1]["broker"] == "unreachable", timeout=30, what="no broker")
        status, body = _health()
        assert (status, body["status"], body["down"][0]) == (200, "degraded", "broker")
        # However long the broker stays away, the worker's silence is not made a 503.
        wait_until(lambda: _queue("training") == "stale", timeout=60, what="the worker to wait")
        status, body = _health()
        assert (status, body["down"]) == (200, ["broker", "queue training"])
        # The beat's sends fail fast (CELERY_TASK_PUBLISH_RETRY_POLICY) and its loop goes on:
        # it writes past its stale limit into the outage, so a beat silent then is a 503.
        past_the_limit = timezone.now() + timedelta(seconds=3)
        wait_until(lambda: _heartbeat_at("beat") > past_the_limit, timeout=60, what="the beat")

        redis = start_redis(port, tmp_path / "redis.log")
        wait_until(
            lambda: _health()[0] == 200 and _health()[1]["status"] == "ok",
            timeout=90,
            what="the worker to reconnect and write its heartbeat again",
        )
    except AssertionError:
        print(log.read_text(errors="replace")[-3000:])
        raise
    finally:
        stop(beat)
        stop(worker)
        stop(redis)
