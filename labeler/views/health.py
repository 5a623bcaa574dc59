"""``/healthz``: the database, the beat, the broker and each queue's workers, for a load
balancer, systemd or Kubernetes probe and the people behind them. Which of them make it a 503
and which a 200 ``degraded``: ``labeler.selectors_health``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from labeler import selectors_health


def health(request: HttpRequest) -> HttpResponse:
    status, body = selectors_health.health_report()
    return JsonResponse(body, status=status)
