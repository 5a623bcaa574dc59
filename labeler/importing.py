"""Reading and validating import sources: image files, folders and zips; CSV and JSONL texts.

Readers yield ``Candidate`` (an item ready to store) or ``Rejection`` (what was wrong and where),
one per file or row, so a bad file is reported and skipped while the rest imports. Nothing here
touches the database or writes a file: zips are read in memory, entry by entry, and never
extracted, so no entry name can reach the disk.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, UnidentifiedImageError

from labeler.importing_entries import (
    Candidate,
    Entry,
    ImportSourceError,
    Limits,
    Rejection,
    clean_name,
    is_hidden,
    metadata_problem,
    sha256,
    too_big,
    unsafe_entry_reason,
    user_metadata,
)
from labeler.importing_text import (
    LABEL_COLUMNS,
    TEXT_COLUMNS,
    read_csv,
    read_jsonl,
    read_text_file,
    record_findings,
    text_candidate,
)

if TYPE_CHECKING:
    from labeler.dicom.reading import DicomOptions

# Callers use one module for every reader and the types they yield.
__all__ = [
    "LABEL_COLUMNS",
    "TEXT_COLUMNS",
    "Candidate",
    "Entry",
    "ImportSourceError",
    "Limits",
    "Rejection",
    "clean_name",
    "dicom_candidate",
    "image_candidate",
    "image_or_dicom_candidate",
    "metadata_problem",
    "read_csv",
    "read_folder",
    "read_jsonl",
    "read_text_file",
    "read_upload",
    "read_zip",
    "record_findings",
    "text_candidate",
    "user_metadata",
]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
TEXT_SUFFIXES = {".csv", ".jsonl", ".ndjson"}
ALLOWED_IMAGE_FORMATS = {"PNG": ".png", "JPEG": ".jpg"}
# Reasons are translated where they are made, in the language of whoever started the import
# (a worker's job runs in the language of the request that queued it).
NOT_AN_IMAGE = gettext_lazy("not an image file (expected .png, .jpg, .jpeg)")
DICOM_NEEDS_AN_IMAGE_PROJECT = gettext_lazy("DICOM files import into an image project only")


def image_candidate(
    name: str, data: bytes, limits: Limits, prelabel: str | None = None
) -> Candidate | Rejection:
    if len(data) > limits.max_file_bytes:
        return Rejection(name, too_big(len(data), limits))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            image_format = probe.format
            # The header alone tells the size: refuse a decompression bomb before decoding.
            if width * height > limits.max_image_pixels:
                return Rejection(
                    name,
                    _(
                        "image is %(width)s×%(height)s = %(pixels)s pixels, over the %(limit)s "
                        "pixel limit"
                    )
                    % {
                        "width": width,
                        "height": height,
                        "pixels": f"{width * height:,}",
                        "limit": f"{limits.max_image_pixels:,}",
                    },
                )
            if image_format not in ALLOWED_IMAGE_FORMATS:
                return Rejection(
                    name,
                    _("unsupported image format %(format)s; use PNG or JPEG")
                    % {"format": image_format},
                )
            probe.verify()
        # verify() does not decode pixel data; a truncated stream only fails on load().
        with Image.open(io.BytesIO(data)) as decoded:
            decoded.load()
    except Image.DecompressionBombError:
        # Pillow refuses to even open images far over its own cap.
        return Rejection(
            name,
            _("image is over the %(limit)s pixel limit (decompression bomb)")
            % {"limit": f"{limits.max_image_pixels:,}"},
        )
    except UnidentifiedImageError:
        return Rejection(name, _("not a readable image (corrupt or not PNG/JPEG)"))
    except (OSError, SyntaxError, ValueError) as error:
        return Rejection(name, _("corrupt image: %(error)s") % {"error": error})
    return Candidate(
        source_name=name,
        checksum=sha256(data),
        content=data,
        suffix=ALLOWED_IMAGE_FORMATS[image_format],
        prelabel=prelabel,
        metadata={"width": width, "height": height},
    )


def image_or_dicom_candidate(
    name: str,
    data: bytes,
    limits: Limits,
    prelabel: str | None = None,
    *,
    dicom: DicomOptions | None = None,
) -> Candidate | Rejection:
    """A PNG/JPEG image, or a DICOM file (by its name or its ``DICM`` marker)."""
    if looks_like_dicom_file(name, data):
        return dicom_candidate(name, data, limits, dicom, prelabel)
    if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
        return Rejection(name, str(NOT_AN_IMAGE))
    return image_candidate(name, data, limits, prelabel)


def read_zip(
    name: str, stream: BinaryIO, limits: Limits, *, kind: str, dicom: DicomOptions | None = None
) -> tuple[int, Iterator[Entry]]:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportSourceError(
            _("%(name)s: not a readable zip file (%(error)s)") % {"name": name, "error": error}
        ) from error
    members = [info for info in archive.infolist() if not info.is_dir()]
    if not members:
        raise ImportSourceError(_("%(name)s: the zip file contains no files") % {"name": name})
    declared_total = sum(info.file_size for info in members)
    if declared_total > limits.max_total_bytes:
        raise ImportSourceError(
            _("%(name)s: unpacks to %(size)s bytes, over the %(limit)s limit")
            % {
                "name": name,
                "size": f"{declared_total:,}",
                "limit": f"{limits.max_total_bytes:,}",
            }
        )

    def entries() -> Iterator[Entry]:
        with archive:
            for info in members:
                entry_name = info.filename
                reason = unsafe_entry_reason(entry_name)
                if reason:
                    yield Rejection(entry_name, reason)
                    continue
                if is_hidden(entry_name):
                    continue
                suffix = PurePosixPath(entry_name).suffix.lower()
                if kind == "image":
                    if suffix in TEXT_SUFFIXES:
                        yield Rejection(entry_name, str(NOT_AN_IMAGE))
                        continue
                    if info.file_size > limits.max_file_bytes:
                        yield Rejection(entry_name, too_big(info.file_size, limits))
                        continue
                    try:
                        with archive.open(info) as member:
                            # Read one byte past the limit: a lying header cannot make us
                            # inflate more than that.
                            data = member.read(limits.max_file_bytes + 1)
                    except ZIP_MEMBER_ERRORS as error:
                        yield Rejection(
                            entry_name,
                            _("cannot read from the archive: %(error)s") % {"error": error},
                        )
                        continue
                    parent = PurePosixPath(entry_name).parent
                    prelabel = parent.name if parent.name else None
                    yield image_or_dicom_candidate(entry_name, data, limits, prelabel, dicom=dicom)
                elif suffix in TEXT_SUFFIXES:
                    yield from _zip_text_member(archive, info, limits)
                else:
                    yield Rejection(entry_name, _("not a CSV or JSONL file"))

    return len(members), entries()


# What a damaged member raises while it is read: a bad CRC (BadZipFile), a corrupt deflate
# stream (zlib.error), a truncated one (EOFError), an encrypted one (RuntimeError).
ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError)


def _zip_text_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits):
    """A CSV or JSONL member, read whole (within the size limit) before parsing, so a damaged
    member is one rejection, not an error halfway through a batch."""
    if info.file_size > limits.max_total_bytes:
        yield Rejection(info.filename, too_big(info.file_size, limits))
        return
    try:
        with archive.open(info) as member:
            data = member.read(limits.max_total_bytes + 1)
    except ZIP_MEMBER_ERRORS as error:
        yield Rejection(
            info.filename, _("cannot read from the archive: %(error)s") % {"error": error}
        )
        return
    try:
        yield from read_text_file(info.filename, io.BytesIO(data), limits)
    except ImportSourceError as error:
        yield Rejection(info.filename, str(error))


def looks_like_dicom_file(name: str, data: bytes) -> bool:
    # pydicom is imported only when a DICOM import needs it.
    from labeler.dicom.reading import looks_like_dicom

    return looks_like_dicom(name, data[:132])


def dicom_candidate(
    name: str,
    data: bytes,
    limits: Limits,
    options: DicomOptions | None,
    prelabel: str | None = None,
    *,
    own_name: bool = False,
) -> Candidate | Rejection:
    """One DICOM file in, its de-identified copy and rendition out (or why not), named without
    ``name`` unless ``own_name`` says Tweezers made it (a PACS position); everything after
    that (batches, duplicates, pre-labels from class folders) is the same as for PNG and
    JPEG."""
    from labeler.dicom.reading import DicomRejected, dicom_file, file_reference, item_name

    # A DICOM file's or folder's name may be the patient's: reports name the file by its
    # checksum, items by their de-identified keys.
    reference = name if own_name else file_reference(data)
    if options is None:
        return Rejection(reference, str(DICOM_NEEDS_AN_IMAGE_PROJECT))
    if len(data) > limits.max_file_bytes:
        return Rejection(reference, too_big(len(data), limits))
    try:
        stored = dicom_file(data, options, max_pixels=limits.max_image_pixels)
    except DicomRejected as rejected:
        return Rejection(reference, str(rejected))
    return Candidate(
        source_name=name if own_name else item_name(stored.metadata["dicom"]),
        checksum=stored.checksum,
        content=stored.rendition,
        suffix=".png",
        prelabel=prelabel,
        metadata=stored.metadata,
        dicom=stored.dicom,
        scan=stored.scan,
    )


def _count_lines(stream: BinaryIO) -> int:
    count = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
    stream.seek(0)
    return count


def read_upload(
    name: str, stream: BinaryIO, limits: Limits, *, kind: str, dicom: DicomOptions | None = None
) -> tuple[int, Iterator[Entry]]:
    """Read one uploaded or named file. Returns an estimate of the entry count (for progress
    bars) and the entries."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".zip":
        return read_zip(name, stream, limits, kind=kind, dicom=dicom)
    if kind == "image":
        data = stream.read(limits.max_file_bytes + 1)
        base = PurePosixPath(name).name
        if suffix not in IMAGE_SUFFIXES and not looks_like_dicom_file(base, data):
            raise ImportSourceError(
                _(
                    "%(name)s: image projects import .png/.jpg or DICOM files, folders or "
                    ".zip archives"
                )
                % {"name": name}
            )
        return 1, iter([image_or_dicom_candidate(base, data, limits, dicom=dicom)])
    total = max(_count_lines(stream) - (1 if suffix == ".csv" else 0), 0)
    return total, read_text_file(PurePosixPath(name).name, stream, limits)


def read_folder(
    root: Path, limits: Limits, *, kind: str, dicom: DicomOptions | None = None
) -> tuple[int, Iterator[Entry]]:
    """Images in a folder; a file's immediate class sub-folder is its pre-label. Links are not
    followed, so a folder cannot smuggle in files from elsewhere."""
    if kind != "image":
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
    else:
        files = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    files = [p for p in files if not is_hidden(str(p.relative_to(root)))]

    def entries() -> Iterator[Entry]:
        for path in files:
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                yield Rejection(relative, _("symbolic links are not followed"))
                continue
            if kind != "image":
                with path.open("rb") as stream:
                    yield from read_text_file(relative, stream, limits)
                continue
            if path.suffix.lower() in TEXT_SUFFIXES:
                yield Rejection(relative, str(NOT_AN_IMAGE))
                continue
            size = path.stat().st_size
            if size > limits.max_file_bytes:
                yield Rejection(relative, too_big(size, limits))
                continue
            parent = path.parent
            prelabel = parent.name if parent != root else None
            yield image_or_dicom_candidate(
                relative, path.read_bytes(), limits, prelabel, dicom=dicom
            )

    return len(files), entries()
