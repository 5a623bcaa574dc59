"""Items, their uploads (imports and import jobs) and who opened them."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeler import access
from labeler.api.serializers.common import ImageUrlField, role_in_context
from labeler.models import ImportJob, Item, ItemView
from labeler.models_findings import STATE_NAMES


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

    findings = serializers.SerializerMethodField(
        help_text="Findings projects: every finding with the item's resolved state (present, "
        "absent, uncertain); null for a single-label project or an item not labeled yet."
    )
    model_findings = serializers.JSONField(
        read_only=True,
        help_text="Findings projects: the newest model's probability per finding, where a run "
        "stored them; else null.",
    )

    @extend_schema_field(
        serializers.DictField(
            child=serializers.ChoiceField(["present", "absent", "uncertain"]), allow_null=True
        )
    )
    def get_findings(self, item: Item) -> dict | None:
        project = self.context.get("project")
        if project is None or not project.is_findings or item.status != Item.Status.LABELED:
            return None
        names = self.context.setdefault(
            "finding_names",
            dict(project.classes.values_list("id", "name")),
        )
        states = {row.finding_id: row.state for row in item.findings.all()}
        return {name: STATE_NAMES[states.get(pk, 0)] for pk, name in names.items()}

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
            "findings",
            "model_findings",
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
