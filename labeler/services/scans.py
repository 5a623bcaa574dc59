"""Scans as items (issue 22): the one writer of ``ScanSeries`` and ``ScanSlice``.

In a project whose unit is a series or a study, an import's DICOM instances are grouped by
their de-identified Series (or Study) Instance UID, whatever file, folder, zip, upload or PACS
search they came from: a scan that arrives in two imports is one item. The instances' files
are stored as they are read (content-addressed, de-identified); once the import has been
read, each scan is written in one transaction: its item (found by a key derived from the
de-identified UID, created if new), its series and its slices in anatomical order
(``labeler.dicom.geometry``). A series whose slices cannot make one volume is refused with
its reason, and the rest imports; one with a missing slice is kept and reported, and is
completed when the slice arrives.

After the transaction the scan's own image is refreshed: the middle slice of its longest
series as the item's PNG and DICOM file (what the per-item representations and the
single-image viewer read) and a montage of key slices (what the imagefolder export holds).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from labeler.dicom.geometry import ScanPart, SliceGeometry, series_order, slice_geometries
from labeler.dicom.reading import stored_header, stored_rendition
from labeler.dicom.rendering import frame_count
from labeler.dicom.scan_images import key_positions, montage_png, stored_bytes
from labeler.importing import Candidate, clean_name
from labeler.models import Item, LabelClass, Project, ScanSeries, ScanSlice, item_file_path
from labeler.services.projects import class_name_normalize

logger = logging.getLogger(__name__)

SCAN_NEEDS_DICOM = gettext_lazy(
    "a project whose items are series or studies imports DICOM files only"
)
NO_SERIES_UID = gettext_lazy("the file has no Series or Study Instance UID to group it by")
RENDITION_ROOT = "renditions"
INDEX_PARKING = 1_000_000


def slice_file_path(project_id: int, checksum: str) -> str:
    """Where a scan's de-identified instance is stored: content-addressed, as an instance
    item's file is."""
    return f"items/{project_id}/{checksum[:2]}/{checksum}.dcm"


def montage_path(item: Item) -> str:
    return f"items/{item.project_id}/{item.checksum[:2]}/{item.checksum}-montage.png"


def scan_key_checksum(unit: str, uid: str) -> str:
    """A scan item's ``checksum``: derived from its de-identified UID, so the project's
    unique (project, checksum) makes a scan one item across imports and concurrent ones."""
    return hashlib.sha256(f"scan:{unit}:{uid}".encode()).hexdigest()


@dataclass(frozen=True)
class _Pending:
    geometry: SliceGeometry
    dicom_path: str
    source_name: str


