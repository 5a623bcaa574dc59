"""The annotator's answers: submit a label, correct it, and a manager's adjudication; the item's
label and the project's counters follow in the same transaction. The queue's side (which entry
an answer answers, the round's progress, the budget) is ``labeler.queue``'s, and so is the
lock order every transaction here keeps (``labeler.queue.Lock``): the item, its entries, the
project row, its annotations, the round's counter. Skips and undo are in ``services.undoing``.
"""

from __future__ import annotations

from collections import Counter

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from labeler import queue
from labeler.models import (
    Annotation,
    Item,
    LabelClass,
    Project,
    QueueEntry,
)
from labeler.queue import lock_clause
from labeler.services import findings as findings_service
from labeler.services import webhooks
from labeler.services.rejections import SubmitRejected


def entry_answered(*, project: Project, entry: QueueEntry) -> None:
    """The queue's side of an answer or a skip of ``entry``, and the retrain it asks for when
    the round runs low, in the caller's transaction (the queued run is its own outbox)."""
    from labeler.services.training import retrain_request

    if queue.answered(project=project, entry=entry):
        retrain_request(project=project)


def annotation_submit(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    item_id: int,
    label: str | None = None,
    client_key: str | None = None,
    seconds_spent: float | None = None,
    note: str = "",
    is_unsure: bool = False,
    findings: dict | None = None,
    tab: str = "",
) -> tuple[Annotation, bool]:
    """Record an expert's label, or for a findings project the state of each finding
    (``findings``: ``{name: "present" | "absent" | "uncertain"}``, left out = absent).
    Returns ``(annotation, created)``; repeating a ``client_key`` returns the annotation it
    created the first time. ``tab``: the labeling-page tab that answered (its undo takes the
    answer back).

    One transaction: the annotation, the item's current label, the queue entry, the round's
    counter and the project's counters change together or not at all.
    """
    if seconds_spent is not None and not 0 <= seconds_spent <= 24 * 3600:
        raise SubmitRejected("invalid", _("seconds_spent must be between 0 and 86400"))
    answer = answer_check(project=project, label=label, findings=findings)
    try:
        with transaction.atomic():
            return _submit(
                project,
                annotator,
                item_id,
                answer,
                client_key,
                seconds_spent,
                note,
                is_unsure,
                tab,
            )
    except (IntegrityError, SubmitRejected):
        # A retry of an answer already stored (its client_key is taken) is that answer: the
        # unique constraint decides, so the first attempt costs no look-up. A retry usually
        # fails earlier ("not_served": its entry is done), so rejections look too.
        existing = (
            Annotation.objects.filter(annotator=annotator, client_key=client_key).first()
            if client_key
            else None
        )
        if existing is None:
            raise
        if existing.project_id != project.pk or existing.item_id != item_id:
            raise SubmitRejected(
                "client_key_reused", _("this client_key was already used for another item")
            ) from None
        return existing, False


def answer_check(*, project: Project, label: str | None, findings: object) -> str | dict[int, int]:
    """What an answer says, checked against the project's task: a class name for a
    single-label project, ``{finding id: state}`` for a findings project. The refusal names
    the field at fault (``findings_service.FindingsRejected``)."""
    if not project.is_findings:
        if findings is not None:
            raise findings_service.FindingsRejected(
                "findings_unexpected",
                _("This project takes one label per item, not findings; send “label”."),
            )
        if label is None:
            raise findings_service.FindingsRejected(
                "label_required", _("label is required"), field="label"
            )
        return label
    if label is not None:
        raise findings_service.FindingsRejected(
            "label_unexpected",
            _("This is a findings project: send “findings”, not “label”."),
            field="label",
        )
    return findings_service.findings_parse(project=project, findings=findings or {})


