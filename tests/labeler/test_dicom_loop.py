"""The loop on a DICOM project through the REST API: the first round served, labeled by an
annotator's client, the retrain on those labels, and the next round chosen by the model."""

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from labeler import services
from labeler.models import Item, Membership, ModelRun, QueryRound
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import membership_add
from tests.labeler.dicom_data import sample_files, samples_zip
from tests.loop_steps import run_queued

MODALITIES = ["CT", "MR", "US", "CR", "NM", "OT", "SEG"]


def label_round_through_the_api(client: APIClient, project, *, limit: int) -> int:
    """Answer up to ``limit`` items as the annotator's client would. The queue keeps serving
    past a round (its reserve, then exploration), so a round is bounded by the caller."""
    answered = 0
    while answered < limit:
        body = client.get(f"/api/projects/{project.pk}/next/").json()
        if body["state"] != "ready":
            return answered
        item = body["item"]
        # The annotator looks at the image; the test's oracle is the file's own modality.
        assert client.get(item["image_url"]).status_code == 200
        truth = Item.objects.get(pk=item["id"]).metadata["dicom"]["modality"]
        response = client.post(
            f"/api/projects/{project.pk}/annotations/",
            {"item": item["id"], "label": truth},
            format="json",
        )
        assert response.status_code == 201, response.content
        answered += 1
    return answered


@pytest.mark.slow
@pytest.mark.django_db
def test_label_retrain_and_next_round_on_a_dicom_project_through_the_api(tmp_path: Path):
    manager, annotator = UserFactory(), UserFactory()
    # Every sample, the ultrasounds with their burned-in text too (see test_dicom_pixel_text).
    project = ProjectFactory(
        kind="image",
        classes=MODALITIES,
        created_by=manager,
        round_size=12,
        dicom_allow_burned_in=True,
    )
    membership_add(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    archive = samples_zip(tmp_path / "samples.zip")
    with archive.open("rb") as stream:
        services.items_import_stream(project=project, name="samples.zip", stream=stream)
    assert Item.objects.filter(project=project).count() == len(sample_files()) - 1
    client = APIClient()
    client.force_authenticate(annotator)

    cold = run_queued(project)
    first = label_round_through_the_api(client, project, limit=12)
    trained = run_queued(project)
    second = label_round_through_the_api(client, project, limit=12)
    retrained = run_queued(project)

    assert cold.status == trained.status == retrained.status == ModelRun.Status.SUCCEEDED
    assert first >= 12 and second >= 1
    assert trained.artifact_path and trained.n_labels >= 6
    assert retrained.n_labels > trained.n_labels
    rounds = list(QueryRound.objects.filter(project=project).order_by("number"))
    assert rounds[0].strategy == "cold_start" and rounds[1].model_run_id == trained.pk
