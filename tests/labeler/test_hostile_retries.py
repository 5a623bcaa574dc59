"""A transient error during a retrain (the database blinking) sends the run back to be
retried and does not count towards the back-off; a real failure does, and so does a run whose
worker dies on every attempt."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone

from labeler import services
from labeler.engine import training as engine_training
from labeler.models import ModelRun
from labeler.services import training
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import embed_pending

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_run():
    project = ProjectFactory(kind="image", classes=["dark", "light"], created_by=UserFactory())
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(6))
    return ModelRun.objects.get(project=project, status=ModelRun.Status.QUEUED)


def test_a_transient_error_puts_the_run_back_and_the_retry_succeeds(queued_run, monkeypatch):
    real = engine_training.serving_feature_set
    calls = []

    def blinking_database(project, *args, **kwargs):
        calls.append(project.pk)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(project, *args, **kwargs)

    monkeypatch.setattr(engine_training, "serving_feature_set", blinking_database)

    with pytest.raises(OperationalError):
        services.model_run_execute(run_id=queued_run.pk)
    queued_run.refresh_from_db()
    assert queued_run.status == ModelRun.Status.QUEUED and not queued_run.error

    services.model_run_execute(run_id=queued_run.pk)  # what the task's retry does
    queued_run.refresh_from_db()
    assert queued_run.status == ModelRun.Status.SUCCEEDED


def test_a_real_failure_fails_the_run_with_its_reason(queued_run, monkeypatch):
    def broken(project, *args, **kwargs):
        raise ValueError("features do not fit")

    monkeypatch.setattr(engine_training, "serving_feature_set", broken)

    with pytest.raises(ValueError):
        services.model_run_execute(run_id=queued_run.pk)
    queued_run.refresh_from_db()
    assert queued_run.status == ModelRun.Status.FAILED and "features do not fit" in queued_run.error


class WorkerKilled(BaseException):
    """Raised mid-run, it leaves the database as a SIGKILLed worker does: no handler of the
    run catches it, so the run stays 'running'."""


def killing_the_worker(monkeypatch) -> list[int]:
    deaths = []

    def killed(project, *args, **kwargs):
        deaths.append(project.pk)
        raise WorkerKilled

    monkeypatch.setattr(engine_training, "serving_feature_set", killed)
    return deaths


def test_a_run_whose_worker_dies_on_every_attempt_is_failed_not_redelivered_forever(
    queued_run, monkeypatch
):
    deaths = killing_the_worker(monkeypatch)
    for _ in range(training.MAX_RUN_ATTEMPTS):
        with pytest.raises(WorkerKilled):
            services.model_run_execute(run_id=queued_run.pk, task_id="message-1")
        # Another message for the run (a sweep's) leaves it to the one that claimed it.
        assert services.model_run_execute(run_id=queued_run.pk, task_id="message-2") is None
    queued_run.refresh_from_db()
    assert (queued_run.status, queued_run.attempts) == ("running", training.MAX_RUN_ATTEMPTS)

    # The next redelivery gives it up instead of dying again.
    assert services.model_run_execute(run_id=queued_run.pk, task_id="message-1") is None
    queued_run.refresh_from_db()
    assert queued_run.status == ModelRun.Status.FAILED and "worker was lost" in queued_run.error
    assert len(deaths) == training.MAX_RUN_ATTEMPTS
    # The project is not stuck behind it: the next request queues a new run.
    monkeypatch.undo()
    assert services.retrain_request(project=queued_run.project) is not None


def test_a_run_stuck_running_is_queued_again_by_the_sweep_until_its_last_attempt(
    queued_run, monkeypatch
):
    killing_the_worker(monkeypatch)
    long_ago = timezone.now() - training.RUN_STALE_AFTER - dt.timedelta(minutes=1)
    for attempt in range(1, training.MAX_RUN_ATTEMPTS + 1):
        with pytest.raises(WorkerKilled):
            services.model_run_execute(run_id=queued_run.pk, task_id=f"message-{attempt}")
        # Its worker died and the broker never redelivered it (the whole machine went away).
        ModelRun.objects.filter(pk=queued_run.pk).update(started_at=long_ago)
        services.stale_runs_enqueue()
        queued_run.refresh_from_db()
        expected = "queued" if attempt < training.MAX_RUN_ATTEMPTS else "failed"
        assert (queued_run.status, queued_run.attempts) == (expected, attempt)
    assert "still running" in queued_run.error


def test_features_ready_during_a_retrain_get_a_retrain_of_their_own(queued_run, monkeypatch):
    choose = engine_training.train_and_choose

    def features_finish_meanwhile(**kwargs):
        outcome = choose(**kwargs)  # a cold draw: no features were ready when it started
        embed_pending(queued_run.project)  # the embedding worker finishes; its request waits
        return outcome

    monkeypatch.setattr(training.engine, "train_and_choose", features_finish_meanwhile)
    services.model_run_execute(run_id=queued_run.pk)
    queued_run.refresh_from_db()
    assert queued_run.status == "succeeded" and queued_run.feature_set_id is None
    monkeypatch.undo()
    follow_up = ModelRun.objects.get(project=queued_run.project, status="queued")
    services.model_run_execute(run_id=follow_up.pk)
    follow_up.refresh_from_db()
    assert follow_up.feature_set_id is not None
    # Trained on the features it asked for: no further retrain is wanted.
    assert not ModelRun.objects.filter(project=queued_run.project, status="queued").exists()
