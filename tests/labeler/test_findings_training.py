"""A findings project's retrain (issue 21), run in-process: the findings model trains on the
label matrix, is measured per finding on the evaluation set, writes the next round through the
queue and leaves each item's probabilities for the items page."""

import pytest
from rest_framework.test import APIClient

from labeler import services
from labeler.models import Item, ModelRun, Project, QueryRound
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import run_queued, truth

pytestmark = pytest.mark.slow

FINDINGS = ["dark", "light", "never"]


@pytest.fixture
def findings_shades(db):
    """Dark and light 8×8 images as a findings project: the truth's finding is present, and
    'never' is never present (a finding with no positives). On their pixels, which tell dark
    from light by construction: the automatic choice's spectral embedding of 60 tiny images
    varied with the seed (run and project ids), and with two dark items among ten evaluation
    answers the AUC came out 0.67 or 0.88 from one run to the next."""
    manager = UserFactory()
    project = ProjectFactory(
        kind="image", task="findings", classes=FINDINGS, created_by=manager, round_size=10,
        evaluation_share=0.2, budget=50, features="pixels",
    )  # fmt: skip
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(30))
    run_queued(project)
    project.refresh_from_db()
    return project, manager


def answer_open_entries(project, annotator, count: int) -> None:
    """Answer ``count`` items with their truth present; every third marks 'never' uncertain."""
    for number in range(count):
        next_item = services.next_item_lease(project=project, annotator=annotator)
        assert next_item.state == "ready", next_item.message
        item = next_item.entry.item
        findings = {truth(item): "present"}
        if number % 3 == 0:
            findings["never"] = "uncertain"
        services.annotation_submit(
            project=project, annotator=annotator, item_id=item.pk, findings=findings
        )


def test_a_findings_retrain_trains_measures_and_queues_the_next_round(findings_shades):
    project, manager = findings_shades
    answer_open_entries(project, manager, 30)

    run = run_queued(project)

    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    assert run.model_name == "findings_logreg"
    metrics = run.metrics
    assert set(metrics["per_finding"]) == set(FINDINGS)
    assert metrics["per_finding"]["dark"]["auc"] > 0.7  # well above chance
    assert metrics["per_finding"]["dark"]["positives"] >= 1
    # No evaluation answer says 'never' is present: it has no AUC, and the macro skips it.
    assert metrics["per_finding"]["never"]["auc"] is None
    assert metrics["macro_auc_low"] <= metrics["macro_auc"] <= metrics["macro_auc_high"]
    assert 0.0 <= metrics["micro_f1"] <= 1.0
    assert metrics["training_positives"]["never"] == 0
    assert metrics["uncertain"] == "ignore"
    assert metrics["curve"][-1]["macro_auc"] == metrics["macro_auc"]
    assert "should_stop" in metrics["stop"]
    # The next round is written through the queue, from items not yet answered.
    query_round = QueryRound.objects.get(model_run=run)
    assert query_round.entries.exists()
    assert not query_round.entries.filter(item__status=Item.Status.LABELED).exists()
    # Each answered item carries the model's P(present) per finding for the items page.
    dark = Item.objects.filter(project=project, status=Item.Status.LABELED,
                               source_name__startswith="dark").first()  # fmt: skip
    assert set(dark.model_findings) == set(FINDINGS)
    assert dark.model_findings["dark"] > dark.model_findings["light"]
    # The dashboard's API reads the same figures.
    client = APIClient()
    client.force_authenticate(manager)
    stats = client.get(f"/api/projects/{project.pk}/stats/").json()
    assert stats["metrics"]["per_finding"]["dark"] == metrics["per_finding"]["dark"]
    assert stats["learning_curve"][-1]["macro_auc"] == metrics["macro_auc"]


def test_uncertain_answers_train_as_the_project_says(findings_shades):
    project, manager = findings_shades
    project.uncertain_policy = "ones"
    project.save(update_fields=["uncertain_policy"])
    answer_open_entries(project, manager, 30)

    run = run_queued(project)

    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    assert run.metrics["uncertain"] == "ones"
    # Every third answer marked 'never' uncertain, and it now trains as present.
    assert run.metrics["training_positives"]["never"] > 0


