"""Tokens for scripts, the interactive docs, and the 404 for unknown API paths."""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.views import APIView

from labeler.api import serializers as s
from labeler.api.parsers import SafeJSONParser
from labeler.api.views.base import ERRORS, POLICY


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from drf-spectacular-sidecar's bundled files: the docs work with no network
    and under a Content-Security-Policy without inline scripts (the split view serves its
    script separately)."""

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")


@extend_schema(
    tags=["auth"],
    request=s.TokenRequestSerializer,
    responses={200: s.TokenSerializer, 400: ERRORS[400]},
    auth=[],
)
class TokenView(ObtainAuthToken):
    """Exchange a username and password for the token scripts send as
    ``Authorization: Token <token>``."""

    parser_classes = (SafeJSONParser, FormParser, MultiPartParser)


@extend_schema(exclude=True)
class UnknownEndpointView(APIView):
    """Any other path under /api/: a 404 in the API's error format instead of an HTML page."""

    authentication_classes = []
    permission_classes = [POLICY]

    # Every method lands here, as the view defines no handlers.
    def http_method_not_allowed(self, request, *args, **kwargs):
        message = f"No API endpoint at {request.path}."
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path + "/")
            except Resolver404:
                match = None
            if match is not None and match.url_name != "unknown":
                message += f" Did you mean {request.path}/ ?"
        raise exceptions.NotFound(message)
