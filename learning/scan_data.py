"""Labeled scans for the simulator and the benchmark: a folder ``class/<scan>/<slices>`` (PNG
or DICOM slices) read into ordered slice files, and a synthetic scan set whose label depends
on a few slices of many.

DICOM slices are ordered along the slice normal (Image Position / Orientation Patient), then
by Instance Number, then by file name, and rendered once to 8-bit PNGs in a scratch folder so
the image representations read them like any other image (nothing is written into the data
folder). PNG slices are ordered by file name, numbers compared as numbers.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from learning.datasets import IMAGE_SUFFIXES, DatasetError

DICOM_SUFFIXES = {".dcm", ".dicom"}


@dataclass
class LabeledScans:
    """``slices[i]``: the ordered slice image files of scan ``i``; ``y`` ``(n_scans,)`` labels;
    ``names[i]``: ``class/scan`` as found in the folder."""

    slices: list[list[Path]]
    y: NDArray
    names: list[str]
    source: Path

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, positions: NDArray[np.int64]) -> LabeledScans:
        return LabeledScans(
            [self.slices[i] for i in positions],
            self.y[positions],
            [self.names[i] for i in positions],
            self.source,
        )


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def is_scan_folder(path: str | Path) -> bool:
    """True when ``path`` holds class folders whose entries are scan folders (not images)."""
    root = Path(path)
    if not root.is_dir():
        return False
    classes = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return bool(classes) and all(
        any(child.is_dir() for child in folder.iterdir()) for folder in classes
    )


def _dicom_order(files: list[Path]) -> list[Path]:
    """Slices along the normal of their orientation; Instance Number, then name, otherwise."""
    import pydicom

    keyed = []
    for file in files:
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except Exception as error:  # pydicom raises many kinds for a broken file
            raise DatasetError(f"{file}: cannot read DICOM ({error})") from None
        position = header.get("ImagePositionPatient")
        orientation = header.get("ImageOrientationPatient")
        along = None
        if position is not None and orientation is not None and len(orientation) == 6:
            normal = np.cross(
                np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
            )
            along = float(np.dot(normal, np.asarray(position, float)))
        number = header.get("InstanceNumber")
        keyed.append((along is None, along or 0.0, int(number or 0), _natural_key(file), file))
    return [entry[-1] for entry in sorted(keyed, key=lambda entry: entry[:4])]


def _dicom_png(file: Path, scratch: Path) -> Path:
    """The slice as an 8-bit grayscale PNG: its own window, else its full range."""
    import pydicom
    from PIL import Image

    dataset = pydicom.dcmread(file)
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut

        values = apply_voi_lut(apply_modality_lut(dataset.pixel_array, dataset), dataset)
    except Exception as error:
        raise DatasetError(f"{file}: cannot decode its pixels ({error})") from None
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 3:  # colour or several frames: the first plane/frame stands for it
        values = values[..., 0] if values.shape[-1] in (3, 4) else values[0]
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    if str(dataset.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        scaled = 1.0 - scaled
    target = scratch / f"{len(list(scratch.iterdir()))}.png"
    Image.fromarray((scaled * 255).astype(np.uint8)).save(target)
    return target


def _scan_slices(folder: Path, scratch: Path | None) -> tuple[list[Path], Path | None]:
    files = sorted((f for f in folder.rglob("*") if f.is_file()), key=_natural_key)
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    dicoms = [f for f in files if f.suffix.lower() in DICOM_SUFFIXES]
    if images and dicoms:
        raise DatasetError(f"{folder}: mixes image files and DICOM slices; use one kind per scan")
    if images:
        return images, scratch
    if not dicoms:
        raise DatasetError(f"{folder}: no slices (PNG/JPEG images or .dcm files) found")
    scratch = scratch or Path(tempfile.mkdtemp(prefix="tweezers-scans-"))
    return [_dicom_png(file, scratch) for file in _dicom_order(dicoms)], scratch


def load_scans(path: str | Path) -> LabeledScans:
    """Read ``path/<class>/<scan>/<slice files>``; raises :class:`DatasetError` naming the
    folder or file at fault."""
    root = Path(path)
    if not is_scan_folder(root):
        raise DatasetError(f"{root}: expected class folders holding one folder per scan")
    slices, labels, names = [], [], []
    scratch: Path | None = None
    for label_folder in sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        for scan in sorted(p for p in label_folder.iterdir() if p.is_dir()):
            files, scratch = _scan_slices(scan, scratch)
            slices.append(files)
            labels.append(label_folder.name)
            names.append(f"{label_folder.name}/{scan.name}")
    y = np.asarray(labels)
    if len(np.unique(y)) < 2 or len(y) < 4:
        raise DatasetError(f"{root}: needs at least 4 scans of at least 2 classes")
    return LabeledScans(slices, y, names, root)


def synthetic_scans(
    slice_images: NDArray,
    slice_classes: NDArray,
    *,
    target: int,
    n_scans: int,
    n_slices: int = 24,
    positive_slices: tuple[int, int] = (2, 3),
    positive_share: float = 0.5,
    rng: np.random.Generator,
) -> tuple[list[NDArray[np.int64]], NDArray[np.int64]]:
    """Scans built from labeled single images (e.g. digits): each scan is ``n_slices`` images
    of other classes; a positive scan (label 1) has 2–3 of them, at random places, replaced by
    images of class ``target``. Returns per scan the image indices in slice order, and labels.
    Only ``slice_classes`` is read; ``slice_images`` fixes the index space."""
    if len(slice_images) != len(slice_classes):
        raise ValueError("slice_images and slice_classes must have the same length")
    targets = np.flatnonzero(slice_classes == target)
    others = np.flatnonzero(slice_classes != target)
    scans, labels = [], []
    for _ in range(n_scans):
        positive = bool(rng.random() < positive_share)
        chosen = rng.choice(others, size=n_slices)
        if positive:
            k = int(rng.integers(positive_slices[0], positive_slices[1] + 1))
            places = rng.choice(n_slices, size=k, replace=False)
            chosen[places] = rng.choice(targets, size=k)
        scans.append(chosen.astype(np.int64))
        labels.append(int(positive))
    return scans, np.asarray(labels, dtype=np.int64)
