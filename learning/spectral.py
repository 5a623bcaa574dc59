"""A spectral pool embedding that scales: landmarks, nearest landmarks, extension.

:class:`learning.features.SpectralFeaturizer` embeds the exact kNN graph of the whole pool,
so it stops at some tens of thousands of items and cannot place a new item. Here:

1. at most ``max_landmarks`` items of the pool (a seeded sample; all of them in a small
   pool) are the landmarks; features wider than ``max_dimensions`` are first reduced by a
   PCA fitted on the landmarks (a standard step before neighbour graphs);
2. the landmarks' kNN graph is embedded by Laplacian eigenmaps (scikit-learn's
   ``spectral_embedding``, as the exact featurizer does);
3. every item, in the pool or new, gets the kernel-weighted mean of the coordinates of its
   ``extension_neighbors`` nearest landmarks (the Nyström-style out-of-sample extension of
   Bengio et al. 2004, with local scaling); ``transform`` streams rows in chunks.

Cost is linear in the pool: O(n · max_landmarks · max_dimensions) for the neighbour search,
done by scikit-learn's brute-force search in BLAS over the landmarks (exact, deterministic).
Memory is the landmarks plus one chunk: at a million items and 20,000 landmarks, about 5 MB
of landmarks, a 160 MB distance block and 64 MB of output. Approximate-neighbour libraries
were measured and not kept: pynndescent's numba compilation took over 11 minutes in a fresh
process on this loaded 2-core machine (and every worker process pays it), and faiss' HNSW was
slower than the BLAS search against 20,000 landmarks and not deterministic across builds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.pool import iter_chunks, pool_length, take_rows


class LandmarkSpectralFeaturizer:
    """Laplacian-eigenmap coordinates from a landmark kNN graph, with out-of-sample extension.

    ``fit(X (n, d))`` samples the landmarks, builds their approximate kNN graph and its
    spectral embedding; ``transform(X (m, d)) -> float32 (m, n_components)`` places any rows
    (pool or new) by their nearest landmarks, in chunks of ``chunk_size``. Columns are
    standardised on the landmarks. ``X`` may be an array, a memmap or a sharded pool view.
    ``standardize`` scales base features first (tabular columns of mixed units; leave it off
    for pixels). Fitted attributes: ``landmarks_`` (positions in the fitted pool),
    ``landmark_embedding_`` ``(n_landmarks, n_components)``, ``index_`` (scikit-learn
    ``NearestNeighbors`` over the landmarks), ``pca_`` (None when features are narrow
    enough). Deterministic for a ``random_state``.
    """

    def __init__(
        self,
        n_components: int = 16,
        *,
        n_neighbors: int = 10,
        extension_neighbors: int = 10,
        max_landmarks: int = 20_000,
        max_dimensions: int = 64,
        standardize: bool = False,
        chunk_size: int = 2048,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.extension_neighbors = extension_neighbors
        self.max_landmarks = max_landmarks
        self.max_dimensions = max_dimensions
        self.standardize = standardize
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _scaled(self, rows: NDArray[Any]) -> NDArray[np.float32]:
        rows = np.asarray(rows, dtype=np.float32)
        if self.standardize:
            rows = (rows - self.mean_) / self.scale_
        if self.pca_ is not None:
            rows = self.pca_.transform(rows)
        return np.ascontiguousarray(rows, dtype=np.float32)

    def fit(self, X: Any) -> LandmarkSpectralFeaturizer:
        from sklearn.decomposition import PCA
        from sklearn.manifold import spectral_embedding
        from sklearn.neighbors import NearestNeighbors

        n_rows = pool_length(X)
        if n_rows < 3:
            raise ValueError(f"a spectral embedding needs at least 3 items, got {n_rows}")
        rng = np.random.default_rng(self.random_state)
        if n_rows > self.max_landmarks:
            landmarks = np.sort(rng.choice(n_rows, size=self.max_landmarks, replace=False))
        else:
            landmarks = np.arange(n_rows)
        base = take_rows(X, landmarks.astype(np.int64))
        if self.standardize:
            self.mean_ = base.mean(axis=0)
            spread = base.std(axis=0)
            self.scale_ = np.where(spread > 0, spread, 1.0).astype(np.float32)
        self.pca_ = None
        if base.shape[1] > self.max_dimensions:
            # Fitted on unscaled-by-PCA rows: _scaled applies standardisation first.
            standardised = (base - self.mean_) / self.scale_ if self.standardize else base
            self.pca_ = PCA(
                n_components=min(self.max_dimensions, len(base)),
                random_state=self.random_state,
            ).fit(standardised)
        base = self._scaled(base)
        self.index_ = NearestNeighbors(algorithm="brute").fit(base)
        k = min(self.n_neighbors, len(base) - 1)
        # kneighbors() without X leaves each landmark out of its own neighbours.
        graph = self.index_.kneighbors_graph(n_neighbors=k, mode="connectivity")
        # Symmetrised as scikit-learn's SpectralEmbedding does: 0.5 (A + Aᵀ).
        graph = 0.5 * (graph + graph.T)
        n_components = max(1, min(self.n_components, len(base) - 2))
        embedding = spectral_embedding(
            graph, n_components=n_components, random_state=self.random_state, drop_first=True
        )
        center = embedding.mean(axis=0)
        spread = embedding.std(axis=0)
        spread = np.where(spread > 0, spread, 1.0)
        self.landmarks_ = landmarks.astype(np.int64)
        self.landmark_embedding_ = ((embedding - center) / spread).astype(np.float32)
        return self

    def _extend(self, rows: NDArray[np.float32]) -> NDArray[np.float32]:
        k = min(self.extension_neighbors, len(self.landmarks_))
        distances, neighbours = self.index_.kneighbors(self._scaled(rows), n_neighbors=k)
        # Local scaling: the farthest of the k neighbours sets the kernel width per row.
        width = np.maximum(distances[:, -1:], 1e-12)
        weights = np.exp(-((distances / width) ** 2))
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkc->nc", weights, self.landmark_embedding_[neighbours]).astype(
            np.float32
        )

    def transform(self, X: Any) -> NDArray[np.float32]:
        """Coordinates of every row of ``X`` ``(m, d)``: float32 ``(m, n_components)``."""
        if not hasattr(self, "index_"):
            raise RuntimeError("LandmarkSpectralFeaturizer: call fit(X) before transform")
        out = np.empty((pool_length(X), self.landmark_embedding_.shape[1]), dtype=np.float32)
        for start, rows in iter_chunks(X, self.chunk_size):
            out[start : start + len(rows)] = self._extend(rows)
        return out

    def fit_transform(self, X: Any) -> NDArray[np.float32]:
        return self.fit(X).transform(X)


class LandmarkSpectralPoolFeaturizer:
    """Registry adapter: images (file paths) → grayscale pixels → landmark spectral rows.

    ``options`` is a :class:`learning.representations.FeaturizerOptions` (``image_size``,
    ``random_state``). Fitted on the pool; new items are placed by the out-of-sample
    extension, so ``transform`` takes any image.
    """

    def __init__(self, options: Any) -> None:
        self.image_size = tuple(options.image_size or (32, 32))
        self.spectral = LandmarkSpectralFeaturizer(random_state=options.random_state)

    def _pixels(self, raw: Any) -> NDArray[np.float32]:
        from learning.features import image_pixels

        height, width = self.image_size
        if len(raw) == 0:
            return np.empty((0, height * width), dtype=np.float32)
        return np.stack([image_pixels(path, size=(height, width)) for path in raw])

    def fit(self, raw: Any) -> LandmarkSpectralPoolFeaturizer:
        self.spectral.fit(self._pixels(raw))
        return self

    def transform(self, raw: Any) -> NDArray[np.float32]:
        """Float32 ``(len(raw), 16)``."""
        if len(raw) == 0:
            return np.empty((0, self.spectral.n_components), dtype=np.float32)
        return self.spectral.transform(self._pixels(raw))
