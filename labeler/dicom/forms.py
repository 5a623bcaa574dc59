"""The PACS import form on a project's import page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from labeler.dicom.dicomweb import MAX_STUDIES, PacsQuery
from labeler.importing import ImportSourceError


class PacsImportForm(forms.Form):
    url = forms.URLField(
        assume_scheme="http",
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

    def clean_modality(self) -> str:
        return self.cleaned_data["modality"].strip().upper()

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.query = PacsQuery(
                url=data["url"],
                modality=data["modality"],
                study_date=data["study_date"].strip(),
                accession=data["accession"],
                description=data["description"],
                limit=data["limit"],
            )
        except ImportSourceError as error:
            raise forms.ValidationError(str(error)) from error
        return data
