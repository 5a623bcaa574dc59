"""The annotator's loop: the leased item, next-item answers, annotations, submit and correct."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeler import access, selectors_items
from labeler.api.serializers.common import (
    NULLABLE_STRING,
    NULLABLE_URI,
    item_file_url,
    role_in_context,
)
from labeler.models import Annotation, LabelClass
from labeler.models_findings import STATE_NAMES

FINDING_STATES = ["present", "absent", "uncertain"]


class AnswerFieldsMixin:
    """``label`` is required for a single-label project and ``findings`` for a findings
    project (the project comes in the context; the schema shows both as optional). An answer
    of the other task's shape is left to the service, whose refusal names what was sent
    ("send findings, not label") rather than what was missing."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        project = self.context.get("project")
        if project is None:
            return
        wanted, other = ("findings", "label") if project.is_findings else ("label", "findings")
        sent = getattr(self, "initial_data", None)
        if not (isinstance(sent, Mapping) and sent.get(other) is not None):
            self.fields[wanted].required = True


def findings_field(help_text: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.ChoiceField(choices=FINDING_STATES),
        required=False,
        allow_empty=True,
        help_text=help_text,
    )


FINDINGS_ANSWER_HELP = (
    "Findings projects only, instead of label: each finding's state, "
    '{"effusion": "present", "atelectasis": "uncertain"}; findings left out are absent '
    '({} is "no finding").'
)


class SuggestionShownSerializer(serializers.Serializer):
    label = serializers.CharField()
    score = serializers.FloatField(allow_null=True)


class LeasedItemSerializer(serializers.Serializer):
    """The item an annotator should label now. Deliberately without the queue entry's kind:
    annotators must not tell evaluation items from strategy picks."""

    id = serializers.IntegerField(source="item.id")
    source_name = serializers.CharField(source="item.source_name")
    text = serializers.CharField(source="item.text")
    image_url = serializers.SerializerMethodField()
    lease_expires_at = serializers.DateTimeField()
    round = serializers.IntegerField(source="round.number")
    model_guess = serializers.SerializerMethodField(
        help_text="The model's guess, only when the project shows it (show_model_guess)."
    )
    model_findings = serializers.SerializerMethodField(
        help_text="Findings projects: the model's probability per finding, only when the "
        "project shows its guess (show_model_guess) and a model has given them."
    )
    suggestion = serializers.SerializerMethodField(
        help_text="Your own model's imported prediction for the item, only when the project "
        "shows it (show_suggestions); submit its label to accept it."
    )

    @extend_schema_field(NULLABLE_URI)
    def get_image_url(self, entry) -> str | None:
        return item_file_url(entry.item, self.context.get("request"))

    @extend_schema_field(NULLABLE_STRING)
    def get_model_guess(self, entry) -> str | None:
        if not self.context["project"].show_model_guess or entry.predicted_label is None:
            return None
        return entry.predicted_label.name

    @extend_schema_field(serializers.DictField(child=serializers.FloatField(), allow_null=True))
    def get_model_findings(self, entry) -> dict | None:
        project = self.context["project"]
        if not (project.is_findings and project.show_model_guess):
            return None
        return entry.item.model_findings

    @extend_schema_field(SuggestionShownSerializer(allow_null=True))
    def get_suggestion(self, entry) -> dict | None:
        shown = selectors_items.suggestions_shown(
            project=self.context["project"], item_ids=[entry.item_id]
        )
        return shown.get(entry.item_id)


class NextItemSerializer(serializers.Serializer):
    item = LeasedItemSerializer(source="entry", allow_null=True)
    state = serializers.ChoiceField(
        choices=["ready", "updating", "budget_spent", "daily_cap", "done"]
    )
    message = serializers.CharField()


class AnnotationSerializer(serializers.ModelSerializer):
    label = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    findings = serializers.SerializerMethodField(
        help_text="Findings projects: every finding with the state this answer gave it "
        "(present, absent or uncertain); null for a single-label answer."
    )
    annotator = serializers.SlugRelatedField(slug_field="username", read_only=True)
    round = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    predicted_label = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    kind = serializers.SerializerMethodField(
        help_text="strategy, evaluation or import; null for everyone but managers "
        "(labeler/access.py): annotators are served evaluation items unmarked and must not "
        "learn afterwards which ones they were."
    )

    @extend_schema_field(NULLABLE_STRING)
    def get_kind(self, annotation: Annotation) -> str | None:
        if not access.annotation_fields_for(role_in_context(self.context), ["kind"]):
            return None
        return annotation.kind

    @extend_schema_field(
        serializers.DictField(child=serializers.ChoiceField(FINDING_STATES), allow_null=True)
    )
    def get_findings(self, annotation: Annotation) -> dict | None:
        if annotation.label_id is not None:
            return None
        names = self._finding_names(annotation.project_id)
        states = {row.finding_id: row.state for row in annotation.finding_answers.all()}
        return {name: STATE_NAMES[states.get(pk, 0)] for pk, name in names.items()}

    def _finding_names(self, project_id: int) -> dict[int, str]:
        # Once per response, not per annotation.
        cache = self.context.setdefault("finding_names", {})
        if project_id not in cache:
            cache[project_id] = dict(
                LabelClass.objects.filter(project_id=project_id).values_list("id", "name")
            )
        return cache[project_id]

    class Meta:
        model = Annotation
        fields = [
            "id",
            "item",
            "label",
            "findings",
            "annotator",
            "kind",
            "round",
            "client_key",
            "seconds_spent",
            "note",
            "is_unsure",
            "predicted_label",
            "predicted_confidence",
            "replaces",
            "is_current",
            "is_adjudication",
            "created_at",
        ]
        read_only_fields = fields


class AnnotationSubmitSerializer(AnswerFieldsMixin, serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    label = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Single-label projects: the class name (required there).",
    )
    findings = findings_field(FINDINGS_ANSWER_HELP)
    client_key = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="A key the client chooses per label; a retry with the same key returns the "
        "annotation already stored (200) instead of creating another.",
    )
    seconds_spent = serializers.FloatField(
        min_value=0, max_value=24 * 3600, required=False, allow_null=True
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    is_unsure = serializers.BooleanField(
        required=False, default=False, help_text="The annotator is not sure of this label."
    )


class AnnotationCorrectSerializer(AnswerFieldsMixin, serializers.Serializer):
    label = serializers.CharField(
        max_length=100, required=False, help_text="Single-label projects: the new class."
    )
    findings = findings_field(FINDINGS_ANSWER_HELP)
