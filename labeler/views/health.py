"""``/healthz``: the database answers, and the beat scheduler has not gone quiet. A beat that
wrote its heartbeat and then stopped for ``TWEEZERS_BEAT_STALE_SECONDS`` is a 503 (the sweeps
that recover stale runs, dead imports and webhook deliveries have stopped); one that has not
written yet (a fresh install, a web without workers) is reported, not failed."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from labeler import selectors


def health(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    age = selectors.heartbeat_age(name="beat")
    body = {"status": "ok", "database": connection.vendor}
    if age is None:
        body["beat"] = "unknown"
        return JsonResponse(body)
    body["beat_seconds_ago"] = round(age)
    if age > settings.TWEEZERS_BEAT_STALE_SECONDS:
        body.update(status="degraded", beat="stale")
        return JsonResponse(body, status=503)
    body["beat"] = "ok"
    return JsonResponse(body)
