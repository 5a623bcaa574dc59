"""A round writer stopped in the middle of its write (a retrain worker starved of CPU under
SCHED_IDLE, or paused) holds the queue writers' lock. A lease that finds nothing free used to
wait for it without end, until gunicorn killed the request (a 500, found by bench/load.py's
--stall-worker); now it waits a bounded time and says "updating", and serves again once the
write goes on."""

import threading

import pytest
from django.db import connection, transaction

from labeler import queue, services
from labeler.queue import leasing
from tests.factories import UserFactory
from tests.labeler.queue.test_lock_order import in_thread, wait_for
from tests.labeler.queue.test_ranking import shades, stalled_round, strategy_item_ids

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# Long enough that the old lease, waiting without end, is seen still waiting by then.
STALL_SECONDS = 20


@pytest.mark.parametrize("budget", [None, 100])
def test_a_lease_gives_up_waiting_for_a_stalled_round_write_and_says_updating(budget, monkeypatch):
    monkeypatch.setattr(leasing, "WRITERS_WAIT", 0.5, raising=False)
    project = shades(20, budget=budget)
    ids = strategy_item_ids(project)
    stalled_round(project, round_ids=ids[:2], reserve_ids=[], ranking=[])
    alice = UserFactory()
    first = queue.lease(project=project, annotator=alice, hold=2)
    assert first.state == "ready" and len(first.entries) == 2

    holding, release = threading.Event(), threading.Event()

    def round_writer() -> None:  # the worker, stopped while it writes the next round
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [project.pk])
            holding.set()
            release.wait(STALL_SECONDS)
            release.set()  # the stall is over (a lease that waited for it all sees this)

    outcome: dict = {}
    writer = in_thread(round_writer, outcome, "writer")
    try:
        assert holding.wait(10)
        # Alice asks for more than she holds: nothing is free, the next round is being written.
        leased = services.items_lease(project=project, annotator=alice, hold=3)
        assert not release.is_set(), "the lease waited for the whole stall"
        assert leased.state == "ready"
        assert sorted(e.item_id for e in leased.entries) == sorted(e.item_id for e in first.entries)
        # Holding nothing, Bob hears that items are on their way.
        bob_waits = services.items_lease(project=project, annotator=UserFactory(), hold=1)
        assert bob_waits.state == "updating" and bob_waits.entries == []
    finally:
        release.set()
        writer.join()
    assert outcome["writer"] is None
    # The write went on: leases serve again (here by exploring, as no round came).
    assert wait_for(lambda: not writer.is_alive())
    more = queue.lease(project=project, annotator=alice, hold=3)
    assert more.state == "ready" and len(more.entries) == 3