class ScanImport:
    """One import into a series or study project: ``add`` each candidate as it is read (its
    file is stored at once, its slices kept in memory as geometry only), then ``finish``."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.by_scan: dict[str, dict[str, list[_Pending]]] = {}
        self.parts: dict[str, ScanPart] = {}
        self.prelabels: dict[str, set[str]] = {}
        self.written: set[str] = set()

    def add(self, candidate: Candidate, report) -> None:
        part = candidate.scan
        name = clean_name(candidate.source_name)
        if not candidate.dicom or not isinstance(part, ScanPart) or not part.slices:
            report.rejected.append({"name": name, "reason": str(SCAN_NEEDS_DICOM)})
            return
        first = part.slices[0]
        if not first.series_uid or not first.study_uid or not first.sop_uid:
            report.rejected.append({"name": name, "reason": str(NO_SERIES_UID)})
            return
        key = first.study_uid if self.project.unit == Project.Unit.STUDY else first.series_uid
        path = slice_file_path(self.project.pk, candidate.checksum)
        if not default_storage.exists(path):
            path = default_storage.save(path, ContentFile(candidate.dicom))
            self.written.add(path)
        pending = self.by_scan.setdefault(key, {}).setdefault(first.series_uid, [])
        pending.extend(_Pending(geometry, path, name) for geometry in part.slices)
        self.parts.setdefault(first.series_uid, part)
        if candidate.prelabel:
            self.prelabels.setdefault(key, set()).add(class_name_normalize(candidate.prelabel))

    def finish(self, classes: dict[str, LabelClass], report) -> None:
        try:
            for key, series in self.by_scan.items():
                try:
                    item = self._store(key, series, classes, report)
                except IntegrityError:
                    # A concurrent import wrote the same scan meanwhile: merge into it.
                    item = self._store(key, series, classes, report)
                if item is not None:
                    scan_image_refresh(item=item)
        finally:
            self._drop_unused_files()

    def discard(self) -> None:
        """The import stopped before ``finish``: drop the files it stored."""
        self._drop_unused_files()

    def _store(self, key: str, series: dict[str, list[_Pending]], classes, report) -> Item | None:
        with transaction.atomic():
            item, created = self._item_locked(key, series, classes, report)
            changed = [self._merge(item, uid, pending, report) for uid, pending in series.items()]
            if not any(changed):
                if created:
                    # Every series of a new scan was refused: no item.
                    transaction.set_rollback(True)
                return None
            if created:
                Project.objects.filter(pk=self.project.pk).update(
                    n_items=F("n_items") + 1,
                    n_labeled=F("n_labeled") + (1 if item.label_id else 0),
                    has_dicom=True,
                )
                report.imported += 1
            else:
                report.scans_extended += 1
        return item

    def _item_locked(self, key, series, classes, report) -> tuple[Item, bool]:
        checksum = scan_key_checksum(self.project.unit, key)
        found = Item.objects.select_for_update().filter(project=self.project, checksum=checksum)
        item = found.first()
        if item is not None:
            return item, False
        label = self._prelabel(key, series, classes, report)
        with transaction.atomic():
            item = Item.objects.create(
                project=self.project,
                source_name=self._scan_name(key, series)[:500],
                checksum=checksum,
                metadata={"scan": {"unit": self.project.unit}},
                prelabel=label,
                label=label,
                status=Item.Status.LABELED if label else Item.Status.UNLABELED,
            )
        return item, True

    def _prelabel(self, key, series, classes, report) -> LabelClass | None:
        names = self.prelabels.get(key) or set()
        if len(names) > 1:
            report.rejected.append(
                {
                    "name": self._scan_name(key, series),
                    "reason": _(
                        "its files lie in different class folders (%(folders)s): imported "
                        "without a pre-label"
                    )
                    % {"folders": ", ".join(sorted(names))},
                }
            )
            return None
        return classes.get(next(iter(names))) if names else None

    def _scan_name(self, key: str, series: dict[str, list[_Pending]]) -> str:
        first_name = min(p.source_name for pending in series.values() for p in pending)
        if self.project.unit == Project.Unit.STUDY:
            return _("study (first file %(name)s)") % {"name": first_name}
        return _("%(series)s (first file %(name)s)") % {
            "series": self.parts[next(iter(series))].description,
            "name": first_name,
        }

    def _series_name(self, series_uid: str, pending: list[_Pending]) -> str:
        files = {p.dicom_path for p in pending}
        first_name = min(p.source_name for p in pending)
        return _("%(series)s, %(count)s file(s) from %(name)s") % {
            "series": self.parts[series_uid].description,
            "count": len(files),
            "name": first_name,
        }

    def _merge(self, item: Item, series_uid: str, pending: list[_Pending], report) -> bool:
        """Add one series' new slices to the scan; False when none were added."""
        part = self.parts[series_uid]
        record, _created = ScanSeries.objects.get_or_create(
            item=item,
            series_uid=series_uid,
            defaults={
                "number": part.series_number,
                "modality": part.modality,
                "description": part.description,
            },
        )
        existing = list(record.slices.all())
        known = {(row.sop_uid, row.frame) for row in existing}
        fresh: dict[tuple[str, int], _Pending] = {}
        for slice_ in pending:
            where = (slice_.geometry.sop_uid, slice_.geometry.frame)
            if where in known or where in fresh:
                report.duplicates += 1 if slice_.geometry.frame == 0 else 0
                continue
            fresh[where] = slice_
        if not fresh:
            return False
        order = series_order(_stored_geometries(existing) + [p.geometry for p in fresh.values()])
        name = self._series_name(series_uid, list(fresh.values()))
        if order.refused:
            reason = (
                _("not imported: %(problem)s") % {"problem": order.refused}
                if not existing
                else _("not imported: with the slices imported before, %(problem)s")
                % {"problem": order.refused}
            )
            report.rejected.append({"name": name, "reason": reason})
            if not existing:
                record.delete()
            return False
        _slices_write(record, existing, fresh, order)
        geometry = order.slices[0]
        record.n_slices = len(order.slices)
        record.rows, record.columns = geometry.rows, geometry.columns
        record.problem = order.missing[:300]
        record.save(update_fields=["n_slices", "rows", "columns", "problem"])
        if order.missing:
            report.incomplete.append({"name": name, "reason": order.missing})
        return True

    def _drop_unused_files(self) -> None:
        """Files of refused series (or of a failed import) that no slice refers to."""
        if not self.written:
            return
        used = set(
            ScanSlice.objects.filter(
                series__item__project=self.project, dicom_path__in=self.written
            ).values_list("dicom_path", flat=True)
        )
        for name in self.written - used:
            default_storage.delete(name)


