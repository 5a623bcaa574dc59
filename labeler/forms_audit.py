"""The audit page's filters. They validate; the view hands them to ``selectors_audit``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from labeler.models import ItemView
from labeler.selectors_audit import AuditFilter

BIGINT_MAX = 2**63 - 1


class AuditFilterForm(forms.Form):
    project = forms.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, label=_("Project id")
    )
    user = forms.CharField(required=False, max_length=150, label=_("User"))
    where = forms.ChoiceField(required=False, label=_("Where"))
    item = forms.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX, label=_("Item id"))
    date_from = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=_("Until"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, every_project: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["where"].choices = [("", _("Anywhere")), *ItemView.Where.choices]
        if not every_project:
            # A manager's page is one project's: the project is in the address.
            del self.fields["project"]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def audit_filter(self) -> AuditFilter:
        data = self.cleaned_data
        return AuditFilter(
            username=data.get("user") or "",
            where=data.get("where") or "",
            item_id=data.get("item"),
            project_id=data.get("project"),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
