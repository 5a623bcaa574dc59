"""The queue's lock order (``labeler.queue.Lock``), held on the real PostgreSQL: item, its
queue entries, the project row, its annotations. Each test stops a transaction half-way (it waits on
a row a third transaction holds), runs the other side of a would-be cycle meanwhile, then lets
go; with the order kept, both finish and nothing is refused as a deadlock."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from labeler import services
from labeler.models import Annotation, ModelRun, Project, QueueEntry
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import item_add, round_add

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def lock_waiters(wait_event: str | None = None) -> int:
    """Backends of this database waiting for a lock right now (``wait_event``: of that kind,
    e.g. "advisory")."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    params = []
    if wait_event is not None:
        sql += " AND wait_event = %s"
        params.append(wait_event)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# Notified whenever a thread of ``in_thread`` finishes. A lock wait shows only in
# pg_stat_activity, which notifies nobody: ``wait_for`` looks there again every POLL_SECONDS.
_progress = threading.Condition()
POLL_SECONDS = 0.02


def wait_for(condition, seconds: float = 10) -> bool:
    """Whether ``condition()`` came to hold within ``seconds``: checked again whenever a thread
    finishes, and every POLL_SECONDS for what only the database shows."""
    deadline = time.monotonic() + seconds
    with _progress:
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _progress.wait(min(remaining, POLL_SECONDS))
    return True


def in_thread(function, outcome: dict, name: str) -> threading.Thread:
    def target() -> None:
        try:
            outcome[name] = function()
        except BaseException as error:  # reported by the test, with its type
            outcome[name] = error
        finally:
            connection.close()
            with _progress:
                _progress.notify_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def rows_held(rows, outcome: dict) -> tuple[threading.Thread, threading.Event]:
    """A transaction, in a thread of its own, that locks ``rows`` and holds them until the
    returned event is set; returns once they are locked."""
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            list(rows.select_for_update())
            ready.set()
            release.wait(30)

    thread = in_thread(hold, outcome, "blocker")
    assert ready.wait(10)
    return thread, release


def test_a_prefetching_lease_never_deadlocks_with_the_same_annotators_submit():
    """The labeling page asks for the next items while its answer is on the way: the submit
    holds the item's entry and needs the project row, the lease holds the project row and
    renews the annotator's entries. The lease must pass over the entry, not wait for it."""
    annotator = UserFactory()
    project = ProjectFactory(kind="text", classes=("yes", "no"), created_by=annotator)
    items = [item_add(project, text=f"t{n}") for n in range(6)]
    round_add(project, items)
    held = services.items_lease(project=project, annotator=annotator, hold=2).entries
    answered, other = held[0].item_id, held[1].item_id
    outcome: dict = {}
    blocker_ready, blocker_release = threading.Event(), threading.Event()

    def blocker() -> None:
        # An uncommitted annotation with the client_key the submit will use: the submit's
        # insert waits on it after locking the item and its entry, before the project row.
        with transaction.atomic():
            Annotation.objects.create(
                project=project,
                item_id=other,
                annotator=annotator,
                label=project.classes.get(name="no"),
                client_key="same-key",
            )
            blocker_ready.set()
            blocker_release.wait(30)
            transaction.set_rollback(True)

    threads = [in_thread(blocker, outcome, "blocker")]
    assert blocker_ready.wait(10)
    threads.append(
        in_thread(
            lambda: services.annotation_submit(
                project=project,
                annotator=annotator,
                item_id=answered,
                label="yes",
                client_key="same-key",
            ),
            outcome,
            "submit",
        )
    )
    assert wait_for(lambda: lock_waiters() >= 1), "the submit never reached its wait"
    threads.append(
        in_thread(
            lambda: services.items_lease(
                project=Project.objects.get(pk=project.pk), annotator=annotator, hold=2
            ),
            outcome,
            "lease",
        )
    )
    # The lease either finishes or waits behind the submit (a second backend waiting).
    wait_for(lambda: "lease" in outcome or lock_waiters() >= 2)
    blocker_release.set()
    for thread in threads:
        thread.join(timeout=60)

    assert not isinstance(outcome["submit"], BaseException), repr(outcome["submit"])
    assert not isinstance(outcome["lease"], BaseException), repr(outcome["lease"])
    assert outcome["lease"].state == "ready"
    assert answered not in {entry.item_id for entry in outcome["lease"].entries}
    stored = Annotation.objects.get(annotator=annotator, client_key="same-key")
    assert stored.item_id == answered
    project.refresh_from_db()
    assert project.n_annotations == 1


def test_undo_locks_the_item_before_its_annotations():
    """Undo and a manager's correction of the same label at once: both lock the item first,
    so one waits for the other instead of each holding what the other needs."""
    annotator, manager = UserFactory(), UserFactory()
    project = ProjectFactory(kind="text", classes=("yes", "no"), created_by=manager)
    items = [item_add(project, text=f"t{n}") for n in range(3)]
    round_add(project, items)
    entry = services.next_item_lease(project=project, annotator=annotator).entry
    annotation, _ = services.annotation_submit(
        project=project, annotator=annotator, item_id=entry.item_id, label="yes"
    )
    outcome: dict = {}
    # Holds the annotation's row: whoever needs it waits here, with what it has taken.
    holder, blocker_release = rows_held(Annotation.objects.filter(pk=annotation.pk), outcome)
    threads = [holder]
    threads.append(
        in_thread(
            lambda: services.last_action_undo(project=project, annotator=annotator),
            outcome,
            "undo",
        )
    )
    assert wait_for(lambda: lock_waiters() >= 1)
    threads.append(
        in_thread(
            lambda: services.annotation_correct(
                annotation=annotation, annotator=manager, label="no"
            ),
            outcome,
            "correct",
        )
    )
    wait_for(lambda: lock_waiters() >= 2, seconds=3)
    blocker_release.set()
    for thread in threads:
        thread.join(timeout=60)

    for name in ("undo", "correct"):
        result = outcome[name]
        # One of them may find the other's outcome and refuse it plainly; neither deadlocks.
        assert not isinstance(result, BaseException) or isinstance(
            result, services.SubmitRejected
        ), f"{name}: {result!r}"