def _stored_geometries(rows: list[ScanSlice]) -> list[SliceGeometry]:
    """The geometry of slices stored before, read back from their files' headers."""
    wanted = {(row.sop_uid, row.frame) for row in rows}
    geometries = []
    for path in sorted({row.dicom_path for row in rows}):
        header = stored_header(stored_bytes(path))
        for geometry in slice_geometries(header, frame_count(header)):
            if (geometry.sop_uid, geometry.frame) in wanted:
                geometries.append(geometry)
    return geometries


def _slices_write(record: ScanSeries, existing, fresh, order) -> None:
    by_place = {(row.sop_uid, row.frame): row for row in existing}
    moved, added = [], []
    for index, (geometry, distance) in enumerate(zip(order.slices, order.distances, strict=True)):
        where = (geometry.sop_uid, geometry.frame)
        row = by_place.get(where)
        if row is not None:
            row.index, row.position = index, distance
            moved.append(row)
            continue
        added.append(
            ScanSlice(
                series=record,
                index=index,
                dicom_path=fresh[where].dicom_path,
                frame=geometry.frame,
                sop_uid=geometry.sop_uid,
                position=distance,
                instance_number=geometry.instance_number,
                slice_location=geometry.slice_location,
            )
        )
    # (series, index) is unique row by row: park the stored slices out of the way (no series
    # has a million slices), then give each its place.
    ScanSlice.objects.filter(series=record).update(index=F("index") + INDEX_PARKING)
    ScanSlice.objects.bulk_update(moved, ["index", "position"])
    ScanSlice.objects.bulk_create(added)


def _replace(name: str, data: bytes) -> str:
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def scan_image_refresh(*, item: Item) -> None:
    """Write the scan's representative slice (the item's PNG and DICOM file) and its montage,
    and its keys in ``metadata``; cached renditions of the old representative are dropped."""
    from labeler.selectors_scans import scan_series

    series = scan_series(item)
    if not series:
        return
    longest = max(series, key=lambda s: s.n_slices)
    slices = list(longest.slices.order_by("index"))
    middle = slices[len(slices) // 2]
    shown = stored_rendition(stored_bytes(middle.dicom_path), frame=middle.frame)
    picked = (
        [slices[i] for i in key_positions(len(slices))]
        if len(series) == 1
        else [s.slices.order_by("index")[s.n_slices // 2] for s in series[:9]]
    )
    montage = montage_png([(s.dicom_path, s.frame) for s in picked])
    with transaction.atomic():
        locked = Item.objects.select_for_update().get(pk=item.pk)
        file_name = _replace(item_file_path(locked, "file.png"), shown.rendition)
        _replace(item_file_path(locked, "file.dcm"), shown.dicom)
        _replace(montage_path(locked), montage)
        metadata = {**shown.metadata, "scan": _scan_keys(locked, series, longest, middle)}
        Item.objects.filter(pk=item.pk).update(file=file_name, metadata=metadata)
    _renditions_drop(item)


def _scan_keys(item: Item, series: list[ScanSeries], shown: ScanSeries, middle) -> dict:
    """What exports and pages read about a scan, all de-identified."""
    modalities = list(dict.fromkeys(s.modality for s in series if s.modality))
    study_uid = stored_header(stored_bytes(middle.dicom_path)).get("StudyInstanceUID", "")
    return {
        "unit": item.project.unit,
        "study_uid": str(study_uid),
        "series_uids": [s.series_uid for s in series],
        "modality": "/".join(modalities),
        "series_description": "; ".join(s.description for s in series),
        "slices": sum(s.n_slices for s in series),
        "series": len(series),
        "incomplete": any(s.problem for s in series),
        "shown": {"series_uid": shown.series_uid, "index": middle.index},
        "montage": montage_path(item),
    }


def _renditions_drop(item: Item) -> None:
    folder = f"{RENDITION_ROOT}/{item.project_id}/{item.pk}"
    try:
        _folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")
