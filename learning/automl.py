"""AutoML for the model: per retrain, the model family and its settings chosen by
cross-validation on the labels, within a time budget that keeps the loop instant.

:class:`AutoModel` follows scikit-learn's estimator rules. ``fit`` scores each candidate of
:data:`CANDIDATES` (logistic regression, RBF-kernel logistic regression and a small neural
head, each with a few settings) by stratified ``cv``-fold accuracy on the labels, cheapest
first, stops trying new candidates once ``time_budget`` seconds are spent, and refits the
best on all labels. Its evidence (every candidate's score, spread and cost) is kept in
``evidence_`` for the model run's metrics and the dashboard.

The answer moves slowly with the label count, so like the logistic regression's ``C`` search
the choice is reused (``next_round``) until the labels have grown by ``search_growth``.

A grid of eight settings is searched exhaustively: with 20-500 labels a sequential optimiser
(Optuna's TPE) has nothing to learn from in so few trials, and each trial costs ``cv`` fits.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


@dataclass(frozen=True)
class Candidate:
    """One model setting: ``family`` in ("logreg", "kernel_logreg", "mlp") and its params."""

    family: str
    params: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        settings = ", ".join(f"{key}={value:g}" for key, value in self.params.items())
        return f"{self.family}({settings})" if settings else self.family


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("logreg", {"C": 0.1}),
    Candidate("logreg", {"C": 1.0}),
    Candidate("logreg", {"C": 10.0}),
    Candidate("kernel_logreg", {"C": 1.0}),
    Candidate("kernel_logreg", {"C": 10.0}),
    Candidate("kernel_logreg", {"C": 100.0}),
    Candidate("mlp", {"alpha": 1e-3}),
    Candidate("mlp", {"alpha": 1e-1}),
)
"""Cheapest first: when the budget runs out, the settings not tried are the costly ones."""


def build_candidate(
    candidate: Candidate, *, scaler: Any = None, random_state: int | None = None
) -> Any:
    """An unfitted scikit-learn pipeline for ``candidate``: the scaler (a frozen pool scaler,
    else standardisation on the labels), then the family's classifier."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from learning.models import _TrainingSizeNystroem

    steps: list[Any] = [StandardScaler() if scaler is None else scaler]
    params = candidate.params
    if candidate.family == "kernel_logreg":
        steps.append(_TrainingSizeNystroem(random_state=random_state))
    if candidate.family in {"logreg", "kernel_logreg"}:
        steps.append(LogisticRegression(C=params["C"], max_iter=2000, random_state=random_state))
    elif candidate.family == "mlp":
        steps.append(
            # L-BFGS: on a few hundred labels it converges in a tenth of adam's time.
            MLPClassifier(
                hidden_layer_sizes=(128,),
                solver="lbfgs",
                alpha=params["alpha"],
                max_iter=200,
                random_state=random_state,
            )
        )
    else:
        raise ValueError(f"unknown model family {candidate.family!r}")
    return make_pipeline(*steps)


