"""A team's own image encoder as an ONNX file serves a project (issue 24, item 4): the
feature store embeds the pool with it, the loop trains and chooses on its rows, and the
annotator is served the model's picks."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from labeler import services
from labeler.models import FeatureSet, ModelRun, QueueEntry
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import label_open_entries, run_queued
from tests.onnx_models import ENCODER_DIM, tiny_encoder_onnx


@pytest.fixture
def encoder_path(tmp_path, settings):
    path = tmp_path / "team-encoder.onnx"
    tiny_encoder_onnx(path, size=(16, 16))
    settings.TWEEZERS_IMAGE_ENCODER_ONNX = str(path)
    return path


@pytest.mark.django_db
def test_a_project_labels_on_the_teams_onnx_encoder(encoder_path):
    manager = UserFactory()
    project = ProjectFactory(
        kind="image",
        classes=["dark", "light"],
        created_by=manager,
        round_size=10,
        features="onnx_encoder",
    )
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(20))
    run_queued(project)
    label_open_entries(project, manager, 10)

    run = run_queued(project)

    features = FeatureSet.objects.get(project=project, status=FeatureSet.Status.READY)
    assert (features.representation, features.dimension) == ("onnx_encoder", ENCODER_DIM)
    assert features.processed == 40
    assert run.status == ModelRun.Status.SUCCEEDED and run.artifact_path, run.error
    assert run.feature_set_id == features.pk
    assert run.metrics["representation"] == "onnx_encoder"
    served = services.next_item_lease(project=project, annotator=manager)
    assert served.state == "ready"
    assert QueueEntry.objects.filter(round__model_run=run, item=served.entry.item).exists()


def test_without_the_file_configured_a_project_cannot_choose_it(db, settings):
    settings.TWEEZERS_IMAGE_ENCODER_ONNX = ""
    manager = UserFactory()
    manager.user_permissions.add(Permission.objects.get(codename="add_project"))
    client = APIClient()
    client.force_authenticate(manager)

    response = client.post(
        "/api/projects/",
        {"name": "X", "kind": "image", "classes": ["a", "b"], "features": "onnx_encoder"},
        format="json",
    )

    assert response.status_code == 400
    assert "image_encoder_onnx" in response.json()["error"]["fields"]["features"][0]
