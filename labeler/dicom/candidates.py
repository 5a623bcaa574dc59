"""The import pipeline's view of DICOM: one file in, one ``Candidate`` or ``Rejection`` out.

``labeler.importing`` dispatches here for any file that looks like DICOM; everything after
that (batches, duplicates, pre-labels from class folders) is the same as for PNG and JPEG.
"""

from __future__ import annotations

from labeler.dicom.reading import DicomOptions, DicomRejected, dicom_file, looks_like_dicom
from labeler.importing import Candidate, Limits, Rejection, too_big

__all__ = ["dicom_candidate", "looks_like_dicom"]

NO_OPTIONS = "DICOM files import into an image project only"


def dicom_candidate(
    name: str,
    data: bytes,
    limits: Limits,
    options: DicomOptions | None,
    prelabel: str | None = None,
) -> Candidate | Rejection:
    if options is None:
        return Rejection(name, NO_OPTIONS)
    if len(data) > limits.max_file_bytes:
        return Rejection(name, too_big(len(data), limits))
    try:
        stored = dicom_file(data, options, max_pixels=limits.max_image_pixels)
    except DicomRejected as rejected:
        return Rejection(name, str(rejected))
    return Candidate(
        source_name=name,
        checksum=stored.checksum,
        content=stored.rendition,
        suffix=".png",
        prelabel=prelabel,
        metadata=stored.metadata,
        dicom=stored.dicom,
    )
