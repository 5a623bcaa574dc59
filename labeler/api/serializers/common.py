"""Shapes every resource shares: nullable fields for the schema, the reader's role for the
access policy's field rules, an item's file URL, and the error body."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeler.models import Item

# A URL that is null when there is nothing to point at (no file, no artifact).
NULLABLE_URI = {"type": "string", "format": "uri", "nullable": True}
NULLABLE_STRING = {"type": "string", "nullable": True}


def role_in_context(context: dict) -> str | None:
    """The reader's role in the project, from the view that serializes (None: unknown, and
    the access policy then shows the least)."""
    return getattr(context.get("view"), "project_role", None)


def item_file_url(item: Item, request) -> str | None:
    """The access-checked URL of an item's file; None for text items."""
    if not item.file:
        return None
    url = reverse("api:item-file", kwargs={"pk": item.pk})
    return request.build_absolute_uri(url) if request else url


@extend_schema_field(NULLABLE_URI)
class ImageUrlField(serializers.Field):
    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, item: Item) -> str | None:
        return item_file_url(item, self.context.get("request"))


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
