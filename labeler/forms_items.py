"""Forms of the items page: its filters, its bulk actions, a label correction and the export
button. They validate; the views hand ``cleaned_data`` to a selector or a service."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from labeler.models import Project
from labeler.selectors_items import SORTS, ItemFilter

STATUS_LABELS = {
    "unlabeled": _("Unlabeled"),
    "queued": _("In the queue"),
    "labeled": _("Labeled"),
    "pending": _("Waiting for more annotators"),
    "skipped": _("Skipped"),
    "flagged": _("Flagged as unsure"),
    "conflict": _("Annotators disagree"),
}
SORT_LABELS = {
    "newest": _("Newest first"),
    "oldest": _("Oldest first"),
    "least_confident": _("Model least confident first"),
    "most_confident": _("Model most confident first"),
}
EXPORT_LABELS = {
    "csv": _("CSV"),
    "json": _("JSON"),
    "jsonl": _("JSON Lines"),
    "labelstudio": _("Label Studio JSON"),
    "imagefolder": _("Image folders (zip)"),
}


FINDING_STATE_CHOICES = [(1, _("Present")), (0, _("Absent")), (-1, _("Uncertain"))]


def _percent(value: float | None) -> float | None:
    return None if value is None else value / 100


class ItemFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, label=_("Status"))
    label = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=_("Label"))
    annotator = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=_("Annotator")
    )
    labeled_from = forms.DateField(
        required=False, label=_("Labeled from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    labeled_to = forms.DateField(
        required=False, label=_("Labeled until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(required=False, max_length=200, label=_("Note contains"))
    predicted = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=_("Model's guess")
    )
    confidence_min = forms.FloatField(
        required=False, min_value=0, max_value=100, label=_("Confidence from (%)")
    )
    confidence_max = forms.FloatField(
        required=False, min_value=0, max_value=100, label=_("Confidence to (%)")
    )
    disagrees = forms.BooleanField(required=False, label=_("Model disagrees with the label"))
    finding = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=_("Finding")
    )
    finding_state = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Any state")), *FINDING_STATE_CHOICES],
        label=_("Finding's state"),
    )
    sort = forms.ChoiceField(
        required=False, choices=[(name, SORT_LABELS[name]) for name in SORTS], label=_("Sort")
    )

    def __init__(
        self,
        *args,
        classes,
        annotators,
        show_annotators: bool,
        show_consensus: bool,
        show_model_guess: bool,
        findings: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Any status"))] + list(STATUS_LABELS.items())
        class_choices = [(c.pk, c.name) for c in classes]
        self.fields["label"].choices = [("", _("Any label"))] + class_choices
        self.fields["predicted"].choices = [("", _("Any guess"))] + class_choices
        self.fields["finding"].choices = [("", _("Any finding"))] + class_choices
        # A findings item has states, not one label or one guess, and the reverse.
        single_only = ("label", "predicted", "confidence_min", "confidence_max", "disagrees")
        for name in single_only if findings else ("finding", "finding_state"):
            del self.fields[name]
        if show_annotators:
            self.fields["annotator"].choices = [("", _("Anyone"))] + list(annotators)
        else:
            del self.fields["annotator"]
        if not show_consensus:
            # The item's status, final label and the model against it are the consensus of
            # several annotators (labeler/access.py, Sight.consensus_with_overlap).
            for name in ("status", "label", "disagrees", "finding", "finding_state"):
                self.fields.pop(name, None)
        if not show_model_guess:
            # labeler/access.py, Sight.model_guess: filtering or sorting by the model's guess
            # would show it as surely as a column.
            for name in ("predicted", "confidence_min", "confidence_max", "disagrees"):
                self.fields.pop(name, None)
            self.fields["sort"].choices = [
                (name, label)
                for name, label in self.fields["sort"].choices
                if "confident" not in name
            ]

    def clean(self) -> dict:
        cleaned = super().clean()
        low, high = cleaned.get("confidence_min"), cleaned.get("confidence_max")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(_("The confidence range is empty: “from” is above “to”."))
        start, end = cleaned.get("labeled_from"), cleaned.get("labeled_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The date range is empty: “from” is after “until”."))
        if (cleaned.get("finding") is None) != (cleaned.get("finding_state") is None):
            raise forms.ValidationError(_("Choose a finding and its state."))
        return cleaned

    def item_filter(self) -> ItemFilter:
        data = self.cleaned_data
        return ItemFilter(
            status=data.get("status") or "",
            label_id=data.get("label"),
            annotator_id=data.get("annotator"),
            labeled_from=data.get("labeled_from"),
            labeled_to=data.get("labeled_to"),
            note=(data.get("note") or "").strip(),
            predicted_id=data.get("predicted"),
            confidence_min=_percent(data.get("confidence_min")),
            confidence_max=_percent(data.get("confidence_max")),
            disagrees=bool(data.get("disagrees")),
            sort=data.get("sort") or "newest",
            finding_id=data.get("finding"),
            finding_state=data.get("finding_state"),
        )


class BulkItemsForm(forms.Form):
    REQUEUE, UNSKIP = "requeue", "unskip"

    action = forms.ChoiceField(
        choices=[(REQUEUE, _("Requeue")), (UNSKIP, _("Un-skip"))], label=_("Action")
    )
    items = forms.TypedMultipleChoiceField(coerce=int, label=_("Items"))
    # The filtered list to return to, as its query string.
    back = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Any id is a valid choice; the service ignores ids outside the project.
        raw = self.data.getlist("items") if hasattr(self.data, "getlist") else []
        self.fields["items"].choices = [(value, value) for value in raw]
        self.fields["items"].error_messages["required"] = _("Tick at least one item first.")


class CorrectionForm(forms.Form):
    label = forms.CharField(max_length=100, label=_("Label"))


class ExportForm(forms.Form):
    format = forms.ChoiceField(label=_("Format"))
    final = forms.TypedChoiceField(
        choices=[("1", _("Final label per item")), ("0", _("Every answer, corrections too"))],
        coerce=lambda value: value == "1",
        initial="1",
        required=False,
        empty_value=True,
        label=_("Rows"),
    )
    include_evaluation = forms.BooleanField(
        required=False, initial=True, label=_("Include the evaluation set")
    )

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        formats = [name for name in EXPORT_LABELS if name != "imagefolder"]
        if project.kind == Project.Kind.IMAGE:
            formats.append("imagefolder")
        self.fields["format"].choices = [(name, EXPORT_LABELS[name]) for name in formats]
