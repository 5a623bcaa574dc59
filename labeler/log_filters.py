"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class RefusalWithoutTraceback(logging.Filter):
    """Keeps the one-line warning Django logs for a refused request (403, 404, 405) but drops
    the exception's traceback it attaches since Django 5: the refusal is expected, the page
    says why, and a screen of traceback for a mistyped URL hides the real errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
