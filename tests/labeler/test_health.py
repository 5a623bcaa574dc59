"""``/healthz`` tells a stale beat scheduler: the beat writes a heartbeat each sweep period, in
its own loop (config/beat_scheduler.py); a heartbeat older than ``TWEEZERS_BEAT_STALE_SECONDS``
is a 503 naming the beat. The heartbeat needs no worker, so a long retrain holding the only
retrain worker cannot make a live beat look dead. The beat is a process of its own: killing it
shows on /healthz until a new one runs."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from config import heartbeat
from config.beat_scheduler import HeartbeatScheduler
from config.heartbeat import heartbeat_write, worker_heartbeat_names
from labeler import selectors_health
from labeler.models import Heartbeat
from tests.processes import (
    celery_beat_command,
    free_port,
    start,
    stop,
    wait_until,
    worker_database_url,
)


@pytest.mark.django_db
def test_healthz_is_ok_before_any_beat_and_while_the_beat_is_fresh():
    unknown = {"worker": "unknown"}
    assert Client().get("/healthz").json() == {
        "status": "ok",
        "database": "postgresql",
        "beat": "unknown",
        "queues": {
            "default": unknown,
            "embedding": unknown,
            "imports": unknown,
            "training": unknown,
        },
        "broker": "ok",
    }

    heartbeat_write(names=["beat"])  # what the scheduler writes each sweep period

    answer = Client().get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["beat"] == "ok" and answer.json()["beat_seconds_ago"] <= 1


@pytest.mark.django_db
def test_a_beat_silent_past_the_limit_makes_healthz_a_503_naming_it(settings):
    settings.TWEEZERS_BEAT_STALE_SECONDS = 300
    heartbeat_write(names=["beat"])
    Heartbeat.objects.filter(name="beat").update(at=timezone.now() - timedelta(seconds=301))

    answer = Client().get("/healthz")

    assert answer.status_code == 503
    assert answer.json()["status"] == "unhealthy" and answer.json()["beat"] == "stale"
    assert answer.json()["beat_seconds_ago"] >= 301 and answer.json()["down"] == ["beat"]


def test_every_beat_writes_the_heartbeat_itself_rather_than_sending_it_to_a_queue():
    # Both the beat process (config.beat) and a worker's -B read CELERY_BEAT_SCHEDULER.
    module, name = settings.CELERY_BEAT_SCHEDULER.split(":")
    assert (module, name) == (HeartbeatScheduler.__module__, HeartbeatScheduler.__name__)
    assert not [e for e in settings.CELERY_BEAT_SCHEDULE.values() if "heartbeat" in e["task"]]
    assert settings.TWEEZERS_BEAT_STALE_SECONDS > settings.TWEEZERS_SWEEP_SECONDS


@pytest.mark.django_db
def test_a_database_away_for_a_while_never_ends_the_beat(monkeypatch, tmp_path: Path):
    def unreachable(*, names: list[str]) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(heartbeat, "heartbeat_write", unreachable)
    scheduler = HeartbeatScheduler(
        app=current_app, lazy=True, schedule_filename=str(tmp_path / "s")
    )

    scheduler.heartbeat_beat()  # logged, not raised: the sweeps go on

    assert scheduler.heartbeat_due > time.monotonic()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_beat_alone_keeps_healthz_ok_and_killing_it_shows_until_a_new_one_runs(
    tmp_path: Path, settings
):
    # As compose runs it: the beat a process (a service) of its own, which its restart policy
    # starts again. No worker at all: the heartbeat must not wait for one (a retrain worker
    # of concurrency 1 busy with a long retrain is, for a queued task, the same as none).
    settings.TWEEZERS_BEAT_STALE_SECONDS = 4
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TWEEZERS_VAR_DIR": str(tmp_path / "var"),
        "TWEEZERS_SWEEP_SECONDS": "0.5",
    }
    schedule = tmp_path / "beat-schedule"
    beat = start(celery_beat_command(schedule), env=env, log_path=tmp_path / "beat.log")
    try:
        wait_until(lambda: _beat() == (200, "ok"), timeout=90, what="the beat's heartbeat")
        # Still written past the stale limit after the first: it keeps beating without a worker.
        first = _heartbeat_at()
        later = first + timedelta(seconds=settings.TWEEZERS_BEAT_STALE_SECONDS)
        wait_until(lambda: _heartbeat_at() > later, timeout=60, what="a later heartbeat")

        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait()
        wait_until(lambda: _beat() == (503, "stale"), timeout=30, what="/healthz to say stale")

        beat = start(celery_beat_command(schedule), env=env, log_path=tmp_path / "beat.log")
        wait_until(lambda: _beat() == (200, "ok"), timeout=90, what="the new beat's heartbeat")
    except AssertionError:
        print((tmp_path / "beat.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        stop(beat)


def _beat() -> tuple[int, str]:
    answer = Client().get("/healthz")
    return answer.status_code, answer.json()["beat"]


def _heartbeat_at():
    return Heartbeat.objects.get(name="beat").at


@pytest.mark.django_db
def test_a_queue_whose_workers_went_quiet_makes_healthz_a_503_naming_it(settings):
    settings.TWEEZERS_WORKER_STALE_SECONDS = 300
    heartbeat_write(names=["beat"])
    heartbeat_write(names=worker_heartbeat_names(["default", "training", "imports"]))
    Heartbeat.objects.filter(name="worker:training").update(
        at=timezone.now() - timedelta(seconds=301)
    )

    answer = Client().get("/healthz")

    assert answer.status_code == 503
    body = answer.json()
    assert (body["status"], body["down"]) == ("unhealthy", ["queue training"])
    assert body["queues"]["training"]["worker"] == "stale"
    assert body["queues"]["training"]["seconds_ago"] >= 301
    assert body["queues"]["default"]["worker"] == "ok"
    # Never served here (a GPU machine's worker that has not started): not a failure.
    assert body["queues"]["embedding"] == {"worker": "unknown"}


@pytest.mark.django_db
def test_a_broker_that_refuses_is_degraded_not_a_503_and_its_address_is_never_shown(settings):
    # A closed port, not the shared Redis stopped: nothing listens there.
    settings.CELERY_BROKER_URL = f"redis://:s3cret-password@127.0.0.1:{free_port()}/0"
    settings.TWEEZERS_WORKER_STALE_SECONDS = 300
    heartbeat_write(names=["beat"])
    heartbeat_write(names=["worker:training"])
    # While the broker is away the workers wait in their reconnection loops and write
    # nothing: stale, but a restart of Tweezers would not bring Redis back.
    Heartbeat.objects.filter(name="worker:training").update(
        at=timezone.now() - timedelta(seconds=301)
    )

    started = time.monotonic()
    answer = Client().get("/healthz")

    assert time.monotonic() - started < 3
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["broker"], body["beat"]) == ("degraded", "unreachable", "ok")
    assert body["down"] == ["broker", "queue training"]
    assert b"s3cret" not in answer.content and b"127.0.0.1" not in answer.content

    # The beat does not wait for the broker (its sends fail fast): silent, it is a 503 still.
    settings.TWEEZERS_BEAT_STALE_SECONDS = 300
    Heartbeat.objects.filter(name="beat").update(at=timezone.now() - timedelta(seconds=301))
    answer = Client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["down"] == ["broker", "beat", "queue training"]


@pytest.mark.django_db
def test_the_demos_filesystem_broker_is_reachable_while_its_folder_can_be_written(
    settings, tmp_path: Path
):
    settings.CELERY_BROKER_URL = "filesystem://localhost//"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "broker" / "q")}
    assert Client().get("/healthz").json()["broker"] == "ok"  # its workers create the folder

    (tmp_path / "file").write_text("")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "file" / "q")}
    answer = Client().get("/healthz")
    assert (answer.status_code, answer.json()["broker"]) == (200, "unreachable")


@pytest.mark.django_db
def test_a_database_that_does_not_answer_is_a_503_in_json(monkeypatch):
    def refused(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors_health.connection, "cursor", refused)

    answer = Client().get("/healthz")

    assert answer.status_code == 503
    assert answer.json() == {"status": "unhealthy", "database": "unreachable", "down": ["database"]}
