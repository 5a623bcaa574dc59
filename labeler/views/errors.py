"""The 403, 404 and 500 pages: the site's own frame, what happened in plain words, and a way
back. The 500 page renders without the request's context: whatever broke (the database, a
session) must not break the error page too."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import loader


def _page(request: HttpRequest, template: str, status: int, reason: str = "") -> HttpResponse:
    body = loader.get_template(template).render({"reason": reason}, request)
    return HttpResponse(body, status=status)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The reason our views give (PermissionDenied's message, translated where it is raised)
    # is written for the user.
    return _page(request, "403.html", 403, str(exception or ""))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    body = loader.get_template("500.html").render({})
    return HttpResponse(body, status=500)
