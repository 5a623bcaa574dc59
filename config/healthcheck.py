"""A container's own health check: ``python -m config.healthcheck beat`` or
``python -m config.healthcheck worker:default worker:training`` exits 0 while each named
heartbeat (config/heartbeat.py) is fresh, 1 when one is stale or missing, 2 when the database
cannot be asked. docker-compose.yml's beat and worker services run it.

It reads the row the process itself writes, from the database, like ``/healthz``: no broker
round trip (``celery inspect ping`` loaded the whole app every minute and failed with Redis,
which a restart of the worker does not fix) and no Django app loaded, only the settings.
While Redis is down the workers wait for it and write nothing, so they turn unhealthy here
too, as redis does; ``/healthz`` says ``degraded`` then (labeler/selectors_health.py)."""

from __future__ import annotations

import os
import sys
import warnings
from datetime import UTC, datetime

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings  # noqa: E402 - after the settings module is named
from django.db import DatabaseError, connection  # noqa: E402
from django.utils import timezone  # noqa: E402


def stale_limit(name: str) -> float:
    if name == "beat":
        return settings.TWEEZERS_BEAT_STALE_SECONDS
    return settings.TWEEZERS_WORKER_STALE_SECONDS


def main(names: list[str]) -> int:
    if not names:
        print("usage: python -m config.healthcheck beat | worker:<queue> ...", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(), connection.cursor() as cursor:
            # Django warns of a query before its apps are ready; this loads none.
            warnings.filterwarnings("ignore", "Accessing the database", RuntimeWarning)
            places = ", ".join(["%s"] * len(names))
            query = f"SELECT name, at FROM labeler_heartbeat WHERE name IN ({places})"
            cursor.execute(query, names)
            written = dict(cursor.fetchall())
    except DatabaseError as error:
        print(f"cannot read the heartbeats: {type(error).__name__}", file=sys.stderr)
        return 2
    now = timezone.now()
    failing = []
    for name in names:
        at = written.get(name)
        if at is None:
            failing.append(f"{name}: no heartbeat yet")
            continue
        if isinstance(at, str):  # SQLite's raw cursor: the ISO text of a UTC time
            at = datetime.fromisoformat(at).replace(tzinfo=UTC)
        age = (now - at).total_seconds()
        if age > stale_limit(name):
            failing.append(f"{name}: silent for {age:.0f} s")
    for line in failing:
        print(line, file=sys.stderr)
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
