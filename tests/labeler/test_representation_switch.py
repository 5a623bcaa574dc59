"""An "auto" image project re-decides its representation by evidence (issue 20): the spectral
embedding serves first; raw pixels are kept ready beside it; once the labels are enough, the
retrain cross-validates both on them and, pixels winning, trains on pixels from then on — while
the annotator's leased item and the queue keep serving. The dashboard and the stats API say
which representation serves and why."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from labeler import services
from labeler.models import Annotation, FeatureSet, Membership, ModelRun, Project, QueueEntry
from learning.representation_choice import MIN_LABELS
from tests.data import marked_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import label_open_entries, run_queued, truth

pytestmark = pytest.mark.django_db


def _strategy_labels(project: Project) -> int:
    return project.items.filter(is_evaluation=False, label__isnull=False).count()


def test_auto_switches_from_a_capping_representation_to_pixels_and_says_why():
    # The classes differ by one noise-free pixel under four noisy patterns: raw pixels
    # separate them by construction, the pool's neighbour graph (spectral) does not.
    project = ProjectFactory(kind="image", classes=["marked", "plain"], round_size=20)
    manager, expert = UserFactory(), UserFactory()
    Membership.objects.create(project=project, user=manager, role=Membership.Role.MANAGER)
    Membership.objects.create(project=project, user=expert, role=Membership.Role.ANNOTATOR)
    services.items_import_stream(project=project, name="marked.zip", stream=marked_zip(60))

    first = run_queued(project)
    assert first.feature_set.representation == "spectral"
    # Pixels are kept ready beside the first choice, from the moment it serves.
    assert FeatureSet.objects.filter(project=project, representation="pixels").exists()

    api = APIClient()
    api.force_authenticate(manager)
    stats_url = f"/api/projects/{project.pk}/stats/"
    before = api.get(stats_url).json()["representation"]
    assert before["serving"] == "spectral" and before["automatic"] is True
    assert before["candidates"] == ["spectral", "pixels"] and before["evidence"] is None
    assert "pixels" in before["why"]

    switching = None
    for _ in range(12):
        open_entries = QueueEntry.objects.filter(project=project, done=False).count()
        label_open_entries(project, expert, open_entries - 1)
        # The annotator holds an item of the old round while the switching retrain runs.
        held = services.next_item_lease(project=project, annotator=expert)
        assert held.state == "ready"
        labels_before_run = _strategy_labels(project)
        run = run_queued(project)
        assert run.status == ModelRun.Status.SUCCEEDED
        services.annotation_submit(
            project=project,
            annotator=expert,
            item_id=held.entry.item_id,
            label=truth(held.entry.item),
        )
        evidence = run.metrics.get("representation_choice")
        if evidence and evidence["compared_in_run"]:
            switching = run
            break
        # No comparison before the labels are enough: the first choice keeps serving.
        assert labels_before_run < MIN_LABELS
        if run.artifact_path:
            assert run.feature_set.representation == "spectral"
        if QueueEntry.objects.filter(project=project, done=False).count() == 0:
            services.retrain_request(project=project)
    assert switching is not None, "no comparison within 12 rounds"

    evidence = switching.metrics["representation_choice"]
    assert (evidence["serving"], evidence["chosen"]) == ("spectral", "pixels")
    assert evidence["n_labels"] >= MIN_LABELS
    assert evidence["scores"]["pixels"][0] > evidence["scores"]["spectral"][0] + 0.01
    # The switching run itself trains on pixels: their features were ready before it.
    assert switching.feature_set.representation == "pixels"
    assert switching.metrics["representation"] == "pixels"
    project.refresh_from_db()
    assert project.auto_representation == "pixels" and project.features == "auto"
    # Labeling never stopped: the item held through the switch was answered, and the queue
    # serves the next one at once.
    assert Annotation.objects.filter(project=project, item_id=held.entry.item_id).exists()
    assert services.next_item_lease(project=project, annotator=expert).state == "ready"

    after = api.get(stats_url).json()["representation"]
    assert after["serving"] == "pixels" and after["evidence"]["chosen"] == "pixels"
    assert "pixels" in after["why"] and "spectral" in after["why"]
    korean = api.get(stats_url, HTTP_ACCEPT_LANGUAGE="ko").json()["representation"]["why"]
    assert korean != after["why"] and "교차 검증" in korean

    dashboard = Client()
    dashboard.force_login(manager)
    page = dashboard.get(reverse("project-dashboard", args=[project.pk])).content.decode()
    assert 'id="representation-why" data-serving="pixels"' in page
    assert after["why"] in page.replace("&#x27;", "'")

    # A later retrain keeps pixels (no comparison until the labels grow by a quarter).
    label_open_entries(project, expert, 5)
    if not ModelRun.objects.filter(project=project, status=ModelRun.Status.QUEUED).exists():
        services.retrain_request(project=project)
    later = run_queued(project)
    assert later.feature_set.representation == "pixels"
    assert later.metrics["representation_choice"]["compared_in_run"] is False


@pytest.mark.parametrize(
    "fields,words",
    [
        ({"kind": "text"}, "A text project keeps it"),
        ({"kind": "text", "task": "findings", "classes": ["a", "b"]}, "A findings project keeps"),
        ({"kind": "image", "unit": "series"}, "A scan project keeps it"),
    ],
)
def test_a_project_auto_never_compares_says_why_it_keeps_its_representation(fields, words):
    # The dashboard said only "minilm serves: the automatic choice for this project."
    from types import SimpleNamespace

    from labeler.selectors_representation import representation_state

    project = ProjectFactory(features="auto", **fields)
    state = representation_state(
        project=project, serving=SimpleNamespace(representation="minilm"), latest_model=None
    )

    assert state["why"].startswith("minilm serves: the automatic choice for")
    assert words in state["why"] and "cross-validation" in state["why"]
