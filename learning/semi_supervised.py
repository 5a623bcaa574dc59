"""Semi-supervised training on the unlabeled pool (issue 20, item 4), on only where the
evidence says it helps.

Label spreading (scikit-learn's :class:`~sklearn.semi_supervised.LabelSpreading`) over the
k-nearest-neighbour graph of the labeled rows and a seeded sample of at most
``max_unlabeled`` unlabeled pool rows (the landmarks: a 100,000-item pool costs what 2,000
items do) gives every sampled row a label distribution; the rows whose distribution is
confident (``threshold``) join the labels as pseudo-labels, and the model is refitted on both.
The served model stays inductive (it scores any row, the pool and the test set alike) and of
the same kind as the supervised one, so it exports and loads as that model does.

:class:`PoolSemiSupervised` is the scikit-learn-like estimator (``fit(X, y, X_unlabeled=...)``).
:func:`decide` is the gate: it compares the supervised and the semi-supervised model on the
evaluation set's answers (a random sample of the pool labeled by experts) when there are at
least ``min_evaluation`` of them, else by stratified cross-validation on the labels, and turns
the unlabeled pool on only when it wins clearly (paired over the same answers). The retrain
reuses the decision until the labels have grown by ``REDECIDE_GROWTH``
(:func:`learning.training.train_model`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

MAX_UNLABELED = 2000
"""Unlabeled rows in the graph: bounds a retrain's extra cost whatever the pool size."""
REDECIDE_GROWTH = 1.25
"""The decision stands until the labels have grown by this factor."""
MIN_EVALUATION = 20
"""Evaluation answers needed to decide on them; fewer: cross-validation on the labels."""
MODES = ("off", "on", "auto")


def unlabeled_sample(
    n_rows: int, labeled: ArrayLike, size: int = MAX_UNLABELED, *, random_state: int = 0
) -> NDArray[np.int64]:
    """Sorted positions of at most ``size`` pool rows (``n_rows`` in all) not in ``labeled``,
    a seeded uniform sample (the landmarks of the neighbour graph)."""
    mask = np.ones(n_rows, dtype=bool)
    taken = np.asarray(labeled, dtype=np.int64)
    mask[taken[(taken >= 0) & (taken < n_rows)]] = False
    free = np.flatnonzero(mask)
    if len(free) > size:
        rng = np.random.default_rng([random_state, 20, 4])
        free = np.sort(rng.choice(free, size=size, replace=False))
    return free.astype(np.int64)


def pseudo_labels(
    X: NDArray,
    y: NDArray,
    X_unlabeled: NDArray,
    *,
    n_neighbors: int = 10,
    threshold: float = 0.9,
    scaler: Any = None,
) -> tuple[NDArray[np.int64], NDArray]:
    """Positions in ``X_unlabeled`` that label spreading labels with probability at least
    ``threshold``, and their labels (values of ``y``). Rows the graph does not reach from
    any label get none."""
    classes, codes = np.unique(y, return_inverse=True)
    if len(X_unlabeled) == 0 or len(classes) < 2:
        return np.empty(0, dtype=np.int64), y[:0]
    from sklearn.semi_supervised import LabelSpreading

    rows = np.vstack([X, X_unlabeled]).astype(np.float64)
    if scaler is not None:
        rows = scaler.transform(rows)
    target = np.concatenate([codes, np.full(len(X_unlabeled), -1)])
    spreading = LabelSpreading(
        kernel="knn", n_neighbors=min(n_neighbors, len(rows) - 1), alpha=0.9, max_iter=100
    )
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        spreading.fit(rows, target)
    distributions = spreading.label_distributions_[len(X) :]
    confidence = np.nan_to_num(distributions.max(axis=1), nan=0.0)
    keep = np.flatnonzero(confidence >= threshold)
    return keep.astype(np.int64), classes[distributions[keep].argmax(axis=1)]


