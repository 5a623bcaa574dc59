"""Query by committee: the committee's disagreement over the pool, from the model's own
MC-dropout passes or bootstrap copies fitted on the labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.disagreement import DISAGREEMENT_MEASURES, Disagreement
from learning.pool import (
    DEFAULT_CHUNK_SIZE,
    excluded_positions,
    pool_length,
)
from learning.selection import top_n
from learning.strategy_base import (
    ColdStart,
    _name_after_measure,
    _resolve_measure,
    _result,
    _StrategyBase,
    pool_scores,
)


def _aligned_proba(member: Any, rows: NDArray[np.float32], classes: NDArray) -> NDArray:
    """``member.predict_proba(rows)`` spread over ``classes`` (a bootstrap may miss some)."""
    proba = member.predict_proba(rows)
    if len(member.classes_) == len(classes) and np.array_equal(member.classes_, classes):
        return proba
    full = np.zeros((len(rows), len(classes)))
    full[:, np.searchsorted(classes, member.classes_)] = proba
    return full


def bootstrap_committee(
    model: Any,
    X_labeled: ArrayLike,
    y_labeled: ArrayLike,
    n_members: int,
    rng: np.random.Generator,
) -> list[Any]:
    """``n_members`` unfitted copies of ``model`` fitted on bootstrap resamples of the labels.

    Uses ``model.committee_member()`` when the model offers it (e.g. to reuse a
    cross-validated ``C`` instead of re-running the search per member), else
    ``sklearn.base.clone``. Each resample keeps at least one item of every class so that all
    members see every class.
    """
    from sklearn.base import clone

    X = np.asarray(X_labeled, dtype=np.float32)
    y = np.asarray(y_labeled)
    classes = np.unique(y)
    first_of_class = np.array([np.flatnonzero(y == c)[0] for c in classes])
    members = []
    for _ in range(n_members):
        sample = rng.integers(0, len(y), size=len(y))
        sample[: len(first_of_class)] = first_of_class
        member = model.committee_member() if hasattr(model, "committee_member") else clone(model)
        if "random_state" in member.get_params():
            member.set_params(random_state=int(rng.integers(0, 2**31 - 1)))
        members.append(member.fit(X[sample], y[sample]))
    return members


@dataclass(frozen=True)
class QueryByCommittee(_StrategyBase):
    """Top-n by committee disagreement (vote entropy or consensus KL).

    The committee is the model's own MC-dropout passes when it has ``committee_proba``
    (torch models), else ``n_members`` bootstrap copies fitted on ``X_labeled, y_labeled``.
    ``disagreement``: a name in :data:`learning.disagreement.DISAGREEMENT_MEASURES` or a
    function ``committee_proba (n_members, n_items, n_classes) -> scores (n_items,)``.
    """

    disagreement: str | Disagreement = "vote_entropy"
    name: str | None = None
    n_members: int = 5
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        _resolve_measure(self.disagreement, DISAGREEMENT_MEASURES, "disagreement measure")
        _name_after_measure(self, self.disagreement)
        if self.n_members < 2:
            raise ValueError("a committee needs at least two members")

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        excluded = excluded_positions(pool_length(X_pool), exclude)
        if model is None:
            return ColdStart().query(None, X_pool, n, rng=rng, exclude=excluded)
        measure = _resolve_measure(self.disagreement, DISAGREEMENT_MEASURES, "disagreement measure")
        if hasattr(model, "committee_proba"):
            seed = int(rng.integers(0, 2**31 - 1))

            def score_chunk(rows: NDArray[np.float32], index: int) -> NDArray[np.float64]:
                return measure(model.committee_proba(rows, self.n_members, seed=seed + index))

        else:
            if X_labeled is None or y_labeled is None:
                raise ValueError(
                    f"{self.name} needs X_labeled and y_labeled to build a bootstrap committee "
                    "(or a model with committee_proba, such as the torch models)"
                )
            classes = model.classes_
            members = bootstrap_committee(model, X_labeled, y_labeled, self.n_members, rng)

            def score_chunk(rows: NDArray[np.float32], index: int) -> NDArray[np.float64]:
                return measure(np.stack([_aligned_proba(m, rows, classes) for m in members]))

        scores = pool_scores(X_pool, score_chunk, exclude=excluded, chunk_size=self.chunk_size)
        positions, chosen = top_n(scores, n, rng)
        return _result(positions, chosen)
