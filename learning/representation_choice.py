"""Re-decide a project's representation by evidence as labels accumulate.

A compact representation fitted on the pool (the spectral embedding, an encoder) buys a
quick start, but can cap what labels buy later: on harder images than digits the spectral
embedding of 32-pixel thumbnails stops 7-10 points of full-data accuracy below logistic
regression on the raw pixels (issue 20). So the choice is not made once: with enough labels,
:func:`compare_representations` cross-validates the same model on the labeled rows of each
ready representation and says which one serves next, and why.

Everything is label-only evidence (no evaluation labels are spent), seeded, and the serving
representation keeps its place unless a challenger beats it by ``margin`` — so a noisy
comparison does not switch back and forth.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

STACK_SEPARATOR = "+"
MIN_LABELS = 40


@dataclass(frozen=True)
class RepresentationEvidence:
    """chosen: the representation to serve; serving: the one serving when compared;
    scores: name -> (mean, std) of cross-validated accuracy; n_labels; reason (words);
    folds: of the cross-validation (0 when too few labels to compare)."""

    chosen: str
    serving: str
    n_labels: int
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    reason: str = ""
    folds: int = 0

    @property
    def switch(self) -> bool:
        return self.chosen != self.serving

    def as_json(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "serving": self.serving,
            "n_labels": self.n_labels,
            "scores": {name: list(value) for name, value in self.scores.items()},
            "reason": self.reason,
            "folds": self.folds,
        }


def stack_blocks(blocks: list[NDArray[np.floating]]) -> NDArray[np.float32]:
    """Blocks of the same rows side by side, each scaled by ``1/sqrt(width)`` after
    standardisation (as :class:`learning.contrastive.StackedFeaturizer`) so no block wins by
    its width alone. Standardisation here uses the given rows (the pool, in the loop)."""
    scaled = []
    for block in blocks:
        block = np.asarray(block, dtype=np.float64)
        scale = block.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0) * np.sqrt(block.shape[1])
        scaled.append((block - block.mean(axis=0)) / scale)
    return np.concatenate(scaled, axis=1).astype(np.float32)


def _cv_accuracy(X: NDArray, y: NDArray, folds: int, random_state: int) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(model, X, y, cv=splitter, scoring="accuracy")
    return float(scores.mean()), float(scores.std())


def compare_representations(
    labeled_rows: Mapping[str, NDArray[np.floating]],
    y: NDArray,
    *,
    serving: str,
    cv: int = 5,
    margin: float = 0.01,
    min_labels: int = MIN_LABELS,
    random_state: int = 0,
) -> RepresentationEvidence:
    """Which representation should serve next, from the labeled items' rows in each.

    ``labeled_rows``: name -> ``(n_labels, d_name)`` rows of the same labeled items, in the
    same order as ``y``; ``serving`` must be one of them. Each is scored by ``cv``-fold
    accuracy of standardised logistic regression; the best replaces ``serving`` only when
    it is ahead by more than ``margin``. Below ``min_labels`` labels (or two per class per
    fold) the serving representation stays.
    """
    if serving not in labeled_rows:
        raise ValueError(f"serving representation {serving!r} is not among the candidates")
    y = np.asarray(y)
    n_labels = len(y)
    if any(len(rows) != n_labels for rows in labeled_rows.values()):
        raise ValueError("every representation needs one row per label")
    _, counts = np.unique(y, return_counts=True)
    folds = min(cv, int(counts.min())) if len(counts) > 1 else 0
    if n_labels < min_labels or folds < 2:
        return RepresentationEvidence(
            serving, serving, n_labels, reason=f"fewer than {min_labels} labels to compare on"
        )
    scores = {
        name: _cv_accuracy(np.asarray(rows, dtype=np.float32), y, folds, random_state)
        for name, rows in labeled_rows.items()
    }
    best = max(scores, key=lambda name: scores[name][0])
    gain = scores[best][0] - scores[serving][0]
    if best != serving and gain > margin:
        reason = (
            f"{best} {scores[best][0]:.3f} against {serving} {scores[serving][0]:.3f} "
            f"({folds}-fold cross-validation on {n_labels} labels)"
        )
        return RepresentationEvidence(best, serving, n_labels, scores, reason, folds)
    reason = f"{serving} is within {margin:.2f} of the best ({folds}-fold, {n_labels} labels)"
    return RepresentationEvidence(serving, serving, n_labels, scores, reason, folds)
