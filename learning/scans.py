"""Scans (a series or a study) as items: bags of per-slice feature rows, pooled to one row each.

A scan's label belongs to the whole volume, while the feature store keeps one row per slice.
:class:`ScanBags` holds the slices of many scans in one ``(n_slices, d)`` matrix with offsets
(CSR style); a :class:`ScanPooler` turns each bag into one row, so every model, strategy and
evaluation of the engine works on scans unchanged::

    bags = ScanBags.from_lists([slices_of_scan_0, slices_of_scan_1, ...])  # each (k_i, d)
    pooler = ScanPooler(random_state=0).fit(bags.subset(labeled), y_labeled)
    X_pool = pooler.transform(bags)                      # (n_scans, d_pooled)
    model = train_model("logreg", X_pool[labeled], y_labeled, random_state=0)
    get_strategy("default").query(model, X_pool, 10, rng=rng, exclude=labeled)
    evidence_slices(pooler, model, bags.subset([7]), k=3)  # the slices the model looked at

While labels are few the pooler takes the mean and the maximum over the slices; with enough
labels of every class it learns gated attention over the slices (Ilse et al. 2018,
:mod:`learning.attention_mil`) and pools with the learned weights, so a scan whose label
depends on a few of many slices is not diluted by the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

POOLINGS = ("auto", "mean", "meanmax", "attention")

# Attention is learned once every class has this many labeled scans and there are this many
# labels in all; fewer labels train an attention that overfits (bench/label_efficiency.py,
# scan-level section).
ATTENTION_MIN_PER_CLASS = 4
ATTENTION_MIN_LABELS = 12


@dataclass(frozen=True)
class ScanBags:
    """The slices of ``n_scans`` scans: ``rows`` float32 ``(n_slices, d)``, scan ``i`` owning
    ``rows[offsets[i]:offsets[i + 1]]`` in slice order; ``offsets`` int64 ``(n_scans + 1,)``."""

    rows: NDArray[np.float32]
    offsets: NDArray[np.int64]

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets, dtype=np.int64)
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0:
            raise ValueError("offsets must be 1-D and start at 0")
        if np.any(np.diff(offsets) < 1):
            raise ValueError("every scan needs at least one slice (offsets strictly increasing)")
        if offsets[-1] != len(self.rows):
            raise ValueError(f"offsets end at {offsets[-1]}, but there are {len(self.rows)} rows")
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "rows", np.asarray(self.rows, dtype=np.float32))

    @classmethod
    def from_lists(cls, scans: Sequence[ArrayLike]) -> ScanBags:
        """Bags from one ``(k_i, d)`` array per scan."""
        arrays = [np.atleast_2d(np.asarray(s, dtype=np.float32)) for s in scans]
        sizes = np.array([len(a) for a in arrays], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return cls(np.concatenate(arrays) if arrays else np.empty((0, 0), np.float32), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def sizes(self) -> NDArray[np.int64]:
        """Slices per scan, ``(n_scans,)``."""
        return np.diff(self.offsets)

    @property
    def scan_of_row(self) -> NDArray[np.int64]:
        """The scan each slice row belongs to, ``(n_slices,)``."""
        return np.repeat(np.arange(len(self)), self.sizes)

    def bag(self, index: int) -> NDArray[np.float32]:
        return self.rows[self.offsets[index] : self.offsets[index + 1]]

    def subset(self, positions: ArrayLike) -> ScanBags:
        """The scans at ``positions`` (in that order)."""
        positions = np.asarray(positions, dtype=np.int64)
        return ScanBags.from_lists([self.bag(int(p)) for p in positions])


def mean_pool(bags: ScanBags) -> NDArray[np.float32]:
    """The mean slice of each scan, ``(n_scans, d)``."""
    sums = np.add.reduceat(bags.rows.astype(np.float64), bags.offsets[:-1], axis=0)
    return (sums / bags.sizes[:, None]).astype(np.float32)


def max_pool(bags: ScanBags) -> NDArray[np.float32]:
    """The per-feature maximum over each scan's slices, ``(n_scans, d)``."""
    return np.maximum.reduceat(bags.rows, bags.offsets[:-1], axis=0).astype(np.float32)


def weighted_pool(bags: ScanBags, weights: NDArray[np.float64]) -> NDArray[np.float32]:
    """``sum_k w_k x_k`` per scan; ``weights`` ``(n_slices,)`` sum to 1 within each scan."""
    weighted = bags.rows.astype(np.float64) * weights[:, None]
    return np.add.reduceat(weighted, bags.offsets[:-1], axis=0).astype(np.float32)


