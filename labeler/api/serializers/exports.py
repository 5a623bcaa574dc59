"""The export's query: format, final or every answer, evaluation items, since when."""

from __future__ import annotations

from rest_framework import serializers


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=["csv", "json", "jsonl", "imagefolder", "labelstudio"], default="csv"
    )
    final = serializers.BooleanField(
        default=True,
        help_text="true: one row per labeled item with its final label; false: every "
        "annotation, corrected ones included.",
    )
    include_evaluation = serializers.BooleanField(
        default=True, help_text="Include items of the random evaluation draw."
    )
    neutralise_formulas = serializers.BooleanField(
        default=True,
        help_text="csv: prefix cells starting with =, +, -, @, tab or CR with ' so that a "
        "spreadsheet shows them instead of running them; false for scripts that need the raw "
        "text.",
    )
    since = serializers.DateTimeField(
        required=False, help_text="Only labels given at or after this time (ISO 8601)."
    )
