"""Multi-slice DICOM series for the scan tests, synthesised from real pixel data: the ten
frames of pydicom-data's enhanced MR sample (64×64 brain slices) become single-frame MR
instances with their own position along the slice normal, identifiers dressed on as a PACS
would send them."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from tests.labeler.dicom_data import SAMPLES

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
# Rows along y, columns along -z: the normal is x (a sagittal plane), as brain MRI often is.
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


@cache
def mr_frames() -> np.ndarray:
    """pydicom-data's emri_small.dcm: ten real 64×64 MR slices (uint16)."""
    return pydicom.dcmread(SAMPLES / "emri_small.dcm").pixel_array


@dataclass(frozen=True)
class Instance:
    name: str
    data: bytes
    sop_uid: str
    # Distance along the slice normal in mm: the order the import must put it in.
    position: float


def _instance(
    *,
    pixels: np.ndarray,
    study_uid: str,
    series_uid: str,
    series_number: int,
    instance_number: int,
    origin: tuple[float, float, float],
    orientation: tuple[float, ...],
    patient: str,
    description: str,
) -> tuple[bytes, str]:
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "HOSPITALPACS1"
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = MRImageStorage
    dataset.SOPInstanceUID = sop_uid
    dataset.StudyInstanceUID = study_uid
    dataset.SeriesInstanceUID = series_uid
    dataset.FrameOfReferenceUID = study_uid + ".1"
    dataset.Modality = "MR"
    dataset.PatientName = patient
    dataset.PatientID = "PID-" + patient.split("^")[0].upper()[:8] + "-55102"
    dataset.PatientBirthDate = "19490721"
    dataset.InstitutionName = "Seoul Example Neurology Clinic"
    dataset.AccessionNumber = "ACC31415926"
    dataset.StudyDescription = f"MRI brain for {patient.replace('^', ' ')}"
    dataset.SeriesDescription = f"{description} {patient.replace('^', ' ')}"
    dataset.SeriesNumber = series_number
    dataset.InstanceNumber = instance_number
    dataset.ImageOrientationPatient = list(orientation)
    dataset.ImagePositionPatient = list(origin)
    dataset.PixelSpacing = [3.0, 3.0]
    dataset.SliceThickness = 5.0
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 16
    dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    dataset.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue(), sop_uid


def mr_series(
    *,
    count: int = 10,
    study_uid: str | None = None,
    series_number: int = 3,
    spacing: float = 5.0,
    orientation: tuple[float, ...] = AXIAL,
    missing: Iterable[int] = (),
    patient: str = "Park^Jisoo^Hana",
    size: int | None = None,
    prefix: str = "",
    description: str = "T1 axial",
) -> list[Instance]:
    """``count`` slices of one series (indexes in ``missing`` left out), in a shuffled file
    order, with Instance Numbers that run against the anatomy: only the positions say where
    a slice lies. ``size`` crops slice 1 to another size (an inconsistent series)."""
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    frames = mr_frames()
    normal = np.cross(orientation[:3], orientation[3:])
    instances = []
    skipped = set(missing)
    for index in range(count):
        if index in skipped:
            continue
        pixels = frames[index % len(frames)]
        if size is not None and index == 1:
            pixels = pixels[:size, :size]
        origin = tuple(
            float(v) for v in (np.array([-96.0, -96.0, 20.0]) + normal * index * spacing)
        )
        data, sop_uid = _instance(
            pixels=pixels,
            study_uid=study_uid,
            series_uid=series_uid,
            series_number=series_number,
            instance_number=count - index,
            origin=origin,  # type: ignore[arg-type]
            orientation=orientation,
            patient=patient,
            description=description,
        )
        position = float(np.dot(normal, origin))
        instances.append(
            Instance(f"{prefix}IM{(index * 7919) % 1000:04d}.dcm", data, sop_uid, position)
        )
    order = np.random.default_rng(series_number).permutation(len(instances))
    return [instances[i] for i in order]


def zipped(instances: Iterable[Instance], folder: str = "") -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for instance in instances:
            archive.writestr(f"{folder}{instance.name}", instance.data)
    buffer.seek(0)
    return buffer
