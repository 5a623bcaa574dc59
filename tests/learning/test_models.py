import copy

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from learning.models import (
    AutoLogisticRegression,
    KernelLogisticRegression,
    default_model_name,
    load_model,
    make_model,
    model_names,
    save_model,
)


@parametrize_with_checks([AutoLogisticRegression(Cs=(0.1, 10.0), max_iter=300, random_state=0)])
def test_logistic_model_follows_the_scikit_learn_contract(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [KernelLogisticRegression(Cs=(0.1, 10.0), max_iter=300, n_components=100, random_state=0)]
)
def test_kernel_model_follows_the_scikit_learn_contract(estimator, check):
    check(estimator)


def _digits_subset(n, seed=0):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(y), size=n, replace=False)
    return (X[chosen] / 16.0).astype(np.float32), y[chosen], X / 16.0, y


def test_cross_validation_picks_C_only_when_every_class_has_enough_labels():
    X, y, _, _ = _digits_subset(200)
    searched = AutoLogisticRegression(Cs=(1e-4, 1.0), random_state=0).fit(X, y)
    assert searched.C_ == 1.0  # 1e-4 underfits ten classes badly: CV must reject it
    few = AutoLogisticRegression(Cs=(1e-4, 1.0), fallback_C=0.5, random_state=0).fit(X[:12], y[:12])
    assert few.C_ == 0.5


def test_the_next_rounds_model_keeps_the_searched_C_until_the_labels_grow_by_a_quarter():
    X, y, _, _ = _digits_subset(400)
    # 0.37 is not among the strengths searched: a model fitted with it did not search.
    earlier = AutoLogisticRegression(Cs=(1e-4, 1.0), previous_search=(0.37, 200), random_state=0)
    kept = earlier.fit(X[:249], y[:249])
    assert (kept.C_, kept.C_searched_on_) == (0.37, 200)
    searched = kept.next_round().fit(X[:250], y[:250])
    assert (searched.C_, searched.C_searched_on_) == (1.0, 250)
    following = searched.next_round()
    assert following is not searched and following.previous_search == (1.0, 250)
    assert following.fit(X[:300], y[:300]).C_searched_on_ == 250
    # Too few labels to search gives no search to keep: the next round looks again.
    few = AutoLogisticRegression(Cs=(1e-4, 1.0), fallback_C=0.5).fit(X[:12], y[:12])
    assert few.C_searched_on_ == 0
    assert few.next_round().fit(X[:200], y[:200]).C_searched_on_ == 200


def test_train_model_continues_the_previous_rounds_search_on_the_same_features_only():
    from learning.training import train_model

    X, y, _, _ = _digits_subset(400)
    first = train_model("logreg", X[:200], y[:200], random_state=0, Cs=(1e-4, 1.0))
    assert first.C_searched_on_ == 200
    second = train_model("logreg", X[:220], y[:220], random_state=0, previous=first, Cs=(1e-4, 1.0))
    assert second is not first and second.C_searched_on_ == 200
    # Another representation (other columns): its C says nothing about these.
    other = train_model("logreg", X[:220, :32], y[:220], random_state=0, previous=first)
    assert other.C_searched_on_ == 220


def test_a_single_labeled_class_gives_a_constant_model_instead_of_failing():
    model = make_model("logreg", random_state=0).fit(np.zeros((3, 2)), ["cat", "cat", "cat"])
    assert model.predict(np.ones((2, 2))).tolist() == ["cat", "cat"]
    np.testing.assert_array_equal(model.predict_proba(np.ones((2, 2))), [[1.0], [1.0]])


@pytest.mark.parametrize("name", ["logreg", "kernel_logreg"])
def test_string_classes_order_the_probability_columns(name):
    X, y, _, _ = _digits_subset(120)
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    model = make_model(name, random_state=0).fit(X, names[y])
    assert model.classes_.tolist() == sorted(set(names[y].tolist()))
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(model.classes_))
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X))


def test_unknown_model_and_modality_are_rejected_with_the_known_names():
    with pytest.raises(ValueError, match="known: auto, cnn"):
        make_model("forest", random_state=0)
    with pytest.raises(ValueError, match="modality"):
        default_model_name("audio", "pixels")


@pytest.mark.parametrize(
    ("modality", "features"),
    [("text", "tfidf"), ("text", "minilm"), ("image", "pixels"), ("image", "embeddings")],
)
def test_default_model_names_are_registered(modality, features):
    assert default_model_name(modality, features) in model_names()


def test_a_saved_sklearn_model_loads_with_identical_predictions(tmp_path):
    X, y, X_all, _ = _digits_subset(150)
    model = make_model("logreg", random_state=0).fit(X, y)
    save_model(model, tmp_path / "run-1")
    loaded = load_model(tmp_path / "run-1")
    np.testing.assert_array_equal(loaded.predict_proba(X_all), model.predict_proba(X_all))
    assert (tmp_path / "run-1" / "model.json").exists()


