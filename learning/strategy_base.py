"""What every query strategy shares: its result, its call (the ``Strategy`` protocol), the
measure lookup and the chunked pool scoring (:mod:`learning.strategies` has the strategies
and their registry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.pool import (
    allowed_mask,
    iter_chunks,
    pool_length,
)
from learning.selection import COLD_STARTS, cold_start_n


@dataclass(frozen=True)
class QueryResult:
    """The outcome of one query.

    positions: int64 ``(k,)`` distinct positions into ``X_pool``, most informative first,
        ``k = min(n, number of queryable positions)``.
    scores: float64 ``(k,)``, non-increasing; higher = ask first.
    """

    positions: NDArray[np.int64]
    scores: NDArray[np.float64]

    def __post_init__(self) -> None:
        if self.positions.shape != self.scores.shape:
            raise ValueError("positions and scores must have the same shape")


class Strategy(Protocol):
    """What the web app and the simulator call."""

    name: str

    def query(
        self,
        model: Any,
        X_pool: Any,
        n: int,
        *,
        rng: np.random.Generator,
        X_labeled: ArrayLike | None = None,
        y_labeled: ArrayLike | None = None,
        exclude: ArrayLike | None = None,
    ) -> QueryResult: ...


def _result(positions: NDArray[np.int64], scores: NDArray[np.float64]) -> QueryResult:
    return QueryResult(
        positions=np.ascontiguousarray(positions, dtype=np.int64),
        scores=np.ascontiguousarray(scores, dtype=np.float64),
    )


def measure_name(measure: str | Callable[..., Any]) -> str:
    """The name a measure runs under: itself when it is a name, else the function's
    ``__name__`` (its type's name for a callable object without one)."""
    if isinstance(measure, str):
        return measure
    return getattr(measure, "__name__", type(measure).__name__)


def _resolve_measure(
    measure: str | Callable[..., Any], registry: dict[str, Any], kind: str
) -> Callable[..., Any]:
    """A registered measure by name, or the caller's own function."""
    if callable(measure):
        return measure
    if isinstance(measure, str):
        try:
            return registry[measure]
        except KeyError:
            known = ", ".join(sorted(registry))
            raise ValueError(f"unknown {kind} {measure!r}; known: {known}") from None
    raise TypeError(f"{kind} must be a name or a function, got {type(measure).__name__}")


def _name_after_measure(strategy: Any, measure: str | Callable[..., Any]) -> None:
    """Give a strategy built without a name its measure's name (frozen dataclass)."""
    if strategy.name is None:
        object.__setattr__(strategy, "name", measure_name(measure))


class _StrategyBase:
    """Shared call plumbing: ``__call__`` returns the positions only (modAL style)."""

    name = "base"

    def query(
        self,
        model: Any,
        X_pool: Any,
        n: int,
        *,
        rng: np.random.Generator,
        X_labeled: ArrayLike | None = None,
        y_labeled: ArrayLike | None = None,
        exclude: ArrayLike | None = None,
    ) -> QueryResult:  # pragma: no cover - every strategy overrides it
        raise NotImplementedError

    def __call__(
        self, model: Any, X_pool: Any, n: int, *, rng: np.random.Generator, **kwargs: Any
    ) -> NDArray[np.int64]:
        return self.query(model, X_pool, n, rng=rng, **kwargs).positions


def pool_scores(
    X_pool: Any,
    score_chunk: Callable[[NDArray[np.float32], int], NDArray[np.float64]],
    *,
    exclude: NDArray[np.int64] | None,
    chunk_size: int,
) -> NDArray[np.float64]:
    """Score every row of the pool chunk by chunk; excluded rows get ``-inf``. ``(n_items,)``."""
    n_rows = pool_length(X_pool)
    scores = np.empty(n_rows, dtype=np.float64)
    for index, (start, rows) in enumerate(iter_chunks(X_pool, chunk_size)):
        scores[start : start + len(rows)] = score_chunk(rows, index)
    scores[~allowed_mask(n_rows, exclude)] = -np.inf
    return scores


@dataclass(frozen=True)
class RandomSampling(_StrategyBase):
    """Passive learning: a uniform random batch. The baseline every chart compares with."""

    name: str = "random"

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        allowed = np.flatnonzero(allowed_mask(pool_length(X_pool), exclude))
        k = min(int(n), len(allowed))
        positions = np.sort(rng.choice(allowed, size=k, replace=False)) if k else allowed[:0]
        positions = rng.permutation(positions)
        # Draw order is the ask order; scores only encode that order.
        return _result(positions, np.linspace(1.0, 0.0, k) if k > 1 else np.ones(k))


@dataclass(frozen=True)
class ColdStart(_StrategyBase):
    """No model needed: the first batch, by :func:`learning.selection.cold_start_n`.

    ``coverage``: a name in :data:`learning.selection.COLD_STARTS`: ``"typical"``, the typical
    items of ``n`` k-means clusters of the features (TypiClust); or one of the variants that
    check or hedge its coverage.
    """

    name: str = "cold_start"
    max_sample: int = 10_000
    coverage: str = "typical"

    def __post_init__(self) -> None:
        if self.coverage not in COLD_STARTS:
            raise ValueError(f"coverage must be one of {', '.join(COLD_STARTS)}")

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        allowed = allowed_mask(pool_length(X_pool), exclude)
        positions, scores = cold_start_n(
            X_pool, n, rng, allowed=allowed, coverage=self.coverage, max_sample=self.max_sample
        )
        return _result(positions, scores)
