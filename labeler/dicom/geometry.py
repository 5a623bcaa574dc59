"""Where a slice lies in the patient, and the order of a series' slices: pure functions over
the de-identified keys of its instances (no Django, no file access).

Slices are ordered by their distance along the slice normal: the cross product of the row and
column direction cosines (Image Orientation Patient) dotted with Image Position Patient, the
way DICOM viewers and dcm2niix sort a volume. Without that geometry the Instance Number orders
them, and a multi-frame file's frames keep their own order when they carry no position.

A series is refused when its slices cannot make one volume (different sizes or orientations);
a gap in the positions (or in the instance numbers) is reported as a missing slice, and the
series is kept, to be completed if the slice arrives in a later import.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext as _
from pydicom import Dataset

ORIENTATION_TOLERANCE = 1e-3
# A step more than this many times the usual spacing means a slice is missing.
GAP_FACTOR = 1.5


@dataclass(frozen=True)
class SliceGeometry:
    """One frame of one de-identified instance, as the scan grouping needs it."""

    study_uid: str
    series_uid: str
    sop_uid: str
    frame: int
    rows: int
    columns: int
    orientation: tuple[float, ...] | None
    position: tuple[float, float, float] | None
    instance_number: int | None
    slice_location: float | None


@dataclass(frozen=True)
class SeriesOrder:
    """A series' slices in anatomical order, each slice's distance along the normal (None
    when ordered without geometry), why the series cannot be one volume (``refused``) or
    why it is incomplete (``missing``); both empty when it is whole."""

    slices: list[SliceGeometry]
    distances: list[float | None]
    refused: str = ""
    missing: str = ""


def _floats(value, count: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(np.isfinite(numbers)) else None


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _frame_plane(dataset: Dataset, frame: int) -> tuple[Dataset | None, Dataset | None]:
    """An enhanced multi-frame object's Plane Position and Plane Orientation items for
    ``frame`` (per-frame first, then shared)."""
    found: dict[str, Dataset | None] = {
        "PlanePositionSequence": None,
        "PlaneOrientationSequence": None,
    }
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    shared = dataset.get("SharedFunctionalGroupsSequence")
    for name in found:
        if per_frame and frame < len(per_frame) and per_frame[frame].get(name):
            found[name] = per_frame[frame][name][0]
        elif shared and shared[0].get(name):
            found[name] = shared[0][name][0]
    return found["PlanePositionSequence"], found["PlaneOrientationSequence"]


def slice_geometries(dataset: Dataset, frames: int) -> list[SliceGeometry]:
    """The slices of one (de-identified) instance: one per frame."""
    slices = []
    for frame in range(frames):
        position_item, orientation_item = (
            _frame_plane(dataset, frame) if frames > 1 else (None, None)
        )
        position = _floats((position_item or dataset).get("ImagePositionPatient"), 3)
        orientation = _floats((orientation_item or dataset).get("ImageOrientationPatient"), 6)
        slices.append(
            SliceGeometry(
                study_uid=str(dataset.get("StudyInstanceUID", "") or ""),
                series_uid=str(dataset.get("SeriesInstanceUID", "") or ""),
                sop_uid=str(dataset.get("SOPInstanceUID", "") or ""),
                frame=frame,
                rows=int(dataset.get("Rows", 0) or 0),
                columns=int(dataset.get("Columns", 0) or 0),
                orientation=orientation,
                position=position,  # type: ignore[arg-type]
                instance_number=_int(dataset.get("InstanceNumber")),
                slice_location=_number(dataset.get("SliceLocation")),
            )
        )
    return slices


def _int(value) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _normal(orientation: Sequence[float]) -> np.ndarray:
    row, column = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    return np.cross(row, column)


def _sizes_problem(slices: Sequence[SliceGeometry]) -> str:
    sizes = Counter((s.columns, s.rows) for s in slices)
    if len(sizes) == 1:
        return ""
    listed = ", ".join(f"{c}×{r} ({n} slices)" for (c, r), n in sizes.most_common())
    return _("its slices have different sizes: %(sizes)s") % {"sizes": listed}


def _orientation_problem(slices: Sequence[SliceGeometry]) -> str:
    oriented = [s.orientation for s in slices if s.orientation is not None]
    if not oriented:
        return ""
    if len(oriented) != len(slices):
        return _("some of its slices have an orientation (Image Orientation Patient) and some not")
    first = np.asarray(oriented[0])
    if all(np.allclose(first, o, atol=ORIENTATION_TOLERANCE) for o in oriented[1:]):
        return ""
    return _("its slices lie in different orientations (Image Orientation Patient differs)")


def _gap(values: Sequence[float], unit: str) -> str:
    steps = np.diff(np.asarray(values, dtype=np.float64))
    if len(steps) < 2:
        return ""
    spacing = float(np.median(steps))
    if spacing <= 0:
        return ""
    wide = np.flatnonzero(steps > GAP_FACTOR * spacing)
    if not len(wide):
        return ""
    at = int(wide[0])
    missing = max(int(round(float(steps[at]) / spacing)) - 1, 1)
    return _(
        "%(missing)s slice(s) missing between %(before)s and %(after)s "
        "(the usual spacing is %(spacing)s)"
    ) % {
        "missing": missing,
        "before": f"{values[at]:g}",
        "after": f"{values[at + 1]:g}{unit}",
        "spacing": f"{spacing:g}{unit}",
    }


def series_order(slices: Sequence[SliceGeometry]) -> SeriesOrder:
    """Order one series' slices; say why they cannot be one volume, or what is missing."""
    slices = list(slices)
    refused = _sizes_problem(slices) or _orientation_problem(slices)
    if refused:
        return SeriesOrder(slices, [None] * len(slices), refused=refused)
    if slices and all(s.position is not None and s.orientation is not None for s in slices):
        normal = _normal(slices[0].orientation)  # type: ignore[arg-type]
        distances = [float(np.dot(normal, s.position)) for s in slices]  # type: ignore[arg-type]
        order = sorted(range(len(slices)), key=lambda i: (distances[i], slices[i].frame))
        ordered = [slices[i] for i in order]
        along = [round(distances[i], 4) for i in order]
        if len(set(along)) != len(along):
            return SeriesOrder(
                ordered,
                along,  # type: ignore[arg-type]
                refused=_(
                    "several of its slices lie at the same position (more than one "
                    "acquisition in one series)"
                ),
            )
        return SeriesOrder(ordered, along, missing=_gap(along, " mm"))  # type: ignore[arg-type]
    order = sorted(
        range(len(slices)),
        key=lambda i: (
            slices[i].instance_number is None,
            slices[i].instance_number or 0,
            slices[i].frame,
            slices[i].sop_uid,
        ),
    )
    ordered = [slices[i] for i in order]
    numbers = [s.instance_number for s in ordered if s.frame == 0]
    missing = ""
    if numbers and all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        missing = _instance_gap(numbers)  # type: ignore[arg-type]
    return SeriesOrder(ordered, [None] * len(ordered), missing=missing)