def test_a_lease_in_flight_while_the_worker_writes_a_round_is_kept():
    """The worker replaces the old round's unheld entries while an annotator's lease of one of
    them is still committing: the entry must survive as theirs (before, the replacement waited
    for the lease and then deleted the entry anyway, and the annotator's answer was refused)."""
    from tests.data import shades_zip
    from tests.loop_steps import label_open_entries, run_queued, truth

    annotator = UserFactory()
    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10)
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(60))
    run_queued(project)
    label_open_entries(project, annotator, 4)
    # The retrain the labels asked for (or one a manager asks for).
    run = ModelRun.objects.filter(project=project, status="queued").first()
    run = run or services.retrain_force(project=project)
    outcome: dict = {}
    leased, release = threading.Event(), threading.Event()

    def lease_and_hold_the_commit():
        with transaction.atomic():
            held = services.items_lease(project=project, annotator=annotator, hold=1)
            outcome["entry"] = held.entries[0]
            leased.set()
            release.wait(30)
        return held

    threads = [in_thread(lease_and_hold_the_commit, outcome, "lease")]
    assert leased.wait(10)
    threads.append(in_thread(lambda: services.model_run_execute(run_id=run.pk), outcome, "retrain"))
    # The retrain either finishes or waits for the lease; give it the time to do either.
    wait_for(lambda: "retrain" in outcome or lock_waiters() >= 1, seconds=30)
    release.set()
    for thread in threads:
        thread.join(timeout=60)

    assert not isinstance(outcome["retrain"], BaseException), repr(outcome["retrain"])
    entry = outcome["entry"]
    item_entries = QueueEntry.objects.filter(item_id=entry.item_id, done=False)
    assert [e.leased_by_id for e in item_entries] == [annotator.pk]
    annotation, _ = services.annotation_submit(
        project=project, annotator=annotator, item_id=entry.item_id, label=truth(entry.item)
    )
    assert annotation.item_id == entry.item_id


def test_submits_and_leases_do_not_wait_for_a_round_being_written_nor_explore_around_it():
    """The worker writing a round holds the entries it replaces until it commits. A submit
    meanwhile must not wait for it (every submit updates the project's counters: a round
    writer holding the project's row made each round write a burst of slow submits), and a
    lease that finds nothing free waits for the new round instead of exploring around it."""
    from labeler import engine
    from labeler.models import Item, QueryRound
    from labeler.queue import EXPLORATION_RANK, round_replace

    alice, bob = UserFactory(), UserFactory()
    project = ProjectFactory(kind="text", classes=("yes", "no"), created_by=alice)
    items = [item_add(project, text=f"t{n}") for n in range(10)]
    round_add(project, items[:3])
    held = services.next_item_lease(project=project, annotator=alice).entry
    run = ModelRun.objects.create(project=project, status=ModelRun.Status.RUNNING)
    picks = [engine.Pick(item.pk, 1.0 - n / 10, None, None) for n, item in enumerate(items[5:8])]
    outcome: dict = {}
    # Holds a picked item: the round writer's insert of its entry waits on it, after the
    # writer has replaced the old entries and taken its locks.
    holder, blocker_release = rows_held(Item.objects.filter(pk=items[5].pk), outcome)
    threads = [holder]
    threads.append(
        in_thread(
            lambda: round_replace(
                project=Project.objects.get(pk=project.pk),
                run=run,
                picks=picks,
                eval_ids=[],
                eval_guesses={},
                n_round_picks=3,
                n_round_eval=0,
            ),
            outcome,
            "round",
        )
    )
    assert wait_for(lambda: lock_waiters() >= 1), "the round writer never reached its wait"
    threads.append(
        in_thread(
            lambda: services.annotation_submit(
                project=Project.objects.get(pk=project.pk),
                annotator=alice,
                item_id=held.item_id,
                label="yes",
            ),
            outcome,
            "submit",
        )
    )
    submitted_during_the_write = wait_for(lambda: "submit" in outcome, seconds=5)
    threads.append(
        in_thread(
            lambda: services.next_item_lease(
                project=Project.objects.get(pk=project.pk), annotator=bob
            ),
            outcome,
            "lease",
        )
    )
    # The lease either finishes (exploring around the write) or waits for the round writer's
    # advisory lock, which the writer holds until the blocker lets it commit.
    wait_for(lambda: "lease" in outcome or lock_waiters("advisory") >= 1)
    lease_waited = "lease" not in outcome and lock_waiters("advisory") >= 1
    blocker_release.set()
    for thread in threads:
        thread.join(timeout=60)

    assert submitted_during_the_write, "the submit waited for the round being written"
    assert not isinstance(outcome["submit"], BaseException), repr(outcome["submit"])
    assert not isinstance(outcome["round"], BaseException), repr(outcome["round"])
    assert isinstance(outcome["round"], QueryRound)
    lease = outcome["lease"]
    assert not isinstance(lease, BaseException), repr(lease)
    assert lease_waited and lease.state == "ready"
    # Bob got an item of the round just written, not an exploration around it.
    assert lease.entry.rank != EXPLORATION_RANK
    assert lease.entry.round_id == outcome["round"].pk
    assert lease.entry.item_id in {item.pk for item in items[5:8]}
