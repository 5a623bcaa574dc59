"""A team's own model's predictions, imported as suggestions (never as labels)."""

from __future__ import annotations

from rest_framework import serializers

from labeler.models import Suggestion


class SuggestionUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="Your model's predictions: a CSV or JSONL with 'item' (the Tweezers item id; "
        "or 'source_name'), 'label' and an optional 'score' in 0..1 (one row per item, or one "
        "per scored class), or a Label Studio JSON list of tasks with 'predictions' (the task "
        "'id' is the item id). One bad row refuses the whole file with a 400 naming the row."
    )


class SuggestionReportSerializer(serializers.Serializer):
    imported = serializers.IntegerField(help_text="Items that got a suggestion.")
    replaced = serializers.IntegerField(help_text="Of those, items whose earlier one it replaced.")


class SuggestionSerializer(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id")
    label = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    scores = serializers.JSONField(
        allow_null=True, help_text="Every class the file scored for the item: {class: score}."
    )

    class Meta:
        model = Suggestion
        fields = ["id", "item", "label", "score", "scores", "model_version", "created_at"]
        read_only_fields = fields
