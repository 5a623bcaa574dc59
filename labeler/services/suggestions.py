"""A team's own model's predictions, stored as suggestions (the one owner of ``Suggestion``).

A suggestion is never a label: nothing here touches an item's label, status or the queue.
An import is all or nothing: every row is checked first (the item exists in the project, the
label is one of its classes, the score lies in 0..1) and the first bad row refuses the file
with its row number; then, in one transaction, the items named get their new suggestion in
place of any earlier one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from django.db import transaction
from django.utils.translation import gettext as _

from labeler.models import Item, LabelClass, Project, Suggestion
from labeler.services.suggestion_formats import PredictionRow, PredictionsRejected, prediction_rows

# Items looked up, and suggestions written, per query.
BATCH = 5000


@dataclass(frozen=True)
class SuggestionReport:
    # Items that got a suggestion, and how many of them had one before (replaced).
    imported: int
    replaced: int

    def as_dict(self) -> dict:
        return {"imported": self.imported, "replaced": self.replaced}


@dataclass
class _Pending:
    item_id: int
    scores: dict[str, float | None]
    model_version: str

    def best(self) -> tuple[str, float | None]:
        # The class with the highest score; a class named without a score counts as certain.
        return max(self.scores.items(), key=lambda pair: 1.0 if pair[1] is None else pair[1])


def _item_ids_by_source(project: Project, names: set[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    listed = sorted(names)
    for start in range(0, len(listed), BATCH):
        pairs = Item.objects.filter(
            project=project, source_name__in=listed[start : start + BATCH]
        ).values_list("source_name", "id")
        for name, pk in pairs:
            found.setdefault(name, []).append(pk)
    return found


def _existing_ids(project: Project, ids: set[int]) -> set[int]:
    listed = sorted(ids)
    existing: set[int] = set()
    for start in range(0, len(listed), BATCH):
        existing.update(
            Item.objects.filter(project=project, pk__in=listed[start : start + BATCH]).values_list(
                "id", flat=True
            )
        )
    return existing


def _resolve(project: Project, rows: list[PredictionRow]) -> dict[int, _Pending]:
    """The rows grouped by item, after every check; raises on the first bad row."""
    classes = set(LabelClass.objects.filter(project=project).values_list("name", flat=True))
    ids = _existing_ids(project, {row.item_id for row in rows if row.item_id is not None})
    by_source = _item_ids_by_source(
        project, {row.source_name for row in rows if row.item_id is None}
    )
    pending: dict[int, _Pending] = {}
    for row in rows:
        if row.item_id is not None:
            if row.item_id not in ids:
                raise _refuse(
                    row, _("item %(item)s is not in this project.") % {"item": row.item_id}
                )
            item_id = row.item_id
        else:
            matches = by_source.get(row.source_name, [])
            if len(matches) != 1:
                message = (
                    _("no item of this project has the source name %(name)s.")
                    if not matches
                    else _("several items have the source name %(name)s; give 'item' instead.")
                )
                raise _refuse(row, message % {"name": repr(row.source_name)})
            item_id = matches[0]
        if row.label not in classes:
            raise _refuse(
                row,
                _("%(label)s is not one of the project's classes.") % {"label": repr(row.label)},
            )
        entry = pending.setdefault(item_id, _Pending(item_id, {}, row.model_version))
        entry.scores[row.label] = row.score
    return pending


def _refuse(row: PredictionRow, message: str) -> PredictionsRejected:
    return PredictionsRejected(
        "invalid_row", _("Row %(row)s: %(message)s") % {"row": row.row, "message": message}
    )


def suggestions_import(*, project: Project, upload: BinaryIO, file_name: str) -> SuggestionReport:
    """Store a predictions file's rows as the items' suggestions (see the module's rules);
    raises :class:`PredictionsRejected` naming the first bad row, and then stores nothing."""
    rows = list(prediction_rows(upload, file_name))
    if not rows:
        raise PredictionsRejected("empty_file", _("The file holds no predictions."))
    pending = _resolve(project, rows)
    label_ids = dict(LabelClass.objects.filter(project=project).values_list("name", "id"))
    suggestions = []
    for entry in pending.values():
        label, score = entry.best()
        suggestions.append(
            Suggestion(
                project=project,
                item_id=entry.item_id,
                label_id=label_ids[label],
                score=score,
                scores=entry.scores if len(entry.scores) > 1 or score is not None else None,
                model_version=entry.model_version[:200],
            )
        )
    item_ids = sorted(pending)
    with transaction.atomic():
        replaced = 0
        for start in range(0, len(item_ids), BATCH):
            replaced += Suggestion.objects.filter(
                project=project, item_id__in=item_ids[start : start + BATCH]
            ).delete()[0]
        Suggestion.objects.bulk_create(suggestions, batch_size=BATCH)
    return SuggestionReport(imported=len(suggestions), replaced=replaced)


def suggestions_clear(*, project: Project) -> int:
    """Remove every suggestion of the project; returns how many there were."""
    return Suggestion.objects.filter(project=project).delete()[0]
