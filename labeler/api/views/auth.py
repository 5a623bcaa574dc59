"""Tokens for scripts, the interactive docs, and the 404 for unknown API paths.

Tokens come from django-rest-knox: stored only as a hash, with an expiry
(``TWEEZERS_TOKEN_TTL_HOURS``), revoked by ``POST auth/logout/`` (this token) or
``auth/logout-all/`` (every token of the user), and all revoked when the password changes
(``labeler.security``)."""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from knox.models import AuthToken
from knox.settings import knox_settings
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import exceptions
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeler import security
from labeler.api import serializers as s
from labeler.api.parsers import SafeJSONParser
from labeler.api.permissions import FollowsPolicy
from labeler.api.views.base import AUTHENTICATION, ERRORS


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
    responses={200: s.TokenSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    auth=[],
)
class TokenView(APIView):
    """Exchange a username and password for a token that scripts send as
    ``Authorization: Token <token>``. It expires at ``expiry``; ask again for a new one."""

    authentication_classes = []
    permission_classes = [FollowsPolicy]
    parser_classes = (SafeJSONParser, FormParser, MultiPartParser)

    def post(self, request) -> Response:
        credentials = AuthTokenSerializer(data=request.data, context={"request": request})
        credentials.is_valid(raise_exception=True)
        user = credentials.validated_data["user"]
        if security.password_change_required(user):
            raise exceptions.PermissionDenied(security.PASSWORD_CHANGE_MESSAGE)
        instance, token = AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)
        return Response({"token": token, "expiry": instance.expiry})


@extend_schema(tags=["auth"], request=None, responses={204: None, 401: ERRORS[401]})
class LogoutView(KnoxLogoutView):
    """Revoke the token this request was sent with."""

    authentication_classes = AUTHENTICATION
    permission_classes = [FollowsPolicy]

    def post(self, request, format=None):
        if not isinstance(request.auth, AuthToken):
            raise exceptions.ValidationError(
                {"non_field_errors": ["Send the token to revoke as Authorization: Token …"]},
                code="no_token",
            )
        return super().post(request, format)


@extend_schema(tags=["auth"], request=None, responses={204: None, 401: ERRORS[401]})
class LogoutAllView(KnoxLogoutAllView):
    """Revoke every token of this user (all scripts and devices)."""

    authentication_classes = AUTHENTICATION
    permission_classes = [FollowsPolicy]


@extend_schema(exclude=True)
class UnknownEndpointView(APIView):
    """Any other path under /api/: a 404 in the API's error format instead of an HTML page."""

    authentication_classes = []
    permission_classes = [FollowsPolicy]

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
