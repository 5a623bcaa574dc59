"""The embedding job: fill a feature set's rows in chunks, committing progress after each.

One task holds a set at a time through a claim (task id + expiry, renewed after every chunk);
a duplicate message finds the set claimed and returns. A job works for a time slice and then
hands over to a fresh message, so one big pool never pins a worker and a killed job resumes
from the last committed row.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from collections.abc import Sequence

import numpy as np
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from numpy.typing import NDArray

from labeler.engine.store import (
    feature_set_dir,
    feature_set_wanted,
    resources,
    rows_write,
    stored_item_ids,
)
from labeler.models import FeatureSet, Item

logger = logging.getLogger(__name__)

CLAIM = dt.timedelta(minutes=5)
# A pool-fitted representation fits on the whole pool in one go: claim it for longer.
FIT_CLAIM = dt.timedelta(hours=2)
FEATURIZER_FILE = "featurizer.joblib"
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError)


class ClaimLost(Exception):
    """Another job took the set over (this one was presumed dead)."""


def _claim(feature_set_id: int, worker: str, hold: dt.timedelta) -> FeatureSet | None:
    now = timezone.now()
    claimed = (
        FeatureSet.objects.filter(
            pk=feature_set_id,
            status__in=[FeatureSet.Status.PENDING, FeatureSet.Status.EMBEDDING],
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=worker))
        .update(
            claimed_by=worker,
            claimed_until=now + hold,
            status=FeatureSet.Status.EMBEDDING,
            started_at=Coalesce(F("started_at"), now),
        )
    )
    return FeatureSet.objects.get(pk=feature_set_id) if claimed else None


def _held(feature_set: FeatureSet, worker: str, hold: dt.timedelta = CLAIM, **changes) -> None:
    """Renew the claim and record ``changes``; raises :class:`ClaimLost` if it was taken."""
    updated = FeatureSet.objects.filter(pk=feature_set.pk, claimed_by=worker).update(
        claimed_until=timezone.now() + hold, **changes
    )
    if not updated:
        raise ClaimLost(f"feature set {feature_set.pk} was taken over")


def _raw(items: Sequence[tuple[int, str, str]], modality: str) -> list[str]:
    if modality == "text":
        return [text for _, text, _ in items]
    storage = Item._meta.get_field("file").storage
    return [storage.path(name) for _, _, name in items]


def _raw_for(item_ids: NDArray[np.int64], modality: str) -> list[str]:
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


def _project_item_ids(feature_set: FeatureSet) -> NDArray[np.int64]:
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


def _checked(rows: NDArray, n: int, dimension: int | None, name: str) -> NDArray[np.float32]:
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2 or len(rows) != n:
        raise ValueError(f"{name} returned shape {rows.shape} for {n} items")
    if dimension is not None and rows.shape[1] != dimension:
        raise ValueError(f"{name} returned {rows.shape[1]} columns, this version has {dimension}")
    if not np.isfinite(rows).all():
        raise ValueError(f"{name} returned NaN or infinite values")
    return rows


def _append(
    feature_set: FeatureSet, worker: str, featurizer, item_ids, raw_of, chunk_rows, deadline
) -> bool:
    """Transform and append ``item_ids`` chunk by chunk; True if the deadline cut it short."""
    directory = feature_set_dir(feature_set)
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
        rows_write(directory, feature_set.processed, rows, chunk)
        rate = len(chunk) / max(time.monotonic() - started, 1e-6)
        if feature_set.rows_per_second:
            rate = 0.7 * feature_set.rows_per_second + 0.3 * rate  # a steadier ETA
        feature_set.processed += len(chunk)
        feature_set.dimension = rows.shape[1]
        feature_set.rows_per_second = rate
        _held(
            feature_set,
            worker,
            processed=feature_set.processed,
            dimension=feature_set.dimension,
            rows_per_second=rate,
        )
    return False


def _fit(feature_set: FeatureSet, worker: str, representation, deadline: float) -> object:
    """A pool-fitted version's first build: fit on every item, then write all rows."""
    item_ids = _project_item_ids(feature_set)
    feature_set.processed = 0
    _held(feature_set, worker, FIT_CLAIM, processed=0, total=len(item_ids))
    raw = _raw_for(item_ids, representation.modality) if len(item_ids) else []
    featurizer = representation.featurizer(_options(feature_set)).fit(raw)
    _held(feature_set, worker, FIT_CLAIM)
    if representation.transforms_new_items:
        import joblib

        directory = feature_set_dir(feature_set)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(featurizer, directory / FEATURIZER_FILE)
    # Writing the fitted rows is not cut by the slice: a refit would cost more than it.
    _append(
        feature_set,
        worker,
        featurizer,
        item_ids,
        lambda chunk, start: raw[start : start + len(chunk)],
        representation.chunk_rows,
        float("inf"),
    )
    return featurizer


