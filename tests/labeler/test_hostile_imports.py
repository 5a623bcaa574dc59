"""Imports always end in a report: large API uploads go through the background job, a job
that hits an unexpected error ends failed with the reason, and a sweep fails jobs whose
worker died. A text item with its own "width" column does not break the labeling page."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from labeler import services
from labeler.models import ImportJob, Item, Membership
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import membership_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return UserFactory(username="import-manager")


def upload(name: str, data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def test_a_large_api_upload_becomes_a_background_job_with_the_same_report(manager, settings):
    settings.TWEEZERS_SYNC_IMPORT_MAX_BYTES = 100
    project = ProjectFactory(kind="text", classes=("spam", "ham"), created_by=manager)
    client = APIClient()
    client.force_login(manager)
    rows = b"text,label\n" + b"".join(b"message %d,spam\n" % n for n in range(30))
    rows += b"bad\x00row,spam\n"

    accepted = client.post(f"/api/projects/{project.pk}/items/", {"file": upload("a.csv", rows)})

    assert accepted.status_code == 202
    job = ImportJob.objects.get(pk=accepted.json()["id"])
    assert job.status == "queued" and Item.objects.filter(project=project).count() == 0
    services.import_job_run(job_id=job.pk)
    report = client.get(accepted.json()["url"]).json()
    assert report["status"] == "succeeded" and report["imported"] == 30
    assert len(report["rejected"]) == 1 and "NUL" in report["rejected"][0]["reason"]


def test_an_import_job_that_hits_an_unexpected_error_ends_failed_with_the_reason(manager):
    project = ProjectFactory(kind="text", classes=("spam", "ham"), created_by=manager)
    job = services.import_job_create(
        project=project, created_by=manager, name="a.csv", stream=io.BytesIO(b"text\nhi\n")
    )
    Path(job.upload_path).unlink()  # the upload vanished (disk cleaned, another node)

    services.import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "failed" and "unexpected error" in job.error and job.finished_at


def test_the_sweep_fails_jobs_whose_worker_died_and_leaves_live_ones(manager, settings):
    project = ProjectFactory(kind="text", classes=("spam", "ham"), created_by=manager)
    dead = ImportJob.objects.create(
        project=project, source_name="old.csv", upload_path="x", status="running"
    )
    live = ImportJob.objects.create(
        project=project, source_name="new.csv", upload_path="y", status="running"
    )
    long_ago = timezone.now() - dt.timedelta(seconds=settings.TWEEZERS_IMPORT_STALE_SECONDS + 5)
    ImportJob.objects.filter(pk=dead.pk).update(created_at=long_ago)

    assert services.import_jobs_sweep() == 1

    dead.refresh_from_db()
    live.refresh_from_db()
    assert dead.status == "failed" and "worker stopped" in dead.error
    assert live.status == "running"


def test_a_text_items_width_column_cannot_break_the_labeling_page(manager):
    project = ProjectFactory(kind="text", classes=("spam", "ham"), created_by=manager)
    nurse = UserFactory()
    membership_add(project=project, user=nurse, role=Membership.Role.ANNOTATOR)
    csv = b"text,width,height\nhello there,wide,0\n"
    report = services.items_import_stream(project=project, name="w.csv", stream=io.BytesIO(csv))
    from labeler.models import QueryRound, QueueEntry

    item = Item.objects.get(project=project)
    query_round = QueryRound.objects.create(project=project, number=1, size=1)
    QueueEntry.objects.create(project=project, round=query_round, item=item, rank=0)
    browser = Client()
    browser.force_login(nurse)

    page = browser.get(reverse("label", args=[project.pk]))

    assert report.imported == 1
    assert item.metadata == {"column:width": "wide", "column:height": "0"}
    assert page.status_code == 200 and "hello there" in page.content.decode()
