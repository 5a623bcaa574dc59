"""Scan items (a series or a study) in the engine: their slices' rows pooled per item, and
the evidence slices a run's model relied on, kept beside the run's model for the viewer.

Evidence is a JSON file in the run's artifact folder, ``{item_id: {series_uid: [slice
index, ...]}}`` (most telling first): the run is what produced it, and a newer run's file
replaces it for the viewer without any table being written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labeler.models import FeatureSet, Item, ModelRun, Project, ScanSlice

if TYPE_CHECKING:
    from labeler.engine.store import FeatureRows

EVIDENCE_FILE = "evidence.json"


def evidence_write(directory: Path, evidence: dict[int, dict[str, list[int]]]) -> None:
    """Store a run's evidence slices (item id → series uid → slice indexes)."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {str(item_id): series for item_id, series in evidence.items()}
    (directory / EVIDENCE_FILE).write_text(json.dumps(payload))


def evidence_of(*, project: Project, item_id: int) -> dict[str, list[int]]:
    """The newest successful run's evidence slices of one item, ``{series_uid: [index]}``;
    empty before any run has some."""
    paths = (
        ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
        .exclude(artifact_path="")
        .order_by("-created_at")
        .values_list("artifact_path", flat=True)[:5]
    )
    for path in paths:
        file = Path(path) / EVIDENCE_FILE
        if file.exists():
            try:
                evidence = json.loads(file.read_text())
            except (OSError, ValueError):
                continue
            return {
                str(uid): [int(i) for i in indexes]
                for uid, indexes in evidence.get(str(item_id), {}).items()
            }
    return {}


# --- slice rows and the pooled scan rows a retrain trains on ---------------------------------

SLICE_FOLDER = "slices"
EVIDENCE_PER_SERIES = 3


@dataclass
class ScanRows:
    """The slice rows of every item of a feature set, in its row order: ``bags`` (one bag per
    row of ``FeatureRows``) and, per item, the ``(series_uid, index)`` of each bag row."""

    bags: Any
    keys: list[list[tuple[str, int]]]


def slice_representation(serving: FeatureSet) -> str:
    """The representation slices are featurized with: the serving one when it reads each
    image on its own, else plain pixels (a pool-fitted one was fitted on the items' middle
    slices, not on every slice)."""
    from learning.representations import get_representation

    representation = get_representation(serving.representation)
    return "pixels" if representation.fitted_on_pool else representation.name


def _slice_images(item: Item) -> tuple[list, list[tuple[str, int]]]:
    """Each slice in the file's own window, as PIL images, and its (series uid, index)."""
    from labeler.dicom.reading import quiet
    from labeler.dicom.rendering import render
    from labeler.dicom.renditions import stored_dataset

    images, keys = [], []
    with quiet():
        # The order labeler.selectors_scans.scan_slices gives (the engine reads no selector).
        parts = ScanSlice.objects.filter(series__item=item).select_related("series")
        ordered = parts.order_by("series__number", "series__series_uid", "series_id", "index")
        for part in ordered:
            images.append(render(stored_dataset(part.dicom_path), frame=part.frame))
            keys.append((part.series.series_uid, part.index))
    return images, keys


def _featurizer(serving: FeatureSet):
    """The slice featurizer, with the feature set's own options (its pixel size)."""
    from labeler.engine.embedding import featurizer_options
    from labeler.engine.store import representation_named

    representation = representation_named(slice_representation(serving))
    return representation.featurizer(featurizer_options(serving))


def scan_rows(serving: FeatureSet, features: FeatureRows) -> ScanRows:
    """Slice rows of every item with a row in ``features`` (a :class:`learning.scans.ScanBags`
    in the features' row order), computed once per item (kept as
    ``slices/<item>-<n_slices>.npy`` beside the feature set's shards: a series that grew is
    computed again). An item without slices is a one-slice scan of its own image."""
    from labeler.engine.store import feature_set_dir

    folder = feature_set_dir(serving) / SLICE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    items = Item.objects.in_bulk([int(i) for i in features.item_ids])
    featurizer = None
    bags, keys = [], []
    for item_id in features.item_ids:
        item = items[int(item_id)]
        n_slices = int((item.metadata or {}).get("scan", {}).get("slices", 0))
        cache = folder / f"{item.pk}-{n_slices}.npy"
        keys_file = cache.with_suffix(".json")
        if cache.exists() and keys_file.exists():
            bags.append(np.load(cache))
            keys.append([tuple(k) for k in json.loads(keys_file.read_text())])
            continue
        featurizer = featurizer or _featurizer(serving)
        images, item_keys = _slice_images(item)
        if not images:
            images, item_keys = [item.file.path], [("", 0)]
        rows = np.asarray(featurizer.transform(images), dtype=np.float32)
        np.save(cache, rows)
        keys_file.write_text(json.dumps(item_keys))
        bags.append(rows)
        keys.append(item_keys)
    from learning.scans import ScanBags

    return ScanRows(ScanBags.from_lists(bags), keys)


def evidence_by_item(
    rows: ScanRows, item_ids: np.ndarray, evidence: list[np.ndarray]
) -> dict[int, dict[str, list[int]]]:
    """Bag positions of the evidence slices as ``{item: {series_uid: [index]}}``."""
    found: dict[int, dict[str, list[int]]] = {}
    for item_id, keys, positions in zip(item_ids, rows.keys, evidence, strict=True):
        per_series: dict[str, list[int]] = {}
        for position in positions:
            uid, index = keys[int(position)]
            if uid:
                per_series.setdefault(uid, []).append(int(index))
        found[int(item_id)] = per_series
    return found


POOL_FILE = "scan_pool.npy"
POOL_IDS_FILE = "scan_pool_item_ids.npy"


def scan_pool(
    serving: FeatureSet, features: FeatureRows, train_rows: np.ndarray, y_train: np.ndarray
) -> tuple[np.ndarray, Any, ScanRows]:
    """One row per scan item, in ``features``' row order: the slice rows pooled by the mean
    while labels are few, by attention learned on the labeled scans (``train_rows``,
    ``y_train``) once they allow. Returns the pooled rows, the fitted pooler and the slices."""
    from learning.scans import ScanPooler

    rows = scan_rows(serving, features)
    pooler = ScanPooler(random_state=serving.project.random_seed)
    pooler.fit(rows.bags.subset(train_rows), y_train if len(train_rows) else None)
    return pooler.transform(rows.bags), pooler, rows


def scan_artifacts_save(
    directory: Path, pool: np.ndarray, item_ids: np.ndarray, pooler: Any, model: Any, rows: ScanRows
) -> None:
    """Keep the run's pooled rows (its model reads only these) and its evidence slices."""
    from learning.scans import evidence_slices

    np.save(directory / POOL_FILE, pool)
    np.save(directory / POOL_IDS_FILE, np.asarray(item_ids, dtype=np.int64))
    evidence = evidence_slices(pooler, model, rows.bags, k=EVIDENCE_PER_SERIES)
    evidence_write(directory, evidence_by_item(rows, item_ids, evidence))


def run_pool(artifact_path: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The pooled rows and their item ids a scan project's run trained on, or None."""
    directory = Path(artifact_path)
    if not (directory / POOL_FILE).exists():
        return None
    return np.load(directory / POOL_FILE), np.load(directory / POOL_IDS_FILE)
