"""Scans (issue 22): in a project whose unit is a series or a study, one ``Item`` is a whole
scan, and these tables hold its parts in order. Every write goes through
``labeler/services/scans.py``; pages, the viewer and the training glue read them through
``labeler/selectors_scans.py``.

A scan item has one ``ScanSeries`` (unit "series") or several (unit "study"), and each series
its ``ScanSlice`` rows in anatomical order: ``index`` 0..n-1 along the slice normal (Image
Position / Orientation Patient), by Instance Number where the geometry is missing, and by frame
for a multi-frame file. Every UID here is the project-keyed, de-identified one; the files are
the de-identified DICOM files under MEDIA_ROOT.
"""

from __future__ import annotations

from django.db import models


class ScanSeries(models.Model):
    item = models.ForeignKey("labeler.Item", on_delete=models.CASCADE, related_name="scan_series")
    # De-identified (project-keyed) Series Instance UID: what groups instances across imports.
    series_uid = models.CharField(max_length=64)
    # Series Number (0020,0011), kept by the profile; orders a study's series.
    number = models.IntegerField(null=True, blank=True)
    modality = models.CharField(max_length=16, blank=True)
    # The profile removes Series Description (0008,103E); this is built from what it keeps
    # (modality, series number, sequence name), so it says nothing about the patient.
    description = models.CharField(max_length=200, blank=True)
    rows = models.PositiveIntegerField(default=0)
    columns = models.PositiveIntegerField(default=0)
    n_slices = models.PositiveIntegerField(default=0)
    # Why the series is not whole ("a slice is missing between …"); empty when it is.
    problem = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["item", "number", "series_uid"]
        constraints = [
            models.UniqueConstraint(fields=["item", "series_uid"], name="scanseries_unique_uid")
        ]

    def __str__(self) -> str:
        return f"series {self.number} of item {self.item_id} ({self.n_slices} slices)"


class ScanSlice(models.Model):
    series = models.ForeignKey(ScanSeries, on_delete=models.CASCADE, related_name="slices")
    # Anatomical order within the series, 0..n-1; rewritten when a slice arrives later.
    index = models.PositiveIntegerField()
    # The stored de-identified DICOM file (a storage name under MEDIA_ROOT).
    dicom_path = models.CharField(max_length=300)
    # The frame of a multi-frame file; 0 for a single-frame instance.
    frame = models.PositiveIntegerField(default=0)
    sop_uid = models.CharField(max_length=64)
    # Distance along the slice normal in mm (None: no geometry, ordered by instance number).
    position = models.FloatField(null=True, blank=True)
    instance_number = models.IntegerField(null=True, blank=True)
    # Slice Location (0020,1041) as the file gives it, for display.
    slice_location = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["series", "index"]
        constraints = [
            models.UniqueConstraint(fields=["series", "index"], name="scanslice_unique_index"),
            # The same instance (and frame) imported twice is one slice.
            models.UniqueConstraint(
                fields=["series", "sop_uid", "frame"], name="scanslice_unique_instance"
            ),
        ]

    def __str__(self) -> str:
        return f"slice {self.index} of series {self.series_id}"