class ScanPooler:
    """One row per scan from its slice rows, scikit-learn style (``fit`` returns ``self``).

    ``pooling``: "mean" (the mean slice), "meanmax" (mean beside the per-feature max, 2·d
    columns), "attention" (the gated-attention pooling learned on the labeled scans, d
    columns), or "auto": "mean" until the labels reach :data:`ATTENTION_MIN_LABELS` with
    :data:`ATTENTION_MIN_PER_CLASS` of every class, then "attention". Fitted: ``pooling_``
    (what "auto" became), ``attention_`` (:class:`learning.attention_mil.GatedAttentionMIL`
    or None), ``n_features_in_``.
    """

    def __init__(
        self,
        pooling: str = "auto",
        *,
        hidden: int = 16,
        epochs: int = 150,
        random_state: int = 0,
        device: str | None = None,
    ) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; known: {', '.join(POOLINGS)}")
        self.pooling = pooling
        self.hidden = hidden
        self.epochs = epochs
        self.random_state = random_state
        self.device = device

    def _chosen(self, y: NDArray | None) -> str:
        if self.pooling != "auto":
            return self.pooling
        if y is None or len(y) < ATTENTION_MIN_LABELS:
            return "mean"
        _, counts = np.unique(y, return_counts=True)
        enough = len(counts) >= 2 and counts.min() >= ATTENTION_MIN_PER_CLASS
        return "attention" if enough else "mean"

    def fit(self, bags: ScanBags, y: ArrayLike | None = None) -> ScanPooler:
        """Learn the pooling from labeled scans ``bags`` and their labels ``y`` ``(n,)``;
        mean and meanmax need no labels (``y`` may be None)."""
        labels = None if y is None else np.asarray(y)
        self.pooling_ = self._chosen(labels)
        # No labeled scan yet (a project's first round): mean pooling reads any width.
        self.n_features_in_ = int(bags.rows.shape[1]) if len(bags) else None
        self.attention_ = None
        if self.pooling_ == "attention":
            if labels is None or len(np.unique(labels)) < 2:
                raise ValueError("attention pooling needs labeled scans of at least two classes")
            from learning.attention_mil import GatedAttentionMIL

            self.attention_ = GatedAttentionMIL(
                hidden=self.hidden,
                epochs=self.epochs,
                random_state=self.random_state,
                device=self.device,
            ).fit(bags, labels)
        return self

    def slice_weights(self, bags: ScanBags) -> NDArray[np.float64]:
        """Each slice's weight in its scan's pooled row, ``(n_slices,)``, summing to 1 per
        scan: the learned attention, or uniform for mean pooling."""
        if self.attention_ is not None:
            return self.attention_.slice_weights(bags)
        return np.repeat(1.0 / bags.sizes, bags.sizes)

    def transform(self, bags: ScanBags) -> NDArray[np.float32]:
        """One row per scan, ``(n_scans, 2·d)`` for "meanmax", ``(n_scans, d)`` otherwise."""
        if self.n_features_in_ is not None and bags.rows.shape[1] != self.n_features_in_:
            raise ValueError(
                f"slices have {bags.rows.shape[1]} features, the pooler was fitted on "
                f"{self.n_features_in_}"
            )
        if self.attention_ is not None:
            return self.attention_.pool(bags)
        if self.pooling_ == "meanmax":
            return np.hstack([mean_pool(bags), max_pool(bags)])
        return mean_pool(bags)

    def fit_transform(self, bags: ScanBags, y: ArrayLike | None = None) -> NDArray[np.float32]:
        return self.fit(bags, y).transform(bags)


def slice_scores(pooler: ScanPooler, model: Any, bags: ScanBags) -> NDArray[np.float64]:
    """How strongly each slice alone speaks for its scan's predicted class, ``(n_slices,)``:
    each slice pooled as a one-slice scan (its mean, max and attention pool are itself) and
    scored by ``model`` for the class ``model`` predicts for the whole scan."""
    predicted = np.argmax(model.predict_proba(pooler.transform(bags)), axis=1)
    singles = ScanBags(bags.rows, np.arange(len(bags.rows) + 1, dtype=np.int64))
    proba = model.predict_proba(pooler.transform(singles))
    return proba[np.arange(len(bags.rows)), predicted[bags.scan_of_row]].astype(np.float64)


def evidence_slices(
    pooler: ScanPooler, model: Any, bags: ScanBags, k: int = 3
) -> list[NDArray[np.int64]]:
    """Per scan, the positions (within the scan, most telling first) of up to ``k`` slices the
    model relied on: the highest attention weights when attention pools, else the slices that
    alone speak most for the predicted class (:func:`slice_scores`)."""
    if pooler.attention_ is not None:
        # Attention times the slice's own vote: a heavily weighted slice that speaks against
        # the prediction is not evidence for it.
        weights = pooler.slice_weights(bags) * (0.5 + slice_scores(pooler, model, bags))
    else:
        weights = slice_scores(pooler, model, bags)
    evidence = []
    for index in range(len(bags)):
        start, end = bags.offsets[index], bags.offsets[index + 1]
        order = np.argsort(-weights[start:end], kind="stable")[:k]
        evidence.append(order.astype(np.int64))
    return evidence
