"""HTTP to an outside server that stays where it was told (the PACS importer and project
webhooks): addresses normalised before an allow-list of prefixes decides, every request checked
against the allowed root, no redirects followed, and a total deadline for each request and for
the whole job.

requests' ``timeout`` bounds each read, not the request: a server that sends one byte every
20 s never trips it. Here a watchdog shuts the request's sockets down at its deadline, which
ends a blocked read at once, whether it waits for the headers or for the body."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters a path segment keeps percent-encoded after normalising: those that would change
# the path's structure if decoded ("/", "\", "?", "#", "%") and everything not printable ASCII.
_SAFE_IN_SEGMENT = "!$&'()*+,;=:@-._~"
CONNECT_SECONDS = 10
# A read (GET, HEAD) whose connection is refused or dropped before any answer is sent once
# more: a busy PACS closes a connection now and then (Orthanc did under a loaded test
# machine), and one such drop used to fail a whole import. Never a POST (a webhook is not
# delivered twice), never a redirect, never after the deadline (the watchdog shuts a socket
# opened after it fired at once).
ONE_MORE_READ = Retry(
    total=1, connect=1, read=1, redirect=0, status=0, other=0, allowed_methods={"GET", "HEAD"}
)


class AddressError(ValueError):
    """An address that cannot be normalised safely (userinfo, an encoded slash, no host)."""


class OutboundRefused(requests.RequestException):
    """A request this module would not send or a response it would not follow."""


class OutboundDeadline(requests.Timeout):
    """The server did not finish within the time allowed."""


def _remove_dot_segments(segments: list[str]) -> list[str]:
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in (".", ""):
            kept.append(segment)
    return kept


def url_normalise(url: str) -> str:
    """One spelling per address: scheme and host lower-case, default port dropped, path
    segments percent-decoded (``%2e`` is a dot), dot segments resolved and empty segments
    (double slashes) dropped, no trailing slash. Refuses userinfo (``user@host``), encoded
    slashes or backslashes, a query or fragment, and anything but http(s)."""
    if any(ord(character) < 0x21 or ord(character) == 0x7F for character in url):
        raise AddressError(_("the address contains spaces or control characters"))
    if "\\" in url:
        raise AddressError(_("the address contains a backslash"))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise AddressError(_("the address must start with http:// or https://"))
    if "@" in parts.netloc:
        raise AddressError(_("the address may not contain a user name or password (@)"))
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        raise AddressError(_("the address may not contain a query (?) or a fragment (#)"))
    try:
        host, port = parts.hostname, parts.port
    except ValueError as error:
        raise AddressError(_("the address has an invalid port")) from error
    if not host:
        raise AddressError(_("the address has no host"))
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    segments = []
    for raw in parts.path.split("/"):
        try:
            decoded = unquote(raw, errors="strict")
        except UnicodeDecodeError as error:
            raise AddressError(_("the address contains invalid percent-encoding")) from error
        if "/" in decoded or "\\" in decoded:
            raise AddressError(_("the address contains an encoded slash"))
        segments.append(decoded)
    path = "".join(
        "/" + quote(segment, safe=_SAFE_IN_SEGMENT) for segment in _remove_dot_segments(segments)
    )
    return urlunsplit((scheme, netloc, path, "", ""))


def url_within(url: str, root: str) -> bool:
    """``url`` is ``root`` or below it, both normalised, compared by whole path segments (so
    ``http://pacs.local.evil`` is not below ``http://pacs.local``, nor ``/dicom-webx`` below
    ``/dicom-web``). The query string is not part of the comparison."""
    try:
        given = urlsplit(url)
        base = url_normalise(urlunsplit((*given[:3], "", "")))
        wanted = url_normalise(root)
    except AddressError:
        return False
    return base == wanted or base.startswith(wanted + "/")


class _Watchdog:
    """Shuts down the sockets opened while it is current when its deadline passes."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def register(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            self._shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        # Already closed when the response was read and its connection closed.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


_current = threading.local()


class _WatchedConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        watchdog = getattr(_current, "watchdog", None)
        if watchdog is not None:
            watchdog.register(sock)
        return sock


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}


class BoundedSession(requests.Session):
    """A requests session for one job (a PACS import, a webhook delivery). Every request must
    fall within ``root``; none follows a redirect; each must finish (body included) within
    ``request_seconds`` and before the job's ``job_deadline`` (a ``time.monotonic()`` value)."""

    def __init__(self, *, root: str, request_seconds: float, job_deadline: float) -> None:
        super().__init__()
        self.root = url_normalise(root)
        self.request_seconds = request_seconds
        self.job_deadline = job_deadline
        adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=1, max_retries=ONE_MORE_READ)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self._watchdog: _Watchdog | None = None

    @property
    def timed_out(self) -> bool:
        return self._watchdog is not None and self._watchdog.fired

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        if not url_within(request.url or "", self.root):
            raise OutboundRefused(_("a request outside the allowed address was not sent"))
        # The previous response has been read by now (requests here are one after another).
        if self._watchdog is not None:
            self._watchdog.cancel()
        now = time.monotonic()
        deadline = min(now + self.request_seconds, self.job_deadline)
        if deadline <= now:
            raise OutboundDeadline("no time left for this job")
        self._watchdog = watchdog = _Watchdog(deadline)
        remaining = deadline - now
        kwargs["timeout"] = (min(CONNECT_SECONDS, remaining), remaining)
        kwargs["allow_redirects"] = False
        # A connection is never reused, so the watchdog only ever shuts this request's own.
        request.headers["Connection"] = "close"
        _current.watchdog = watchdog
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException as error:
            if watchdog.fired:
                raise OutboundDeadline("the server did not answer in time") from error
            raise
        finally:
            _current.watchdog = None
        if watchdog.fired:
            # A body without a length ends at the shut-down as if complete: never use it.
            response.close()
            raise OutboundDeadline("the server did not answer in time")
        if response.is_redirect or 300 <= response.status_code < 400:
            response.close()
            raise OutboundRefused(
                _("the server answered with a redirect (HTTP %(status)s), not followed")
                % {"status": response.status_code},
                response=response,
            )
        return response

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        super().close()


def allowed_roots(values: list[str], *, setting: str) -> list[str]:
    """The normalised prefixes of an allow-list setting (``TWEEZERS_PACS_URLS``,
    ``TWEEZERS_WEBHOOK_URLS``); a prefix that cannot be normalised stops the server."""
    from django.core.exceptions import ImproperlyConfigured

    roots = []
    for url in values:
        if url.strip():
            try:
                roots.append(url_normalise(url.strip()))
            except AddressError as error:
                raise ImproperlyConfigured(f"{setting}: {url!r}: {error}") from error
    return roots


def url_allowed(url: str, roots: list[str]) -> bool:
    """``url`` (normalised) lies at or below one of ``roots`` (normalised)."""
    return any(url_within(url, root) for root in roots)
