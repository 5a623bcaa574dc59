"""Items, their uploads (imports and import jobs) and who opened them."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeler import access
from labeler.api.serializers.common import ImageUrlField, role_in_context
from labeler.models import ImportJob, Item, ItemView


class ImportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "url",
            "source_name",
            "status",
            "total",
            "processed",
            "imported",
            "duplicates",
            "rejected",
            "incomplete",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, job: ImportJob) -> str:
        url = reverse("api:import-job", kwargs={"project_pk": job.project_id, "pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ItemViewSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ItemView
        fields = ["id", "item_id", "user", "where", "detail", "at"]
        read_only_fields = fields


class ItemSerializer(serializers.ModelSerializer):
    image_url = ImageUrlField()
    label = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    prelabel = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    is_evaluation = serializers.SerializerMethodField(
        help_text="Whether the item is in the evaluation set; null for everyone but managers "
        "(labeler/access.py)."
    )

    @extend_schema_field({"type": "boolean", "nullable": True})
    def get_is_evaluation(self, item: Item) -> bool | None:
        if not access.item_fields_for(role_in_context(self.context), ["is_evaluation"]):
            return None
        return item.is_evaluation

    class Meta:
        model = Item
        fields = [
            "id",
            "source_name",
            "text",
            "image_url",
            "status",
            "label",
            "prelabel",
            "is_evaluation",
            "metadata",
            "created_at",
        ]
        read_only_fields = fields


class ItemUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="An image, a zip of images (class sub-folders become labels), a CSV or JSONL "
        "of texts, or a JSON file of Label Studio tasks."
    )


class RejectedSerializer(serializers.Serializer):
    name = serializers.CharField()
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = RejectedSerializer(many=True)
    incomplete = RejectedSerializer(
        many=True,
        required=False,
        help_text="Series kept although a slice is missing (projects whose items are series "
        "or studies); a later import of the slice completes them.",
    )
    scans_extended = serializers.IntegerField(
        required=False,
        help_text="Series or study items that already existed and received slices.",
    )
