"""An outside model's predictions (a team's own model) against the loop's model.

The team's predictions arrive per item as ``{class: score}`` (often just the top class and its
confidence); :func:`external_distribution` makes them distributions over the project's classes,
:func:`jensen_shannon` measures how far two distributions disagree, and
:class:`ExternalDisagreement` is the strategy ``disagreement_external``: it asks first where
the two models disagree most, then the loop's most uncertain items where the team gave no
prediction. Pure numpy: the web app's glue (``labeler/engine/suggestions.py``) reads the
predictions and aligns them with the pool's rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.measures import margin_scores
from learning.pool import DEFAULT_CHUNK_SIZE, excluded_positions, pool_length
from learning.selection import top_n
from learning.strategy_base import ColdStart, _result, _StrategyBase, pool_scores

_EPS = 1e-12
# Items the team did not predict rank below every item it did: -2 + margin lies in [-2, -1],
# a disagreement in [0, ln 2].
_WITHOUT_PREDICTION = -2.0


def external_distribution(
    scored: Sequence[Mapping[str, float | None]], classes: Sequence[str]
) -> NDArray[np.float64]:
    """Distributions ``(n_items, n_classes)`` over ``classes`` from per-item scores.

    Each mapping gives some classes a score in [0, 1] (``None``: the class was named without
    one, read as certain). When the scores given sum to less than 1, the rest is shared evenly
    by the classes not named (a file that gives only "cat, 0.8" says 0.2 for the others);
    otherwise they are normalised. Classes outside ``classes`` are ignored.
    """
    column = {name: index for index, name in enumerate(classes)}
    out = np.zeros((len(scored), len(classes)))
    for row, scores in enumerate(scored):
        for name, score in scores.items():
            if name in column:
                out[row, column[name]] = 1.0 if score is None else float(score)
        total = out[row].sum()
        unnamed = [column[name] for name in classes if name not in scores]
        if total < 1.0 and unnamed:
            out[row, unnamed] += (1.0 - total) / len(unnamed)
        elif total > 0:
            out[row] /= total
        else:
            out[row] = 1.0 / max(len(classes), 1)
    return out


def jensen_shannon(p: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    """Jensen-Shannon divergence (natural log) between paired rows of two ``(n, c)``
    distributions; shape ``(n,)``, in ``[0, ln 2]``: 0 when they agree exactly, ``ln 2`` when
    they put all their mass on different classes. Symmetric, finite where KL is not."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 2:
        raise ValueError(f"p and q must be (n, c) of one shape, got {p.shape} and {q.shape}")
    m = 0.5 * (p + q)

    def kl(a: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0.0, a * (np.log(a) - np.log(np.maximum(m, _EPS))), 0.0)
        return terms.sum(axis=1)

    return np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, np.log(2.0))


@dataclass(frozen=True, eq=False)
class ExternalDisagreement(_StrategyBase):
    """Top-n by the Jensen-Shannon divergence between the loop's model and an outside model.

    ``positions``: int ``(m,)`` pool positions the outside model predicted; ``proba``:
    ``(m, len(classes))`` its distributions (:func:`external_distribution`) over ``classes``.
    Positions without a prediction follow, by the loop's margin uncertainty; without any
    outside predictions this is margin sampling. Before a model, the cold start.
    """

    positions: Any = None
    proba: Any = None
    classes: tuple[str, ...] = ()
    name: str = "disagreement_external"
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        if (self.positions is None) != (self.proba is None):
            raise ValueError("positions and proba come together")
        if self.proba is not None and np.shape(self.proba) != (
            len(self.positions),
            len(self.classes),
        ):
            raise ValueError("proba must be (len(positions), len(classes))")

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        n_rows = pool_length(X_pool)
        excluded = excluded_positions(n_rows, exclude)
        if model is None:
            return ColdStart().query(None, X_pool, n, rng=rng, exclude=excluded)
        loop_classes = [str(name) for name in model.classes_]
        union = loop_classes + [name for name in self.classes if name not in loop_classes]
        outside = np.zeros((0, len(union)))
        index_of = np.full(n_rows, -1, dtype=np.int64)
        if self.positions is not None and len(self.positions):
            columns = [union.index(name) for name in self.classes]
            outside = np.zeros((len(self.positions), len(union)))
            outside[:, columns] = np.asarray(self.proba, dtype=np.float64)
            index_of[np.asarray(self.positions, dtype=np.int64)] = np.arange(len(self.positions))

        def score_chunk(rows: NDArray[np.float32], index: int) -> NDArray[np.float64]:
            start = index * self.chunk_size
            loop = np.asarray(model.predict_proba(rows), dtype=np.float64)
            scores = _WITHOUT_PREDICTION + margin_scores(loop)
            which = index_of[start : start + len(rows)]
            known = which >= 0
            if known.any():
                padded = np.zeros((int(known.sum()), len(union)))
                padded[:, : len(loop_classes)] = loop[known]
                scores[known] = jensen_shannon(padded, outside[which[known]])
            return scores

        scores = pool_scores(X_pool, score_chunk, exclude=excluded, chunk_size=self.chunk_size)
        positions, chosen = top_n(scores, n, rng)
        return _result(positions, chosen)