def item_lock(*, project: Project, item_id: int) -> Item:
    """The project's item ``item_id``, its row locked (the first lock of ``queue.Lock``'s
    order), or a refusal."""
    item = Item.objects.select_for_update().filter(project=project, pk=item_id).first()
    if item is None:
        raise SubmitRejected(
            "not_in_project", _("item %(id)s is not in this project") % {"id": item_id}
        )
    return item


def _label_class(project: Project, label: str) -> LabelClass:
    label_class = project.classes.filter(name=label).first()
    if label_class is None:
        known = ", ".join(project.classes.values_list("name", flat=True))
        raise SubmitRejected(
            "unknown_label",
            _("unknown label %(label)s; classes are: %(classes)s")
            % {"label": repr(label), "classes": known},
        )
    return label_class


def _locked_item_and_class(project: Project, item_id: int, label: str):
    """The item, locked, and the project's class named ``label``: one statement, as every
    submit starts with both. The item carries only what a submit reads (id, status)."""
    sql = (
        f"SELECT i.id, i.status, (SELECT c.id FROM {LabelClass._meta.db_table} c"
        " WHERE c.project_id = %s AND c.name = %s)"
        f" FROM {Item._meta.db_table} i WHERE i.project_id = %s AND i.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql + lock_clause("i"), [project.pk, label, project.pk, item_id])
        row = cursor.fetchone()
    if row is None:
        raise SubmitRejected(
            "not_in_project", _("item %(id)s is not in this project") % {"id": item_id}
        )
    pk, status, class_id = row
    if class_id is None:
        _label_class(project, label)  # raises, naming the classes
    item = Item.from_db(connection.alias, ["id", "project_id", "status"], [pk, project.pk, status])
    label_class = LabelClass.from_db(
        connection.alias, ["id", "project_id", "name"], [class_id, project.pk, label]
    )
    return item, label_class


def _submit(project, annotator, item_id, answer, client_key, seconds_spent, note, is_unsure, tab):
    now = timezone.now()
    if isinstance(answer, dict):
        item, label_class = item_lock(project=project, item_id=item_id), None
    else:
        item, label_class = _locked_item_and_class(project, item_id, answer)
    # The item's current annotations, read once: the one this answer replaces and, with the
    # new one, what the item's label is derived from.
    current = list(
        Annotation.objects.filter(item=item, is_current=True).order_by("-created_at", "-id")
    )
    # This annotator's own current answer: another of their tabs may have answered the item
    # (the same person: their answer is not refused, see _answered_again).
    mine = next(
        (a for a in current if a.annotator_id == annotator.pk and not a.is_adjudication), None
    )
    fields = {
        "client_key": client_key or None,
        "seconds_spent": seconds_spent,
        "note": note[:5000],
        "is_unsure": is_unsure,
        "tab": tab,
    }
    if project.overlap > 1 and mine is not None:
        return _answered_again(
            project, annotator, item, current, mine, answer, label_class, fields, now
        )
    try:
        entry = queue.entry_for_answer(project=project, item=item, annotator=annotator)
    except queue.NotServed as refused:
        if refused.code == "not_served" and mine is not None:
            return _answered_again(
                project, annotator, item, current, mine, answer, label_class, fields, now
            )
        raise SubmitRejected(refused.code, refused.message) from None
    if project.budget is not None:
        # The budget check must see every concurrent submit's count: lock the project row.
        # Without a budget there is nothing to check, and submits need not queue behind
        # each other on it.
        project = Project.objects.select_for_update().get(pk=project.pk)
    limit = queue.budget_state(project=project, annotator=annotator, now=now, leasing=False)
    if limit is not None:
        raise SubmitRejected(limit.state, limit.message)

    previous = _replaced(current, project, annotator)
    if previous is not None:
        Annotation.objects.filter(pk=previous.pk).update(is_current=False)
    annotation = Annotation.objects.create(
        project=project,
        item=item,
        annotator=annotator,
        label=label_class,
        kind=entry.kind,
        round=entry.round,
        seconds_spent=seconds_spent,
        note=note[:5000],
        predicted_label=entry.predicted_label,
        predicted_confidence=entry.predicted_confidence,
        client_key=client_key or None,
        is_unsure=is_unsure,
        replaces=previous,
        tab=tab,
    )
    if isinstance(answer, dict):
        findings_service.finding_answers_store(annotation=annotation, states=answer)
    now_current = [annotation] + [a for a in current if a is not previous]
    item_resolve(item=item, project=project, annotations_added=1, current=now_current)
    entry_answered(project=project, entry=entry)
    webhooks.labels_added_emit(project=project, item_ids=[item.pk])
    return annotation, True


def _answered_again(project, annotator, item, current, mine, answer, label_class, fields, now):
    """An answer to an item this annotator has already answered, and nobody else holds now:
    two of their tabs (or a tab and an API client) showed it, and both were answered. Saying
    the same again stores nothing (``(mine, False)``, as a retry would); saying something
    else changes their answer as a correction does, replacing it in the item's history and
    spending one label. Never a refusal: it is the same person."""
    if isinstance(answer, dict):
        said = findings_service.answers_states([mine.pk])[mine.pk]
        same = said == {finding: state for finding, state in answer.items() if state}
    else:
        same = mine.label_id == label_class.pk
    if same:
        return mine, False
    if project.budget is not None:
        project = Project.objects.select_for_update().get(pk=project.pk)
    annotation = _answer_replace(
        project=project,
        item=item,
        annotator=annotator,
        replaced=mine,
        label_class=label_class,
        answer=answer,
        now=now,
        **fields,
    )
    now_current = [annotation] + [a for a in current if a is not mine]
    item_resolve(item=item, project=project, annotations_added=1, current=now_current)
    webhooks.labels_added_emit(project=project, item_ids=[item.pk])
    return annotation, True


def _answer_replace(
    *, project, item, annotator, replaced: Annotation, label_class, answer, now, **fields
) -> Annotation:
    """``annotator``'s new answer in place of ``replaced`` (a correction, or a second tab's
    other answer), refused when the budget or their daily cap is spent (it spends one label):
    the old one stays in the item's history, no longer current; the new one keeps its kind,
    round and the model's guess at the time. The caller holds the project's row where a
    budget counts, and resolves the item."""
    limit = queue.budget_state(project=project, annotator=annotator, now=now, leasing=False)
    if limit is not None:
        raise SubmitRejected(limit.state, limit.message)
    Annotation.objects.filter(pk=replaced.pk).update(is_current=False)
    annotation = Annotation.objects.create(
        project=project,
        item=item,
        annotator=annotator,
        label=label_class,
        kind=replaced.kind,
        round_id=replaced.round_id,
        predicted_label_id=replaced.predicted_label_id,
        predicted_confidence=replaced.predicted_confidence,
        replaces=replaced,
        **fields,
    )
    if isinstance(answer, dict):
        findings_service.finding_answers_store(annotation=annotation, states=answer)
    return annotation


def _replaced(current: list[Annotation], project: Project, annotator) -> Annotation | None:
    """Of the item's current annotations (newest first), the one a new answer replaces: with
    one annotator per item, the item's current answer; with overlap, this annotator's own."""
    return next(
        (
            a
            for a in current
            if not a.is_adjudication and (project.overlap <= 1 or a.annotator_id == annotator.pk)
        ),
        None,
    )


def item_resolve(
    *,
    item: Item,
    project: Project,
    annotations_added: int = 0,
    current: list[Annotation] | None = None,
) -> str:
    """Derive the item's label from its current annotations and keep the counters right.

    One annotator per item: their label. With overlap N: nothing until N answers are in, then
    the strict majority, else a conflict for a manager to adjudicate. A manager's
    adjudication always decides. Only resolved labels are trained on.

    ``current``: the item's current annotations, newest first, where the caller has them
    (a submit does), saving a read."""
    if current is None:
        current = list(
            Annotation.objects.filter(item=item, is_current=True).order_by("-created_at", "-id")
        )
    ruling = next((a for a in current if a.is_adjudication), None)
    answers = [a for a in current if not a.is_adjudication]
    label_id = None
    if project.is_findings:
        status, states = findings_service.findings_resolution(
            project=project, ruling=ruling, answers=answers
        )
        findings_service.item_findings_write(project=project, item=item, states=states)
    elif ruling is not None:
        status, label_id = Item.Status.LABELED, ruling.label_id
    elif not answers:
        status = Item.Status.UNLABELED
    elif project.overlap <= 1:
        status, label_id = Item.Status.LABELED, answers[0].label_id
    elif len(answers) < project.overlap:
        status = Item.Status.PENDING
    else:
        votes = Counter(a.label_id for a in answers)
        winner, count = votes.most_common(1)[0]
        if count * 2 > len(answers):
            status, label_id = Item.Status.LABELED, winner
        else:
            status = Item.Status.CONFLICT
    # The caller holds the item's row lock, so its loaded status is the stored one.
    was_labeled = item.status == Item.Status.LABELED
    labeled_change = (status == Item.Status.LABELED) - was_labeled
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Item._meta.db_table} SET status = %s, label_id = %s WHERE id = %s",
            [status, label_id, item.pk],
        )
        if labeled_change or annotations_added:
            # One counter update per answer, written last: the project row is locked only
            # briefly before commit.
            cursor.execute(
                f"UPDATE {Project._meta.db_table} SET n_labeled = n_labeled + %s,"
                " n_annotations = n_annotations + %s WHERE id = %s",
                [labeled_change, annotations_added, project.pk],
            )
    item.status, item.label_id = status, label_id
    return status


