"""The one owner of ``FeatureSet`` rows: a version is created, sent to the embedding queue,
claimed by one job at a time, advanced chunk by chunk, marked ready or failed, put aside or
retired here, and nowhere else. The shards on disk are :mod:`labeler.engine.store`'s; the job
that fills them is :mod:`labeler.services.embedding`.

A set's row is its own outbox: it is created (or reopened) in the caller's transaction and its
job is sent after commit; the periodic sweep sends again what the broker never delivered.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeler import jobs
from labeler.engine.store import (
    feature_set_dir,
    feature_set_wanted,
    kept_representations,
    project_choices,
    representation_for,
    representation_named,
    rows_write,
    serving_feature_set,
    shards_remove,
    stored_item_ids,
)
from labeler.models import FeatureSet, ModelRun, Project

logger = logging.getLogger(__name__)

CLAIM = dt.timedelta(minutes=5)
# A pool-fitted representation fits on the whole pool in one go: claim it for longer.
FIT_CLAIM = dt.timedelta(hours=2)


class ClaimLost(Exception):
    """Another job took the set over (this one was presumed dead)."""


def _send(feature_set_id: int) -> None:
    # The pending row is the outbox: with the broker down, the sweep sends it once it is back.
    jobs.job_send_or_wait(jobs.EMBED_FEATURES, feature_set_id)


def _version_create(project: Project, representation) -> FeatureSet:
    last = (
        FeatureSet.objects.filter(project=project, representation=representation.name)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    params: dict = {"random_state": project.random_seed}
    if representation.modality == "image":
        params["image_size"] = list(project_choices(project, with_image_size=True).image_size)
    feature_set = FeatureSet.objects.create(
        project=project,
        representation=representation.name,
        version=(last or 0) + 1,
        params=params,
        total=project.n_items,
    )
    transaction.on_commit(lambda: _send(feature_set.pk))
    return feature_set


def feature_set_request(*, project: Project, retry_failed: bool = False) -> FeatureSet | None:
    """Make sure the representation the project asks for has rows for the whole pool, or is
    on its way to having them; never waits for embedding. Returns that set (None for an
    empty pool or a representation that cannot serve it, which is logged).

    - no set of that representation yet (or the pool outgrew a pool-fitted one that cannot
      place new items): a new version, computed in the background while the current one
      serves;
    - a complete per-item set the pool outgrew: its new rows are appended;
    - a failed one is retried, and a pending one sent again, only when ``retry_failed`` (a
      manager's explicit request: a settings change or "retrain now").

    An "auto" image project also keeps the candidates the evidence may switch to ready
    (:func:`labeler.engine.store.kept_representations`), after the one it asks for.
    """
    project.refresh_from_db(
        fields=["n_items", "features", "kind", "random_seed", "auto_representation"]
    )
    if project.n_items == 0:
        return None
    try:
        representation = representation_for(project)
    except ValueError as problem:
        logger.warning("project %s: no features (%s)", project.pk, problem)
        return None
    requested = _request_one(project, representation, retry_failed)
    if requested.ready_at is not None:
        # The challengers only once the first choice serves: it is what a new project waits
        # for, and the evidence needs tens of labels before it can compare anyway.
        for name in kept_representations(project):
            if name != representation.name:
                _request_one(project, representation_named(name), retry_failed)
    return requested


def _request_one(project: Project, representation, retry_failed: bool) -> FeatureSet:
    latest = (
        FeatureSet.objects.filter(project=project, representation=representation.name)
        .order_by("-version")
        .first()
    )
    try:
        with transaction.atomic():
            if latest is None:
                return _version_create(project, representation)
            if latest.status in (FeatureSet.Status.PENDING, FeatureSet.Status.EMBEDDING):
                if retry_failed and latest.status == FeatureSet.Status.PENDING:
                    # An explicit request (a switch back to a set put aside): send it again;
                    # a duplicate message finds the set claimed and returns.
                    transaction.on_commit(lambda: _send(latest.pk))
                return latest
            if latest.status == FeatureSet.Status.FAILED:
                if not retry_failed:
                    return latest
                if latest.ready_at is None or not representation.transforms_new_items:
                    return _version_create(project, representation)
            if latest.processed >= project.n_items and latest.status == FeatureSet.Status.READY:
                return latest
            if latest.ready_at is None or not representation.transforms_new_items:
                return _version_create(project, representation)
            updated = FeatureSet.objects.filter(
                pk=latest.pk, status__in=[FeatureSet.Status.READY, FeatureSet.Status.FAILED]
            ).update(status=FeatureSet.Status.EMBEDDING, total=project.n_items, error="")
            if updated:
                transaction.on_commit(lambda: _send(latest.pk))
            latest.refresh_from_db()
            return latest
    except IntegrityError:
        # A concurrent request created the same version: it is on its way.
        return (
            FeatureSet.objects.filter(project=project, representation=representation.name)
            .order_by("-version")
            .first()
        )


def stale_feature_sets_enqueue() -> int:
    """The outbox sweep for embedding: enqueue unfinished sets nobody is working on (their
    message was never sent, or its job died). A duplicate finds the set claimed, or simply
    does the next slice."""
    now = timezone.now()
    grace = dt.timedelta(seconds=settings.TWEEZERS_OUTBOX_GRACE_SECONDS)
    stale = (
        FeatureSet.objects.filter(
            status__in=[FeatureSet.Status.PENDING, FeatureSet.Status.EMBEDDING],
            updated_at__lt=now - grace,
        )
        .exclude(claimed_until__gt=now)
        .select_related("project")
    )
    sent = 0
    for feature_set in stale:
        # A set put aside (the manager chose another representation first) waits for a
        # switch back instead of being sent every minute.
        if feature_set.ready_at is None and not feature_set_wanted(feature_set):
            continue
        _send(feature_set.pk)
        sent += 1
    return sent


def superseded_feature_sets_remove(project: Project) -> int:
    """Delete the versions nothing serves any more, rows and shard folders: every finished
    (ready or failed) set that is neither the serving one, nor the newest version of the
    representation asked for, nor the one the latest succeeded model run trained on (its
    guesses are read from it). Nothing is removed while a run is running: it may have opened
    any set. Pending or claimed sets are left to the embedding job. Returns how many sets."""
    with transaction.atomic():
        # Lock order project row, then feature sets, as services.project_update: a
        # representation change waits, so a set it switches back to is kept or already gone.
        # The project as it is now: the caller's copy (a retrain's, read when it started) may
        # predate a switch, whose new set would look unused.
        project = Project.objects.select_for_update().get(pk=project.pk)
        runs = ModelRun.objects.filter(project=project)
        if runs.filter(status=ModelRun.Status.RUNNING).exists():
            return 0
        serving = serving_feature_set(project)
        if serving is None:
            return 0
        keep = {serving.pk}
        latest_run = runs.filter(status=ModelRun.Status.SUCCEEDED).order_by("-created_at").first()
        if latest_run is not None and latest_run.feature_set_id is not None:
            keep.add(latest_run.feature_set_id)
        for wanted in kept_representations(project):
            newest = (
                FeatureSet.objects.filter(project=project, representation=wanted)
                .order_by("-version")
                .first()
            )
            if newest is not None:
                keep.add(newest.pk)
        superseded = list(
            FeatureSet.objects.select_for_update()
            .filter(project=project, status__in=[FeatureSet.Status.READY, FeatureSet.Status.FAILED])
            .exclude(pk__in=keep)
            .exclude(claimed_until__gt=timezone.now())
        )
        folders = [feature_set_dir(feature_set) for feature_set in superseded]
        FeatureSet.objects.filter(pk__in=[feature_set.pk for feature_set in superseded]).delete()
        # Only once the rows are gone for good: a rollback leaves both in place.
        transaction.on_commit(lambda: shards_remove(folders))
    if superseded:
        logger.info("project %s: removed superseded feature sets %s", project.pk, folders)
    return len(superseded)


def feature_set_claim(
    *, feature_set_id: int, worker: str, hold: dt.timedelta = CLAIM
) -> FeatureSet | None:
    """Take an unfinished set for ``worker`` (a task id) until ``hold`` from now, unless another
    live job holds it; the set, or None."""
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


def feature_set_advance(
    *, feature_set: FeatureSet, worker: str, hold: dt.timedelta = CLAIM, **changes
) -> None:
    """Renew the claim and record ``changes`` (progress); raises :class:`ClaimLost` if it
    was taken."""
    updated = FeatureSet.objects.filter(pk=feature_set.pk, claimed_by=worker).update(
        claimed_until=timezone.now() + hold, **changes
    )
    if not updated:
        raise ClaimLost(f"feature set {feature_set.pk} was taken over")


def feature_set_release(*, feature_set: FeatureSet, worker: str) -> None:
    """Let go of the claim, so the next message (a new task id) can take the set at once."""
    FeatureSet.objects.filter(pk=feature_set.pk, claimed_by=worker).update(
        claimed_by="", claimed_until=None
    )


def feature_set_put_aside(*, feature_set: FeatureSet, worker: str) -> None:
    """Back to pending and released: the project asks for another representation now; a
    switch back sends it again, from where it was."""
    FeatureSet.objects.filter(pk=feature_set.pk, claimed_by=worker).update(
        status=FeatureSet.Status.PENDING, claimed_by="", claimed_until=None
    )


def feature_set_fail(*, feature_set_id: int, worker: str, error: str) -> None:
    FeatureSet.objects.filter(pk=feature_set_id, claimed_by=worker).update(
        status=FeatureSet.Status.FAILED,
        error=error[-4000:],
        finished_at=timezone.now(),
        claimed_by="",
        claimed_until=None,
    )


def feature_set_ready(*, feature_set_id: int, worker: str) -> None:
    """Every row is there: the set can serve (``ready_at`` keeps its first value when rows for
    new items were appended to a set that already served)."""
    now = timezone.now()
    FeatureSet.objects.filter(pk=feature_set_id, claimed_by=worker).update(
        status=FeatureSet.Status.READY,
        ready_at=Coalesce(F("ready_at"), now),
        finished_at=now,
        claimed_by="",
        claimed_until=None,
        error="",
    )


def features_seed(project: Project, rows_by_item: dict[int, np.ndarray]) -> int:
    """Store rows computed elsewhere (the demo's shipped MiniLM cache) in the project's
    current per-item feature set, exactly as the embedding job would; the set is ready when
    they cover the pool. Returns how many rows were stored."""
    feature_set = feature_set_request(project=project)
    if feature_set is None or feature_set.status == FeatureSet.Status.READY:
        return 0
    if representation_named(feature_set.representation).fitted_on_pool:
        raise ValueError(f"{feature_set.representation} is fitted on the pool: nothing to seed")
    stored = set(stored_item_ids(feature_set).tolist())
    pending = sorted(pk for pk in rows_by_item if pk not in stored)
    if not pending:
        return 0
    rows = np.stack([rows_by_item[pk] for pk in pending]).astype(np.float32)
    rows_write(feature_set_dir(feature_set), feature_set.processed, rows, np.array(pending))
    processed = feature_set.processed + len(pending)
    changes: dict = {"processed": processed, "dimension": rows.shape[1], "total": project.n_items}
    if processed >= project.n_items:
        now = timezone.now()
        changes.update(status=FeatureSet.Status.READY, ready_at=now, finished_at=now)
    FeatureSet.objects.filter(pk=feature_set.pk).update(**changes)
    return len(pending)
