"""A findings (multi-label) classifier: one logistic regression per finding on shared
standardised features, with CheXpert's policies for uncertain answers.

Answers are an ``(n_items, n_findings)`` int matrix: 1 present, 0 absent, -1 uncertain.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

PRESENT, ABSENT, UNCERTAIN = 1, 0, -1
# Measured on the two findings sets of bench/findings_corpus.py: the best strength was 0.01 on
# MiniLM text and 0.1-1 on pixels (macro AUC at 300 labels 0.846 against 0.826, 0.843 against
# 0.831), so it is searched; 0.1 is the fallback before there are labels to search on.
DEFAULT_CS: tuple[float, ...] = (0.01, 0.1, 1.0)
UNCERTAIN_POLICIES = ("ignore", "ones", "zeros")
"""How an uncertain answer trains: left out of its finding's training set (CheXpert's
U-Ignore, the default), counted as present (U-Ones) or as absent (U-Zeros)."""
DEFAULT_UNCERTAIN = "ignore"


def answers_matrix(Y: ArrayLike) -> NDArray[np.int8]:
    """``Y`` as an int8 ``(n_items, n_findings)`` matrix of 1 / 0 / -1; anything else is refused."""
    matrix = np.asarray(Y)
    if matrix.ndim != 2:
        raise ValueError(f"answers must be 2-D (n_items, n_findings), got shape {matrix.shape}")
    if matrix.size and not np.isin(matrix, (PRESENT, ABSENT, UNCERTAIN)).all():
        raise ValueError("answers must hold only 1 (present), 0 (absent) and -1 (uncertain)")
    return matrix.astype(np.int8)


def training_targets(
    Y: ArrayLike, uncertain: str = DEFAULT_UNCERTAIN
) -> tuple[NDArray[np.int8], NDArray[np.bool_]]:
    """0/1 targets ``(n, k)`` and the mask ``(n, k)`` of cells that train, under ``uncertain``."""
    if uncertain not in UNCERTAIN_POLICIES:
        raise ValueError(f"unknown uncertain policy {uncertain!r}; known: ignore, ones, zeros")
    answers = answers_matrix(Y)
    is_uncertain = answers == UNCERTAIN
    targets = (answers == PRESENT).astype(np.int8)
    if uncertain == "ones":
        targets[is_uncertain] = 1
    mask = ~is_uncertain if uncertain == "ignore" else np.ones_like(is_uncertain)
    return targets, mask


def positives_per_finding(Y: ArrayLike, uncertain: str = DEFAULT_UNCERTAIN) -> NDArray[np.int64]:
    """How many labeled items train each finding as present, ``(n_findings,)``."""
    targets, mask = training_targets(Y, uncertain)
    return (targets.astype(bool) & mask).sum(axis=0).astype(np.int64)


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.log(p) - np.log1p(-p)


class FindingsClassifier(BaseEstimator):
    """One class-weighted logistic regression per finding; ``predict_proba`` gives P(present).

    Features are standardised once (shared by every finding); finding ``j`` trains on the
    items whose answer for it is not left out by ``uncertain`` (see
    :data:`UNCERTAIN_POLICIES`). ``class_weight="balanced"`` weighs each finding's present and
    absent answers equally, so a finding present in 2% of the items still moves its weights.
    A finding whose answers are all one state (no positives yet) predicts its smoothed prior
    ``(positives + 0.5) / (answers + 1)``, never fails.

    ``scaler``: a fitted, frozen pool scaler (:func:`learning.preprocessing.pool_scaler`)
    whose mean and scale replace the labels' own; None (what a findings project trains with)
    standardises on the labels. Simulated on the digit canvases' pixels (3 seeds, budget 200,
    AULC on macro AUC with it / without): 0.770 / 0.755 with the first findings default, 0.814
    / 0.836 with its diverse batch among the 10% most uncertain; no consistent gain, so the
    app does not pass it.

    Fitted attributes: ``classes_`` ``(k,)`` (``findings`` when given, else ``0..k-1``),
    ``coef_`` ``(k, d)`` and ``intercept_`` ``(k,)`` on the standardised features (zero
    weights for a prior-only finding), ``C_`` (the strength used; ``C`` None searches it as
    :meth:`_choose_C` says), ``C_searched_on_``, ``mean_`` / ``scale_`` ``(d,)``,
    ``trained_`` ``(k,)`` bool (finding has a model), ``positives_`` ``(k,)``, ``n_features_in_``.
    """

    def __init__(
        self,
        uncertain: str = DEFAULT_UNCERTAIN,
        C: float | None = None,
        Cs: tuple[float, ...] = DEFAULT_CS,
        cv: int = 3,
        min_samples_for_cv: int = 30,
        fallback_C: float = 0.1,
        class_weight: str | None = "balanced",
        max_iter: int = 1000,
        findings: tuple[str, ...] | None = None,
        random_state: int | None = None,
        previous_search: tuple[float, int] | None = None,
        search_growth: float = 1.25,
        scaler: Any = None,
    ) -> None:
        self.uncertain = uncertain
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.min_samples_for_cv = min_samples_for_cv
        self.fallback_C = fallback_C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.findings = findings
        self.random_state = random_state
        self.previous_search = previous_search
        self.search_growth = search_growth
        self.scaler = scaler

    def _choose_C(self, X: NDArray, answers: NDArray[np.int8]) -> tuple[float, int]:
        """The strength to fit with and the number of labels it was searched on: the ``Cs``
        value with the best out-of-fold macro AUC, searched again only as the labels grow by
        ``search_growth`` (see :class:`learning.models.AutoLogisticRegression`)."""
        if self.C is not None:
            return float(self.C), 0
        if self.previous_search is not None:
            previous_C, searched_on = self.previous_search
            if searched_on > 0 and len(answers) < self.search_growth * searched_on:
                return float(previous_C), int(searched_on)
        if len(answers) < self.min_samples_for_cv or len(self.Cs) < 2:
            return float(self.fallback_C), 0
        from learning.findings.metrics import macro_auc

        folds = np.random.default_rng(self.random_state).permutation(len(answers)) % self.cv
        scores = []
        for C in self.Cs:
            proba = np.zeros(answers.shape)
            for fold in range(self.cv):
                held = folds == fold
                member = self.committee_member().set_params(C=C)
                proba[held] = member.fit(X[~held], answers[~held]).predict_proba(X[held])
            scores.append(macro_auc(answers, proba) or 0.0)
        return float(self.Cs[int(np.argmax(scores))]), len(answers)

    def fit(self, X: ArrayLike, Y: ArrayLike) -> FindingsClassifier:
        """Fit on ``X`` ``(n, d)`` and answers ``Y`` ``(n, k)`` of 1 / 0 / -1."""
        from sklearn.linear_model import LogisticRegression

        X = validate_data(self, X, dtype=[np.float64, np.float32])
        answers = answers_matrix(Y)
        if len(answers) != len(X):
            raise ValueError(f"X has {len(X)} rows but Y has {len(answers)}")
        n_findings = answers.shape[1]
        if self.findings is not None and len(self.findings) != n_findings:
            raise ValueError(f"{len(self.findings)} finding names for {n_findings} columns")
        targets, mask = training_targets(answers, self.uncertain)
        self.classes_ = (
            np.asarray(self.findings) if self.findings is not None else np.arange(n_findings)
        )
        if self.scaler is not None:
            # Fitted on the pool (learning.preprocessing.pool_scaler), frozen: the labels never
            # refit it.
            fitted_scaler = getattr(self.scaler, "estimator", self.scaler)
            self.mean_ = np.asarray(fitted_scaler.mean_, dtype=np.float64)
            scale = np.asarray(fitted_scaler.scale_, dtype=np.float64)
        else:
            self.mean_ = X.mean(axis=0) if len(X) else np.zeros(X.shape[1])
            scale = X.std(axis=0) if len(X) else np.ones(X.shape[1])
        self.scale_ = np.where(scale > 0, scale, 1.0)
        standardised = (X - self.mean_) / self.scale_
        self.C_, self.C_searched_on_ = self._choose_C(X, answers)
        self.coef_ = np.zeros((n_findings, X.shape[1]))
        self.intercept_ = np.zeros(n_findings)
        self.trained_ = np.zeros(n_findings, dtype=bool)
        self.positives_ = (targets.astype(bool) & mask).sum(axis=0)
        for j in range(n_findings):
            rows = mask[:, j]
            y = targets[rows, j]
            positives = int(y.sum())
            if 0 < positives < len(y):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fitted = LogisticRegression(
                        C=self.C_,
                        class_weight=self.class_weight,
                        max_iter=self.max_iter,
                        random_state=self.random_state,
                    ).fit(standardised[rows], y)
                self.coef_[j] = fitted.coef_[0]
                self.intercept_[j] = fitted.intercept_[0]
                self.trained_[j] = True
            else:
                prior = (positives + 0.5) / (len(y) + 1.0)
                self.intercept_[j] = float(_logit(np.array(prior)))
        return self

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Log-odds of present, ``(n, k)``."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return ((X - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """P(present) per finding, ``(n, k)``, columns in ``classes_`` order (rows need not
        sum to 1: findings are not exclusive)."""
        logits = np.clip(self.decision_function(X), -30.0, 30.0)
        return 1.0 / (1.0 + np.exp(-logits))

    def predict(self, X: ArrayLike) -> NDArray[np.int8]:
        """1 where P(present) >= 0.5, else 0; ``(n, k)``."""
        return (self.predict_proba(X) >= 0.5).astype(np.int8)

    def committee_member(self) -> FindingsClassifier:
        """An unfitted copy that fits with this one's ``C_`` (no search per member)."""
        params = self.get_params(deep=False)
        params["C"] = getattr(self, "C_", self.C)
        return type(self)(**params)

    def next_round(self) -> FindingsClassifier:
        """An unfitted copy for the loop's next round: it keeps this fit's searched ``C_``
        until the labels have grown by ``search_growth``, then searches again."""
        check_is_fitted(self, "coef_")
        params = self.get_params(deep=False)
        if self.C is None:
            params["previous_search"] = (self.C_, self.C_searched_on_)
        return type(self)(**params)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
