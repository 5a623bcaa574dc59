"""List filters (django-filter). Relations are filtered with EXISTS subqueries rather than
joins, so a filtered list needs no DISTINCT and keeps its cursor ordering cheap."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django_filters.fields import IsoDateTimeField

from labeler import access
from labeler.models import Annotation, Item, ItemFinding, QueueEntry
from labeler.models_findings import STATE_VALUES
from labeler.models_suggestions import SUGGESTION_DISAGREES

INT_MAX = 2**31 - 1


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, converted to UTC here: PostgreSQL refuses offsets beyond ±16 h that
    Python accepts, and the database error would otherwise be a 500."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError("Date and time out of range.", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class ItemFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=Item.Status.choices, help_text="labeled, unlabeled or skipped."
    )
    evaluation = django_filters.BooleanFilter(
        field_name="is_evaluation", help_text="Only (true) or no (false) evaluation items."
    )
    label = django_filters.CharFilter(
        field_name="label__name", help_text="Items whose current label is this class name."
    )
    annotator = django_filters.CharFilter(
        method="filter_annotator",
        help_text="Items with a current annotation by this username.",
    )
    round = django_filters.NumberFilter(
        method="filter_round",
        min_value=0,
        max_value=INT_MAX,
        help_text="Items queued or labeled in this round number.",
    )

    finding = django_filters.CharFilter(
        method="filter_finding",
        help_text="Findings projects: items whose resolved state of this finding is "
        "finding_state (present by default).",
    )
    finding_state = django_filters.ChoiceFilter(
        choices=[(name, name) for name in STATE_VALUES],
        method="filter_nothing",
        help_text="present, absent or uncertain; with finding.",
    )
    suggestion_disagrees = django_filters.BooleanFilter(
        method="filter_suggestion_disagrees",
        help_text="true: items where the loop's newest model and your model's imported "
        "suggestion name different classes.",
    )

    class Meta:
        model = Item
        fields = [
            "status",
            "evaluation",
            "label",
            "annotator",
            "round",
            "finding",
            "finding_state",
            "suggestion_disagrees",
        ]

    def filter_nothing(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset  # read by filter_finding

    def filter_finding(self, queryset: QuerySet, name: str, finding: str) -> QuerySet:
        state = STATE_VALUES[self.form.cleaned_data.get("finding_state") or "present"]
        if state:
            marked = ItemFinding.objects.filter(
                item=OuterRef("pk"), finding__name=finding, state=state
            )
            return queryset.filter(Exists(marked))
        marked = ItemFinding.objects.filter(item=OuterRef("pk"), finding__name=finding)
        return queryset.filter(status=Item.Status.LABELED).exclude(Exists(marked))

    def filter_suggestion_disagrees(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(SUGGESTION_DISAGREES) if value else queryset

    def filter_annotator(self, queryset: QuerySet, name: str, username: str) -> QuerySet:
        current = Annotation.objects.filter(
            item=OuterRef("pk"), is_current=True, annotator__username=username
        )
        return queryset.filter(Exists(current))

    def filter_round(self, queryset: QuerySet, name: str, number) -> QuerySet:
        queued = QueueEntry.objects.filter(item=OuterRef("pk"), round__number=number)
        labeled = Annotation.objects.filter(item=OuterRef("pk"), round__number=number)
        return queryset.filter(Exists(queued) | Exists(labeled))


class AnnotationFilter(django_filters.FilterSet):
    item = django_filters.NumberFilter(field_name="item_id", min_value=1, max_value=2**63 - 1)
    annotator = django_filters.CharFilter(field_name="annotator__username")
    label = django_filters.CharFilter(field_name="label__name")
    kind = django_filters.ChoiceFilter(
        choices=QueueEntry.Kind.choices,
        method="filter_kind",
        help_text="Managers only; ignored for anyone else, whose answers' kind is not shown.",
    )
    round = django_filters.NumberFilter(field_name="round__number", min_value=0, max_value=INT_MAX)
    current = django_filters.BooleanFilter(
        field_name="is_current", help_text="Only current (true) or replaced (false) labels."
    )
    since = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    unsure = django_filters.BooleanFilter(
        field_name="is_unsure", help_text="Only answers the annotator flagged as unsure."
    )

    class Meta:
        model = Annotation
        fields = ["item", "annotator", "label", "kind", "round", "current", "since", "unsure"]

    def filter_kind(self, queryset: QuerySet, name: str, kind: str) -> QuerySet:
        # Filtering by kind would tell an annotator which of their answers were evaluation
        # items, the very field the serializer hides from them.
        view = (getattr(self.request, "parser_context", None) or {}).get("view")
        if not access.sight(getattr(view, "project_role", None)).evaluation:
            return queryset
        return queryset.filter(kind=kind)
