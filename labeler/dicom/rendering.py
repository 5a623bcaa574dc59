"""Renditions: a DICOM frame as an 8-bit image a browser (and the image pipeline) can show.

Grayscale follows the standard's pipeline: Modality LUT (Rescale Slope/Intercept or a Modality
LUT Sequence, per frame for enhanced multi-frame objects), then the VOI stage (a window the
viewer asks for, else the file's VOI LUT, else its Window Center/Width, else the frame's
range), then MONOCHROME1 inversion. Colour (RGB, YBR, palette) is shown as stored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pydicom import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, pixel_array


@dataclass(frozen=True)
class Window:
    center: float
    width: float


# Hounsfield windows as radiology departments commonly set them (centre / width).
PRESETS: dict[str, Window] = {
    "brain": Window(40, 80),
    "soft_tissue": Window(40, 400),
    "lung": Window(-600, 1500),
    "bone": Window(400, 1800),
}


def frame_count(dataset: Dataset) -> int:
    try:
        return max(int(dataset.get("NumberOfFrames", 1) or 1), 1)
    except (TypeError, ValueError):
        return 1


def is_color(dataset: Dataset) -> bool:
    photometric = str(dataset.get("PhotometricInterpretation", "")).upper()
    return int(dataset.get("SamplesPerPixel", 1) or 1) > 1 or photometric == "PALETTE COLOR"


def _frame_group(dataset: Dataset, index: int, sequence: str) -> Dataset | None:
    """The functional-group item ``sequence`` for frame ``index`` of an enhanced object."""
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    if per_frame and index < len(per_frame) and sequence in per_frame[index]:
        return per_frame[index][sequence][0]
    shared = dataset.get("SharedFunctionalGroupsSequence")
    if shared and sequence in shared[0]:
        return shared[0][sequence][0]
    return None


def decode_frame(dataset: Dataset, index: int = 0) -> np.ndarray:
    if frame_count(dataset) == 1:
        return dataset.pixel_array
    return pixel_array(dataset, index=index)


def modality_values(dataset: Dataset, pixels: np.ndarray, index: int = 0) -> np.ndarray:
    transform = _frame_group(dataset, index, "PixelValueTransformationSequence")
    if "RescaleSlope" not in dataset and transform is not None:
        slope = float(transform.get("RescaleSlope", 1) or 1)
        intercept = float(transform.get("RescaleIntercept", 0) or 0)
        return pixels.astype(np.float32) * slope + intercept
    return np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float32)


def _first(value) -> float | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def own_window(dataset: Dataset, values: np.ndarray, index: int = 0) -> Window:
    """The file's window (its first one), else the frame's full range."""
    source = _frame_group(dataset, index, "FrameVOILUTSequence")
    for holder in (dataset, source):
        if holder is None:
            continue
        center = _first(holder.get("WindowCenter"))
        width = _first(holder.get("WindowWidth"))
        if center is not None and width is not None and width >= 1:
            return Window(center, width)
    low, high = float(np.min(values)), float(np.max(values))
    return Window((low + high) / 2, max(high - low, 1.0))


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 LINEAR windowing to 0..255."""
    width = max(window.width, 1.0)
    scaled = ((values - (window.center - 0.5)) / (width - 1 if width > 1 else 1) + 0.5) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _voi_lut(dataset: Dataset, values: np.ndarray) -> np.ndarray:
    lut = dataset.VOILUTSequence[0]
    bits = int(lut.LUTDescriptor[2]) or 16
    out = np.asarray(apply_voi(values, dataset), dtype=np.float32)
    return np.clip(out / (2**bits - 1) * 255.0, 0, 255).astype(np.uint8)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    top = float(np.max(rgb)) if rgb.size else 0.0
    if top <= 255:
        return rgb.astype(np.uint8)
    bits = 16 if top > 4095 else 12
    return np.clip(rgb.astype(np.float32) / (2**bits - 1) * 255.0, 0, 255).astype(np.uint8)


def render(
    dataset: Dataset, *, frame: int = 0, window: Window | None = None, invert: bool = False
) -> Image.Image:
    """Frame ``frame`` as an 8-bit PIL image (L or RGB). ``window`` None means the file's own
    presentation; ``invert`` flips grey levels after MONOCHROME1 has been accounted for."""
    frame = min(max(frame, 0), frame_count(dataset) - 1)
    pixels = decode_frame(dataset, frame)
    if is_color(dataset):
        if str(dataset.get("PhotometricInterpretation", "")).upper() == "PALETTE COLOR":
            pixels = apply_color_lut(pixels, dataset)
        rgb = _to_uint8(pixels)
        if invert:
            rgb = 255 - rgb
        return Image.fromarray(np.ascontiguousarray(rgb), mode="RGB")
    values = modality_values(dataset, pixels, frame)
    if window is None and "VOILUTSequence" in dataset:
        gray = _voi_lut(dataset, values)
    else:
        gray = apply_window(values, window or own_window(dataset, values, frame))
    if str(dataset.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        gray = 255 - gray
    if invert:
        gray = 255 - gray
    return Image.fromarray(np.ascontiguousarray(gray), mode="L")


def png_bytes(image: Image.Image, *, fast: bool = False) -> bytes:
    """PNG with no text chunks: a rendition carries pixels only. ``fast`` trades size for
    time (zlib level 1 is about four times quicker): for the viewer, where a window drag
    waits on it; the stored rendition is written once and compressed harder."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1 if fast else 6)
    return buffer.getvalue()
