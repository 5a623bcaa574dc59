"""Versus random for a findings project (issue 21): a project whose answers were chosen at
random is told, in the stats API and on the dashboard, that active learning is not ahead of
random labeling, in macro AUC."""

import numpy as np
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from labeler import services
from labeler.models import Item, ModelRun
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import run_queued

FINDINGS = ["spots", "stripes", "glare"]


def answer_at_random(project, annotator, count: int, rng: np.random.Generator) -> None:
    """Answer ``count`` items with each finding present at random (two in five), whatever the
    image shows."""
    for _ in range(count):
        next_item = services.next_item_lease(project=project, annotator=annotator)
        assert next_item.state == "ready", next_item.message
        findings = {name: "present" for name in FINDINGS if rng.random() < 0.4}
        services.annotation_submit(
            project=project, annotator=annotator, item_id=next_item.entry.item.pk,
            findings=findings,
        )  # fmt: skip


@pytest.fixture
def findings_at_random(db):
    """A findings project answered at random for rounds until its evaluation set has enough
    answers for an estimate."""
    manager = UserFactory()
    project = ProjectFactory(
        kind="image", task="findings", classes=FINDINGS, created_by=manager, round_size=10,
        evaluation_share=0.5, features="pixels",
    )  # fmt: skip
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(40))
    project.refresh_from_db()
    run_queued(project)
    rng = np.random.default_rng(7)
    evaluation = Item.objects.filter(project=project, is_evaluation=True, status="labeled")
    while evaluation.count() < 30:
        answer_at_random(project, manager, 10, rng)
        run_queued(project)
    return project, manager


@pytest.mark.slow
@pytest.mark.django_db
def test_a_findings_project_answered_at_random_is_told_active_learning_is_not_ahead(
    findings_at_random, client
):
    project, manager = findings_at_random
    api = APIClient()
    api.force_authenticate(manager)

    stats = api.get(f"/api/projects/{project.pk}/stats/").json()

    figures = stats["versus_random"]
    latest = ModelRun.objects.filter(project=project, status="succeeded").latest("created_at")
    assert latest.model_name == "findings_logreg"
    assert figures["measure"] == "macro_auc"
    assert figures["n_labels"] == latest.n_labels
    assert figures["n_evaluation"] >= 30
    assert figures["model_accuracy"] == stats["metrics"]["macro_auc"]
    assert figures["verdict"] in ("level", "behind"), figures
    assert figures["low"] <= figures["accuracy"] <= figures["high"]
    assert abs(figures["accuracy"] - 0.5) <= 0.15, figures  # random answers: chance AUC
    assert "cross_fit" not in figures
    assert latest.metrics["versus_random"]["cross_fit"]
    # The learning curve carries the estimate at each point's own label count.
    assert all("random_accuracy" in point for point in stats["learning_curve"])

    # The dashboard says so, in the user's language.
    client.force_login(manager)
    url = reverse("project-dashboard", args=[project.pk])
    english = client.get(url).content.decode()
    korean = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert f'data-verdict="{figures["verdict"]}"' in english
    if figures["verdict"] == "level":
        assert "not ahead of random labeling on this data so far: macro AUC" in english
        assert "능동 학습이 무작위 레이블링보다 앞서지 않습니다" in korean
    else:
        assert "Active learning is behind random labeling on this data: macro AUC" in english
        assert "능동 학습이 무작위 레이블링보다 뒤처져 있습니다" in korean
    assert "매크로 AUC" in korean


@pytest.mark.slow
@pytest.mark.django_db
def test_the_cross_fit_is_kept_until_the_uncertain_policy_changes(findings_at_random):
    project, _ = findings_at_random
    before = ModelRun.objects.filter(project=project, status="succeeded").latest("created_at")
    figures = before.metrics["versus_random"]
    assert figures["trained_as"] == "uncertain=ignore"

    services.retrain_force(project=project)
    again = run_queued(project)  # no new evaluation answers: the curve is read, not measured
    assert again.metrics["versus_random"]["cross_fit"] == figures["cross_fit"]

    project.uncertain_policy = "zeros"
    project.save(update_fields=["uncertain_policy"])
    services.retrain_force(project=project)
    changed = run_queued(project)  # the draws would train otherwise: measured again
    assert changed.metrics["versus_random"]["trained_as"] == "uncertain=zeros"
    assert changed.metrics["versus_random"]["cross_fit"] != figures["cross_fit"]
