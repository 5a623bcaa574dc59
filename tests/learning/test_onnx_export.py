"""Every registered model exports to ONNX with the probabilities of ``predict_proba``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from learning.automl import AutoModel, Candidate
from learning.model_card import model_card, model_card_markdown
from learning.models import make_model
from learning.onnx_export import export_onnx, export_pixels_pipeline
from learning.preprocessing import pool_scaler

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-4


def _data(n_classes: int, n_features: int = 16, n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array([f"c{i % n_classes}" for i in range(n)])
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    X += (np.char.lstrip(y, "c").astype(int)[:, None] * 0.8).astype(np.float32)
    return X, y


def _onnx_probabilities(graph: bytes, inputs: dict) -> tuple[np.ndarray, list[str]]:
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    classes = json.loads(session.get_modelmeta().custom_metadata_map["classes"])
    return session.run(None, inputs)[0], classes


@pytest.mark.parametrize(
    ("name", "n_classes", "params"),
    [
        ("logreg", 2, {}),
        ("logreg", 3, {}),
        ("logreg_fixed", 2, {}),
        ("kernel_logreg", 3, {}),
        ("mlp", 3, {"max_epochs": 5}),
        ("cnn", 2, {"max_epochs": 2, "image_shape": (4, 4)}),
    ],
)
def test_a_models_onnx_graph_gives_its_probabilities_in_class_order(name, n_classes, params):
    X, y = _data(n_classes)
    model = make_model(name, random_state=0, **params).fit(X, y)

    probabilities, classes = _onnx_probabilities(export_onnx(model, X.shape[1]), {"features": X})

    assert classes == [str(c) for c in model.classes_]
    assert probabilities.shape == (len(X), n_classes)
    assert np.abs(probabilities - model.predict_proba(X)).max() <= TOLERANCE


def test_a_model_trained_on_one_class_exports_a_constant_graph():
    X, _ = _data(2)
    model = make_model("logreg", random_state=0).fit(X, np.array(["only"] * len(X)))

    probabilities, classes = _onnx_probabilities(export_onnx(model, X.shape[1]), {"features": X})

    assert classes == ["only"]
    assert np.array_equal(probabilities, np.ones((len(X), 1), dtype=np.float32))


@pytest.mark.parametrize("pool_scaled", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "candidate",
    [
        Candidate("logreg", {"C": 1.0}),
        Candidate("kernel_logreg", {"C": 10.0}),
        Candidate("mlp", {"alpha": 1e-3}),
    ],
    ids=lambda candidate: candidate.family,
)
def test_the_model_automl_chose_exports_with_its_probabilities(candidate, n_classes, pool_scaled):
    X, y = _data(n_classes)
    scaler = pool_scaler(X) if pool_scaled else None
    model = AutoModel(candidates=(candidate,), scaler=scaler, random_state=0).fit(X, y)

    probabilities, classes = _onnx_probabilities(export_onnx(model, X.shape[1]), {"features": X})

    assert classes == [str(c) for c in model.classes_]
    assert np.abs(probabilities - model.predict_proba(X)).max() <= TOLERANCE


def test_an_automl_search_exports_the_candidate_it_chose_and_one_class_a_constant():
    X, y = _data(3)
    model = AutoModel(min_samples_for_cv=10, time_budget=60, random_state=0).fit(X, y)
    assert len(model.evidence_["candidates"]) == 8

    probabilities, _ = _onnx_probabilities(export_onnx(model, X.shape[1]), {"features": X})

    assert np.abs(probabilities - model.predict_proba(X)).max() <= TOLERANCE
    single = AutoModel(random_state=0).fit(X, np.array(["only"] * len(X)))
    probabilities, classes = _onnx_probabilities(export_onnx(single, X.shape[1]), {"features": X})
    assert classes == ["only"] and np.array_equal(probabilities, np.ones((len(X), 1), np.float32))


def test_the_pixels_pipeline_takes_images_and_flattens_them_row_major():
    X, y = _data(2, n_features=12)
    model = make_model("logreg", random_state=0).fit(X, y)

    probabilities, _ = _onnx_probabilities(
        export_pixels_pipeline(model, (3, 4)), {"images": X.reshape(-1, 3, 4)}
    )

    assert np.abs(probabilities - model.predict_proba(X)).max() <= TOLERANCE


def _card(**overrides):
    arguments = {
        "name": "Topics — run 7",
        "classes": ["cooking", "sports"],
        "representation": "tfidf",
        "model_name": "logreg",
        "n_labels": 30,
        "training_labels": {"cooking": 14, "sports": 16},
        "metrics": {
            "accuracy": 0.9,
            "accuracy_low": 0.74,
            "accuracy_high": 0.97,
            "macro_f1": 0.89,
            "per_class_recall": {"cooking": 0.85, "sports": 0.95},
            "n_evaluation": 20,
            "curve": [],
        },
        "created_at": "2026-12-07T14:00:00+00:00",
        "tweezers_version": "0.1.0",
        "exports": {"classifier.onnx": "the classifier"},
        "not_exportable_whole": "TF-IDF's vocabulary is fitted on the pool.",
    }
    return model_card(**{**arguments, **overrides})


def test_a_model_card_carries_the_runs_figures_and_says_what_is_not_exported_whole():
    card = _card()

    assert json.loads(json.dumps(card)) == card
    assert card["evaluation"]["accuracy_low"] == 0.74
    assert card["evaluation"]["n_evaluation"] == 20
    assert "curve" not in card["evaluation"]
    assert card["whole_pipeline"] is False
    markdown = model_card_markdown(card)
    assert "0.900 (95% Wilson interval 0.740–0.970)" in markdown
    assert "| sports | 16 |" in markdown
    assert "TF-IDF's vocabulary is fitted on the pool." in markdown


def test_a_card_of_a_run_without_evaluation_items_says_so():
    card = _card(metrics={"n_evaluation": 0}, training_labels=None, not_exportable_whole=None)

    markdown = model_card_markdown(card)

    assert "no evaluation items" in markdown
    assert "Per-class counts were not recorded" in markdown
    assert "The whole pipeline" in markdown