class AutoModel(ClassifierMixin, BaseEstimator):
    """The model chosen by cross-validated accuracy among ``candidates`` (see module doc).

    ``time_budget``: seconds of search per fit; candidates still untried when it is spent are
    skipped (at least the first is always scored). ``cv``: folds (fewer when a class has
    fewer labels); below ``min_samples_for_cv`` labels the first candidate is used unscored.
    ``scaler``: a fitted, frozen pool scaler (:func:`learning.preprocessing.pool_scaler`) or
    None. ``previous_choice``: an earlier fit's ``(candidate index, n_labels searched on)``,
    reused until the labels grow by ``search_growth``; ``previous_evidence`` is that search's
    evidence, shown again while its choice stands.

    Fitted attributes: ``classes_``, ``choice_`` (a :class:`Candidate`), ``estimator_`` (the
    fitted pipeline; None for a single class), ``evidence_`` (JSON-ready dict: the choice, the
    labels it was searched on, per-candidate mean/std accuracy and seconds, the skipped ones),
    ``n_features_in_``.
    """

    def __init__(
        self,
        candidates: tuple[Candidate, ...] = CANDIDATES,
        cv: int = 3,
        time_budget: float = 3.0,
        min_samples_for_cv: int = 30,
        search_growth: float = 1.25,
        previous_choice: tuple[int, int] | None = None,
        previous_evidence: dict[str, Any] | None = None,
        scaler: Any = None,
        random_state: int | None = None,
    ) -> None:
        self.candidates = candidates
        self.cv = cv
        self.time_budget = time_budget
        self.min_samples_for_cv = min_samples_for_cv
        self.search_growth = search_growth
        self.previous_choice = previous_choice
        self.previous_evidence = previous_evidence
        self.scaler = scaler
        self.random_state = random_state

    def _search(self, X: NDArray, y: NDArray) -> tuple[int, dict[str, Any]]:
        """The index of the best candidate and the evidence for it."""
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        if self.previous_choice is not None:
            index, searched_on = self.previous_choice
            if searched_on > 0 and len(y) < self.search_growth * searched_on:
                earlier = dict(self.previous_evidence or {})
                earlier.pop("chosen", None)
                earlier.pop("n_labels", None)
                return int(index), {**earlier, "reused_from_labels": int(searched_on)}
        _, counts = np.unique(y, return_counts=True)
        folds = min(self.cv, int(counts.min()))
        if len(y) < self.min_samples_for_cv or folds < 2:
            return 0, {"reason": "too few labels to cross-validate"}
        from threadpoolctl import threadpool_limits

        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        scored: list[dict[str, Any]] = []
        skipped: list[str] = []
        started = time.perf_counter()
        for candidate in self.candidates:
            if scored and time.perf_counter() - started > self.time_budget:
                skipped.append(candidate.name)
                continue
            began = time.perf_counter()
            pipeline = build_candidate(
                candidate, scaler=self.scaler, random_state=self.random_state
            )
            # Small matrices: one BLAS thread is faster than several fighting for busy cores.
            with threadpool_limits(limits=1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                accuracy = cross_val_score(pipeline, X, y, cv=splitter, scoring="accuracy")
            scored.append(
                {
                    "candidate": candidate.name,
                    "family": candidate.family,
                    "accuracy": float(accuracy.mean()),
                    "accuracy_std": float(accuracy.std()),
                    "seconds": round(time.perf_counter() - began, 4),
                }
            )
        # Ties go to the earlier (cheaper, simpler) candidate: argmax keeps the first.
        best = int(np.argmax([s["accuracy"] for s in scored]))
        evidence = {"folds": folds, "candidates": scored, "skipped": skipped}
        return best, evidence

    def fit(self, X: ArrayLike, y: ArrayLike) -> AutoModel:
        """Choose and fit on ``X`` ``(n_samples, n_features)``, ``y`` ``(n_samples,)``."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if not self.candidates:
            raise ValueError("AutoModel needs at least one candidate")
        if len(self.classes_) == 1:
            self.choice_, self.estimator_ = self.candidates[0], None
            self.searched_on_ = 0
            self.evidence_ = {"chosen": self.choice_.name, "reason": "a single class"}
            return self
        index, evidence = self._search(X, y)
        self.choice_ = self.candidates[index]
        self.choice_index_ = index
        self.searched_on_ = (
            int(evidence["reused_from_labels"])
            if "reused_from_labels" in evidence
            else (len(y) if "candidates" in evidence else 0)
        )
        self.evidence_ = {"chosen": self.choice_.name, "n_labels": int(len(y)), **evidence}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.estimator_ = build_candidate(
                self.choice_, scaler=self.scaler, random_state=self.random_state
            ).fit(X, y)
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """``(n_samples, n_classes)`` in ``classes_`` order."""
        check_is_fitted(self, "classes_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        if self.estimator_ is None:
            return np.ones((X.shape[0], 1))
        return self.estimator_.predict_proba(X)

    def predict(self, X: ArrayLike) -> NDArray:
        check_is_fitted(self, "classes_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _with_choice(self, searched_on: int) -> AutoModel:
        params = self.get_params(deep=False)
        params["previous_choice"] = (int(getattr(self, "choice_index_", 0)), searched_on)
        params["previous_evidence"] = self.evidence_
        return type(self)(**params)

    def committee_member(self) -> AutoModel:
        """An unfitted copy that keeps this fit's choice (no search per committee member)."""
        check_is_fitted(self, "classes_")
        return self._with_choice(searched_on=10**9)

    def next_round(self) -> AutoModel:
        """An unfitted copy for the loop's next round: it keeps the choice until the labels
        have grown by ``search_growth``, then searches again."""
        check_is_fitted(self, "classes_")
        return self._with_choice(searched_on=int(self.searched_on_))
