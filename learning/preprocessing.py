"""Preprocessing fitted on the unlabeled pool, which active learning always has.

With 20-100 labels, a scaler fitted on the labeled rows only is mostly noise (a pixel that is
dark in every labeled image gets a zero scale, then dominates the next round). Fitted on the
pool it is stable from the first round: simulated in docs/benchmarks.md (issue 20).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from learning.pool import pool_length, take_rows

POOL_SCALER_ROWS = 50_000


def pool_scaler(X_pool: Any, *, max_rows: int = POOL_SCALER_ROWS, random_state: int = 0) -> Any:
    """A frozen ``StandardScaler`` fitted on the pool ``(n_items, d)`` (array, memmap or
    sharded view), on a seeded sample of at most ``max_rows`` rows so a million-item pool
    costs the same as 50,000. Frozen (``sklearn.frozen.FrozenEstimator``): a model's ``fit``
    and ``clone`` keep it as it is, so the labeled rows never refit it."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.preprocessing import StandardScaler

    n_rows = pool_length(X_pool)
    if n_rows == 0:
        raise ValueError("a pool scaler needs at least one row")
    if n_rows > max_rows:
        rng = np.random.default_rng(random_state)
        positions = np.sort(rng.choice(n_rows, size=max_rows, replace=False)).astype(np.int64)
    else:
        positions = np.arange(n_rows, dtype=np.int64)
    rows = np.asarray(take_rows(X_pool, positions), dtype=np.float64)
    return FrozenEstimator(StandardScaler().fit(rows))


def accepts_scaler(model: Any) -> bool:
    """Whether ``model`` takes a fitted ``scaler`` parameter (the logistic regressions)."""
    return "scaler" in model.get_params(deep=False)
