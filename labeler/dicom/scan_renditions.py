"""Windowed PNG renditions of one slice of a scan item (a series or a study), for the viewer.

As for single DICOM items (:mod:`labeler.dicom.renditions`): a preset or the file's own window
is cached on disk beside the item's other renditions (the import drops them all when the
scan's slices change), an arbitrary window is rendered on demand and not kept. The cache is
looked up before any slice row is read, so a scroll over cached slices costs a file read.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeler.dicom.reading import quiet
from labeler.dicom.rendering import Window, frame_count, png_bytes, render
from labeler.dicom.renditions import RENDITION_ROOT, RenditionError, stored_dataset
from labeler.models import Item, ScanSeries
from labeler.selectors_scans import scan_slices


def slice_rendition(
    item: Item,
    series: ScanSeries,
    *,
    index: int,
    window: Window | None,
    invert: bool,
    label: str,
) -> bytes:
    """PNG of slice ``index`` (anatomical order) of ``series``, a series of ``item``."""
    if not 0 <= index < series.n_slices:
        raise RenditionError(f"index must be between 0 and {series.n_slices - 1}")
    cached = ""
    if label:
        folder = f"{RENDITION_ROOT}/{item.project_id}/{item.pk}"
        cached = f"{folder}/s{series.pk}-{index}-{label}-{int(invert)}.png"
        if default_storage.exists(cached):
            with default_storage.open(cached, "rb") as handle:
                return handle.read()
    slices = scan_slices(item, series_uid=series.series_uid)
    if index >= len(slices):
        raise RenditionError(f"index must be between 0 and {len(slices) - 1}")
    part = slices[index]
    if not default_storage.exists(part.dicom_path):
        raise RenditionError("the slice's DICOM file is missing")
    dataset = stored_dataset(part.dicom_path)
    if part.frame >= frame_count(dataset):
        raise RenditionError("the slice's frame is missing from its file")
    with quiet():
        data = png_bytes(render(dataset, frame=part.frame, window=window, invert=invert), fast=True)
    if cached:
        default_storage.save(cached, ContentFile(data))
    return data
