"""The beat scheduler writes its own heartbeat, the row ``/healthz`` reads
(``selectors.heartbeat_age``). It used to send a task for it, which a worker then ran: on the
retrain worker (concurrency 1) a retrain longer than ``TWEEZERS_BEAT_STALE_SECONDS`` held the
heartbeat back, /healthz said 503 and a load balancer or systemd restarted a healthy server. Now
the row says exactly what /healthz asks: the beat's loop is turning. A beat that is stopped,
killed or hung writes nothing, and /healthz turns 503 as before.

Used by every beat (``CELERY_BEAT_SCHEDULER``: the beat process of ``config.beat`` and a
worker's ``-B``). Like ``config.beat`` it loads no task and no Django app: one upsert through
Django's database connection, which needs only the settings (the beat process holds 61 MiB PSS
with the database driver, 44 MiB without)."""

from __future__ import annotations

import logging
import time
import warnings

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)

# labeler.models.Heartbeat's table; an upsert both PostgreSQL and SQLite (3.24+) run.
HEARTBEAT_UPSERT_SQL = (
    "INSERT INTO labeler_heartbeat (name, at) VALUES (%s, %s) "
    "ON CONFLICT (name) DO UPDATE SET at = EXCLUDED.at"
)


def heartbeat_write(*, name: str) -> None:
    """Record that the named process is alive now; the only writer of heartbeat rows."""
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(HEARTBEAT_UPSERT_SQL, [name, at])


class HeartbeatScheduler(PersistentScheduler):
    """Celery's persistent scheduler, which also writes the ``beat`` heartbeat every
    ``TWEEZERS_SWEEP_SECONDS``, in its own loop: no broker, queue or worker stands between
    the beat being alive and /healthz saying so."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.heartbeat_every = float(settings.TWEEZERS_SWEEP_SECONDS)
        self.heartbeat_due = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args: object, **kwargs: object) -> float:
        if time.monotonic() >= self.heartbeat_due:
            self.heartbeat_beat()
        interval = super().tick(*args, **kwargs)
        return max(0.0, min(interval, self.heartbeat_due - time.monotonic()))

    def heartbeat_beat(self) -> None:
        # A beat runs for months: a connection the database closed meanwhile (a restart, an
        # idle timeout, CONN_MAX_AGE) is replaced rather than failing every write after it.
        connection.close_if_unusable_or_obsolete()
        try:
            with warnings.catch_warnings():
                # Django warns of a query before its apps are ready; the beat never loads them.
                warnings.filterwarnings("ignore", "Accessing the database", RuntimeWarning)
                heartbeat_write(name="beat")
        except Exception:  # noqa: BLE001 - a database away for a while must not end the beat
            # /healthz checks the database itself; the beat keeps sending its sweeps and
            # writes again at its next period.
            logger.warning("could not write the beat's heartbeat", exc_info=True)
            connection.close()
        self.heartbeat_due = time.monotonic() + self.heartbeat_every
