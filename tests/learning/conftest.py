"""Seeded synthetic data for the engine's tests. No Django, no database."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray


@dataclass(frozen=True)
class ToyProblem:
    X_pool: NDArray[np.float32]
    y_pool: NDArray[np.int64]
    X_labeled: NDArray[np.float32]
    y_labeled: NDArray[np.int64]


def make_blobs_problem(
    *, n_pool: int = 300, n_labeled: int = 30, n_classes: int = 3, seed: int = 0
) -> ToyProblem:
    """Gaussian blobs in 5-D with some overlap, so there is real uncertainty to find."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(
        n_samples=n_pool + n_labeled,
        n_features=5,
        centers=n_classes,
        cluster_std=2.5,
        random_state=seed,
    )
    X = X.astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(y))
    labeled, pool = order[:n_labeled], order[n_labeled:]
    return ToyProblem(X[pool], y[pool], X[labeled], y[labeled])


@pytest.fixture(scope="session")
def blobs() -> ToyProblem:
    return make_blobs_problem()


class FixedProbaModel:
    """A stand-in fitted model whose probability of class 1 is the pool row's first column."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        p = np.asarray(X[:, 0], dtype=np.float64)
        return np.column_stack([1.0 - p, p])
