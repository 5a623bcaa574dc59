"""The feature store: which versions of a project's features exist, which one serves, and
their rows on disk.

A :class:`~labeler.models.FeatureSet` row per (project, representation, version) is the only
record; its folder holds fixed-size shards, ``rows_NNNNN.npy`` (float32, ``SHARD_ROWS`` x d)
and ``items_NNNNN.npy`` (the item id of each row), preallocated with
``numpy.lib.format.open_memmap`` and filled in place, so embedding N rows writes O(N) bytes.
Only rows ``0..processed-1`` are valid: ``processed`` moves forward after the rows are
flushed, so a reader never sees a half-written row and a resumed job overwrites what an
interrupted one left beyond it.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from numpy.typing import NDArray

from labeler.models import FeatureSet, Item, ModelRun, Project

logger = logging.getLogger(__name__)

SHARD_ROWS = 50_000


def resources() -> dict[str, str]:
    """Local resources representations may need, from the settings."""
    return {"image_backbone_weights": settings.TWEEZERS_IMAGE_BACKBONE_WEIGHTS}


def project_choices(project: Project, *, with_image_size: bool = False):
    """What the project uses: :func:`learning.project_defaults.new_project_choices` for its
    pool, the function the simulator calls too. The pixel size (from the first image) is
    read only when asked for, as it costs a query."""
    from learning.project_defaults import new_project_choices

    first_image_size = None
    if with_image_size and project.kind == "image":
        first = Item.objects.filter(project=project).exclude(file="").order_by("id").first()
        metadata = first.metadata if first is not None else {}
        first_image_size = (metadata.get("width"), metadata.get("height"))
    return new_project_choices(
        project.kind,
        project.n_items,
        features=project.features,
        strategy=project.strategy,
        first_image_size=first_image_size,
        resources=resources(),
    )


def representation_for(project: Project):
    """The registry entry the project asks for now ("auto" resolved for its pool)."""
    from learning.representations import get_representation

    return get_representation(project_choices(project).representation)


def feature_set_dir(feature_set: FeatureSet) -> Path:
    return (
        Path(settings.TWEEZERS_EMBEDDING_DIR)
        / f"project_{feature_set.project_id}"
        / f"{feature_set.representation}_v{feature_set.version}"
    )


def _rows_path(directory: Path, index: int) -> Path:
    return directory / f"rows_{index:05d}.npy"


def _ids_path(directory: Path, index: int) -> Path:
    return directory / f"items_{index:05d}.npy"


def _open_for_write(path: Path, dtype: type, shape: tuple[int, ...]) -> np.memmap:
    if path.exists():
        shard = np.load(path, mmap_mode="r+")
        if shard.shape != shape or shard.dtype != np.dtype(dtype):
            raise RuntimeError(f"{path} holds {shard.dtype}{shard.shape}, expected {shape}")
        return shard
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new shard is a sparse file: only the rows written take space and I/O.
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def rows_write(
    directory: Path, start_row: int, rows: NDArray[np.float32], item_ids: NDArray[np.int64]
) -> None:
    """Write ``rows`` (n, d) and their item ids at ``start_row`` in place, then flush."""
    rows = np.asarray(rows, dtype=np.float32)
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if rows.ndim != 2 or len(rows) != len(item_ids):
        raise ValueError(f"expected (n, d) rows for {len(item_ids)} items, got {rows.shape}")
    position = 0
    while position < len(rows):
        index, offset = divmod(start_row + position, SHARD_ROWS)
        take = min(SHARD_ROWS - offset, len(rows) - position)
        shape = (SHARD_ROWS, rows.shape[1])
        shard = _open_for_write(_rows_path(directory, index), np.float32, shape)
        shard[offset : offset + take] = rows[position : position + take]
        shard.flush()
        ids = _open_for_write(_ids_path(directory, index), np.int64, (SHARD_ROWS,))
        ids[offset : offset + take] = item_ids[position : position + take]
        ids.flush()
        del shard, ids
        position += take


@dataclass
class FeatureRows:
    """The valid rows of one feature set: ``pool`` (n, d) memory-mapped, ``item_ids`` (n,)."""

    feature_set: FeatureSet
    pool: object
    item_ids: NDArray[np.int64]

    def __post_init__(self) -> None:
        self._order = np.argsort(self.item_ids, kind="stable")
        self._sorted = self.item_ids[self._order]

    def __len__(self) -> int:
        return len(self.item_ids)

    def rows_of(self, item_ids) -> NDArray[np.int64]:
        """The row of each item id, -1 where the item has no row in this set."""
        wanted = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        if not len(self._sorted) or not len(wanted):
            return np.full(len(wanted), -1, dtype=np.int64)
        where = np.clip(np.searchsorted(self._sorted, wanted), 0, len(self._sorted) - 1)
        found = self._sorted[where] == wanted
        return np.where(found, self._order[where], -1).astype(np.int64)


def stored_item_ids(feature_set: FeatureSet, n_rows: int | None = None) -> NDArray[np.int64]:
    n_rows = feature_set.processed if n_rows is None else n_rows
    directory = feature_set_dir(feature_set)
    pieces = []
    for index in range((n_rows + SHARD_ROWS - 1) // SHARD_ROWS):
        take = min(SHARD_ROWS, n_rows - index * SHARD_ROWS)
        pieces.append(np.array(np.load(_ids_path(directory, index), mmap_mode="r")[:take]))
    return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64)


def feature_rows_open(feature_set: FeatureSet) -> FeatureRows | None:
    """The set's rows as a lazily read pool, or None when it has none yet."""
    from learning.features import ShardedPool

    n_rows = feature_set.processed
    if not n_rows:
        return None
    directory = feature_set_dir(feature_set)
    shards = []
    for index in range((n_rows + SHARD_ROWS - 1) // SHARD_ROWS):
        take = min(SHARD_ROWS, n_rows - index * SHARD_ROWS)
        shards.append(np.load(_rows_path(directory, index), mmap_mode="r")[:take])
    return FeatureRows(feature_set, ShardedPool(shards), stored_item_ids(feature_set, n_rows))


def serving_feature_set(project: Project) -> FeatureSet | None:
    """The features a retrain uses: the newest complete version of the representation the
    project asks for, else (while that one is computed) the newest set that was ever
    complete. A set keeps serving while rows for newer items are appended to it."""
    usable = FeatureSet.objects.filter(project=project, ready_at__isnull=False)
    try:
        wanted = representation_for(project).name
    except ValueError:
        wanted = None
    if wanted is not None:
        current = usable.filter(representation=wanted).order_by("-version").first()
        if current is not None:
            return current
    return usable.order_by("-ready_at", "-id").first()


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
        try:
            wanted = representation_for(project).name
        except ValueError:
            wanted = None
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
        transaction.on_commit(lambda: [shutil.rmtree(f, ignore_errors=True) for f in folders])
    if superseded:
        logger.info("project %s: removed superseded feature sets %s", project.pk, folders)
    return len(superseded)


def _enqueue(feature_set_id: int) -> None:
    from labeler.tasks import embed_features

    try:
        embed_features.delay(feature_set_id)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the request
        # The pending row is the outbox: the sweep enqueues it once the broker is back.
        logger.warning("broker unavailable; feature set %s waits", feature_set_id, exc_info=True)


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
    transaction.on_commit(lambda: _enqueue(feature_set.pk))
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
    """
    project.refresh_from_db(fields=["n_items", "features", "kind", "random_seed"])
    if project.n_items == 0:
        return None
    try:
        representation = representation_for(project)
    except ValueError as problem:
        logger.warning("project %s: no features (%s)", project.pk, problem)
        return None
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
                    transaction.on_commit(lambda: _enqueue(latest.pk))
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
                transaction.on_commit(lambda: _enqueue(latest.pk))
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
        _enqueue(feature_set.pk)
        sent += 1
    return sent


def feature_set_wanted(feature_set: FeatureSet) -> bool:
    try:
        return representation_for(feature_set.project).name == feature_set.representation
    except ValueError:
        return False


@dataclass(frozen=True)
class FeatureProgress:
    """What the dashboard and the API show about a project's features."""

    serving: FeatureSet | None
    building: FeatureSet | None

    @property
    def eta_seconds(self) -> float | None:
        building = self.building
        if building is None or not building.rows_per_second:
            return None
        return max(building.total - building.processed, 0) / building.rows_per_second


def feature_progress(project: Project) -> FeatureProgress:
    """The serving set, and the set of the representation the project asks for while it is
    not ready (being computed, appended to, or failed)."""
    serving = serving_feature_set(project)
    try:
        wanted = representation_for(project).name
    except ValueError:
        return FeatureProgress(serving=serving, building=None)
    building = (
        FeatureSet.objects.filter(project=project, representation=wanted)
        .order_by("-version")
        .first()
    )
    if building is not None and building.status == FeatureSet.Status.READY:
        building = None
    return FeatureProgress(serving=serving, building=building)


def features_seed(project: Project, rows_by_item: dict[int, np.ndarray]) -> int:
    """Store rows computed elsewhere (the demo's shipped MiniLM cache) in the project's
    current per-item feature set, exactly as the embedding job would; the set is ready when
    they cover the pool. Returns how many rows were stored."""
    feature_set = feature_set_request(project=project)
    if feature_set is None or feature_set.status == FeatureSet.Status.READY:
        return 0
    from learning.representations import get_representation

    if get_representation(feature_set.representation).fitted_on_pool:
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
