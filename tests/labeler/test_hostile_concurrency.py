"""Exact budgets on the real PostgreSQL: annotator threads released together by a barrier
lease and submit while a manager edits the project; the budget ends exact, the counters equal
count(*), no item is served to two annotators at once, and no accepted label is lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models import Count

from labeler import services
from labeler.models import Annotation, Item, Membership, Project
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import item_add, round_add

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ANNOTATORS = 8
BUDGET = 30


def test_a_budget_ends_exact_with_concurrent_annotators_and_a_manager_editing():
    manager = UserFactory()
    project = ProjectFactory(
        kind="text", classes=("yes", "no"), created_by=manager, budget=BUDGET, round_size=20
    )
    annotators = [UserFactory() for _ in range(ANNOTATORS)]
    for user in annotators:
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    round_add(project, [item_add(project, text=f"t{n}") for n in range(BUDGET * 3)])
    barrier = threading.Barrier(ANNOTATORS + 1)
    accepted: list[int] = []
    served: list[tuple[int, int]] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def annotate(user) -> None:
        try:
            barrier.wait()
            while True:
                fresh = Project.objects.get(pk=project.pk)
                next_item = services.next_item_lease(project=fresh, annotator=user)
                if next_item.state != "ready":
                    assert next_item.state == "budget_spent", next_item.message
                    return
                served.append((next_item.entry.item_id, user.pk))
                try:
                    annotation, _ = services.annotation_submit(
                        project=fresh, annotator=user, item_id=next_item.entry.item_id, label="yes"
                    )
                except services.SubmitRejected as refused:
                    assert refused.code == "budget_spent", refused.message
                    continue
                accepted.append(annotation.pk)
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    def edit() -> None:
        try:
            barrier.wait()
            number = 0
            while not stop.is_set():
                number += 1
                services.project_update(project=project, changes={"description": f"edit {number}"})
                stop.wait(0.02)
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=annotate, args=(user,)) for user in annotators]
    editor = threading.Thread(target=edit)
    for thread in [*threads, editor]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    editor.join(timeout=30)

    assert not failures, failures
    project.refresh_from_db()
    stored = Annotation.objects.filter(project=project)
    assert stored.count() == BUDGET == project.n_annotations
    assert project.n_labeled == Item.objects.filter(project=project, status="labeled").count()
    assert not stored.values("item").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert set(accepted) == set(stored.values_list("pk", flat=True))
    holders: dict[int, set[int]] = {}
    for item_id, user_id in served:
        holders.setdefault(item_id, set()).add(user_id)
    assert all(len(users) == 1 for users in holders.values())
    assert project.description.startswith("edit ")