torch = pytest.importorskip("torch", reason="torch is not installed")


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("mlp", {"max_epochs": 25}),
        pytest.param(
            "cnn",
            {"image_shape": (8, 8), "augment": True, "learning_rate": 3e-3, "max_epochs": 25},
            marks=pytest.mark.slow,
        ),
    ],
)
def test_torch_models_learn_digits(name, params):
    X, y, X_all, y_all = _digits_subset(300)
    model = make_model(name, random_state=0, patience=4, **params).fit(X, y)
    assert model.score(X_all, y_all) > 0.8
    assert model.best_validation_loss_ is not None


@pytest.mark.parametrize(
    ("name", "params"), [("mlp", {}), ("cnn", {"image_shape": (8, 8), "augment": True})]
)
def test_torch_models_round_trip_through_save_and_load(name, params, tmp_path):
    X, y, X_all, _ = _digits_subset(100)
    model = make_model(name, random_state=0, max_epochs=2, **params).fit(X, y)
    save_model(model, tmp_path / name)
    loaded = load_model(tmp_path / name)
    np.testing.assert_allclose(loaded.predict_proba(X_all), model.predict_proba(X_all), atol=1e-6)
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.get_params() == model.get_params()


def test_torch_training_is_reproducible_for_a_seed():
    X, y, X_all, _ = _digits_subset(100)
    first = make_model("mlp", random_state=3, max_epochs=10).fit(X, y)
    second = make_model("mlp", random_state=3, max_epochs=10).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X_all), second.predict_proba(X_all))


def test_early_stopping_stops_before_max_epochs_on_an_easy_problem():
    X, y, _, _ = _digits_subset(200)
    model = make_model("mlp", random_state=0, max_epochs=500, patience=3).fit(X, y)
    assert model.n_epochs_ < 500


def test_warm_start_continues_from_the_previous_weights_only_when_classes_are_unchanged():
    X, y, _, _ = _digits_subset(200)
    model = make_model("mlp", random_state=0, max_epochs=5, warm_start=True).fit(X, y)
    before = model.module_
    weights = [p.detach().clone() for p in before.parameters()]
    model.fit(X, y)
    assert model.module_ is before
    assert any(
        not torch.equal(w, p) for w, p in zip(weights, model.module_.parameters(), strict=True)
    )
    keep = y < 5
    model.fit(X[keep], y[keep])
    assert model.module_ is not before
    assert model.classes_.tolist() == [0, 1, 2, 3, 4]


def test_mc_dropout_committee_members_differ_and_repeat_for_a_seed():
    X, y, X_all, _ = _digits_subset(150)
    model = make_model("mlp", random_state=0, max_epochs=10, dropout=0.5).fit(X, y)
    committee = model.committee_proba(X_all[:50], 4, seed=11)
    assert committee.shape == (4, 50, len(model.classes_))
    np.testing.assert_allclose(committee.sum(axis=2), 1.0, rtol=1e-6)
    assert not np.allclose(committee[0], committee[1])
    np.testing.assert_array_equal(committee, model.committee_proba(X_all[:50], 4, seed=11))
    # predictions after the committee run are deterministic again (dropout switched off)
    np.testing.assert_array_equal(model.predict_proba(X_all[:5]), model.predict_proba(X_all[:5]))


def test_train_model_warm_starts_a_copy_of_a_torch_model_and_never_touches_the_callers():
    from learning.training import train_model

    X, y, _, _ = _digits_subset(120)
    first = train_model("mlp", X, y, random_state=0, max_epochs=3, warm_start=True)
    module = first.module_
    weights = [p.detach().clone() for p in module.parameters()]
    second = train_model("mlp", X, y, random_state=0, previous=first, max_epochs=3, warm_start=True)
    assert second is not first and second.module_ is not module
    assert first.module_ is module
    assert all(torch.equal(w, p) for w, p in zip(weights, first.module_.parameters(), strict=True))
    # It continued from first's weights: the same as warm-starting first itself.
    in_place = copy.deepcopy(first).fit(X, y)
    for a, b in zip(in_place.module_.parameters(), second.module_.parameters(), strict=True):
        assert torch.equal(a, b)
    linear = train_model("logreg", X, y, random_state=0)
    before = linear.get_params(), linear.C_, linear.predict_proba(X)
    again = train_model("logreg", X, y, random_state=0, previous=linear)
    assert again is not linear
    assert (linear.get_params(), linear.C_) == before[:2]
    np.testing.assert_array_equal(linear.predict_proba(X), before[2])
