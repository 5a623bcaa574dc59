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


def findings_agreement_stats(*, project: Project) -> dict:
    """Agreement for a findings project with overlap, from the current answers: the whole
    answer (every finding's state at once) as the label of the usual figures, and the same
    figures per finding (Fleiss' κ, Cohen's κ per pair, each annotator against the
    resolved state) under ``findings``."""
    from labeler import engine
    from labeler.models import Annotation

    names = finding_names(project=project)
    rows = (
        Annotation.objects.filter(project=project, is_current=True, is_adjudication=False)
        .values_list("pk", "item_id", "annotator__username")
        .order_by("item_id")
    )
    answers: dict[int, list[tuple[str, int]]] = {}
    for pk, item_id, annotator in rows.iterator(chunk_size=5000):
        answers.setdefault(item_id, []).append((annotator, pk))
    shared = {item: given for item, given in answers.items() if len(given) >= 2}
    states = answers_states(pk for given in shared.values() for _, pk in given)
    labeled = list(
        Item.objects.filter(pk__in=list(shared), status=Item.Status.LABELED).values_list(
            "id", flat=True
        )
    )
    resolved: dict[int, dict[int, int]] = {pk: {} for pk in labeled}
    for item_id, finding_id, state in ItemFinding.objects.filter(item_id__in=labeled).values_list(
        "item_id", "finding_id", "state"
    ):
        resolved[item_id][finding_id] = state

    def whole(answer: dict[int, int]) -> str:
        return ",".join(str(answer.get(fid, 0)) for fid in names)

    figures = engine.agreement_figures(
        {item: [(who, whole(states[pk])) for who, pk in given] for item, given in shared.items()},
        {item: whole(found) for item, found in resolved.items()},
        project.overlap,
    )
    figures["findings"] = []
    for fid, name in names.items():
        per_finding = engine.agreement_figures(
            {
                item: [(who, STATE_NAMES[states[pk].get(fid, 0)]) for who, pk in given]
                for item, given in shared.items()
            },
            {item: STATE_NAMES[found.get(fid, 0)] for item, found in resolved.items()},
            project.overlap,
        )
        kappas = [p["cohen_kappa"] for p in per_finding["pairs"] if p["cohen_kappa"] is not None]
        per_finding["mean_cohen_kappa"] = sum(kappas) / len(kappas) if kappas else None
        figures["findings"].append({"finding": name, **per_finding})
    figures["conflicts"] = Item.objects.filter(project=project, status=Item.Status.CONFLICT).count()
    figures["overlap"] = project.overlap
    return figures


def answer_summaries(*, annotation_ids: list[int]) -> dict[int, str]:
    """Each findings answer in a few words (present findings, uncertain ones with “?”, else
    “no finding”), for the labeling page's strip of last answers."""
    from labeler.models import FindingAnswer
    from labeler.services.findings import summary_text

    rows: dict[int, list[tuple[str, int]]] = {pk: [] for pk in annotation_ids}
    found = (
        FindingAnswer.objects.filter(annotation_id__in=annotation_ids)
        .order_by("finding__order", "finding_id")
        .values_list("annotation_id", "finding__name", "state")
    )
    for annotation_id, name, state in found:
        rows[annotation_id].append((name, state))
    return {pk: summary_text(given) for pk, given in rows.items()}


def page_findings_attach(*, project: Project, items: list[Item], viewer, own: bool) -> None:
    """Give each item of an items page ``finding_marks`` (its non-absent states, in the
    project's order: the resolved ones, or with ``own`` the viewer's own answer's) and
    ``finding_probabilities`` (the newest model's three most probable findings)."""
    from labeler.models import Annotation

    names = finding_names(project=project)
    ids = [item.pk for item in items]
    if own:
        mine = dict(
            Annotation.objects.filter(item_id__in=ids, annotator=viewer, is_current=True)
            .order_by("created_at")
            .values_list("item_id", "pk")
        )
        given = answers_states(mine.values())
        by_item = {item_id: given[pk] for item_id, pk in mine.items()}
    else:
        by_item = {pk: {} for pk in ids}
        rows = ItemFinding.objects.filter(item_id__in=ids).values_list(
            "item_id", "finding_id", "state"
        )
        for item_id, finding_id, state in rows:
            by_item[item_id][finding_id] = state
    for item in items:
        states = by_item.get(item.pk, {})
        item.finding_answered = item.pk in by_item if own else item.status == Item.Status.LABELED
        item.finding_marks = [
            (name, STATE_NAMES[states[fid]]) for fid, name in names.items() if states.get(fid)
        ]
        probabilities = item.model_findings or {}
        item.finding_probabilities = sorted(
            ((name, round(100 * p)) for name, p in probabilities.items() if name in names.values()),
            key=lambda pair: -pair[1],
        )[:3]
