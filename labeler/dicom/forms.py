"""The PACS import form on a project's import page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from labeler.dicom.pacs_query import (
    DATE_PATTERN,
    MAX_STUDIES,
    MODALITY_PATTERN,
    PacsQuery,
    pacs_import_enabled,
)
from labeler.importing import ImportSourceError


class PacsImportForm(forms.Form):
    url = forms.URLField(
        assume_scheme="http",
        # A text box styled like the page's others; URLField still validates the address.
        widget=forms.TextInput(attrs={"inputmode": "url", "autocomplete": "url"}),
        label=_("DICOMweb address"),
        help_text=_("The PACS's DICOMweb root, e.g. http://pacs.hospital.local:8042/dicom-web"),
        max_length=500,
    )
    modality = forms.CharField(label=_("Modality"), required=False, max_length=16)
    study_date = forms.CharField(
        label=_("Study date"),
        required=False,
        max_length=17,
        help_text=_("YYYYMMDD, or a range YYYYMMDD-YYYYMMDD"),
    )
    accession = forms.CharField(label=_("Accession number"), required=False, max_length=64)
    description = forms.CharField(label=_("Study description contains"), required=False)
    limit = forms.IntegerField(
        label=_("At most this many studies"), min_value=1, max_value=MAX_STUDIES, initial=20
    )
    series_modality = forms.CharField(
        label=_("Only series of modality"), required=False, max_length=16
    )
    series_description = forms.CharField(
        label=_("Only series whose description contains"),
        required=False,
        max_length=64,
        help_text=_(
            "Compared with what the PACS sends (e.g. T1); descriptions are never shown or stored."
        ),
    )
    # Series ticked in a search's results, by their de-identified UIDs (checked by PacsQuery).
    series = forms.MultipleChoiceField(required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        chosen = self.data.getlist("series") if hasattr(self.data, "getlist") else []
        self.fields["series"].choices = [(uid, uid) for uid in chosen]

    @property
    def enabled(self) -> bool:
        return pacs_import_enabled()

    def clean_modality(self) -> str:
        modality = self.cleaned_data["modality"].strip().upper()
        if modality and not MODALITY_PATTERN.match(modality):
            raise forms.ValidationError(_("Use a DICOM modality code such as CT, MR, CR or US."))
        return modality

    def clean_series_modality(self) -> str:
        modality = self.cleaned_data["series_modality"].strip().upper()
        if modality and not MODALITY_PATTERN.match(modality):
            raise forms.ValidationError(_("Use a DICOM modality code such as CT, MR, CR or US."))
        return modality

    def clean_study_date(self) -> str:
        study_date = self.cleaned_data["study_date"].strip()
        if study_date and not DATE_PATTERN.match(study_date):
            raise forms.ValidationError(_("Not a date: use YYYYMMDD or YYYYMMDD-YYYYMMDD."))
        return study_date

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.query = PacsQuery(
                url=data["url"],
                modality=data["modality"],
                study_date=data["study_date"],
                accession=data["accession"],
                description=data["description"],
                limit=data["limit"],
                series_modality=data["series_modality"],
                series_description=data["series_description"],
                series=tuple(data.get("series") or ()),
            )
        except ImportSourceError as error:
            raise forms.ValidationError(str(error)) from error
        return data
