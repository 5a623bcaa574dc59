"""``/healthz`` tells a stale beat scheduler: the beat's own task writes a heartbeat each sweep
period; a heartbeat older than ``TWEEZERS_BEAT_STALE_SECONDS`` is a 503 naming the beat. The
beat is a process of its own: killing it shows on /healthz until a new one runs."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from labeler import tasks
from labeler.models import Heartbeat
from tests.processes import (
    celery_beat_command,
    celery_worker_command,
    start,
    stop,
    wait_until,
    worker_database_url,
)


@pytest.mark.django_db
def test_healthz_is_ok_before_any_beat_and_while_the_beat_is_fresh():
    assert Client().get("/healthz").json() == {
        "status": "ok",
        "database": "postgresql",
        "beat": "unknown",
    }

    tasks.beat_heartbeat()  # what the scheduler sends each sweep period

    answer = Client().get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["beat"] == "ok" and answer.json()["beat_seconds_ago"] <= 1


@pytest.mark.django_db
def test_a_beat_silent_past_the_limit_makes_healthz_a_503_naming_it(settings):
    settings.TWEEZERS_BEAT_STALE_SECONDS = 300
    tasks.beat_heartbeat()
    Heartbeat.objects.filter(name="beat").update(at=timezone.now() - timedelta(seconds=301))

    answer = Client().get("/healthz")

    assert answer.status_code == 503
    assert answer.json()["status"] == "degraded" and answer.json()["beat"] == "stale"
    assert answer.json()["beat_seconds_ago"] >= 301


def test_the_beat_schedule_sends_the_heartbeat_each_sweep_period():
    beat = settings.CELERY_BEAT_SCHEDULE["beat-heartbeat"]
    assert beat["task"] == tasks.beat_heartbeat.name
    assert beat["schedule"] == settings.TWEEZERS_SWEEP_SECONDS
    assert settings.TWEEZERS_BEAT_STALE_SECONDS > settings.TWEEZERS_SWEEP_SECONDS


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_killing_the_beat_process_makes_healthz_report_it_until_a_new_one_runs(
    tmp_path: Path, settings
):
    # As compose runs them: a worker, and the beat a process (a service) of its own, which
    # its restart policy starts again.
    settings.TWEEZERS_BEAT_STALE_SECONDS = 4
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TWEEZERS_VAR_DIR": str(tmp_path / "var"),
        "TWEEZERS_SWEEP_SECONDS": "0.5",
    }
    schedule = tmp_path / "beat-schedule"
    worker = start(celery_worker_command(queues="default"), env=env, log_path=tmp_path / "w.log")
    beat = start(celery_beat_command(schedule), env=env, log_path=tmp_path / "beat.log")
    try:
        wait_until(lambda: _beat() == (200, "ok"), timeout=90, what="the beat's heartbeat")

        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait()
        wait_until(lambda: _beat() == (503, "stale"), timeout=30, what="/healthz to say stale")

        beat = start(celery_beat_command(schedule), env=env, log_path=tmp_path / "beat.log")
        wait_until(lambda: _beat() == (200, "ok"), timeout=90, what="the new beat's heartbeat")
    except AssertionError:
        for log in ("w.log", "beat.log"):
            print((tmp_path / log).read_text(errors="replace")[-3000:])
        raise
    finally:
        stop(beat)
        stop(worker)


def _beat() -> tuple[int, str]:
    answer = Client().get("/healthz")
    return answer.status_code, answer.json()["beat"]
