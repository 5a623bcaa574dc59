"""Models out: a run trained through the app's own loop, downloaded as ONNX through the API,
run in ONNX Runtime and compared with the app's own probabilities on the evaluation set."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from labeler import engine, jobs, services
from labeler.models import Item, ModelRun, Project
from labeler.services import model_exports
from tests.data import shades_zip, texts_csv, topic_texts
from tests.labeler.api.conftest import Team, team_for
from tests.labeler.api.factories import model_run_add
from tests.loop_steps import run_queued, truth

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-4


def _label_open_entries(project: Project, annotator, answer) -> None:
    while True:
        next_item = services.next_item_lease(project=project, annotator=annotator)
        if next_item.state != "ready":
            return
        item = next_item.entry.item
        services.annotation_submit(
            project=project, annotator=annotator, item_id=item.pk, label=answer(item)
        )
        if ModelRun.objects.filter(project=project, status=ModelRun.Status.QUEUED).exists():
            return


def _trained_run(project: Project, annotator, answer) -> ModelRun:
    """Label rounds the app asks for until a retrain gives a model measured on evaluation
    items, as an annotator and the worker would."""
    run_queued(project)
    for _ in range(4):
        _label_open_entries(project, annotator, answer)
        run = run_queued(project)
        if run.artifact_path and run.metrics.get("n_evaluation", 0) >= 4:
            return run
    raise AssertionError("no model measured on evaluation items after four rounds")


def _project(team: Team, features: str) -> Project:
    Project.objects.filter(pk=team.project.pk).update(features=features, round_size=12)
    team.project.refresh_from_db()
    return team.project


@pytest.fixture
def export_jobs(monkeypatch) -> list[tuple]:
    """The build jobs requests sent (task name and arguments), for the test to run as the
    worker would; nothing reaches a broker."""
    sent: list[tuple] = []

    def send(task_name: str, *args) -> bool:
        sent.append((task_name, *args))
        return True

    monkeypatch.setattr(jobs, "job_send_or_wait", send)
    return sent


def _ask(api, team: Team, run: ModelRun, format: str):
    return api(team.manager).get(
        f"/api/projects/{team.project.pk}/model-runs/{run.pk}/export/", {"format": format}
    )


def _download(api, team: Team, run: ModelRun, format: str):
    """The export; one the worker builds (202) is built here, as the worker would, and asked
    for again."""
    response = _ask(api, team, run, format)
    if response.status_code == 202:
        model_exports.model_export_build(run_id=run.pk, format=format)
        response = _ask(api, team, run, format)
    return response


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _app_probabilities(run: ModelRun) -> tuple[list[int], list[str], np.ndarray]:
    evaluation = list(
        Item.objects.filter(project=run.project, is_evaluation=True, label__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ids, classes, proba = engine.predict_proba_items(run=run, item_ids=evaluation)
    assert len(ids) >= 4
    return ids, classes, proba


def _feature_rows(run: ModelRun, item_ids: list[int]) -> np.ndarray:
    features = engine.feature_rows_open(run.feature_set)
    return np.asarray(features.pool[features.rows_of(item_ids)], dtype=np.float32)


def _session(graph: bytes):
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    classes = json.loads(session.get_modelmeta().custom_metadata_map["classes"])
    return session, classes


@pytest.fixture
def topic_team(db, fast_passwords) -> Team:
    return team_for("text", ("sports", "cooking"))


@pytest.fixture
def shades_team(db, fast_passwords) -> Team:
    return team_for("image", ("dark", "light"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_minilm_run_exports_to_onnx_that_matches_the_apps_probabilities(
    api, topic_team, export_jobs
):
    project = _project(topic_team, "minilm")
    services.items_import_stream(
        project=project, name="notes.csv", stream=texts_csv(topic_texts(20))
    )
    run = _trained_run(project, topic_team.manager, lambda item: item.text.split()[0])
    ids, classes, expected = _app_probabilities(run)

    response = _download(api, topic_team, run, "onnx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/onnx"
    classifier, onnx_classes = _session(_body(response))
    (probabilities,) = classifier.run(None, {"features": _feature_rows(run, ids)})
    classifier_difference = float(np.abs(probabilities - expected).max())

    # MiniLM's graph takes minutes to write on a small machine: never in the request. The
    # first asks send one build job and answer at once; once it ran, the file is served.
    for _ in range(2):
        building = _ask(api, topic_team, run, "pipeline")
        assert building.status_code == 202 and int(building["Retry-After"]) > 0
        assert building.json()["status"] == "building"
    assert export_jobs == [(jobs.BUILD_MODEL_EXPORT, run.pk, "pipeline")]
    model_exports.model_export_build(run_id=run.pk, format="pipeline")
    response = _ask(api, topic_team, run, "pipeline")
    assert response.status_code == 200
    pipeline, pipeline_classes = _session(_body(response))
    from learning.onnx_export import minilm_tokenize

    texts = dict(Item.objects.filter(pk__in=ids).values_list("pk", "text"))
    tokens = minilm_tokenize([texts[pk] for pk in ids])
    (whole,) = pipeline.run(None, tokens)
    pipeline_difference = float(np.abs(whole - expected).max())

    print(
        f"\nminilm run {run.pk}, {len(ids)} evaluation items: max |ONNX - app| "
        f"classifier {classifier_difference:.2e}, whole pipeline {pipeline_difference:.2e}"
    )
    assert onnx_classes == pipeline_classes == classes == ["cooking", "sports"]
    assert classifier_difference <= TOLERANCE
    assert pipeline_difference <= TOLERANCE

    response = _download(api, topic_team, run, "zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(_body(response)))
    names = set(archive.namelist())
    assert {
        "classifier.onnx",
        "pipeline.onnx",
        "encoder.torchscript.pt",
        "model_card.json",
        "model_card.md",
        "tokenizer/tokenizer.json",
    } <= names
    import torch

    encoder = torch.jit.load(io.BytesIO(archive.read("encoder.torchscript.pt")))
    with torch.no_grad():
        embeddings = encoder(
            torch.from_numpy(tokens["input_ids"]), torch.from_numpy(tokens["attention_mask"])
        ).numpy()
    embedding_difference = float(np.abs(embeddings - _feature_rows(run, ids)).max())
    print(f"TorchScript encoder: max |embedding - the app's rows| {embedding_difference:.2e}")
    assert embedding_difference <= TOLERANCE

    from tokenizers import Tokenizer

    shipped = Tokenizer.from_str(archive.read("tokenizer/tokenizer.json").decode())
    encodings = shipped.encode_batch([texts[pk] for pk in ids])
    assert np.array_equal(np.array([e.ids for e in encodings]), tokens["input_ids"])
    assert np.array_equal(np.array([e.attention_mask for e in encodings]), tokens["attention_mask"])
    long_text = " ".join(["simmer the sauce"] * 120)  # past MiniLM's 256 tokens
    assert shipped.encode(long_text).ids == minilm_tokenize([long_text])["input_ids"][0].tolist()

    card = json.loads(archive.read("model_card.json"))
    assert card["classes"] == classes
    assert card["representation"] == "minilm" and card["whole_pipeline"] is True
    assert sum(card["training_labels"]["per_class"].values()) == run.n_labels
    assert card["evaluation"]["accuracy"] == run.metrics["accuracy"]
    assert card["evaluation"]["accuracy_low"] <= card["evaluation"]["accuracy"]
    assert card["evaluation"]["n_evaluation"] == run.metrics["n_evaluation"]
    assert card["tweezers_version"] and card["created_at"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_pixels_run_exports_its_whole_pipeline_and_its_card(api, shades_team):
    from learning.features import image_pixels

    project = _project(shades_team, "pixels")
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(20))
    run = _trained_run(project, shades_team.manager, truth)
    ids, classes, expected = _app_probabilities(run)

    classifier, _ = _session(_body(_download(api, shades_team, run, "onnx")))
    (probabilities,) = classifier.run(None, {"features": _feature_rows(run, ids)})
    classifier_difference = float(np.abs(probabilities - expected).max())

    pipeline, pipeline_classes = _session(_body(_download(api, shades_team, run, "pipeline")))
    size = json.loads(pipeline.get_modelmeta().custom_metadata_map["image_size"])
    items = Item.objects.in_bulk(ids)
    images = np.stack([image_pixels(items[pk].file.path, size=tuple(size)) for pk in ids])
    (whole,) = pipeline.run(None, {"images": images.reshape(len(ids), *size)})
    pipeline_difference = float(np.abs(whole - expected).max())
    print(
        f"\npixels run {run.pk}, {len(ids)} evaluation items: max |ONNX - app| "
        f"classifier {classifier_difference:.2e}, whole pipeline {pipeline_difference:.2e}"
    )
    assert pipeline_classes == classes
    assert classifier_difference <= TOLERANCE
    assert pipeline_difference <= TOLERANCE

    response = _download(api, shades_team, run, "card.md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    markdown = _body(response).decode()
    assert "# Model card" in markdown and "Wilson interval" in markdown

    response = _download(api, shades_team, run, "torchscript")
    assert response.status_code == 400
    assert "format" in response.json()["error"]["fields"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_run_whose_model_automl_chose_exports_to_onnx_that_matches_the_app(
    api, shades_team, settings
):
    settings.TWEEZERS_MODEL = "auto"
    project = _project(shades_team, "pixels")
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(20))
    run = _trained_run(project, shades_team.manager, truth)
    assert run.model_name == "auto"
    ids, classes, expected = _app_probabilities(run)

    response = _download(api, shades_team, run, "onnx")

    assert response.status_code == 200
    classifier, onnx_classes = _session(_body(response))
    (probabilities,) = classifier.run(None, {"features": _feature_rows(run, ids)})
    assert onnx_classes == classes
    assert float(np.abs(probabilities - expected).max()) <= TOLERANCE


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_learned_image_encoder_run_exports_its_whole_pipeline_and_encoder(
    api, shades_team, export_jobs
):
    import torch

    from learning.features import image_pixels

    project = _project(shades_team, "simclr")
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(30))
    run = _trained_run(project, shades_team.manager, truth)
    ids, classes, expected = _app_probabilities(run)

    pipeline, pipeline_classes = _session(_body(_download(api, shades_team, run, "pipeline")))
    size = tuple(json.loads(pipeline.get_modelmeta().custom_metadata_map["image_size"]))
    items = Item.objects.in_bulk(ids)
    images = np.stack([image_pixels(items[pk].file.path, size=size) for pk in ids])
    images = images.reshape(len(ids), *size)
    (whole,) = pipeline.run(None, {"images": images})
    pipeline_difference = float(np.abs(whole - expected).max())

    response = _download(api, shades_team, run, "torchscript")
    assert response.status_code == 200
    encoder = torch.jit.load(io.BytesIO(_body(response)))
    with torch.no_grad():
        rows = encoder(torch.from_numpy(images)).numpy()
    rows_difference = float(np.abs(rows - _feature_rows(run, ids)).max())
    print(
        f"\nsimclr run {run.pk}, {len(ids)} evaluation items: max |ONNX pipeline - app| "
        f"{pipeline_difference:.2e}; TorchScript encoder rows vs the app's {rows_difference:.2e}"
    )
    assert pipeline_classes == classes
    assert pipeline_difference <= TOLERANCE
    assert rows_difference <= TOLERANCE


def test_an_unknown_format_is_a_400_naming_the_parameter(api, topic_team):
    run = model_run_add(topic_team.project, status=ModelRun.Status.FAILED, error="boom")

    response = _download(api, topic_team, run, "pickle")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["format"]


def test_a_run_without_a_model_is_404(api, topic_team):
    run = model_run_add(topic_team.project, status=ModelRun.Status.FAILED, error="boom")

    response = _download(api, topic_team, run, "onnx")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "this run has no model"


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("annotator", 403)])
def test_only_who_may_export_downloads_a_model(api, topic_team, role, status):
    run = model_run_add(topic_team.project, status=ModelRun.Status.FAILED, error="boom")

    response = api(topic_team.user(role)).get(
        f"/api/projects/{topic_team.project.pk}/model-runs/{run.pk}/export/"
    )

    assert response.status_code == status


def test_a_build_the_broker_never_got_is_sent_again_and_a_failed_one_is_told_once(
    api, topic_team, monkeypatch, settings
):
    # A MiniLM run whose model file is unreadable: its pipeline's build fails.
    folder = Path(settings.TWEEZERS_ARTIFACT_DIR) / f"broken-{topic_team.project.pk}"
    folder.mkdir(parents=True, exist_ok=True)
    run = model_run_add(
        topic_team.project,
        status=ModelRun.Status.SUCCEEDED,
        artifact_path=str(folder),
        metrics={"representation": "minilm"},
    )
    sent: list[tuple] = []
    broker_up = False

    def send(task_name: str, *args) -> bool:
        sent.append((task_name, *args))
        return broker_up

    monkeypatch.setattr(jobs, "job_send_or_wait", send)

    assert _ask(api, topic_team, run, "pipeline").status_code == 202
    broker_up = True
    assert _ask(api, topic_team, run, "pipeline").status_code == 202
    assert _ask(api, topic_team, run, "pipeline").status_code == 202
    # Sent while the broker was down, sent again once it was up, then not while building.
    assert sent == [(jobs.BUILD_MODEL_EXPORT, run.pk, "pipeline")] * 2

    model_exports.model_export_build(run_id=run.pk, format="pipeline")
    failed = _ask(api, topic_team, run, "pipeline")
    assert failed.status_code == 400
    assert "building this export failed" in failed.json()["error"]["fields"]["format"][0]
    assert _ask(api, topic_team, run, "pipeline").status_code == 202
    assert len(sent) == 3
