"""Exceptions carrying the API's one error shape:

    {"error": {"code": "unknown_label", "message": "…", "fields": {"label": ["…"]}}}

``TweezersError`` has the HTTP status, the ``code``, the ``message`` and the ``fields`` at
fault; a subclass per status lets a script catch the cases it can handle."""

from __future__ import annotations

from typing import Any


class TweezersError(Exception):
    """An error answer from the API (or, with ``status`` 0, a job that ended in failure)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, list[str]] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.retry_after = retry_after
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")

    @property
    def field(self) -> str | None:
        """The first field at fault, for an error about one input field."""
        return next(iter(self.fields), None)

    @property
    def detail(self) -> str:
        return self.message


class BadRequest(TweezersError):
    """400: the request is invalid; ``fields`` names what to change."""


class Unauthorized(TweezersError):
    """401: no token, a wrong one, or one that expired or was revoked."""


class Forbidden(TweezersError):
    """403: the account's role in the project does not allow this."""


class NotFound(TweezersError):
    """404: no such object, or one the account may not see."""


class Conflict(TweezersError):
    """409: refused because of the project's state now (lease expired, budget spent, …)."""


class RateLimited(TweezersError):
    """429: too many requests; ``retry_after`` says how many seconds to wait."""


class ServerError(TweezersError):
    """5xx: the server failed; the request may be retried (a submit with its client_key)."""


class ImportFailed(TweezersError):
    """An import job that ended in ``failed``; ``message`` is the job's error."""


class WaitTimeout(TimeoutError):
    """A wait (for an import, a round or the next item) passed its deadline."""


_BY_STATUS: dict[int, type[TweezersError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def error_from_response(status: int, body: Any, retry_after: str | None = None) -> TweezersError:
    """The exception for an error answer; a body not in the API's shape (a proxy's HTML page)
    still gives an exception with its status."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code", "error"))
        message = str(error.get("message", ""))
        fields = error.get("fields") if isinstance(error.get("fields"), dict) else None
    else:
        code, message, fields = "http_error", f"HTTP {status}", None
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else TweezersError)
    wait = None
    if retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            wait = None
    return cls(status, code, message, fields, retry_after=wait)
