"""A project's DICOM settings, as the readers take them."""

from __future__ import annotations

from labeler.dicom.reading import DicomOptions
from labeler.models import Project


def dicom_options(*, project: Project) -> DicomOptions | None:
    """None for a text project: DICOM files are images and import into image projects."""
    if project.kind != Project.Kind.IMAGE:
        return None
    return DicomOptions(
        uid_secret=project.dicom_uid_secret,
        allow_burned_in=project.dicom_allow_burned_in,
        mask_pixel_text=project.dicom_pixel_text == Project.PixelText.MASK,
    )
