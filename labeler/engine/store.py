"""The feature store's reads and its rows on disk: which version of a project's features
serves, and the shards that hold them. The rows themselves (``FeatureSet``) are written only
by :mod:`labeler.services.features`.

A :class:`~labeler.models.FeatureSet` row per (project, representation, version) is the only
record; its folder holds fixed-size shards, ``rows_NNNNN.npy`` (float32, ``SHARD_ROWS`` x d)
and ``items_NNNNN.npy`` (the item id of each row; a representation whose values are ``k/255``,
grayscale pixels, keeps its rows as ``uint8``, a quarter of the size), preallocated with
``numpy.lib.format.open_memmap`` and filled in place, so embedding N rows writes O(N) bytes.
Only rows ``0..processed-1`` are valid: ``processed`` moves forward after the rows are
flushed, so a reader never sees a half-written row and a resumed job overwrites what an
interrupted one left beyond it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from numpy.typing import NDArray

from labeler.models import FeatureSet, Item, Project

SHARD_ROWS = 50_000
AUTO = "auto"


def resources() -> dict[str, str]:
    """Local resources representations may need, from the settings."""
    return {
        "image_backbone_weights": settings.TWEEZERS_IMAGE_BACKBONE_WEIGHTS,
        "image_encoder_onnx": settings.TWEEZERS_IMAGE_ENCODER_ONNX,
    }


def project_choices(project: Project, *, with_image_size: bool = False):
    """What the project uses: :func:`learning.project_defaults.new_project_choices` for its
    pool, the function the simulator calls too. The pixel size (from the first image) is
    read only when asked for, as it costs a query."""
    from learning.project_defaults import new_project_choices

    first_image_size = None
    features = project.features
    # The evidence of an earlier retrain chose among the candidates: it serves while it still
    # can (a pool that outgrew it falls back to the registry's choice).
    if features == AUTO and project.auto_representation in auto_candidate_names(project)[1:]:
        features = project.auto_representation
    if with_image_size and project.kind == "image":
        first = Item.objects.filter(project=project).exclude(file="").order_by("id").first()
        metadata = first.metadata if first is not None else {}
        first_image_size = (metadata.get("width"), metadata.get("height"))
    return new_project_choices(
        project.kind,
        project.n_items,
        features=features,
        strategy=project.strategy,
        first_image_size=first_image_size,
        resources=resources(),
    )


def auto_candidate_names(project: Project) -> list[str]:
    """The representations "auto" re-decides between for this project, the first choice
    first; empty unless the project is an "auto" image project of one item per image (text
    has its sentence embeddings; a scan's rows are pooled slices)."""
    from learning.representations import auto_candidates

    if (
        project.features != AUTO
        or project.kind != Project.Kind.IMAGE
        or project.unit != Project.Unit.INSTANCE
        or project.is_findings
    ):
        return []
    try:
        return auto_candidates("image", project.n_items, resources=resources())
    except ValueError:
        return []


def kept_representations(project: Project) -> list[str]:
    """What the project keeps ready: the representation it asks for now, and for "auto"
    images every candidate the evidence may switch to."""
    try:
        names = [representation_for(project).name]
    except ValueError:
        names = []
    return names + [name for name in auto_candidate_names(project) if name not in names]


def representation_for(project: Project):
    """The registry entry the project asks for now ("auto" resolved for its pool)."""
    from learning.representations import get_representation

    return get_representation(project_choices(project).representation)


def representation_named(name: str):
    """The registry entry called ``name`` (ValueError for an unknown one)."""
    from learning.representations import get_representation

    return get_representation(name)


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
    directory: Path,
    start_row: int,
    rows: NDArray[np.float32],
    item_ids: NDArray[np.int64],
    *,
    in_bytes: bool = False,
) -> None:
    """Write ``rows`` (n, d) and their item ids at ``start_row`` in place, then flush.
    ``in_bytes``: the values are ``k/255`` and a new set keeps them a byte each; a set whose
    first shard exists keeps the type it was started with (sets written before stay float32)."""
    from learning.features import unit_bytes

    rows = np.asarray(rows, dtype=np.float32)
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if rows.ndim != 2 or len(rows) != len(item_ids):
        raise ValueError(f"expected (n, d) rows for {len(item_ids)} items, got {rows.shape}")
    first = _rows_path(directory, 0)
    if first.exists():
        in_bytes = np.load(first, mmap_mode="r").dtype == np.uint8
    dtype = np.uint8 if in_bytes else np.float32
    if in_bytes:
        rows = unit_bytes(rows)
    position = 0
    while position < len(rows):
        index, offset = divmod(start_row + position, SHARD_ROWS)
        take = min(SHARD_ROWS - offset, len(rows) - position)
        shape = (SHARD_ROWS, rows.shape[1])
        shard = _open_for_write(_rows_path(directory, index), dtype, shape)
        shard[offset : offset + take] = rows[position : position + take]
        shard.flush()
        ids = _open_for_write(_ids_path(directory, index), np.int64, (SHARD_ROWS,))
        ids[offset : offset + take] = item_ids[position : position + take]
        ids.flush()
        del shard, ids
        position += take


def shards_remove(directories: list[Path]) -> None:
    """Delete feature sets' folders, shards and fitted featurizer (their rows are gone)."""
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


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


def feature_set_wanted(feature_set: FeatureSet) -> bool:
    return feature_set.representation in kept_representations(feature_set.project)


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
