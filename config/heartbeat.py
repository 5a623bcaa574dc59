"""Heartbeats: the rows ``/healthz`` reads to tell which background process has gone quiet
(``labeler.selectors_health``). Two kinds of writer, one write path:

- ``beat``: the beat scheduler's own loop (config/beat_scheduler.py);
- ``worker:<queue>``, one row per queue a worker consumes from: a timer in the worker's main
  process (``WorkerHeartbeat``, a worker bootstep). With the prefork pool a task runs in a
  child process while the parent's event loop goes on, so a retrain of an hour keeps its
  worker's heartbeat fresh; a worker that is killed, or whose main loop hangs, writes nothing.
  (``--pool solo`` runs the task in the main process, and a task longer than the stale limit
  would make its queue look dead: run-serve, run-demo and compose all use prefork.)
  No task goes through the broker for it: a queue backed up behind a long task would make a
  live worker look dead.

Each write is one upsert through Django's database connection, which needs only the settings
(the beat process loads no Django app)."""

from __future__ import annotations

import logging
import warnings

from celery import bootsteps
from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)

# labeler.models.Heartbeat's table; an upsert both PostgreSQL and SQLite (3.24+) run.
HEARTBEAT_UPSERT_SQL = (
    "INSERT INTO labeler_heartbeat (name, at) VALUES {rows} "
    "ON CONFLICT (name) DO UPDATE SET at = EXCLUDED.at"
)
WORKER_PREFIX = "worker:"


def heartbeat_write(*, names: list[str]) -> None:
    """Record that the named processes are alive now, in one statement (a worker's queues
    share one time); the only writer of heartbeat rows."""
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = ", ".join(["(%s, %s)"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(HEARTBEAT_UPSERT_SQL.format(rows=rows), [v for n in names for v in (n, at)])


def heartbeat_write_or_log(*, names: list[str]) -> bool:
    """Write the named heartbeats; a database away for a while is logged, never raised, so
    the process writing them (a beat, a worker) goes on and writes again at its next period.
    /healthz checks the database itself."""
    try:
        # These processes run for months: a connection the database closed meanwhile (a
        # restart, an idle timeout, CONN_MAX_AGE) is replaced rather than failing every write.
        connection.close_if_unusable_or_obsolete()
        with warnings.catch_warnings():
            # Django warns of a query before its apps are ready; the beat never loads them.
            warnings.filterwarnings("ignore", "Accessing the database", RuntimeWarning)
            heartbeat_write(names=names)
    except Exception:  # noqa: BLE001 - a database away for a while must not end the process
        logger.warning("could not write the heartbeat of %s", ", ".join(names), exc_info=True)
        connection.close()
        return False
    return True


def worker_heartbeat_names(queues: object) -> list[str]:
    """The rows a worker consuming from ``queues`` (names) writes: one per queue, so /healthz
    can say which queue has no live worker, whichever worker serves it."""
    return [f"{WORKER_PREFIX}{queue}" for queue in sorted(queues)]


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes ``worker:<queue>`` for each queue the worker consumes from, every
    ``TWEEZERS_SWEEP_SECONDS``, from the worker's own timer: the event loop of its main
    process (Redis), or the timer thread Celery runs where the transport has no event loop
    (the demo's filesystem broker). While the broker is unreachable the worker's main process
    waits in its reconnection loop and writes nothing: /healthz reports the broker, and does
    not fail on workers while it is down."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.timer_entry = None
        self.names: list[str] = []

    def start(self, worker: object) -> None:
        queues = worker.app.amqp.queues
        self.names = worker_heartbeat_names(queues.consume_from or queues)
        self.write()  # at once: a worker is reported from its start, not a period later
        self.timer_entry = worker.timer.call_repeatedly(
            float(settings.TWEEZERS_SWEEP_SECONDS), self.write, priority=10
        )

    def stop(self, worker: object) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def write(self) -> None:
        heartbeat_write_or_log(names=self.names)
