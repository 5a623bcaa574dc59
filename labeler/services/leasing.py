"""Serving: the items an annotator should label next, leased by the queue
(``labeler.queue.lease``), and what the page says when the queue has none for them — asking
for a retrain where one is needed."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from labeler import queue
from labeler.models import Item, ModelRun, Project
from labeler.queue import LeasedItems, NextItem
from labeler.services.training import retrain_request


def items_lease(
    *, project: Project, annotator: AbstractBaseUser, hold: int = 1, tab: str = ""
) -> LeasedItems:
    """The items this annotator should label next in ``tab`` (a browser tab or an API client;
    "" for a client that names none), up to ``hold`` of them, leased to it: the ones it
    already holds first (a reload never burns items), topped up from the queue. Each tab of
    one annotator holds items of its own.

    An expired lease is simply free again for anyone; holding renews the leases held.
    """
    leased = queue.lease(project=project, annotator=annotator, hold=hold, tab=tab)
    if leased.explored:
        # Round and reserve used up: at once if no retrain is on its way (e.g. after a
        # failure).
        retrain_request(project=project)
    if leased.state != queue.EMPTY:
        return leased
    empty = _empty_queue_state(project)
    return LeasedItems(empty.state, [], empty.message)


def next_item_lease(*, project: Project, annotator: AbstractBaseUser, tab: str = "") -> NextItem:
    """The item this annotator should label now in ``tab``, leased to it (see
    ``items_lease``)."""
    leased = items_lease(project=project, annotator=annotator, hold=1, tab=tab)
    return NextItem(leased.state, leased.entries[0] if leased.entries else None, leased.message)


def _empty_queue_state(project: Project) -> NextItem:
    active = ModelRun.objects.filter(project=project, status__in=ModelRun.ACTIVE).exists()
    if active:
        return NextItem("updating", None, _("The model is updating; new items arrive in a moment."))
    has_pool = (
        Item.objects.filter(project=project, status=Item.Status.UNLABELED)
        .exclude(skips__isnull=False)
        .exists()
    )
    if has_pool:
        # Nothing queued, nothing running, items left: ask for a round (self-healing after a
        # failed run or an import) and let the page poll.
        retrain_request(project=project)
        return NextItem("updating", None, _("Choosing the next items; they arrive in a moment."))
    return NextItem("done", None, _("Every item in this project is labeled or skipped."))
