"""Semi-supervised training on the unlabeled pool (issue 20, item 4): label spreading over the
pool's neighbour graph where it helps, off where it does not.

The data decide by construction, not by a lucky seed: two long, well separated blobs whose
few labels sit at opposite ends (a line through them cuts both blobs, the graph does not), and
a label carried by one column among sixty noise columns (the graph joins neighbours by
noise, the logistic regression weighs the one column)."""

import numpy as np
import pytest

from learning.models import AutoLogisticRegression, load_model, save_model
from learning.preprocessing import pool_scaler
from learning.semi_supervised import PoolSemiSupervised, decide, unlabeled_sample
from learning.training import train_model


def _long_blobs(n: int, seed: int):
    """Class 0 around x = -1.5, class 1 around x = +1.5 (spread 0.2), both stretched along y
    (spread 5): three labels per class at opposite ends of y."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = np.c_[np.where(y == 0, -1.5, 1.5) + rng.normal(0, 0.2, n), rng.normal(0, 5, n)]
    return X.astype(np.float32), y


LABELED_X = np.array(
    [[-1.5, 12], [-1.5, 11], [-1.5, 10], [1.5, -12], [1.5, -11], [1.5, -10]], dtype=np.float32
)
LABELED_Y = np.array([0, 0, 0, 1, 1, 1])


def _noise_columns(n: int, seed: int):
    """The class is column 0's sign; sixty noise columns make the neighbour graph random."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    signal = np.where(y == 0, -2.0, 2.0) + rng.normal(0, 0.5, n)
    return np.c_[signal, rng.normal(0, 1, (n, 60))].astype(np.float32), y


def test_label_spreading_uses_the_unlabeled_rows_where_the_pool_has_the_structure():
    pool, _ = _long_blobs(1000, seed=0)
    X_test, y_test = _long_blobs(400, seed=1)
    scaler = pool_scaler(pool)
    supervised = AutoLogisticRegression(C=1.0, scaler=scaler).fit(LABELED_X, LABELED_Y)
    semi = PoolSemiSupervised(scaler=scaler).fit(LABELED_X, LABELED_Y, X_unlabeled=pool)
    without_pool = PoolSemiSupervised(scaler=scaler).fit(LABELED_X, LABELED_Y)

    assert supervised.score(X_test, y_test) < 0.8  # the line through the labels cuts the blobs
    assert semi.n_pseudo_ > 500
    assert semi.score(X_test, y_test) > 0.97
    assert without_pool.n_pseudo_ == 0
    assert without_pool.score(X_test, y_test) == supervised.score(X_test, y_test)


def test_the_gate_turns_the_pool_on_where_the_evaluation_answers_show_it_helps():
    pool, _ = _long_blobs(1000, seed=0)
    X_eval, y_eval = _long_blobs(30, seed=2)
    scaler = pool_scaler(pool)

    def make():
        return AutoLogisticRegression(C=1.0, scaler=scaler)

    evidence, semi = decide(
        make, LABELED_X, LABELED_Y, pool, X_eval=X_eval, y_eval=y_eval, scaler=scaler
    )
    assert evidence["on"] and evidence["by"] == "evaluation" and evidence["n_compared"] == 30
    assert evidence["semi_supervised"] > evidence["supervised"]
    assert evidence["wins"] > evidence["losses"] + np.sqrt(evidence["wins"] + evidence["losses"])
    assert semi is not None
    assert semi.score(X_eval, y_eval) == pytest.approx(evidence["semi_supervised"], abs=1e-4)


def test_the_gate_turns_the_pool_off_where_it_hurts():
    X, y = _noise_columns(2000, seed=0)
    X_test, y_test = _noise_columns(500, seed=1)
    scaler = pool_scaler(X)
    labeled, pool = X[:40], X[40:]

    def make():
        return AutoLogisticRegression(C=1.0, scaler=scaler)

    # Used anyway, the pool's pseudo-labels (neighbours by noise) pull the model down.
    forced = PoolSemiSupervised(estimator=make(), scaler=scaler).fit(labeled, y[:40], pool)
    supervised = make().fit(labeled, y[:40])
    assert forced.score(X_test, y_test) < supervised.score(X_test, y_test) - 0.05

    evidence, semi = decide(make, labeled, y[:40], pool, scaler=scaler)  # no evaluation set
    assert evidence["by"] == "cross-validation" and evidence["n_compared"] == 3
    assert not evidence["on"] and semi is None
    assert evidence["supervised"] > evidence["semi_supervised"]

    model = train_model("logreg", labeled, y[:40], random_state=0, scaler=scaler,
                        unlabeled=pool, semi_supervised="auto")  # fmt: skip
    assert model.semi_supervised_["on"] is False
    assert not hasattr(model, "supervised_")
    plain = train_model("logreg", labeled, y[:40], random_state=0, scaler=scaler)
    assert np.array_equal(model.predict_proba(X_test), plain.predict_proba(X_test))


def test_train_model_serves_the_semi_supervised_model_keeps_its_evidence_and_reuses_it(tmp_path):
    pool, _ = _long_blobs(1000, seed=0)
    X_eval, y_eval = _long_blobs(30, seed=2)
    X_test, y_test = _long_blobs(400, seed=1)
    scaler = pool_scaler(pool)
    common = {"random_state": 0, "scaler": scaler, "unlabeled": pool, "semi_supervised": "auto"}

    first = train_model("logreg", LABELED_X, LABELED_Y, evaluation=(X_eval, y_eval), **common)
    assert first.semi_supervised_["on"] and first.semi_supervised_["decided_on"] == 6
    assert first.score(X_test, y_test) > 0.97
    assert first.supervised_.score(X_test, y_test) < 0.8
    assert type(first) is AutoLogisticRegression  # exports and loads as the supervised model

    save_model(first, tmp_path)
    loaded = load_model(tmp_path)
    seven = (np.vstack([LABELED_X, [[-1.5, 9]]]), np.append(LABELED_Y, 0))
    again = train_model("logreg", *seven, previous=loaded, **common)  # < 25% more labels
    assert again.semi_supervised_["reused_from_labels"] == 6 and again.semi_supervised_["on"]
    assert again.score(X_test, y_test) > 0.97

    off = train_model("logreg", LABELED_X, LABELED_Y, **{**common, "semi_supervised": "off"})
    assert not hasattr(off, "semi_supervised_")


def test_the_unlabeled_sample_is_bounded_and_leaves_out_the_labeled_rows():
    sample = unlabeled_sample(100_000, np.arange(0, 100_000, 2), size=2000, random_state=3)
    assert len(sample) == 2000 and np.all(sample % 2 == 1)
    assert np.array_equal(sample, np.unique(sample))
    assert np.array_equal(unlabeled_sample(10, [1, 2], size=2000), [0, 3, 4, 5, 6, 7, 8, 9])