class PoolSemiSupervised(ClassifierMixin, BaseEstimator):
    """``estimator`` (unfitted; default a logistic regression with ``C=1``) fitted on the
    labels plus the pseudo-labels label spreading gives the unlabeled rows (see module doc).

    ``fit(X, y, X_unlabeled=None)``: without unlabeled rows it is the supervised estimator.
    Fitted attributes: ``classes_``, ``estimator_``, ``n_pseudo_``, ``n_features_in_``.
    """

    def __init__(
        self,
        estimator: Any = None,
        n_neighbors: int = 10,
        threshold: float = 0.9,
        max_unlabeled: int = MAX_UNLABELED,
        scaler: Any = None,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.n_neighbors = n_neighbors
        self.threshold = threshold
        self.max_unlabeled = max_unlabeled
        self.scaler = scaler
        self.random_state = random_state

    def _estimator(self) -> Any:
        if self.estimator is not None:
            return clone(self.estimator)
        from learning.models import AutoLogisticRegression

        return AutoLogisticRegression(C=1.0, scaler=self.scaler, random_state=self.random_state)

    def fit(
        self, X: ArrayLike, y: ArrayLike, X_unlabeled: ArrayLike | None = None
    ) -> PoolSemiSupervised:
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        X_u = np.empty((0, X.shape[1]), dtype=X.dtype)
        if X_unlabeled is not None:
            X_u = np.asarray(X_unlabeled, dtype=X.dtype)
            if len(X_u) > self.max_unlabeled:
                X_u = X_u[unlabeled_sample(len(X_u), [], self.max_unlabeled,
                                           random_state=self.random_state or 0)]  # fmt: skip
        keep, labels = pseudo_labels(
            X, y, X_u, n_neighbors=self.n_neighbors, threshold=self.threshold, scaler=self.scaler
        )
        self.n_pseudo_ = int(len(keep))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.estimator_ = self._estimator().fit(
                np.vstack([X, X_u[keep]]), np.concatenate([y, labels])
            )
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        check_is_fitted(self, "classes_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.estimator_.predict_proba(X)

    def predict(self, X: ArrayLike) -> NDArray:
        check_is_fitted(self, "classes_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def fit_with_pool(
    make_estimator: Callable[[], Any],
    X: NDArray,
    y: NDArray,
    X_unlabeled: NDArray,
    *,
    scaler: Any = None,
    n_neighbors: int = 10,
    threshold: float = 0.9,
) -> tuple[Any, int]:
    """``make_estimator()`` fitted on ``X, y`` plus the confident pseudo-labels of
    ``X_unlabeled``, and their number. The fitted model is of the estimator's own kind."""
    keep, labels = pseudo_labels(
        X, y, X_unlabeled, n_neighbors=n_neighbors, threshold=threshold, scaler=scaler
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_estimator().fit(np.vstack([X, X_unlabeled[keep]]), np.concatenate([y, labels]))
    return model, int(len(keep))


def decide(
    make_estimator: Callable[[], Any],
    X: NDArray,
    y: NDArray,
    X_unlabeled: NDArray,
    *,
    supervised: Any = None,
    X_eval: NDArray | None = None,
    y_eval: NDArray | None = None,
    scaler: Any = None,
    cv: int = 3,
    min_evaluation: int = MIN_EVALUATION,
    random_state: int = 0,
) -> tuple[dict[str, Any], Any]:
    """Whether the unlabeled pool helps: ``(evidence, semi-supervised model or None)``.

    ``make_estimator()``: an unfitted copy of the supervised model with its settings fixed
    (no search per fit). With at least ``min_evaluation`` evaluation answers, ``supervised``
    (fitted on all labels) and the semi-supervised model (fitted here, returned for serving)
    are scored on them; else both are cross-validated on the labels (``cv`` stratified
    folds; the held-out labels are not in the graph). On only when, over the answers one side
    gets right and the other wrong, the semi-supervised model wins more than it loses by over
    one standard deviation of a fair coin's difference (``sqrt(wins + losses)``, as McNemar's
    test): on 50 evaluation answers a one-item lead is noise. ``evidence``: JSON-ready
    (``on``, ``by``, both accuracies, ``wins`` and ``losses``, the number of answers or folds
    compared, ``n_labels``, ``n_pseudo``, ``seconds``)."""
    started = time.perf_counter()
    evidence: dict[str, Any] = {"n_labels": int(len(y)), "n_unlabeled": int(len(X_unlabeled))}
    semi = None
    if X_eval is not None and y_eval is not None and len(y_eval) >= min_evaluation:
        semi, n_pseudo = fit_with_pool(make_estimator, X, y, X_unlabeled, scaler=scaler)
        if supervised is None:
            supervised = make_estimator().fit(X, y)
        right = supervised.predict(X_eval) == y_eval
        semi_right = semi.predict(X_eval) == y_eval
        evidence.update(by="evaluation", n_compared=int(len(y_eval)), n_pseudo=n_pseudo)
    else:
        _, counts = np.unique(y, return_counts=True)
        folds = min(cv, int(counts.min())) if len(counts) > 1 else 0
        if folds < 2:
            evidence.update(on=False, by="too few labels", seconds=0.0)
            return evidence, None
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        right, semi_right = np.zeros(len(y), bool), np.zeros(len(y), bool)
        pseudo = []
        for train, test in splitter.split(X, y):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                base = make_estimator().fit(X[train], y[train])
            model, n_pseudo = fit_with_pool(
                make_estimator, X[train], y[train], X_unlabeled, scaler=scaler
            )
            right[test] = base.predict(X[test]) == y[test]
            semi_right[test] = model.predict(X[test]) == y[test]
            pseudo.append(n_pseudo)
        evidence.update(by="cross-validation", n_compared=folds, n_pseudo=int(np.mean(pseudo)))
    # Paired, as McNemar's test: the answers only one side gets right decide, and the pool
    # must win more of them than one standard deviation of a fair coin's difference.
    wins = int(np.sum(semi_right & ~right))
    losses = int(np.sum(right & ~semi_right))
    evidence.update(
        on=bool(wins - losses > np.sqrt(wins + losses)),
        supervised=round(float(np.mean(right)), 4),
        semi_supervised=round(float(np.mean(semi_right)), 4),
        wins=wins,
        losses=losses,
        seconds=round(time.perf_counter() - started, 3),
    )
    return evidence, semi
