"""What the scan viewer needs to know about a scan item (a series or a study): its series in
reading order with their descriptions and slice counts, and the slices the newest model
relied on (the evidence slices), by series."""

from __future__ import annotations

from labeler.models import Item, ScanSeries
from labeler.selectors_scans import scan_series


def scan_view(item: Item) -> dict:
    """``{"series": [{"uid", "description", "modality", "slices", "problem", "evidence"}],
    "window": [centre, width] or None}``; ``evidence`` lists slice indexes, most telling
    first. An item without series (not a scan) has an empty list."""
    from labeler.engine.scans import evidence_of

    evidence = evidence_of(project=item.project, item_id=item.pk)
    return {
        "series": [
            {
                "uid": series.series_uid,
                "description": series.description or series.modality,
                "modality": series.modality,
                "slices": series.n_slices,
                "problem": series.problem,
                "evidence": [
                    i for i in evidence.get(series.series_uid, []) if 0 <= i < series.n_slices
                ],
            }
            for series in scan_series(item)
        ],
        "window": (item.metadata or {}).get("dicom", {}).get("window"),
    }


def scan_series_at(item: Item, position: int) -> ScanSeries | None:
    """The item's series at ``position`` in reading order (as :func:`scan_view` lists them)."""
    series = scan_series(item)
    return series[position] if 0 <= position < len(series) else None
