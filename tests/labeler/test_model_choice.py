"""AutoML in the loop (issue 20): with TWEEZERS_MODEL=auto each retrain chooses its model by
cross-validation on the labels, records the choice and its evidence on the model run, and the
dashboard shows them."""

import pytest
from django.urls import reverse

from labeler import services
from labeler.models import Membership, ModelRun
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import run_queued, truth


@pytest.fixture
def manager(db):
    return UserFactory()


@pytest.fixture
def project(manager, settings):
    settings.TWEEZERS_MODEL = "auto"
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], created_by=manager, round_size=12
    )
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(30))
    run_queued(project)
    return project


def _label_until_a_model_was_chosen_by_search(project, annotator) -> ModelRun:
    for _ in range(6):
        for _ in range(project.round_size):
            lease = services.next_item_lease(project=project, annotator=annotator)
            if lease.state != "ready":
                break
            item = lease.entry.item
            services.annotation_submit(
                project=project, annotator=annotator, item_id=item.pk, label=truth(item),
                seconds_spent=1,
            )  # fmt: skip
        run = run_queued(project)
        if run.metrics.get("model_choice", {}).get("candidates"):
            return run
    raise AssertionError("no retrain searched for a model")


@pytest.mark.slow
def test_a_retrain_records_the_model_automl_chose_and_the_dashboard_shows_why(
    client, project, manager
):
    annotator = UserFactory()
    Membership.objects.create(project=project, user=annotator, role=Membership.Role.ANNOTATOR)

    run = _label_until_a_model_was_chosen_by_search(project, annotator)

    choice = run.metrics["model_choice"]
    assert run.model_name == "auto"
    tried = {c["candidate"]: c["accuracy"] for c in choice["candidates"]}
    assert choice["chosen"] in tried and tried[choice["chosen"]] == max(tried.values())
    assert choice["n_labels"] == run.n_labels
    client.force_login(manager)
    body = client.get(reverse("project-dashboard", args=[project.pk])).content.decode()
    assert 'id="model-choice"' in body
    assert f"<strong>{choice['chosen']}</strong>" in body
    assert all(name in body for name in tried)
