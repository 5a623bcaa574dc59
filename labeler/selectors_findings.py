"""Reads of findings projects (issue 21): the label matrix the training glue learns from and
the per-answer states pages, the API and exports show."""

from __future__ import annotations

import numpy as np

from labeler.models import Item, ItemFinding, LabelClass, Project
from labeler.models_findings import STATE_NAMES
from labeler.services.findings import answers_states


def finding_names(*, project: Project) -> dict[int, str]:
    """``{finding id: name}`` in the project's label order (the matrix's columns)."""
    return dict(LabelClass.objects.filter(project=project).values_list("id", "name"))


def findings_label_matrix(
    *, project: Project, evaluation: bool | None = None
) -> tuple[list[int], np.ndarray, list[str]]:
    """The resolved answers of the project's labeled items (answered or pre-labeled):
    ``(item_ids, Y, finding_names)`` with ``item_ids`` ascending, ``Y`` an int8 array of shape
    ``(len(item_ids), len(finding_names))`` holding 1 present / 0 absent / -1 uncertain, and
    the columns in the project's label order. ``evaluation``: only evaluation items (True),
    only the others (False), or all (None)."""
    names = finding_names(project=project)
    column = {pk: j for j, pk in enumerate(names)}
    items = Item.objects.filter(project=project, status=Item.Status.LABELED)
    if evaluation is not None:
        items = items.filter(is_evaluation=evaluation)
    item_ids = list(items.order_by("id").values_list("id", flat=True))
    Y = np.zeros((len(item_ids), len(names)), dtype=np.int8)
    row = {pk: i for i, pk in enumerate(item_ids)}
    states = ItemFinding.objects.filter(project=project).values_list(
        "item_id", "finding_id", "state"
    )
    if evaluation is not None:
        states = states.filter(item__is_evaluation=evaluation)
    for item_id, finding_id, state in states.iterator(chunk_size=10_000):
        if item_id in row:
            Y[row[item_id], column[finding_id]] = state
    return item_ids, Y, list(names.values())


def item_states(*, project: Project, item_ids: list[int]) -> dict[int, dict[str, str]]:
    """``{item id: {finding name: state name}}`` of the items' resolved states (all findings)."""
    names = finding_names(project=project)
    found: dict[int, dict[int, int]] = {pk: {} for pk in item_ids}
    rows = ItemFinding.objects.filter(item_id__in=item_ids).values_list(
        "item_id", "finding_id", "state"
    )
    for item_id, finding_id, state in rows:
        found[item_id][finding_id] = state
    return {
        pk: {name: STATE_NAMES[states.get(fid, 0)] for fid, name in names.items()}
        for pk, states in found.items()
    }


def annotation_states(*, project: Project, annotation_ids: list[int]) -> dict[int, dict[str, str]]:
    """``{annotation id: {finding name: state name}}`` for the given answers (all findings)."""
    names = finding_names(project=project)
    return {
        pk: {name: STATE_NAMES[states.get(fid, 0)] for fid, name in names.items()}
        for pk, states in answers_states(annotation_ids).items()
    }
