"""The embedding job: fill a feature set's rows in chunks, recording progress after each.

One task holds a set at a time through a claim (task id + expiry, renewed after every chunk);
a duplicate message finds the set claimed and returns. A job works for a time slice and then
hands over to a fresh message, so one big pool never pins a worker and a killed job resumes
from the last recorded row. The engine computes and writes the shards; every change to the
set's row goes through :mod:`labeler.services.features`. When a set becomes ready for the
first time, a retrain is asked for here: the new features take over without waiting for labels.
"""

from __future__ import annotations

import logging
import time
import traceback

import numpy as np
from django.conf import settings

from labeler.engine import embedding
from labeler.engine.store import feature_set_wanted, representation_named, stored_item_ids
from labeler.models import FeatureSet, Project
from labeler.services.features import (
    CLAIM,
    FIT_CLAIM,
    ClaimLost,
    feature_set_advance,
    feature_set_claim,
    feature_set_fail,
    feature_set_put_aside,
    feature_set_ready,
    feature_set_release,
)
from labeler.services.training import retrain_request
from labeler.transient import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)


def _fit(feature_set: FeatureSet, worker: str, representation):
    """A pool-fitted version's first build: fit on every item, then write all rows."""
    item_ids = embedding.project_item_ids(feature_set)
    feature_set.processed = 0
    feature_set_advance(
        feature_set=feature_set, worker=worker, hold=FIT_CLAIM, processed=0, total=len(item_ids)
    )
    raw = embedding.raw_for(item_ids, representation.modality) if len(item_ids) else []
    featurizer = embedding.featurizer_fit(feature_set, representation, raw)
    feature_set_advance(feature_set=feature_set, worker=worker, hold=FIT_CLAIM)
    # Writing the fitted rows is not cut by the slice: a refit would cost more than it.
    embedding.rows_append(
        feature_set,
        featurizer,
        item_ids,
        lambda chunk, start: raw[start : start + len(chunk)],
        representation.chunk_rows,
        float("inf"),
        on_chunk=lambda **progress: feature_set_advance(
            feature_set=feature_set, worker=worker, **progress
        ),
    )
    return featurizer


def _fill(feature_set: FeatureSet, worker: str, representation, deadline: float) -> bool:
    """Embed what the set lacks until the deadline; True when it was cut short."""
    featurizer = None
    if representation.fitted_on_pool and feature_set.ready_at is None:
        featurizer = _fit(feature_set, worker, representation)
    while True:
        stored = stored_item_ids(feature_set)
        item_ids = embedding.project_item_ids(feature_set)
        pending = item_ids[~np.isin(item_ids, stored)]
        feature_set.total = feature_set.processed + len(pending)
        feature_set_advance(feature_set=feature_set, worker=worker, total=feature_set.total)
        if not len(pending) or not representation.transforms_new_items:
            # Items a transductive set cannot place wait for its next version.
            return False
        if featurizer is None:
            featurizer = embedding.featurizer_for_append(feature_set, representation)
        cut = embedding.rows_append(
            feature_set,
            featurizer,
            pending,
            lambda chunk, start: embedding.raw_for(chunk, representation.modality),
            representation.chunk_rows,
            deadline,
            on_chunk=lambda **progress: feature_set_advance(
                feature_set=feature_set, worker=worker, **progress
            ),
        )
        if cut:
            return True


def feature_set_embed(
    *, feature_set_id: int, worker: str, slice_seconds: float | None = None
) -> bool:
    """Embed what the set still lacks, for up to ``slice_seconds``. Returns True when rows
    remain (the caller sends a new message); False when the set is done, failed, or held by
    another job. Transient errors propagate (the task retries them)."""
    if slice_seconds is None:
        slice_seconds = settings.TWEEZERS_EMBEDDING_SLICE_SECONDS
    deadline = time.monotonic() + slice_seconds
    feature_set = feature_set_claim(feature_set_id=feature_set_id, worker=worker, hold=CLAIM)
    if feature_set is None:
        return False
    try:
        representation = representation_named(feature_set.representation)
        if feature_set.ready_at is None and not feature_set_wanted(feature_set):
            # The manager chose another representation before this one was ready: stop
            # spending the worker on it.
            feature_set_put_aside(feature_set=feature_set, worker=worker)
            return False
        if _fill(feature_set, worker, representation, deadline):
            feature_set_release(feature_set=feature_set, worker=worker)
            return True
    except ClaimLost:
        logger.warning("feature set %s: taken over by another job", feature_set_id)
        return False
    except TRANSIENT_ERRORS:
        raise
    except Exception:
        logger.exception("embedding feature set %s failed", feature_set_id)
        feature_set_fail(feature_set_id=feature_set_id, worker=worker, error=traceback.format_exc())
        return False
    first_time = feature_set.ready_at is None
    feature_set_ready(feature_set_id=feature_set_id, worker=worker)
    if first_time:
        # The new features take over at the next retrain: ask for one now, so a cold-start
        # queue (or the previous representation's) is replaced without waiting for labels.
        retrain_request(project=Project.objects.get(pk=feature_set.project_id))
    return False
