"""The representation through the API: the registry's choices, a change that starts a new
feature version, and the embedding progress in the stats."""

import pytest

from labeler import services
from labeler.models import FeatureSet
from tests.data import shades_zip

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(image_team):
    services.items_import_stream(project=image_team.project, name="s.zip", stream=shades_zip(10))
    return image_team


def test_the_stats_show_the_features_being_embedded_with_progress(api, imported):
    body = api(imported.viewer).get(f"/api/projects/{imported.project.pk}/stats/").json()

    assert body["features"]["serving"] is None
    building = body["features"]["building"]
    assert building["representation"] == "spectral" and building["status"] == "pending"
    assert (building["processed"], building["total"], building["percent"]) == (0, 20, 0)
    assert body["features"]["eta_seconds"] is None


def test_a_manager_changes_the_representation_and_a_new_version_is_computed(api, imported):
    url = f"/api/projects/{imported.project.pk}/"

    response = api(imported.manager).patch(url, {"features": "pixels"}, format="json")

    assert response.status_code == 200 and response.json()["features"] == "pixels"
    pixels = FeatureSet.objects.get(project=imported.project, representation="pixels")
    assert pixels.version == 1 and pixels.status == "pending"


@pytest.mark.parametrize(
    ("features", "reason"),
    [("minilm", "represents texts, not images"), ("sift", "not a valid choice")],
)
def test_a_representation_that_does_not_apply_is_refused_with_the_reason(
    api, imported, features, reason
):
    url = f"/api/projects/{imported.project.pk}/"

    response = api(imported.manager).patch(url, {"features": features}, format="json")

    assert response.status_code == 400
    assert reason in str(response.json())
    imported.project.refresh_from_db()
    assert imported.project.features == "auto"
    assert not FeatureSet.objects.filter(project=imported.project, representation=features)


def test_an_annotator_cannot_change_the_representation(api, imported):
    url = f"/api/projects/{imported.project.pk}/"

    response = api(imported.annotator).patch(url, {"features": "pixels"}, format="json")

    assert response.status_code == 403
    assert not FeatureSet.objects.filter(project=imported.project, representation="pixels")


def test_the_dashboard_shows_the_embedding_then_the_features_serving(imported, client):
    from django.urls import reverse

    from tests.loop_steps import embed_pending

    client.force_login(imported.viewer)
    url = reverse("project-dashboard", args=[imported.project.pk])

    waiting = client.get(url).content.decode()
    assert 'id="feature-progress" data-status="pending"' in waiting
    assert "spectral (version 1) waits for the embedding worker." in waiting

    embed_pending(imported.project)
    ready = client.get(url).content.decode()
    assert 'data-status="ready"' in ready
    assert "Serving <strong>spectral</strong> (version 1, 20 items)." in ready
