"""The beat scheduler writes its own heartbeat, the row ``/healthz`` reads
(``labeler.selectors_health``). It used to send a task for it, which a worker then ran: on the
retrain worker (concurrency 1) a retrain longer than ``TWEEZERS_BEAT_STALE_SECONDS`` held the
heartbeat back, /healthz said 503 and a load balancer or systemd restarted a healthy server. Now
the row says exactly what /healthz asks: the beat's loop is turning. A beat that is stopped,
killed or hung writes nothing, and /healthz turns 503 as before.

Used by every beat (``CELERY_BEAT_SCHEDULER``: the beat process of ``config.beat`` and a
worker's ``-B``). Like ``config.beat`` it loads no task and no Django app: one upsert through
Django's database connection (config/heartbeat.py, the one writer of heartbeats, the
workers' too), which needs only the settings (the beat process holds 61 MiB PSS
with the database driver, 44 MiB without)."""

from __future__ import annotations

import time

from celery.beat import PersistentScheduler
from django.conf import settings

from config.heartbeat import heartbeat_write_or_log


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
        # A database away for a while is logged (config/heartbeat.py): the beat keeps sending
        # its sweeps and writes again at its next period.
        heartbeat_write_or_log(names=["beat"])
        self.heartbeat_due = time.monotonic() + self.heartbeat_every
