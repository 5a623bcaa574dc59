"""What one ``/healthz`` probe costs with each broker: 50 requests through Django's test client
after one warm-up, median, p95 and max, with the beat and four queues' heartbeats fresh. Needs a
migrated database (its heartbeat rows are written) and, for the first line, the broker of
CELERY_BROKER_URL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tweezers_health DJANGO_DEBUG=1 \\
        DJANGO_LOG_LEVEL=WARNING .venv/bin/python bench/healthz_probe.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from config.heartbeat import heartbeat_write, worker_heartbeat_names  # noqa: E402

REQUESTS = 50


def probe(client: Client, label: str) -> None:
    client.get("/healthz")
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        answer = client.get("/healthz")
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(
        f"{label}: {answer.status_code} {answer.json()['status']}, median "
        f"{statistics.median(times):.1f} ms, p95 {times[int(0.95 * REQUESTS) - 1]:.1f} ms, "
        f"max {times[-1]:.1f} ms"
    )


def main() -> None:
    heartbeat_write(
        names=["beat", *worker_heartbeat_names(["default", "embedding", "imports", "training"])]
    )
    client = Client(HTTP_HOST="localhost")
    probe(client, "the configured broker")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    probe(client, "a broker on a closed port")
    settings.CELERY_BROKER_URL = "filesystem://localhost//"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(settings.BROKER_DIR / "queue")
    }
    probe(client, "the demo's filesystem broker")


if __name__ == "__main__":
    main()
