"""``/healthz`` tells a stale beat scheduler: the beat's own task writes a heartbeat each sweep
period; a heartbeat older than ``TWEEZERS_BEAT_STALE_SECONDS`` is a 503 naming the beat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from labeler import tasks
from labeler.models import Heartbeat


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
