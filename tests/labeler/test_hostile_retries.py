"""A transient error during a retrain (the database blinking) sends the run back to be
retried and does not count towards the back-off; a real failure does."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from labeler import services
from labeler.engine import training as engine_training
from labeler.models import ModelRun
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory

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
