"""From the bytes of one DICOM file to an import candidate, or a rejection with its reason.

Order matters for confidentiality: the file is parsed in memory, refused if it may show the
patient's identity in its pixels, decoded and rendered, then de-identified; only the
de-identified file, its rendition and de-identified keys leave this module. Rejection reasons
are our own sentences, and any decoder message is scrubbed of the file's text values first.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

import pydicom
import pydicom.config
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydicom import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from labeler.dicom import pixel_text
from labeler.dicom.deidentify import BURNED_IN_REFUSED, burned_in_annotation, deidentify, scrubbed
from labeler.dicom.geometry import ScanPart, scan_part
from labeler.dicom.rendering import (
    decode_frame,
    frame_count,
    is_color,
    modality_values,
    own_window,
    png_bytes,
    render,
)

# pydicom's validation warnings quote the offending value (a birth date, a name): never let
# them reach a log. Tweezers reads leniently and writes what it read.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
logging.getLogger("pydicom").setLevel(logging.ERROR)

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}
# Reasons in the importing user's language (a worker's import job writes the default one).
PIXEL_TEXT_REFUSED = gettext_lazy(
    "text was found burned into the pixels (it may identify the patient); this project "
    "refuses such images (its settings can mask the text instead)"
)
PIXEL_TEXT_UNMASKED = gettext_lazy("text was found burned into the pixels and could not be masked")
PIXEL_TEXT_UNCHECKED = gettext_lazy("the pixels could not be checked for burned-in text")
MASK_PASSES = 3
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass(frozen=True)
class DicomOptions:
    """What a project decides about DICOM: its UID key and whether burned-in text is allowed."""

    uid_secret: str
    allow_burned_in: bool = False
    # Text found in the pixels by OCR: masked (True) or the file refused (False).
    mask_pixel_text: bool = False


@dataclass(frozen=True)
class DicomFile:
    """A de-identified DICOM file ready to store: the file, its default rendition (PNG), and
    the de-identified keys an item keeps in its metadata."""

    dicom: bytes
    rendition: bytes
    metadata: dict
    # Its slices and series, for a project whose items are series or studies.
    scan: ScanPart | None = None

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.dicom).hexdigest()


class DicomRejected(ValueError):
    """The file cannot be imported; the message is safe to show and store."""


def item_name(keys: dict) -> str:
    """A DICOM item's name, from de-identified keys only (never the file's or its folder's
    name, which may be a patient's): its modality and its project-keyed SOP Instance UID."""
    return f"{keys.get('modality') or 'DICOM'} {keys.get('sop_uid') or 'instance'}"


def file_reference(data: bytes) -> str:
    """How a report names a DICOM file it refused: by the start of its SHA-256, which the
    person who sent it can find (``sha256sum``) and nobody else can read a name from."""
    return f"DICOM file sha256:{hashlib.sha256(data).hexdigest()[:12]}"


def has_preamble(head: bytes) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


def looks_like_dicom(name: str, head: bytes) -> bool:
    """A ``.dcm``-like name, or the ``DICM`` marker after the 128-byte preamble (files from
    a PACS or a CD often have no extension at all)."""
    return PurePosixPath(name).suffix.lower() in DICOM_SUFFIXES or has_preamble(head)


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _unreadable(error: Exception) -> str:
    return _("not a readable DICOM file (%(error)s)") % {"error": type(error).__name__}


def _parse(data: bytes) -> Dataset:
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=not has_preamble(data))
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OSError) as error:
        raise DicomRejected(_unreadable(error)) from error
    except Exception as error:  # noqa: BLE001 - pydicom raises many kinds on a broken header
        raise DicomRejected(_unreadable(error)) from error
    meta = getattr(dataset, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        # A bare dataset without the file meta header: say how it was encoded.
        implicit, little = dataset.original_encoding
        if implicit is None:
            raise DicomRejected(_("not a DICOM file (no DICOM header found)"))
        dataset.file_meta = pydicom.dataset.FileMetaDataset()
        dataset.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian
            if implicit
            else ExplicitVRLittleEndian
            if little
            else ExplicitVRBigEndian
        )
    return dataset


def _transfer_syntax_name(dataset: Dataset) -> str:
    uid = dataset.file_meta.get("TransferSyntaxUID")
    return uid.name if uid is not None else "unknown transfer syntax"


def read_dataset(data: bytes) -> Dataset:
    """Parse stored (already de-identified) bytes, for renditions."""
    with quiet():
        return _parse(data)


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    return "" if value is None else str(value).strip()


def _number(dataset: Dataset, keyword: str) -> int | None:
    try:
        value = dataset.get(keyword)
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _metadata(dataset: Dataset, *, window) -> dict:
    """Keys read after de-identification only: every UID here is a project-keyed one."""
    return {
        "study_uid": _text(dataset, "StudyInstanceUID"),
        "series_uid": _text(dataset, "SeriesInstanceUID"),
        "sop_uid": _text(dataset, "SOPInstanceUID"),
        "sop_class": _text(dataset, "SOPClassUID"),
        "modality": _text(dataset, "Modality"),
        "body_part": _text(dataset, "BodyPartExamined"),
        "series_number": _number(dataset, "SeriesNumber"),
        "instance_number": _number(dataset, "InstanceNumber"),
        "frames": frame_count(dataset),
        "rows": _number(dataset, "Rows"),
        "columns": _number(dataset, "Columns"),
        "photometric": _text(dataset, "PhotometricInterpretation"),
        "color": is_color(dataset),
        "transfer_syntax": _transfer_syntax_name(dataset),
        "window": [window.center, window.width] if window else None,
        "burned_in_annotation": _text(dataset, "BurnedInAnnotation") or "unknown",
    }


