"""Which representation an "auto" image project serves, re-decided by evidence (issue 20): the
pool-fitted first choice buys a quick start but can cap the final model, so once the labels
have grown enough the retrain cross-validates the same model on the labeled rows of every
ready candidate (:func:`learning.representation_choice.compare_representations`) and the
service switches the project when another one wins. Reads rows, writes nothing.
"""

from __future__ import annotations

import time

import numpy as np

from labeler.engine.store import auto_candidate_names, feature_rows_open, representation_for
from labeler.models import FeatureSet, Item, ModelRun, Project

# Compare again once the labels have grown by this factor since the last comparison (as the
# simulator's loop, learning/switching.py, does).
GROWTH = 1.25
# At most this many labels are cross-validated (a seeded sample beyond): five folds of
# logistic regression on 1,024 pixel columns stay a few seconds of the worker, whatever the
# project's size; the comparison needs the ranking, not the last decimal.
MAX_COMPARED_LABELS = 1500
EVIDENCE_KEY = "representation_choice"


def comparison_min_labels() -> int:
    """The labels the first comparison waits for (learning is imported lazily: Django's
    start-up, makemessages included, must not need it)."""
    from learning.representation_choice import MIN_LABELS

    return MIN_LABELS


def latest_representation_evidence(project: Project) -> dict | None:
    """The evidence the latest comparison recorded on a run, or None before any."""
    return (
        ModelRun.objects.filter(
            project=project, status=ModelRun.Status.SUCCEEDED, metrics__has_key=EVIDENCE_KEY
        )
        .order_by("-created_at")
        .values_list(f"metrics__{EVIDENCE_KEY}", flat=True)
        .first()
    )


def _ready_sets(project: Project, names: list[str]) -> dict[str, FeatureSet]:
    ready = {}
    for name in names:
        feature_set = (
            FeatureSet.objects.filter(project=project, representation=name, ready_at__isnull=False)
            .order_by("-version")
            .first()
        )
        if feature_set is not None:
            ready[name] = feature_set
    return ready


def representation_evidence(*, project: Project) -> dict | None:
    """A new comparison of the candidates on the labels, as JSON (the chosen representation,
    the one serving, cross-validated accuracy per candidate, the labels, the reason, the
    seconds it took); None when there is nothing to compare yet: not an "auto" image project,
    fewer than ``MIN_LABELS`` labels or not ``GROWTH`` times those of the last comparison, or
    fewer than two candidates ready."""
    from learning.pool import take_rows
    from learning.representation_choice import MIN_LABELS, compare_representations

    names = auto_candidate_names(project)
    if len(names) < 2:
        return None
    try:
        serving = representation_for(project).name
    except ValueError:
        return None
    ready = _ready_sets(project, names)
    if serving not in ready or len(ready) < 2:
        return None
    labeled = list(
        Item.objects.filter(project=project, is_evaluation=False, label__isnull=False)
        .order_by("id")
        .values_list("id", "label__name")
    )
    previous = latest_representation_evidence(project) or {}
    compared_at = int(previous.get("n_labels") or 0)
    if len(labeled) < max(MIN_LABELS, GROWTH * compared_at):
        return None
    started = time.perf_counter()
    item_ids = np.array([pk for pk, _ in labeled], dtype=np.int64)
    labels = np.array([name for _, name in labeled], dtype=object)
    features = {name: feature_rows_open(feature_set) for name, feature_set in ready.items()}
    rows = {name: opened.rows_of(item_ids) for name, opened in features.items() if opened}
    # Only the items every candidate has a row for (an item imported since one was computed
    # waits), so each candidate is judged on the same labels.
    common = np.logical_and.reduce([found >= 0 for found in rows.values()])
    if len(rows) < 2 or serving not in rows or common.sum() < MIN_LABELS:
        return None
    keep = np.flatnonzero(common)
    if len(keep) > MAX_COMPARED_LABELS:
        rng = np.random.default_rng([project.random_seed, project.pk, len(keep)])
        keep = np.sort(rng.choice(keep, size=MAX_COMPARED_LABELS, replace=False))
    labeled_rows = {
        name: take_rows(features[name].pool, found[keep]) for name, found in rows.items()
    }
    evidence = compare_representations(
        labeled_rows, labels[keep].astype(str), serving=serving, random_state=project.random_seed
    )
    if not evidence.scores:
        return None  # a class with a single label: the next run tries again
    figures = evidence.as_json()
    figures["n_labels"] = len(labeled)  # what the next comparison's growth counts from
    figures["n_compared"] = int(len(keep))
    figures["candidates"] = list(ready)
    figures["seconds"] = round(time.perf_counter() - started, 3)
    return figures
