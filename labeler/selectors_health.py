"""What ``/healthz`` answers: which part of Tweezers is down, and whether restarting Tweezers
would fix it.

- **503 ``unhealthy``**: the database does not answer (nothing can be served); the beat has
  gone quiet for longer than its limit; or, while the broker answers, every worker of a queue
  that had one has. A restart of the service (systemd's ``Restart=``, the container's restart
  policy) brings those back.
- **200 ``degraded``**: the broker does not answer. Labeling goes on (a submit's retrain waits
  in the outbox, the queued run row, and is sent once the broker is back), and a restart of
  Tweezers would not bring Redis back. The workers wait for the broker in their reconnection
  loops meanwhile, so their heartbeats go stale: reported, but not a 503. The beat's sends
  fail fast and its loop goes on, so a beat silent then is still a 503.
- **200 ``ok``** otherwise. A beat or queue that never wrote a heartbeat (a fresh install, a
  web server whose workers run elsewhere and have not started yet) is ``unknown``, not a
  failure.

Never in the answer: the broker's or the database's address and credentials."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from config.heartbeat import WORKER_PREFIX
from labeler.models import Heartbeat

logger = logging.getLogger(__name__)


def heartbeat_ages() -> dict[str, float]:
    """Seconds since each process's last heartbeat, by row name (``beat``, ``worker:<queue>``)."""
    now = timezone.now()
    rows = Heartbeat.objects.values_list("name", "at")
    return {name: (now - at).total_seconds() for name, at in rows}


def heartbeat_age(*, name: str) -> float | None:
    """Seconds since the named process's last heartbeat; None if it never wrote one."""
    return heartbeat_ages().get(name)


def known_queues() -> set[str]:
    """The queues Tweezers' tasks are sent to (default and routed)."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return routed | {settings.CELERY_TASK_DEFAULT_QUEUE}


def broker_reachable() -> bool:
    """Whether the broker takes a connection within ``TWEEZERS_BROKER_CHECK_SECONDS``. The
    embedded filesystem broker (``make demo``) is reachable when its folder can be written (or
    created: its workers create it)."""
    url = settings.CELERY_BROKER_URL
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    if url.startswith("filesystem://"):
        folder = Path(options["data_folder_in"])
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
    from kombu import Connection

    limit = settings.TWEEZERS_BROKER_CHECK_SECONDS
    # One attempt, no retries: a probe is asked again in a few seconds anyway. socket_timeout
    # bounds a broker that takes the connection and then never answers.
    try:
        with Connection(
            url, connect_timeout=limit, transport_options={**options, "socket_timeout": limit}
        ) as broker:
            broker.ensure_connection(max_retries=0)
    except Exception as error:  # noqa: BLE001 - any failure to connect is "unreachable"
        # The class only: kombu's message may carry the URL, password included.
        logger.warning("/healthz: the broker is unreachable (%s)", type(error).__name__)
        return False
    return True


def _state(age: float | None, limit: float) -> tuple[str, int | None]:
    if age is None:
        return "unknown", None
    return ("stale" if age > limit else "ok"), round(age)


def health_report() -> tuple[int, dict[str, object]]:
    """The HTTP status and the JSON body of ``/healthz`` (the rules are the module's)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("/healthz: the database is unreachable", exc_info=True)
        return 503, {"status": "unhealthy", "database": "unreachable", "down": ["database"]}
    ages = heartbeat_ages()
    body: dict[str, object] = {"status": "ok", "database": connection.vendor}
    beat, beat_age = _state(ages.get("beat"), settings.TWEEZERS_BEAT_STALE_SECONDS)
    body["beat"] = beat
    if beat_age is not None:
        body["beat_seconds_ago"] = beat_age
    served = {name.removeprefix(WORKER_PREFIX) for name in ages if name.startswith(WORKER_PREFIX)}
    queues = {}
    for queue in sorted(known_queues() | served):
        limit = settings.TWEEZERS_WORKER_STALE_SECONDS
        worker, age = _state(ages.get(WORKER_PREFIX + queue), limit)
        queues[queue] = {"worker": worker, **({} if age is None else {"seconds_ago": age})}
    body["queues"] = queues
    broker_ok = broker_reachable()
    body["broker"] = "ok" if broker_ok else "unreachable"
    down = ["beat"] if beat == "stale" else []
    down += [f"queue {queue}" for queue, state in queues.items() if state["worker"] == "stale"]
    if not down and broker_ok:
        return 200, body
    body["down"] = down if broker_ok else ["broker", *down]
    # While the broker is away the workers wait for it, and a restart brings back neither; the
    # beat does not wait for it (its sends fail fast), so a silent beat is a 503 still.
    restart_helps = beat == "stale" or (broker_ok and bool(down))
    body["status"] = "unhealthy" if restart_helps else "degraded"
    return (503 if restart_helps else 200), body
