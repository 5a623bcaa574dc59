"""Eight annotators' pages prefetching at once on PostgreSQL, with a retrain writing the next
round and its reserve under them: no item is ever held by two annotators, and the budget is
spent exactly, never overshot. And one annotator's two requests at once (a reload racing the
page's last answer) hold what they held, not fresh items."""

import threading
from collections import defaultdict

import pytest
from django.db import connection, connections, transaction

from labeler import engine, services
from labeler.models import Annotation, ModelRun, Project, QueueEntry
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import label_open_entries, run_queued, truth

ANNOTATORS = 8
BUDGET = 45


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_prefetching_annotators_never_share_an_item_and_spend_the_budget_exactly():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10)
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(60))
    run_queued(project)
    Project.objects.filter(pk=project.pk).update(budget=BUDGET)
    users = [UserFactory() for _ in range(ANNOTATORS)]
    served: dict[int, set[int]] = defaultdict(set)
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()

    def annotate(user):
        try:
            while not stop.is_set():
                current = Project.objects.get(pk=project.pk)
                held = services.items_lease(project=current, annotator=user, hold=3)
                if not held.entries:
                    if held.state == "budget_spent":
                        return
                    stop.wait(0.05)  # "updating": the next round is on its way
                    continue
                with lock:
                    for entry in held.entries:
                        served[entry.item_id].add(user.pk)
                entry = held.entries[0]
                try:
                    services.annotation_submit(
                        project=current,
                        annotator=user,
                        item_id=entry.item_id,
                        label=truth(entry.item),
                        client_key=f"{user.pk}-{entry.item_id}",
                    )
                except services.SubmitRejected as rejected:
                    assert rejected.code == "budget_spent", rejected.message
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)
        finally:
            connections.close_all()

    def retrain():
        # The worker writes rounds (and replaces the reserve) while the pages lease.
        try:
            while not stop.is_set():
                run = ModelRun.objects.filter(project=project, status="queued").first()
                if run is not None:
                    services.model_run_execute(run_id=run.pk)
                stop.wait(0.05)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=annotate, args=(user,)) for user in users]
    trainer = threading.Thread(target=retrain)
    trainer.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    stop.set()
    trainer.join(timeout=120)

    assert not errors, errors
    shared = {item: holders for item, holders in served.items() if len(holders) > 1}
    assert not shared, f"items held by two annotators: {shared}"
    project.refresh_from_db()
    assert project.n_annotations == BUDGET
    assert Annotation.objects.filter(project=project).count() == BUDGET
    assert Annotation.objects.values("item").distinct().count() == BUDGET
    assert ModelRun.objects.filter(project=project, status="succeeded").count() >= 2
    open_leases = QueueEntry.objects.filter(project=project, done=False, leased_by__isnull=False)
    assert open_leases.values("item").distinct().count() == open_leases.count()


@pytest.mark.django_db
def test_an_item_answered_while_the_retrain_chooses_is_not_served_again(monkeypatch):
    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10)
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(30))
    run_queued(project)
    expert = UserFactory()
    label_open_entries(project, expert, 8)  # the round runs low: a retrain is queued
    choose = engine.train_and_choose
    answered = []

    def an_answer_arrives_after_the_choice(**kwargs):
        outcome = choose(**kwargs)
        # The strategy read the pool before this item was answered, so it may pick it.
        label_open_entries(project, expert, 1)
        answered.append(Annotation.objects.latest("created_at").item_id)
        outcome.picks.insert(0, engine.Pick(answered[0], 1.0, None, None))
        return outcome

    monkeypatch.setattr(engine, "train_and_choose", an_answer_arrives_after_the_choice)
    run_queued(project)
    assert not QueueEntry.objects.filter(item_id=answered[0], done=False).exists()
    # Nobody is served it again, so its one label stays the only one.
    label_open_entries(project, UserFactory(), 9)
    assert Annotation.objects.filter(item_id=answered[0]).count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_reload_racing_the_pages_last_lease_gets_the_items_held_not_fresh_ones():
    """The page's last answer tops its items up while the annotator reloads: two leases of one
    annotator at once. The reload's lease must wait for the other and return the items held,
    in their order; passing over them as locked, it leased three more and showed one of them
    instead of the item that was on screen (test_two_annotators_never_receive_the_same_item
    in tests/browser failed so, about one run in ten)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10)
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(30))
    run_queued(project)
    expert = UserFactory()
    held = [
        entry.item_id
        for entry in services.items_lease(project=project, annotator=expert, hold=3).entries
    ]
    outcome: dict = {}
    leased, release = threading.Event(), threading.Event()

    def last_answers_lease():
        try:
            with transaction.atomic():
                outcome["page"] = services.items_lease(project=project, annotator=expert, hold=3)
                leased.set()
                release.wait(30)
        finally:
            connections.close_all()

    def reloads_lease():
        try:
            outcome["reload"] = services.items_lease(project=project, annotator=expert, hold=3)
        finally:
            connections.close_all()

    page = threading.Thread(target=last_answers_lease)
    page.start()
    assert leased.wait(10)
    reload = threading.Thread(target=reloads_lease)
    reload.start()
    reload.join(timeout=2)  # it finishes at once, or waits for the page's lease
    release.set()
    page.join(timeout=30)
    reload.join(timeout=30)

    assert [entry.item_id for entry in outcome["page"].entries] == held
    assert [entry.item_id for entry in outcome["reload"].entries] == held
    assert QueueEntry.objects.filter(project=project, leased_by=expert, done=False).count() == 3
