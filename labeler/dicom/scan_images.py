"""A scan's pictures for the parts of Tweezers that show or learn from one image per item: its
representative slice (the middle slice of its first series, as the item's PNG, so the
per-item representations and the single-image viewer work on series projects at once) and a
montage of key slices (for the imagefolder export). Read from the stored, de-identified
files only."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from django.core.files.storage import default_storage
from PIL import Image

from labeler.dicom.reading import quiet, read_dataset
from labeler.dicom.rendering import png_bytes, render

MONTAGE_SLICES = 9
MONTAGE_TILE = 256


def stored_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def slice_image(dicom_path: str, frame: int) -> Image.Image:
    """One slice in its file's own window."""
    with quiet():
        return render(read_dataset(stored_bytes(dicom_path)), frame=frame)


def key_positions(count: int, wanted: int = MONTAGE_SLICES) -> list[int]:
    """``wanted`` slice indexes spread evenly over ``count`` slices, ends excluded (the first
    and last slices of a scan are mostly outside the anatomy)."""
    if count <= wanted:
        return list(range(count))
    return [round((k + 1) * count / (wanted + 1)) for k in range(wanted)]


def montage_png(slices: Sequence[tuple[str, int]]) -> bytes:
    """The given slices (stored path, frame) tiled in a square-ish grid, each fitted into a
    ``MONTAGE_TILE`` square, on black."""
    tiles = []
    for path, frame in slices:
        tile = slice_image(path, frame).convert("L")
        tile.thumbnail((MONTAGE_TILE, MONTAGE_TILE))
        tiles.append(tile)
    columns = max(1, math.ceil(math.sqrt(len(tiles))))
    rows = max(1, math.ceil(len(tiles) / columns))
    sheet = Image.new("L", (columns * MONTAGE_TILE, rows * MONTAGE_TILE))
    for position, tile in enumerate(tiles):
        x = (position % columns) * MONTAGE_TILE + (MONTAGE_TILE - tile.width) // 2
        y = (position // columns) * MONTAGE_TILE + (MONTAGE_TILE - tile.height) // 2
        sheet.paste(tile, (x, y))
    return png_bytes(sheet)


def image_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size
