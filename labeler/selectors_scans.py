"""Reads of scan items (a series or a study as one item, issue 22): their series and their
slices in anatomical order. The viewer, the renditions and the training glue read a scan
through these, never through the tables directly."""

from __future__ import annotations

from labeler.models import Item, Project, ScanSeries, ScanSlice


def is_scan_project(project: Project) -> bool:
    """Whether an item of the project is a whole scan (a series or a study)."""
    return project.unit != Project.Unit.INSTANCE


def scan_series(item: Item) -> list[ScanSeries]:
    """The scan's series in the order a reader goes through a study (by Series Number): one
    for a series item, several for a study item, none for any other item. Each carries its
    ``description`` (built from de-identified attributes), ``modality``, ``n_slices`` and
    ``problem`` (why it is not whole, or empty)."""
    return list(ScanSeries.objects.filter(item=item).order_by("number", "series_uid", "id"))


def scan_slices(item: Item, *, series_uid: str | None = None) -> list[ScanSlice]:
    """The scan's slices in anatomical order: series by series (as ``scan_series``), each
    slice's ``index`` 0..n-1 along the slice normal. ``series_uid`` narrows to one series.
    A slice's ``dicom_path`` is its de-identified DICOM file (a storage name) and ``frame``
    the frame within it; ``slice.series`` is loaded with it."""
    slices = ScanSlice.objects.filter(series__item=item).select_related("series")
    if series_uid is not None:
        slices = slices.filter(series__series_uid=series_uid)
    return list(slices.order_by("series__number", "series__series_uid", "series_id", "index"))


def scan_slice_counts(items: list[int]) -> dict[int, int]:
    """Slices per scan item id (for exports and pages), in one query."""
    counts: dict[int, int] = {}
    rows = ScanSeries.objects.filter(item_id__in=items).values_list("item_id", "n_slices")
    for item_id, n_slices in rows:
        counts[item_id] = counts.get(item_id, 0) + n_slices
    return counts
