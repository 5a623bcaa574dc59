"""The embedding job's computation: raw items in, float32 rows out, written to a feature set's
shards chunk by chunk. The job around it (claims, progress, ready or failed, what follows)
is :mod:`labeler.services.embedding`'s; this module writes files, never a database row: it
reports each chunk through the ``on_chunk`` callback its caller passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from labeler.engine.store import feature_set_dir, representation_named, resources, rows_write
from labeler.models import FeatureSet, Item

FEATURIZER_FILE = "featurizer.joblib"
# What a chunk changed on the set (processed, dimension, rows_per_second): the caller records it.
ChunkCallback = Callable[..., None]
RawOf = Callable[[NDArray[np.int64], int], list[str]]


def _raw(items: Sequence[tuple[int, str, str]], modality: str) -> list[str]:
    if modality == "text":
        return [text for _, text, _ in items]
    storage = Item._meta.get_field("file").storage
    return [storage.path(name) for _, _, name in items]


def raw_for(item_ids: NDArray[np.int64], modality: str) -> list[str]:
    by_id = {
        pk: (pk, text, name)
        for pk, text, name in Item.objects.filter(pk__in=item_ids.tolist()).values_list(
            "id", "text", "file"
        )
    }
    missing = [int(pk) for pk in item_ids if int(pk) not in by_id]
    if missing:
        raise ValueError(f"items {missing[:5]} disappeared while being embedded")
    return _raw([by_id[int(pk)] for pk in item_ids], modality)


def project_item_ids(feature_set: FeatureSet) -> NDArray[np.int64]:
    ids = Item.objects.filter(project_id=feature_set.project_id).order_by("id")
    return np.fromiter(ids.values_list("id", flat=True).iterator(chunk_size=50_000), np.int64)


def _options(feature_set: FeatureSet):
    from learning.representations import FeaturizerOptions

    params = feature_set.params or {}
    size = params.get("image_size")
    return FeaturizerOptions(
        random_state=int(params.get("random_state", 0)),
        image_size=tuple(size) if size else None,
        resources=resources(),
    )


def featurizer_options(feature_set: FeatureSet):
    """The options the feature set's featurizer is built with (its pixel size, seed)."""
    return _options(feature_set)


def _checked(rows: NDArray, n: int, dimension: int | None, name: str) -> NDArray[np.float32]:
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2 or len(rows) != n:
        raise ValueError(f"{name} returned shape {rows.shape} for {n} items")
    if dimension is not None and rows.shape[1] != dimension:
        raise ValueError(f"{name} returned {rows.shape[1]} columns, this version has {dimension}")
    if not np.isfinite(rows).all():
        raise ValueError(f"{name} returned NaN or infinite values")
    return rows


def representation_rows_in_bytes(name: str) -> bool:
    try:
        return representation_named(name).rows_in_bytes
    except ValueError:  # a representation no longer registered: keep its rows as they are
        return False


def rows_append(
    feature_set: FeatureSet,
    featurizer,
    item_ids: NDArray[np.int64],
    raw_of: RawOf,
    chunk_rows: int,
    deadline: float,
    on_chunk: ChunkCallback,
) -> bool:
    """Transform and append ``item_ids`` chunk by chunk after the set's ``processed`` rows,
    calling ``on_chunk`` once each chunk is on disk; True if the deadline cut it short."""
    directory = feature_set_dir(feature_set)
    in_bytes = representation_rows_in_bytes(feature_set.representation)
    for start in range(0, len(item_ids), chunk_rows):
        # At least one chunk per slice, so every message makes progress.
        if start and time.monotonic() > deadline:
            return True
        chunk = item_ids[start : start + chunk_rows]
        started = time.monotonic()
        rows = _checked(
            featurizer.transform(raw_of(chunk, start)),
            len(chunk),
            feature_set.dimension,
            feature_set.representation,
        )
        rows_write(directory, feature_set.processed, rows, chunk, in_bytes=in_bytes)
        rate = len(chunk) / max(time.monotonic() - started, 1e-6)
        if feature_set.rows_per_second:
            rate = 0.7 * feature_set.rows_per_second + 0.3 * rate  # a steadier ETA
        feature_set.processed += len(chunk)
        feature_set.dimension = rows.shape[1]
        feature_set.rows_per_second = rate
        on_chunk(
            processed=feature_set.processed,
            dimension=feature_set.dimension,
            rows_per_second=rate,
        )
    return False


def featurizer_fit(feature_set: FeatureSet, representation, raw: list[str]):
    """A pool-fitted version's featurizer, fitted on every item's ``raw`` input (and kept
    beside the shards when it can place new items later)."""
    featurizer = representation.featurizer(_options(feature_set)).fit(raw)
    if representation.transforms_new_items:
        import joblib

        directory = feature_set_dir(feature_set)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(featurizer, directory / FEATURIZER_FILE)
    return featurizer


# The last per-item featurizer this process built: a model such as MiniLM takes seconds to
# load, and a long embedding comes back to the same worker slice after slice.
_last_featurizer: dict[tuple, object] = {}


def featurizer_for_append(feature_set: FeatureSet, representation):
    if representation.fitted_on_pool:
        import joblib

        return joblib.load(feature_set_dir(feature_set) / FEATURIZER_FILE)
    key = (representation.featurizer, repr(sorted((feature_set.params or {}).items())))
    if key not in _last_featurizer:
        _last_featurizer.clear()
        _last_featurizer[key] = representation.featurizer(_options(feature_set))
    return _last_featurizer[key]
