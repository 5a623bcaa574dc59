"""Taking things back on the labeling page: skip an item, bring a skipped item back, undo the
latest label or skip. Each returns the item to the front of the annotator's own queue."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from labeler import queue
from labeler.models import Annotation, Item, Project, Skip
from labeler.services import findings
from labeler.services.annotating import (
    SubmitRejected,
    entry_answered,
    item_lock,
    item_resolve,
)


@dataclass(frozen=True)
class Undone:
    """What an undo took back: an answer (``label`` set) or a skip (``label`` empty)."""

    item: Item
    label: str
    message: str


def item_skip(
    *, project: Project, annotator: AbstractBaseUser, item_id: int, tab: str = ""
) -> None:
    """Pass on an item. It leaves this annotator's queue; with one annotator per item it
    leaves the pool, as Prodigy's "ignore" does, and the skip is kept for the record (until
    the annotator takes it back; ``tab``, the page tab that skipped, by its undo). Skipping an
    item twice is one skip: a retried request changes nothing."""
    with transaction.atomic():
        item = item_lock(project=project, item_id=item_id)
        if Skip.objects.filter(item=item, annotator=annotator).exists():
            return
        entry = queue.held_entry(project=project, item=item, annotator=annotator)
        if entry is None:
            # Only what one holds: an annotator cannot take items out of others' queues.
            raise SubmitRejected("not_held", _("You can only skip an item you are holding."))
        Skip.objects.create(project=project, item=item, annotator=annotator, tab=tab)
        if item.status == Item.Status.UNLABELED:
            Item.objects.filter(pk=item.pk).update(status=Item.Status.SKIPPED)
        entry_answered(project=project, entry=entry)


def skip_undo(
    *, project: Project, annotator: AbstractBaseUser, item_id: int, tab: str = ""
) -> Item:
    """Take back a skip: the item returns to the front of this annotator's queue (in
    ``tab``, the page that asked)."""
    with transaction.atomic():
        item = item_lock(project=project, item_id=item_id)
        skips = Skip.objects.filter(item=item, annotator=annotator)
        if not skips.exists():
            raise SubmitRejected("not_skipped", _("you have not skipped this item"))
        skips.delete()
        if item.status == Item.Status.SKIPPED and not Skip.objects.filter(item=item).exists():
            Item.objects.filter(pk=item.pk).update(status=Item.Status.UNLABELED)
            item.status = Item.Status.UNLABELED
        queue.undone(project=project, annotator=annotator, item=item, tab=tab)
    return item


def last_action_undo(
    *, project: Project, annotator: AbstractBaseUser, tab: str = ""
) -> Undone | None:
    """Take back this annotator's latest action in the project, a label or a skip, whichever
    came last; asked from a labeling-page tab (``tab``), that tab's own latest action, so
    two tabs side by side each undo what they did (without a tab, as the API asks, the
    latest of any). A label: the item's previous label (if any) is current again and the
    withdrawn annotation stays in the history. Either way the item returns to the front of
    their queue, held for them in ``tab``. Returns what was undone, or None when there is
    nothing to undo."""
    with transaction.atomic():
        last = _last_annotation_locked(project, annotator, tab)
        skips = Skip.objects.filter(project=project, annotator=annotator)
        if tab:
            skips = skips.filter(tab=tab)
        skip = skips.order_by("-created_at", "-id").first()
        if skip is not None and (last is None or skip.created_at > last.created_at):
            item = skip_undo(project=project, annotator=annotator, item_id=skip.item_id, tab=tab)
            return Undone(
                item,
                "",
                _("Brought back item %(item)s, which you skipped.") % {"item": item.pk},
            )
        if last is None:
            return None
        item = last.item
        Annotation.objects.filter(pk=last.pk).update(is_current=False)
        previous = last.replaces
        if previous is not None:
            Annotation.objects.filter(pk=previous.pk).update(is_current=True)
        item_resolve(item=item, project=project)
        if previous is None:
            queue.undone(project=project, annotator=annotator, item=item, tab=tab)
        said = last.label.name if last.label_id else findings.answer_summary(last)
        return Undone(
            item,
            said,
            _("Took back your label “%(label)s” for item %(item)s.")
            % {"label": said, "item": item.pk},
        )


def _last_annotation_locked(
    project: Project, annotator: AbstractBaseUser, tab: str
) -> Annotation | None:
    """This annotator's latest current label (given in ``tab`` if one is named), with its
    item locked first and then the annotation (the lock order of ``services.annotating``:
    item before annotations). Read without a lock, then checked again under the locks: a
    concurrent submit or correction in between means reading again."""
    latest = Annotation.objects.filter(
        project=project, annotator=annotator, is_current=True, is_adjudication=False
    )
    if tab:
        latest = latest.filter(tab=tab)
    latest = latest.select_related("label").order_by("-created_at", "-id")
    for _attempt in range(5):
        seen = latest.first()
        if seen is None:
            return None
        item = Item.objects.select_for_update().get(pk=seen.item_id)
        locked = latest.select_for_update(of=("self",)).filter(pk=seen.pk).first()
        if locked is not None and latest.first().pk == seen.pk:
            locked.item = item
            return locked
    raise SubmitRejected("busy", _("Your labels are changing right now; try again."))


def last_annotation_undo(*, project: Project, annotator: AbstractBaseUser) -> Item | None:
    """Take back the latest label or skip (see ``last_action_undo``); returns its item."""
    undone = last_action_undo(project=project, annotator=annotator)
    return undone.item if undone else None
