"""The errors a later attempt can fix: the database or the broker unreachable for a moment, a
network connection dropped. Every task's bounded retries and every job's "back to queued, not
failed" use this one tuple; any other error is the job's own failure, recorded where a person
sees it."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerUnavailable

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    BrokerUnavailable,
    ConnectionError,
)
