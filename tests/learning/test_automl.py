import numpy as np
import pytest

from learning.automl import AutoModel, Candidate
from learning.models import load_model, make_model, save_model
from learning.preprocessing import pool_scaler


def _rings(n: int = 300, seed: int = 0):
    """Two concentric rings: no linear model separates them, a kernel model does."""
    rng = np.random.default_rng(seed)
    radius = np.where(np.arange(n) % 2 == 0, 1.0, 3.0) + rng.normal(0, 0.2, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.c_[radius * np.cos(angle), radius * np.sin(angle)].astype(np.float32)
    return X, (np.arange(n) % 2).astype(int)


def _blobs(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = (rng.normal(size=(n, 10)) + 3.0 * np.eye(10)[y]).astype(np.float32)
    return X, y


def test_automl_chooses_a_non_linear_model_where_the_classes_need_one():
    X, y = _rings()
    model = AutoModel(time_budget=60, random_state=0).fit(X[:200], y[:200])
    assert model.choice_.family in {"kernel_logreg", "mlp"}
    assert model.score(X[200:], y[200:]) > 0.9
    tried = {c["candidate"]: c["accuracy"] for c in model.evidence_["candidates"]}
    assert max(tried.values()) == tried[model.evidence_["chosen"]]
    assert max(a for name, a in tried.items() if name.startswith("logreg(")) < 0.75


def test_automl_records_every_candidate_it_tried_and_the_label_count():
    X, y = _blobs()
    model = AutoModel(time_budget=60, random_state=0).fit(X[:90], y[:90])
    evidence = model.evidence_
    assert evidence["n_labels"] == 90 and evidence["folds"] == 3
    assert [c["candidate"] for c in evidence["candidates"]] == [c.name for c in model.candidates]
    assert all(0.0 <= c["accuracy"] <= 1.0 and c["seconds"] >= 0 for c in evidence["candidates"])


def test_automl_stops_trying_candidates_when_its_time_budget_is_spent():
    X, y = _blobs()
    model = AutoModel(time_budget=0.0, random_state=0).fit(X[:90], y[:90])
    assert len(model.evidence_["candidates"]) == 1
    assert len(model.evidence_["skipped"]) == len(model.candidates) - 1


def test_automl_keeps_its_choice_until_the_labels_grow_then_searches_again():
    X, y = _rings()
    first = make_model("auto", random_state=0, time_budget=60).fit(X[:100], y[:100])
    following = first.next_round().fit(X[:110], y[:110])
    assert following.evidence_["reused_from_labels"] == 100
    assert following.choice_ == first.choice_
    assert following.evidence_["candidates"] == first.evidence_["candidates"]
    later = following.next_round().fit(X[:130], y[:130])
    assert "reused_from_labels" not in later.evidence_
    assert later.evidence_["n_labels"] == 130


def test_automl_with_few_labels_uses_the_first_candidate_without_a_search():
    X, y = _blobs()
    model = AutoModel(random_state=0).fit(X[:12], y[:12])
    assert model.choice_ == model.candidates[0]
    assert "candidates" not in model.evidence_


def test_automl_model_saves_and_loads_with_its_pool_scaler():
    X, y = _blobs()
    model = AutoModel(scaler=pool_scaler(X), time_budget=60, random_state=0).fit(X[:90], y[:90])
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        save_model(model, directory)
        loaded = load_model(directory)
    np.testing.assert_array_equal(loaded.predict_proba(X[90:]), model.predict_proba(X[90:]))
    assert loaded.evidence_ == model.evidence_


def test_automl_committee_members_keep_the_choice():
    X, y = _rings()
    model = AutoModel(time_budget=60, random_state=0).fit(X[:100], y[:100])
    member = model.committee_member().fit(X[:60], y[:60])
    assert member.choice_ == model.choice_


def test_unknown_model_family_is_refused():
    with pytest.raises(ValueError, match="unknown model family"):
        AutoModel(candidates=(Candidate("forest"),)).fit(*_blobs())