def test_the_dashboard_shows_the_findings_metrics(findings_shades, client):
    project, manager = findings_shades
    answer_open_entries(project, manager, 30)
    run_queued(project)
    client.force_login(manager)

    page = client.get(f"/projects/{project.pk}/").content.decode()

    assert "Macro AUC" in page
    assert 'data-metric-key="macro_auc"' in page
    for name in FINDINGS:
        assert name in page
    # Single-label cards stay off: a findings answer has no one class to recall or confuse.
    assert "Recall per class" not in page and "Confusion matrix" not in page
    # Versus random: about six evaluation answers, too few for an estimate, and it says so.
    assert 'id="versus-random"' in page
    assert "Too few evaluation labels yet to estimate what random labeling would reach" in page
    korean = client.get(f"/projects/{project.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert 'id="versus-random"' in korean and "Too few evaluation labels" not in korean


@pytest.mark.django_db
def test_the_api_sets_the_uncertain_policy_and_a_strategy_of_the_projects_task():
    manager = UserFactory()
    findings = ProjectFactory(kind="text", task="findings", classes=FINDINGS, created_by=manager)
    single = ProjectFactory(kind="text", classes=["a", "b"], created_by=manager)
    client = APIClient()
    client.force_authenticate(manager)

    def patch(project, body):
        return client.patch(f"/api/projects/{project.pk}/", body, format="json")

    assert (
        patch(findings, {"uncertain_policy": "zeros", "strategy": "max_margin"}).status_code == 200
    )
    findings.refresh_from_db()
    assert (findings.uncertain_policy, findings.strategy) == ("zeros", "max_margin")
    refused = patch(findings, {"uncertain_policy": "maybe"})
    assert refused.status_code == 400 and "uncertain_policy" in refused.json()["error"]["fields"]
    # A findings strategy is no single-label strategy: 400 naming the field, nothing stored.
    refused = patch(single, {"strategy": "max_margin"})
    assert refused.status_code == 400 and "strategy" in refused.json()["error"]["fields"]
    single.refresh_from_db()
    assert single.strategy == "default"


def test_a_new_findings_project_queries_with_the_measured_findings_default(db):
    from django.contrib.auth.models import Permission

    from labeler.engine.findings import findings_strategy
    from learning.findings.strategies import get_findings_strategy, starts_at_random

    manager = UserFactory()
    manager.user_permissions.add(Permission.objects.get(codename="add_project"))
    client = APIClient()
    client.force_authenticate(manager)
    created = client.post(
        "/api/projects/",
        {"name": "Reports", "kind": "text", "task": "findings", "findings": FINDINGS},
        format="json",
    )
    assert created.status_code == 201, created.json()
    project = Project.objects.get(pk=created.json()["id"])

    strategy = findings_strategy(project.strategy)

    # docs/benchmarks.md, "Label efficiency: findings": a random first batch, then a batch
    # split between the raw-feature clusters' centres and the likeliest-present items as the
    # project's labels say, a fifth from rare-positive search while a finding has fewer than
    # 5 positives.
    assert strategy == get_findings_strategy("default")
    assert starts_at_random(strategy)
    assert type(strategy).__name__ == "FindingsArms" and strategy.learn
    assert strategy.arms == ("features", "top")
    assert (strategy.rare_share, strategy.min_positives) == (0.2, 5)


def test_a_findings_retrain_learns_its_arms_split_from_the_items_earlier_runs_chose(
    findings_shades,
):
    """The default's arms (learning.findings.arms) in the app: each run keeps the arm and the
    model's P(present) of what it chose; the next run reads them back for the items answered
    since, as the simulator hands them over, and records the share it chose with."""
    from pathlib import Path

    import numpy as np

    from labeler.engine.findings import ARMS_FILE, FindingsAnswers, arm_evidence
    from labeler.selectors_findings import findings_label_matrix

    project, manager = findings_shades
    answer_open_entries(project, manager, 10)
    first = run_queued(project)
    assert first.status == ModelRun.Status.SUCCEEDED, first.error
    with np.load(Path(first.artifact_path) / ARMS_FILE) as saved:
        chosen, arms, proba = saved["item_ids"], saved["arms"], saved["proba"]
    assert proba.shape == (len(chosen), len(FINDINGS))
    assert set(arms.tolist()) <= {-1, 2, 3} and (arms >= 0).any()
    assert first.metrics["arm_shares"] == {"features": 0.5, "top": 0.5}  # no evidence yet

    answer_open_entries(project, manager, 10)
    train = FindingsAnswers(*findings_label_matrix(project=project, evaluation=False))
    evidence_arms, evidence_proba, evidence_Y = arm_evidence(project, train)
    answered = [i for i, item_id in enumerate(chosen) if item_id in set(train.item_ids)]
    assert answered, "the second batch answered items the first run chose"
    assert sorted(evidence_arms.tolist()) == sorted(arms[answered].tolist())
    assert evidence_proba.shape == evidence_Y.shape == (len(answered), len(FINDINGS))
    second = run_queued(project)
    assert second.status == ModelRun.Status.SUCCEEDED, second.error
    shares = second.metrics["arm_shares"]
    assert min(shares.values()) >= 0.05
    assert shares["features"] + shares["top"] == pytest.approx(1.0)
