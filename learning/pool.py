"""Chunked access to a pool of feature rows that may not fit in memory.

A pool is anything 2-D with ``len``, ``shape`` and row indexing by slice and by an integer
array: a numpy array, an ``np.memmap`` of cached embeddings, or the sharded view returned by
:func:`learning.features.open_shards`. Scoring walks it in chunks so peak memory depends on
the chunk size, not on the pool size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_CHUNK_SIZE = 50_000


def pool_length(X_pool: Any) -> int:
    """Number of rows of a pool (array, memmap or sharded view)."""
    return int(X_pool.shape[0])


def iter_chunks(
    X_pool: Any, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[tuple[int, NDArray[np.float32]]]:
    """Yield ``(start, rows)`` with ``rows`` an in-memory float32 array ``(<=chunk_size, d)``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    n_rows = pool_length(X_pool)
    for start in range(0, n_rows, chunk_size):
        rows = np.asarray(X_pool[start : start + chunk_size], dtype=np.float32)
        yield start, rows


def take_rows(X_pool: Any, positions: NDArray[np.int64]) -> NDArray[np.float32]:
    """Rows at ``positions`` (any order), shape ``(len(positions), d)``, float32, in memory.

    Reads in ascending order (sequential access on a memmap) and restores the caller's order.
    """
    positions = np.asarray(positions, dtype=np.int64)
    order = np.argsort(positions, kind="stable")
    rows = np.asarray(X_pool[positions[order]], dtype=np.float32)
    restored = np.empty_like(rows)
    restored[order] = rows
    return restored


def excluded_positions(n_rows: int, exclude: ArrayLike | None) -> NDArray[np.int64] | None:
    """``exclude`` as int64 positions into a pool of ``n_rows``, or None for nothing excluded.

    ``exclude`` is either a boolean mask of shape ``(n_rows,)`` (True = never query) or 1-D
    integer positions in ``[0, n_rows)``. Anything else is refused rather than guessed at: a
    boolean mask cast to integers would exclude positions 0 and 1 instead of the masked rows,
    and a negative position would silently count from the end.
    """
    if exclude is None:
        return None
    array = np.asarray(exclude)
    if array.ndim != 1:
        raise ValueError(
            f"exclude must be 1-D (a boolean mask or integer positions), got shape {array.shape}"
        )
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.dtype == np.bool_:
        if len(array) != n_rows:
            raise ValueError(
                f"exclude is a boolean mask of length {len(array)}, but the pool has {n_rows} rows"
            )
        return np.flatnonzero(array).astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"exclude must be a boolean mask or integer positions, got dtype {array.dtype}"
        )
    if array.min() < 0:
        raise ValueError(f"exclude holds negative positions (smallest {int(array.min())})")
    if array.max() >= n_rows:
        raise ValueError(
            f"exclude holds positions outside the pool of {n_rows} rows "
            f"(largest {int(array.max())})"
        )
    return array.astype(np.int64)


def allowed_mask(n_rows: int, exclude: ArrayLike | None) -> NDArray[np.bool_]:
    """Boolean ``(n_rows,)``: True where a position may be queried (not in ``exclude``, a
    boolean mask or integer positions, checked by :func:`excluded_positions`)."""
    mask = np.ones(n_rows, dtype=bool)
    excluded = excluded_positions(n_rows, exclude)
    if excluded is not None:
        mask[excluded] = False
    return mask
