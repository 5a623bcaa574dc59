"""DICOM test material: the pydicom-data samples (real files, shipped offline in a wheel) and a
CT slice from them dressed with identifiers distinctive enough to search every stored byte for."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import data_store
import pydicom
from pydicom import Dataset, Sequence
from pydicom.uid import generate_uid

SAMPLES = Path(data_store.__file__).parent / "data"
# The one pydicom-data file no reader can use: its pixel data was cut off.
UNDECODABLE = {"emri_small_jpeg_2k_lossless_too_short.dcm"}
IDENTIFIER_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "InstitutionName",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
)
# Shorter values ("0010", "OFFIS") occur by chance in megabytes of pixels and dummy dates, or
# are also the manufacturer's name, which the profile keeps: they cannot be searched for.
MIN_SEARCHABLE = 6


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix == ".dcm")


def samples_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sample_files():
            archive.write(file, file.name)
    return path


def identified_ct(
    *,
    patient_name: str = "Hong^Gildong^Minsu",
    patient_id: str = "PID-77342190",
    study_uid: str | None = None,
    series_uid: str | None = None,
    burned_in: str | None = None,
) -> bytes:
    """A real CT slice (pydicom-data's 693_UNCI) carrying identifiers everywhere the profile
    must reach: top level, nested sequences, private tags and the file meta header."""
    dataset = pydicom.dcmread(SAMPLES / "693_UNCI.dcm")
    sop_uid = generate_uid()
    dataset.PatientName = patient_name
    dataset.PatientID = patient_id
    dataset.PatientBirthDate = "19580317"
    dataset.InstitutionName = "Seoul Example General Hospital"
    dataset.InstitutionAddress = "123 Example-ro, Jongno-gu"
    dataset.ReferringPhysicianName = "Kim^Referrer^Doctor"
    dataset.AccessionNumber = "ACC99887766"
    dataset.StudyDescription = "CT HEAD for Hong Gildong Minsu"
    dataset.StudyInstanceUID = study_uid or generate_uid()
    dataset.SeriesInstanceUID = series_uid or generate_uid()
    dataset.SOPInstanceUID = sop_uid
    dataset.FrameOfReferenceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = sop_uid
    dataset.file_meta.SourceApplicationEntityTitle = "HOSPITALPACS1"
    other = Dataset()
    other.PatientID = "OTHER-PID-5566"
    dataset.OtherPatientIDsSequence = Sequence([other])
    referenced = Dataset()
    referenced.ReferencedSOPClassUID = dataset.SOPClassUID
    referenced.ReferencedSOPInstanceUID = sop_uid
    dataset.ReferencedImageSequence = Sequence([referenced])
    request = Dataset()
    request.RequestedProcedureID = "RPID-443322"
    request.ScheduledPerformingPhysicianName = "Lee^Scheduled^Nurse"
    dataset.RequestAttributesSequence = Sequence([request])
    block = dataset.private_block(0x0029, "EXAMPLE VENDOR", create=True)
    block.add_new(0x10, "LO", f"patient {patient_name} {patient_id}")
    if burned_in is not None:
        dataset.BurnedInAnnotation = burned_in
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def searchable_identifiers(data: bytes) -> set[bytes]:
    """The identifying values of one original file, as the bytes a leak would show."""
    dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    values: set[str] = set()
    for keyword in IDENTIFIER_KEYWORDS:
        value = str(dataset.get(keyword, "") or "").strip()
        values.add(value)
        if keyword == "PatientName":
            values.update(part.strip() for part in value.split("^"))
    if "MediaStorageSOPInstanceUID" in getattr(dataset, "file_meta", {}):
        values.add(str(dataset.file_meta.MediaStorageSOPInstanceUID))
    return {value.encode() for value in values if len(value) >= MIN_SEARCHABLE}
