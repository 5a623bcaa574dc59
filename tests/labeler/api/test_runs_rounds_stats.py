import io
import zipfile

import pytest

from labeler.models import ModelRun
from tests.labeler.api.factories import item_add, model_run_add, round_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_run(text_team, settings):
    directory = settings.TWEEZERS_ARTIFACT_DIR / f"project_{text_team.project.pk}" / "run_1"
    directory.mkdir(parents=True)
    (directory / "model.json").write_text('{"format": "joblib", "classes": ["ham", "spam"]}')
    (directory / "model.joblib").write_bytes(b"\x80\x04weights")
    return model_run_add(
        text_team.project,
        status=ModelRun.Status.SUCCEEDED,
        n_labels=40,
        metrics={"accuracy": 0.9, "macro_f1": 0.88},
        artifact_path=str(directory),
    )


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_managers_and_viewers_list_model_runs_with_metrics(api, text_team, finished_run, role):
    response = api(text_team.user(role)).get(f"/api/projects/{text_team.project.pk}/model-runs/")

    assert response.status_code == 200
    (run,) = response.json()["results"]
    assert run["id"] == finished_run.pk
    assert run["status"] == "succeeded"
    assert run["n_labels"] == 40
    assert run["metrics"] == {"accuracy": 0.9, "macro_f1": 0.88}
    assert run["created"]
    assert run["artifact_url"].endswith(
        f"/api/projects/{text_team.project.pk}/model-runs/{finished_run.pk}/artifact/"
    )


def test_a_manager_downloads_the_model_artifact_as_a_zip(api, text_team, finished_run):
    response = api(text_team.manager).get(
        f"/api/projects/{text_team.project.pk}/model-runs/{finished_run.pk}/artifact/"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["model.joblib", "model.json"]
    assert archive.read("model.joblib") == b"\x80\x04weights"


def test_an_artifact_path_outside_the_artifact_folder_is_never_served(
    api, text_team, finished_run, tmp_path
):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secrets.txt").write_text("nope")
    ModelRun.objects.filter(pk=finished_run.pk).update(artifact_path=str(outside))

    response = api(text_team.manager).get(
        f"/api/projects/{text_team.project.pk}/model-runs/{finished_run.pk}/artifact/"
    )

    assert response.status_code == 404


def test_a_run_without_an_artifact_is_404(api, text_team):
    run = model_run_add(text_team.project, status=ModelRun.Status.FAILED, error="boom")

    response = api(text_team.manager).get(
        f"/api/projects/{text_team.project.pk}/model-runs/{run.pk}/artifact/"
    )

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "this run has no model artifact"


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("annotator", 403)])
def test_only_managers_download_artifacts(api, text_team, finished_run, role, status):
    response = api(text_team.user(role)).get(
        f"/api/projects/{text_team.project.pk}/model-runs/{finished_run.pk}/artifact/"
    )

    assert response.status_code == status


def test_a_run_of_another_project_is_404_under_this_one(api, text_team):
    foreign = model_run_add(text_team.other_project, status=ModelRun.Status.SUCCEEDED)

    response = api(text_team.manager).get(
        f"/api/projects/{text_team.project.pk}/model-runs/{foreign.pk}/"
    )

    assert response.status_code == 404


def test_rounds_list_their_progress(api, text_team):
    items = [item_add(text_team.project, text=f"t{n}") for n in range(2)]
    round_add(text_team.project, items, number=1)

    response = api(text_team.viewer).get(f"/api/projects/{text_team.project.pk}/rounds/")

    assert response.status_code == 200
    (query_round,) = response.json()["results"]
    assert (query_round["number"], query_round["size"], query_round["n_done"]) == (1, 2, 0)


def test_the_dashboard_stats_report_budget_and_queue(api, text_team, finished_run):
    text_team.project.budget = 100
    text_team.project.save()
    round_add(text_team.project, [item_add(text_team.project, text="one")])

    response = api(text_team.viewer).get(f"/api/projects/{text_team.project.pk}/stats/")

    assert response.status_code == 200
    stats = response.json()
    assert stats["budget"] == 100
    assert stats["budget_remaining"] == 100
    assert stats["queue"]["open"] == 1
    assert stats["metrics"] == {"accuracy": 0.9, "macro_f1": 0.88}
    assert stats["latest_model"]["id"] == finished_run.pk


@pytest.mark.parametrize("path", ["stats/", "model-runs/", "rounds/"])
def test_annotators_do_not_read_the_dashboard(api, text_team, path):
    response = api(text_team.annotator).get(f"/api/projects/{text_team.project.pk}/{path}")

    assert response.status_code == 403
