"""One error format for every API error:

    {"error": {"code": "not_found", "message": "…", "fields": {"label": ["…"]}}}

``fields`` is present for validation errors only. Registered as REST_FRAMEWORK's
EXCEPTION_HANDLER, so DRF's own errors (authentication, permissions, parsing, throttling,
404) take the same shape as the product's."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labeler import services


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = gettext_lazy("The request conflicts with the project's current state.")


# A rejected submit that the client can fix by changing the request is a 400; one that is
# refused because of the project's state right now (lease, budget, cap) is a 409.
SUBMIT_CONFLICTS = {
    "lease_expired",
    "not_held",
    "budget_spent",
    "daily_cap",
    "not_served",
    "not_current",
    "client_key_reused",
    # Undo found the annotator's labels changing under it (another tab): try again.
    "busy",
}


# A rejected value of one input field: the error names the field, so a client can show or
# raise it against that field, and keeps the service's code (``unknown_label``).
SUBMIT_FIELDS = {
    "unknown_label": "label",
    "not_in_project": "item",
    # Findings projects (issue 21): the answer's shape or a finding's name or state.
    "unknown_finding": "findings",
    "unknown_state": "findings",
    "invalid_findings": "findings",
    "findings_unexpected": "findings",
    "label_expected": "label",
    "label_unexpected": "label",
    "label_required": "label",
}


class FieldRejected(exceptions.ValidationError):
    def __init__(self, rejection: services.SubmitRejected, field: str) -> None:
        super().__init__(detail={field: [rejection.message]}, code=rejection.code)
        self.rejection = rejection


def submit_rejected_error(rejection: services.SubmitRejected) -> exceptions.APIException:
    if rejection.code in SUBMIT_CONFLICTS:
        return Conflict(detail=rejection.message, code=rejection.code)
    if rejection.code in SUBMIT_FIELDS:
        return FieldRejected(rejection, SUBMIT_FIELDS[rejection.code])
    return exceptions.ValidationError(
        detail={"non_field_errors": [rejection.message]}, code=rejection.code
    )


def _first_code(codes: object) -> str:
    while isinstance(codes, dict | list):
        if not codes:
            return "invalid"
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes)


def _validation_body(exc: exceptions.ValidationError) -> dict:
    detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    general = [str(message) for message in detail.get("non_field_errors", [])]
    fields = {name: errors for name, errors in detail.items() if name != "non_field_errors"}
    if not fields:
        return {"code": _first_code(exc.get_codes()), "message": " ".join(general)}
    invalid = _("Invalid input: %(fields)s.") % {"fields": ", ".join(sorted(fields))}
    message = " ".join([invalid, *general])
    return {"code": "invalid", "message": message, "fields": fields}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, FieldRejected):
        body = {
            "code": exc.rejection.code,
            "message": str(exc.rejection.message),
            "fields": exc.detail,
        }
    elif isinstance(exc, exceptions.ValidationError):
        body = _validation_body(exc)
    else:
        body = {"code": _first_code(exc.get_codes()), "message": str(exc.detail)}
    response.data = {"error": body}
    return response
