"""Ordering a series' slices and judging whether they make one volume
(labeler/dicom/geometry.py): pure functions, no database."""

import numpy as np
import pytest

from labeler.dicom.geometry import SliceGeometry, series_order

# Rows along (cos 30°, sin 30°, 0), columns along z: an oblique plane whose normal is neither
# an axis nor what the Instance Numbers say.
OBLIQUE = (np.cos(np.pi / 6), np.sin(np.pi / 6), 0.0, 0.0, 0.0, 1.0)


def slice_at(
    distance: float,
    *,
    orientation=OBLIQUE,
    number: int | None = None,
    size: int = 64,
    sop: str | None = None,
    positioned: bool = True,
) -> SliceGeometry:
    normal = np.cross(orientation[:3], orientation[3:])
    # Moved along the in-plane column direction (z) too, which the normal does not see.
    origin = np.array([0.0, 0.0, 30.0 + distance]) + normal * distance
    return SliceGeometry(
        study_uid="2.25.1",
        series_uid="2.25.2",
        sop_uid=sop or f"2.25.{int(distance * 10) + 1000}",
        frame=0,
        rows=size,
        columns=size,
        orientation=tuple(orientation) if positioned else None,
        position=tuple(float(v) for v in origin) if positioned else None,
        instance_number=number,
        slice_location=None,
    )


def test_slices_are_ordered_along_the_normal_of_an_oblique_plane_not_by_instance_number():
    distances = [12.5, -5.0, 0.0, 7.5, 2.5, -2.5, 5.0, 10.0]
    slices = [slice_at(d, number=n) for n, d in enumerate(distances, start=1)]

    order = series_order(slices)

    assert order.refused == "" and order.missing == ""
    assert order.distances == pytest.approx(sorted(distances), abs=1e-3)
    assert [s.instance_number for s in order.slices] == [2, 6, 3, 5, 7, 4, 8, 1]


def test_a_step_over_one_and_a_half_spacings_is_a_missing_slice():
    order = series_order([slice_at(d) for d in (0, 3, 6, 12, 15, 18)])

    assert order.refused == ""
    assert order.missing == "1 slice(s) missing between 6 and 12 mm (the usual spacing is 3 mm)"


def test_without_geometry_the_instance_number_orders_and_its_gap_is_reported():
    slices = [slice_at(0, number=n, positioned=False, sop=f"2.25.{n}") for n in (4, 1, 2, 6, 5)]

    order = series_order(slices)

    assert [s.instance_number for s in order.slices] == [1, 2, 4, 5, 6]
    assert order.distances == [None] * 5
    assert order.missing == "1 slice(s) missing between instance numbers 2 and 4"


@pytest.mark.parametrize(
    ("odd", "reason"),
    [
        (slice_at(9, size=32), "different sizes: 64×64 (3 slices), 32×32 (1 slices)"),
        (slice_at(9, orientation=(1.0, 0, 0, 0, 1.0, 0)), "different orientations"),
        (slice_at(3, sop="2.25.99"), "same position"),
        (slice_at(9, positioned=False), "some of its slices have an orientation"),
    ],
)
def test_slices_that_cannot_make_one_volume_are_refused_with_the_reason(odd, reason):
    order = series_order([slice_at(0), slice_at(3), slice_at(6), odd])

    assert reason in order.refused