def _instance_gap(numbers: list[int]) -> str:
    for before, after in zip(numbers, numbers[1:], strict=False):
        if after - before > 1:
            return _(
                "%(missing)s slice(s) missing between instance numbers %(before)s and %(after)s"
            ) % {"missing": after - before - 1, "before": before, "after": after}
    return ""


@dataclass(frozen=True)
class ScanPart:
    """What one de-identified instance adds to a scan: its slices (one per frame) and what it
    says about its series."""

    slices: tuple[SliceGeometry, ...]
    series_number: int | None
    modality: str
    description: str


def series_description(dataset: Dataset) -> str:
    """A series' description from what de-identification keeps: the profile removes Series
    Description and Protocol Name (free text that may name the patient), so this is built
    from the modality, the series number and the MR sequence name (a scanner's code)."""
    modality = str(dataset.get("Modality", "") or "").strip() or "DICOM"
    number = _int(dataset.get("SeriesNumber"))
    text = f"{modality} series {number}" if number is not None else f"{modality} series"
    sequence = str(dataset.get("SequenceName", "") or "").strip()
    return f"{text} ({sequence[:40]})" if sequence else text


def scan_part(dataset: Dataset, frames: int) -> ScanPart:
    """Read from the de-identified dataset only: every UID in it is a project-keyed one."""
    return ScanPart(
        slices=tuple(slice_geometries(dataset, frames)),
        series_number=_int(dataset.get("SeriesNumber")),
        modality=str(dataset.get("Modality", "") or "").strip()[:16],
        description=series_description(dataset)[:200],
    )
