"""Heartbeats of the background processes: the beat scheduler's task writes one a sweep
period, ``/healthz`` reads its age (``selectors.heartbeat_age``). Beat is a process of its own
(scripts/run-serve exits when it ends, compose restarts it); a beat that is stopped, or hung,
would otherwise go unnoticed while the sweeps (stale runs, dead imports, webhook outbox,
expired tokens) have stopped."""

from __future__ import annotations

from django.utils import timezone

from labeler.models import Heartbeat


def heartbeat_record(*, name: str) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})
