"""Windowed renditions of a stored (de-identified) DICOM item, for the viewer.

Renditions in a preset or the file's own window are cached as PNG files beside the media; an
arbitrary window (a drag) is rendered on demand and not kept, so dragging cannot fill the disk.
The last few parsed files stay in memory so a drag does not re-read and re-decode the file.
"""

from __future__ import annotations

from functools import lru_cache

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from pydicom import Dataset

from labeler.dicom.reading import quiet, read_dataset
from labeler.dicom.rendering import PRESETS, Window, frame_count, png_bytes, render
from labeler.models import Item, item_file_path

RENDITION_ROOT = "renditions"


class RenditionError(ValueError):
    """The rendition cannot be made as asked (the message says why)."""


def dicom_name(item: Item) -> str | None:
    """The stored de-identified file of a DICOM item, or None for any other item."""
    if "dicom" not in (item.metadata or {}):
        return None
    return item_file_path(item, "file.dcm")


@lru_cache(maxsize=4)
def _dataset(name: str) -> Dataset:
    with default_storage.open(name, "rb") as handle:
        dataset = read_dataset(handle.read())
    return dataset


def stored_dataset(name: str) -> Dataset:
    """The parsed stored DICOM file ``name`` (one of the last few kept in memory)."""
    return _dataset(name)


def item_dataset(item: Item) -> Dataset:
    name = dicom_name(item)
    if name is None:
        raise RenditionError("this item is not a DICOM image")
    if not default_storage.exists(name):
        raise RenditionError("the item's DICOM file is missing")
    return _dataset(name)


def parse_window(preset: str, center: str, width: str) -> tuple[Window | None, str]:
    """A window from a preset name or centre/width; returns it and a cache label ('' = do not
    cache). Bad values raise ``RenditionError``."""
    if preset and preset != "own":
        if preset not in PRESETS:
            raise RenditionError(
                f"unknown preset {preset!r}; use one of: own, {', '.join(PRESETS)}"
            )
        return PRESETS[preset], preset
    if center or width:
        try:
            window = Window(float(center), float(width))
        except ValueError as error:
            raise RenditionError("wc and ww must be numbers") from error
        if not (window.width >= 1 and abs(window.center) < 1e7 and window.width < 1e7):
            raise RenditionError("ww must be at least 1, and both within ±10,000,000")
        return window, ""
    return None, "own"


def rendition(item: Item, *, frame: int, window: Window | None, invert: bool, label: str) -> bytes:
    dataset = item_dataset(item)
    frames = frame_count(dataset)
    if not 0 <= frame < frames:
        raise RenditionError(f"frame must be between 0 and {frames - 1}")
    cached = ""
    if label:
        cached = f"{RENDITION_ROOT}/{item.project_id}/{item.pk}/{frame}-{label}-{int(invert)}.png"
        if default_storage.exists(cached):
            with default_storage.open(cached, "rb") as handle:
                return handle.read()
    with quiet():
        data = png_bytes(render(dataset, frame=frame, window=window, invert=invert), fast=True)
    if cached:
        default_storage.save(cached, ContentFile(data))
    return data
