"""Semi-supervised training in the loop (issue 20, item 4): each retrain decides on the
evaluation set's answers whether the unlabeled pool helps, serves the model it chose, records
the comparison on the model run, and the stats API and the dashboard say it in one line."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from labeler import services
from labeler.models import Item, ModelRun
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import label_open_entries, run_queued


@pytest.fixture
def project(db, settings):
    settings.TWEEZERS_SEMI_SUPERVISED = "auto"
    manager = UserFactory()
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], created_by=manager, round_size=10,
        evaluation_share=0.5,
    )  # fmt: skip
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(40))
    project.refresh_from_db()
    run_queued(project)
    return project, manager


def _label_until_decided_on_the_evaluation_set(project, manager) -> ModelRun:
    evaluation = Item.objects.filter(project=project, is_evaluation=True, label__isnull=False)
    for _ in range(12):
        label_open_entries(project, manager, 10)
        run = run_queued(project)
        decision = run.metrics.get("semi_supervised") or {}
        if decision.get("by") == "evaluation":
            assert evaluation.count() >= 20
            return run
    raise AssertionError("no retrain decided on the evaluation set")


@pytest.mark.slow
def test_a_retrain_records_whether_the_pool_helped_and_the_stats_say_it(project, client):
    project, manager = project

    run = _label_until_decided_on_the_evaluation_set(project, manager)

    decision = run.metrics["semi_supervised"]
    assert decision["n_compared"] == run.metrics["n_evaluation"]
    assert decision["decided_on"] == run.n_labels
    # The served model is the side that won, measured on the same answers.
    served = decision["semi_supervised"] if decision["on"] else decision["supervised"]
    assert run.metrics["accuracy"] == pytest.approx(served, abs=1e-4)

    api = APIClient()
    api.force_authenticate(manager)
    stats = api.get(f"/api/projects/{project.pk}/stats/").json()
    shown = stats["semi_supervised"]
    assert shown["on"] == decision["on"] and shown["by"] == "evaluation"
    assert f"on {decision['n_compared']} evaluation answers" in shown["summary"]
    assert shown["summary"].startswith(
        "Unlabeled pool: used" if decision["on"] else "Unlabeled pool: not used"
    )

    client.force_login(manager)
    body = client.get(reverse("project-dashboard", args=[project.pk])).content.decode()
    assert 'id="semi-supervised"' in body and shown["summary"] in body
    client.cookies["django_language"] = "ko"
    korean = client.get(reverse("project-dashboard", args=[project.pk])).content.decode()
    assert f"평가 답변 {decision['n_compared']}개 기준" in korean


@pytest.mark.slow
def test_with_the_pool_off_a_retrain_records_no_decision(project, settings):
    project, manager = project
    settings.TWEEZERS_SEMI_SUPERVISED = "off"
    label_open_entries(project, manager, 10)
    run = run_queued(project)
    assert run.artifact_path and "semi_supervised" not in run.metrics
    api = APIClient()
    api.force_authenticate(manager)
    assert api.get(f"/api/projects/{project.pk}/stats/").json()["semi_supervised"] is None
