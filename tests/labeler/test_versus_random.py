"""Versus random in the app: a project whose labels are random is told, in the stats API and on
the dashboard, that active learning is not ahead of random labeling."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from labeler import services
from labeler.models import Item, ModelRun
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import label_open_entries, run_queued


@pytest.fixture
def labeled_at_random(db):
    """A project whose strategy is random, labeled for rounds until the evaluation set has
    enough labels for an estimate."""
    manager = UserFactory()
    project = ProjectFactory(
        kind="image",
        classes=["dark", "light"],
        created_by=manager,
        round_size=10,
        strategy="random",
        evaluation_share=0.5,
    )
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(40))
    project.refresh_from_db()
    run_queued(project)
    evaluation = Item.objects.filter(project=project, is_evaluation=True, label__isnull=False)
    while evaluation.count() < 40:
        label_open_entries(project, manager, 10)
        run_queued(project)
    return project, manager


@pytest.mark.slow
@pytest.mark.django_db
def test_a_project_labeled_at_random_is_told_active_learning_is_not_ahead(
    labeled_at_random, client
):
    project, manager = labeled_at_random
    api = APIClient()
    api.force_authenticate(manager)

    stats = api.get(f"/api/projects/{project.pk}/stats/").json()

    figures = stats["versus_random"]
    latest = ModelRun.objects.filter(project=project, status="succeeded").latest("created_at")
    assert figures["n_labels"] == latest.n_labels
    assert figures["n_evaluation"] >= 40
    assert figures["model_accuracy"] == stats["metrics"]["accuracy"]
    assert figures["verdict"] == "level", figures
    assert figures["low"] <= figures["model_accuracy"] <= figures["high"]
    assert abs(figures["accuracy"] - figures["model_accuracy"]) <= 0.15, figures
    # The learning curve carries the estimate at each point's own label count.
    assert all("random_accuracy" in point for point in stats["learning_curve"])

    # The dashboard says so, in the user's language.
    client.force_login(manager)
    url = reverse("project-dashboard", args=[project.pk])
    english = client.get(url).content.decode()
    korean = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "Active learning is not ahead of random labeling on this data so far" in english
    assert "능동 학습이 무작위 레이블링보다 앞서지 않습니다" in korean