# The last per-item featurizer this process built: a model such as MiniLM takes seconds to
# load, and a long embedding comes back to the same worker slice after slice.
_last_featurizer: dict[tuple, object] = {}


def _featurizer_for_append(feature_set: FeatureSet, representation):
    if representation.fitted_on_pool:
        import joblib

        return joblib.load(feature_set_dir(feature_set) / FEATURIZER_FILE)
    key = (representation.featurizer, repr(sorted((feature_set.params or {}).items())))
    if key not in _last_featurizer:
        _last_featurizer.clear()
        _last_featurizer[key] = representation.featurizer(_options(feature_set))
    return _last_featurizer[key]


def feature_set_embed(
    *, feature_set_id: int, worker: str, slice_seconds: float | None = None
) -> bool:
    """Embed what the set still lacks, for up to ``slice_seconds``. Returns True when rows
    remain (the caller sends a new message); False when the set is done, failed, or held by
    another job. Transient database errors propagate (the task retries them)."""
    from learning.representations import get_representation

    if slice_seconds is None:
        slice_seconds = settings.TWEEZERS_EMBEDDING_SLICE_SECONDS
    deadline = time.monotonic() + slice_seconds
    feature_set = _claim(feature_set_id, worker, CLAIM)
    if feature_set is None:
        return False
    try:
        representation = get_representation(feature_set.representation)
        if feature_set.ready_at is None and not feature_set_wanted(feature_set):
            # The manager chose another representation before this one was ready: stop
            # spending the worker on it (a switch back sends it again, from where it was).
            FeatureSet.objects.filter(pk=feature_set.pk, claimed_by=worker).update(
                status=FeatureSet.Status.PENDING, claimed_by="", claimed_until=None
            )
            return False
        featurizer = None
        if representation.fitted_on_pool and feature_set.ready_at is None:
            featurizer = _fit(feature_set, worker, representation, deadline)
        while True:
            stored = stored_item_ids(feature_set)
            item_ids = _project_item_ids(feature_set)
            pending = item_ids[~np.isin(item_ids, stored)]
            feature_set.total = feature_set.processed + len(pending)
            _held(feature_set, worker, total=feature_set.total)
            if not len(pending) or not representation.transforms_new_items:
                # Items a transductive set cannot place wait for its next version.
                break
            if featurizer is None:
                featurizer = _featurizer_for_append(feature_set, representation)
            cut = _append(
                feature_set,
                worker,
                featurizer,
                pending,
                lambda chunk, start: _raw_for(chunk, representation.modality),
                representation.chunk_rows,
                deadline,
            )
            if cut:
                # Released, so the next message (a new task id) can claim it at once.
                FeatureSet.objects.filter(pk=feature_set.pk, claimed_by=worker).update(
                    claimed_by="", claimed_until=None
                )
                return True
    except ClaimLost:
        logger.warning("feature set %s: taken over by another job", feature_set_id)
        return False
    except TRANSIENT_ERRORS:
        raise
    except Exception:
        logger.exception("embedding feature set %s failed", feature_set_id)
        FeatureSet.objects.filter(pk=feature_set_id, claimed_by=worker).update(
            status=FeatureSet.Status.FAILED,
            error=traceback.format_exc()[-4000:],
            finished_at=timezone.now(),
            claimed_by="",
            claimed_until=None,
        )
        return False
    now = timezone.now()
    first_time = feature_set.ready_at is None
    FeatureSet.objects.filter(pk=feature_set_id, claimed_by=worker).update(
        status=FeatureSet.Status.READY,
        ready_at=Coalesce(F("ready_at"), now),
        finished_at=now,
        claimed_by="",
        claimed_until=None,
        error="",
    )
    if first_time:
        # The new features take over at the next retrain: ask for one now, so a cold-start
        # queue (or the previous representation's) is replaced without waiting for labels.
        from labeler.models import Project
        from labeler.services.training import retrain_request

        retrain_request(project=Project.objects.get(pk=feature_set.project_id))
    return False