def item_adjudicate(
    *,
    project: Project,
    manager: AbstractBaseUser,
    item_id: int,
    label: str | None = None,
    findings: dict | None = None,
) -> Annotation:
    """A manager decides the label of an item (usually a conflict), or every finding's state
    of a findings item. The annotators' answers stay as they are, for the agreement figures
    and the record."""
    answer = answer_check(project=project, label=label, findings=findings)
    with transaction.atomic():
        item = item_lock(project=project, item_id=item_id)
        label_class = None if isinstance(answer, dict) else _label_class(project, answer)
        previous = Annotation.objects.filter(
            item=item, is_current=True, is_adjudication=True
        ).first()
        if previous is not None:
            Annotation.objects.filter(pk=previous.pk).update(is_current=False)
        ruling = Annotation.objects.create(
            project=project,
            item=item,
            annotator=manager,
            label=label_class,
            kind=item.annotations.values_list("kind", flat=True).first() or "strategy",
            is_adjudication=True,
            replaces=previous,
        )
        if isinstance(answer, dict):
            findings_service.finding_answers_store(annotation=ruling, states=answer)
        item_resolve(item=item, project=project)
    return ruling


def annotation_correct(
    *,
    annotation: Annotation,
    annotator: AbstractBaseUser,
    label: str | None = None,
    findings: dict | None = None,
    tab: str = "",
) -> Annotation:
    """Change a label (or a findings answer's states). The old annotation stays in the
    history; a new one replaces it (``tab``: the page tab that changed it, whose undo takes
    the change back)."""
    answer = answer_check(project=annotation.project, label=label, findings=findings)
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=annotation.item_id)
        project = Project.objects.select_for_update().get(pk=annotation.project_id)
        current = Annotation.objects.select_for_update().get(pk=annotation.pk)
        if not current.is_current:
            raise SubmitRejected(
                "not_current", _("this annotation was already corrected; correct the newest one")
            )
        label_class = None if isinstance(answer, dict) else _label_class(project, answer)
        corrected = _answer_replace(
            project=project,
            item=item,
            annotator=annotator,
            replaced=current,
            label_class=label_class,
            answer=answer,
            now=timezone.now(),
            tab=tab,
        )
        item_resolve(item=item, project=project, annotations_added=1)
    return corrected
