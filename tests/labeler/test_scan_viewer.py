"""Scan items in the viewer and the loop (issue 22): a slice of any series renders as a
cached PNG for members only, with reasons for bad requests; a retrain of a series or study
project trains on the slices pooled per scan and keeps the evidence slices the viewer marks;
an instance project's retrain is as before."""

import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from labeler import services
from labeler.models import Item, ModelRun, Project
from labeler.selectors_scans import scan_series
from tests.factories import UserFactory
from tests.labeler.scan_data import mr_series, zipped
from tests.loop_steps import run_queued


def scan_project(manager, unit: str = "series") -> Project:
    return services.project_create(
        name="Brain MRI", kind=Project.Kind.IMAGE, unit=unit,
        classes=["parkinson", "normal"], created_by=manager, round_size=4,
    )  # fmt: skip


def import_series(project: Project, count: int, *, prefix: str = "", labeled: bool = False):
    for number in range(count):
        folder = ("parkinson/" if number % 2 else "normal/") if labeled else ""
        instances = mr_series(series_number=number + 1, count=6 + number % 3, prefix=prefix)
        services.items_import_stream(
            project=project, name=f"{prefix}{number}.zip", stream=zipped(instances, folder=folder)
        )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_a_slice_of_a_series_renders_cached_for_members_and_bad_requests_say_why():
    manager, outsider = UserFactory(), UserFactory()
    project = scan_project(manager)
    import_series(project, 1)
    item = Item.objects.get(project=project)
    client = logged_in(manager)
    info = client.get(reverse("item-scan", args=[item.pk])).json()
    assert info["scan"] is True
    assert [s["slices"] for s in info["series"]] == [6] and info["series"][0]["evidence"] == []
    url = reverse("item-scan-slice", args=[item.pk])

    first = client.get(url, {"series": 0, "index": 5, "preset": "brain"})
    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    assert first.content.startswith(b"\x89PNG") and "private" in first["Cache-Control"]
    cached = f"renditions/{project.pk}/{item.pk}/s{scan_series(item)[0].pk}-5-brain-0.png"
    assert default_storage.exists(cached)
    assert client.get(url, {"series": 0, "index": 5, "preset": "brain"}).content == first.content
    # Another slice is another image; a dragged window is rendered, not kept.
    assert client.get(url, {"series": 0, "index": 0, "preset": "brain"}).content != first.content
    assert client.get(url, {"series": 0, "index": 1, "wc": "300", "ww": "600"}).status_code == 200
    assert not default_storage.exists(cached.replace("-5-brain", "-1-"))

    for params, reason in [
        ({"series": 0, "index": 6}, "index must be between 0 and 5"),
        ({"series": 1, "index": 0}, "series"),
        ({"series": "a", "index": 0}, "series must be a whole number"),
        ({"series": 0, "index": 0, "preset": "x"}, "unknown preset"),
    ]:
        response = client.get(url, params)
        assert response.status_code == 400 and reason in response.content.decode(), params
    assert logged_in(outsider).get(url, {"index": 0}).status_code == 404
    assert logged_in(outsider).get(reverse("item-scan", args=[item.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_instance_projects_items_have_no_scan_view():
    manager = UserFactory()
    project = services.project_create(
        name="Slices", kind=Project.Kind.IMAGE, classes=["a", "b"], created_by=manager
    )
    instance = mr_series(count=1)[0]
    services.items_import_stream(project=project, name="one.dcm", stream=io.BytesIO(instance.data))
    item = Item.objects.get(project=project)
    client = logged_in(manager)
    assert client.get(reverse("item-scan", args=[item.pk])).status_code == 404
    assert client.get(reverse("item-dicom", args=[item.pk])).status_code == 200


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_series_projects_retrain_pools_the_slices_and_keeps_evidence_for_the_viewer():
    manager = UserFactory()
    project = scan_project(manager)
    import_series(project, 8, labeled=True)
    import_series(project, 6, prefix="u", labeled=False)
    run = run_queued(project)
    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    artifact = Path(run.artifact_path)
    item_ids = np.load(artifact / "scan_pool_item_ids.npy")
    pooled = np.load(artifact / "scan_pool.npy")
    assert len(item_ids) == Item.objects.filter(project=project).count() == len(pooled)
    assert run.metrics["scan_pooling"] in {"mean", "attention"}

    evidence = json.loads((artifact / "evidence.json").read_text())
    item = Item.objects.filter(project=project, label__isnull=True).first()
    series = scan_series(item)[0]
    marked = evidence[str(item.pk)][series.series_uid]
    assert len(marked) == 3 and all(0 <= i < series.n_slices for i in marked)
    info = logged_in(manager).get(reverse("item-scan", args=[item.pk])).json()
    assert info["series"][0]["evidence"] == marked

    # The run's guesses (evaluation entries use them) read the pooled rows it trained on.
    from labeler.engine import predict_items

    guesses = predict_items(run=run, item_ids=[item.pk])
    assert guesses[item.pk][0] in {"parkinson", "normal"}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_study_item_lists_its_series_by_description_with_their_own_slices():
    manager = UserFactory()
    project = scan_project(manager, unit="study")
    study_uid = pydicom.uid.generate_uid()
    t1 = mr_series(series_number=2, study_uid=study_uid, count=7, prefix="t1-")
    t2 = mr_series(series_number=5, study_uid=study_uid, count=4, prefix="t2-")
    services.items_import_stream(project=project, name="s.zip", stream=zipped([*t1, *t2]))
    item = Item.objects.get(project=project)
    client = logged_in(manager)
    info = client.get(reverse("item-scan", args=[item.pk])).json()
    assert [(s["description"], s["slices"]) for s in info["series"]] == [
        ("MR series 2", 7),
        ("MR series 5", 4),
    ]
    url = reverse("item-scan-slice", args=[item.pk])
    assert client.get(url, {"series": 1, "index": 3}).status_code == 200
    assert client.get(url, {"series": 1, "index": 4}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_a_series_projects_first_retrain_without_labels_serves_scans():
    manager = UserFactory()
    project = scan_project(manager)
    import_series(project, 4)
    run = run_queued(project)
    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    lease = services.next_item_lease(project=project, annotator=manager)
    assert lease.state == "ready" and lease.entry.item.project_id == project.pk