def _text_in(dataset: Dataset, frames: int) -> list[pixel_text.Box]:
    """Words read in the first, middle and last frames (a cine's overlay is on every frame;
    reading all of a 120-frame loop would take minutes)."""
    boxes: list[pixel_text.Box] = []
    for frame in sorted({0, frames // 2, frames - 1}):
        try:
            image = render(dataset, frame=frame)
        except Exception:  # noqa: BLE001 - a frame that cannot be decoded is reported below
            continue
        boxes.extend(pixel_text.text_boxes(image))
    return boxes


def _pixel_text_check(dataset: Dataset, *, frames: int, mask_it: bool) -> None:
    """Refuse, or mask, text burned into the pixels; refuse what could not be checked."""
    try:
        boxes = _text_in(dataset, frames)
        if boxes and not mask_it:
            raise DicomRejected(str(PIXEL_TEXT_REFUSED))
        # Painting over words can let Tesseract read fainter ones next to them: read again.
        for _pass in range(MASK_PASSES):
            if not boxes:
                return
            try:
                pixel_text.mask(dataset, boxes)
            except Exception as error:  # noqa: BLE001 - pixel handlers raise anything
                raise DicomRejected(str(PIXEL_TEXT_UNMASKED)) from error
            boxes = _text_in(dataset, frames)
        if boxes:
            raise DicomRejected(str(PIXEL_TEXT_UNMASKED))
    except pixel_text.PixelTextUnchecked as error:
        raise DicomRejected(
            _("%(reason)s: %(error)s") % {"reason": PIXEL_TEXT_UNCHECKED, "error": error}
        ) from error


def dicom_file(data: bytes, options: DicomOptions, *, max_pixels: int) -> DicomFile:
    """De-identify and render one DICOM file, or raise ``DicomRejected`` with a safe reason."""
    with quiet():
        dataset = _parse(data)
        if not any(keyword in dataset for keyword in PIXEL_KEYWORDS):
            raise DicomRejected(
                _(
                    "no image in this DICOM file: it has no Pixel Data (a truncated file, a "
                    "report, a structured document or a presentation state)"
                )
            )
        rows, columns = _number(dataset, "Rows") or 0, _number(dataset, "Columns") or 0
        frames = frame_count(dataset)
        if rows * columns * frames > max_pixels:
            raise DicomRejected(
                _(
                    "image is %(columns)s×%(rows)s×%(frames)s frames = %(pixels)s pixels, over "
                    "the %(limit)s pixel limit"
                )
                % {
                    "columns": columns,
                    "rows": rows,
                    "frames": frames,
                    "pixels": f"{rows * columns * frames:,}",
                    "limit": f"{max_pixels:,}",
                }
            )
        if burned_in_annotation(dataset) and not options.allow_burned_in:
            raise DicomRejected(str(BURNED_IN_REFUSED))
        middle = frames // 2
        if not options.allow_burned_in:
            _pixel_text_check(dataset, frames=frames, mask_it=options.mask_pixel_text)
        try:
            image = render(dataset, frame=middle)
            window = None
            if not is_color(dataset):
                values = modality_values(dataset, decode_frame(dataset, middle), middle)
                window = own_window(dataset, values, middle)
        except Exception as error:  # noqa: BLE001 - decoders raise anything on bad data
            detail = scrubbed(str(error), dataset)[:300]
            raise DicomRejected(
                _("cannot decode the pixel data (%(syntax)s): %(error)s")
                % {"syntax": _transfer_syntax_name(dataset), "error": detail}
            ) from error
        try:
            deidentify(dataset, secret=options.uid_secret)
            buffer = io.BytesIO()
            dataset.save_as(buffer, enforce_file_format=True)
        except Exception as error:  # noqa: BLE001 - refuse rather than store a half-cleaned file
            raise DicomRejected(
                _("could not de-identify this file (%(error)s); it was not imported")
                % {"error": type(error).__name__}
            ) from error
        return DicomFile(
            dicom=buffer.getvalue(),
            rendition=png_bytes(image),
            # width/height as for any image item: the image pipeline sizes its features by them.
            metadata={
                "width": image.width,
                "height": image.height,
                "dicom": _metadata(dataset, window=window),
            },
            scan=scan_part(dataset, frames),
        )


def stored_rendition(data: bytes, *, frame: int) -> DicomFile:
    """A stored (already de-identified) file's rendition of ``frame`` and the keys an item
    keeps, as ``dicom_file`` gives them on import: what a scan item shows as its own image."""
    with quiet():
        dataset = _parse(data)
        image = render(dataset, frame=frame)
        window = None
        if not is_color(dataset):
            values = modality_values(dataset, decode_frame(dataset, frame), frame)
            window = own_window(dataset, values, frame)
    return DicomFile(
        dicom=data,
        rendition=png_bytes(image),
        metadata={
            "width": image.width,
            "height": image.height,
            "dicom": _metadata(dataset, window=window),
        },
    )


def stored_header(data: bytes) -> Dataset:
    """A stored file's header (no pixels): where a slice lies, for merging a series."""
    with quiet():
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
