"""Query strategies and their registry.

A strategy is a measure composed with a selector. Every strategy has the same call::

    result = strategy.query(model, X_pool, n, rng=rng, X_labeled=..., y_labeled=..., exclude=...)

``model`` is a fitted estimator with ``predict_proba`` (or ``None`` before the first model:
then every model-based strategy falls back to the cold-start selection). ``X_pool`` is the
``(n_items, d)`` float32 pool (array, ``np.memmap`` or :func:`learning.features.open_shards`
view); it is scored in chunks of ``chunk_size`` rows so a million-item pool stays in bounded
memory. ``exclude`` lists positions that must never be returned (e.g. already labeled rows
when the pool is the whole shard). The :class:`QueryResult` holds distinct positions, most
informative first, and their non-increasing scores. A seed fixes the result.

The measure of an uncertainty strategy (and the disagreement of a committee) is a registered
name or any function of the same shape::

    UncertaintySampling(measure="margin")
    UncertaintySampling(measure=lambda proba: 1.0 - proba.max(axis=1))  # (n, c) -> (n,)

and ``strategy.name`` says what runs: the registry's name, or the function's ``__name__``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.disagreement import DISAGREEMENT_MEASURES, Disagreement
from learning.measures import UNCERTAINTY_MEASURES, Measure
from learning.pool import (
    DEFAULT_CHUNK_SIZE,
    allowed_mask,
    excluded_positions,
    iter_chunks,
    pool_length,
)
from learning.selection import COLD_STARTS, cold_start_n, diverse_top_n, order_by_score, top_n


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
class UncertaintySampling(_StrategyBase):
    """Top-n by an uncertainty measure of ``model.predict_proba``; optionally diversified (see
    :func:`learning.selection.diverse_top_n`).

    ``measure``: a name in :data:`learning.measures.UNCERTAINTY_MEASURES` (least confidence,
    margin, entropy) or a function ``proba (n_items, n_classes) -> scores (n_items,)``, higher
    = ask first. ``name`` defaults to the measure's name (a function's ``__name__``).
    """

    measure: str | Measure = "margin"
    name: str | None = None
    diverse: bool = False
    candidate_factor: int = 10
    max_candidates: int = 10_000
    candidate_share: float | None = None
    random_share: float = 0.0
    pick: str = "most_uncertain"
    standardize: bool = False
    cold_start: str = "typical"
    coverage_share: float = 0.0
    coverage_labels_per_class: int | None = None
    coverage_neighbors: int = 20
    coverage_pools: str = "flat"
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        if not 0.0 <= self.coverage_share <= 1.0:
            raise ValueError("coverage_share must be in [0, 1]")
        if self.coverage_pools not in {"flat", "safe"}:
            raise ValueError("coverage_pools must be 'flat' or 'safe'")
        if self.cold_start not in COLD_STARTS:
            raise ValueError(f"cold_start must be one of {', '.join(COLD_STARTS)}")
        if self.pick not in {"most_uncertain", "centroid"}:
            raise ValueError(f"unknown pick {self.pick!r}: 'most_uncertain' or 'centroid'")
        if self.candidate_share is not None and not 0.0 < self.candidate_share <= 1.0:
            raise ValueError("candidate_share must be in (0, 1]")
        _resolve_measure(self.measure, UNCERTAINTY_MEASURES, "uncertainty measure")
        _name_after_measure(self, self.measure)
        if not 0.0 <= self.random_share < 1.0:
            raise ValueError("random_share must be in [0, 1)")

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        excluded = excluded_positions(pool_length(X_pool), exclude)
        if model is None:
            cold = ColdStart(coverage=self.cold_start)
            return cold.query(None, X_pool, n, rng=rng, exclude=excluded)
        measure = _resolve_measure(self.measure, UNCERTAINTY_MEASURES, "uncertainty measure")
        scores = pool_scores(
            X_pool,
            lambda rows, _index: measure(model.predict_proba(rows)),
            exclude=excluded,
            chunk_size=self.chunk_size,
        )
        covered = self._coverage(X_pool, n, rng, scores, X_labeled, y_labeled)
        scores_left = scores
        if len(covered):
            scores_left = scores.copy()
            scores_left[covered] = -np.inf
            n -= len(covered)
        if self.diverse:
            positions, chosen = diverse_top_n(
                scores_left,
                X_pool,
                n,
                rng,
                candidate_factor=self.candidate_factor,
                max_candidates=self.max_candidates,
                candidate_share=self.candidate_share,
                random_share=self.random_share,
                pick=self.pick,
                standardize=self.standardize,
            )
        else:
            positions, chosen = top_n(scores_left, n, rng)
        if len(covered):
            positions = np.concatenate([covered, positions])
            positions, chosen = order_by_score(positions, scores[positions], rng)
        return _result(positions, chosen)

    def _coverage(self, X_pool, n, rng, scores, X_labeled, y_labeled) -> NDArray[np.int64]:
        """The positions :func:`learning.coverage.coverage_n` fills this batch with (none when
        the share is 0, past the phase, or where the pool does not suit it)."""
        from learning.coverage import coverage_applies, coverage_count, coverage_n

        n_cover = coverage_count(
            n, y_labeled, share=self.coverage_share,
            labels_per_class=self.coverage_labels_per_class,
        )  # fmt: skip
        allowed = scores > -np.inf
        if n_cover == 0 or X_labeled is None:
            return np.empty(0, dtype=np.int64)
        if not coverage_applies(X_pool, self.coverage_pools):
            return np.empty(0, dtype=np.int64)
        return coverage_n(
            X_pool, n_cover, rng, X_labeled=X_labeled, allowed=allowed,
            n_neighbors=self.coverage_neighbors,
        )  # fmt: skip


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


def _uncertainty(name: str, measure: str, **settings: Any) -> Callable[..., Strategy]:
    """The factory of registered uncertainty strategy ``name``: ``settings`` are its defaults,
    which the caller's params override. A caller's own ``measure`` names the strategy after
    both, e.g. ``margin_diverse(my_scores)``, unless the caller names it."""

    def build(**params: Any) -> UncertaintySampling:
        built = {"measure": measure, "name": name, **settings, **params}
        if "measure" in params and "name" not in params:
            built["name"] = f"{name}({measure_name(params['measure'])})"
        return UncertaintySampling(**built)

    return build


# Margin-weighted k-means over the most uncertain 10% of the pool (at least 5·k, at most
# 10,000 items), the most uncertain item of each cluster. Issue 20: the "up to 10,000
# candidates" of before were the whole of any smaller pool, so each pick was the centre of a
# cluster of everything; hence the 10% share. Session 8 (docs/benchmarks.md, issue 20's
# done-when table, 3 seeds, budget 500): the item nearest each cluster's centre (CLUE's pick,
# kept until then) fell below random on a hard image set (digits_clutter on its spectral
# embedding: AULC 0.400 against random's 0.488) and needed 210 labels to target on the demo
# corpus against TypiClust's 160; the most uncertain of each cluster: 0.466 and 140 labels
# (AULC 0.754 against 0.741), the same 20 labels on digits.
# Its cold start (session 9) checks the clusters first: each k-means cluster's typical item
# where the clusters are clear (learning.selection.cluster_strength) or the typical items no
# denser than the rest (density_contrast: sentence embeddings), else a random member.
# The typical items of a poor embedding are its dense cores (digits_clutter: backgrounds);
# the default from them stayed 1.9 points of AULC below random labels on the same features
# (-0.019 +- 0.004, 20 seeds), from random members +0.004 +- 0.005; shapes_clutter +0.013
# against +0.004. Where the clusters are clear the typical items reached the target first
# (digits70k: 70 labels, random members 140).
# Then (session 9, fortunes_minilm) on a pool without clear clusters whose typical items are
# no denser than the rest (sentence embeddings; learning.coverage.coverage_applies), the
# whole batch is TypiClust's coverage pick (the typical item, by 5 neighbours, of each of the
# largest of n_labeled + n k-means clusters holding no label) until 15 labels per class are
# in. 3 seeds: fortunes_minilm 100 labels to target (300 before, TypiClust 130), the demo
# corpus 70 (170, TypiClust 160). A share of each batch did less (half: 210 on fortunes), as
# did typicality by 20 neighbours (150). On clear clusters the phase cost labels (digits70k:
# 110 against 70), so it stays off there, as on the cluttered sets' dense specks.
_default = _uncertainty(
    "default",
    "margin",
    diverse=True,
    candidate_factor=5,
    candidate_share=0.1,
    max_candidates=10_000,
    random_share=0.0,
    pick="most_uncertain",
    cold_start="checked",
    coverage_share=1.0,
    coverage_labels_per_class=15,
    coverage_neighbors=5,
    coverage_pools="flat",
)


def _committee(name: str, disagreement: str) -> Callable[..., Strategy]:
    def build(**params: Any) -> QueryByCommittee:
        built = {"disagreement": disagreement, "name": name, **params}
        if "disagreement" in params and "name" not in params:
            built["name"] = f"{name}({measure_name(params['disagreement'])})"
        return QueryByCommittee(**built)

    return build


def _external(**params: Any) -> Strategy:
    # learning.external builds on this module's pieces, so it loads when first asked for.
    from learning.external import ExternalDisagreement

    return ExternalDisagreement(**params)


STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "random": RandomSampling,
    "least_confidence": _uncertainty("least_confidence", "least_confidence"),
    "margin": _uncertainty("margin", "margin"),
    "entropy": _uncertainty("entropy", "entropy"),
    "margin_diverse": _uncertainty("margin_diverse", "margin", diverse=True),
    "qbc": _committee("qbc", "vote_entropy"),
    "qbc_kl": _committee("qbc_kl", "consensus_kl"),
    "cold_start": ColdStart,
    "default": _default,
    # A team's own model against the loop's (labeler/engine/suggestions.py passes its
    # predictions); without them, margin sampling.
    "disagreement_external": _external,
}
"""Strategy factories by name; ``STRATEGIES[name](**params)`` builds one."""

DEFAULT_STRATEGY = "default"


def strategy_names() -> list[str]:
    """Registered strategy names, sorted."""
    return sorted(STRATEGIES)


def get_strategy(name: str, **params: Any) -> Strategy:
    """Build the registered strategy ``name`` with ``params`` (dataclass fields)."""
    try:
        factory = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; known: {', '.join(strategy_names())}"
        ) from None
    return factory(**params)
