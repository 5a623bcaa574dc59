"""De-identification of one file: the PS3.15 Basic Profile's table, project-keyed UIDs,
private tags, nested sequences, the markers, and refusing burned-in annotation."""

import io

import pydicom
import pytest

from labeler.dicom.deidentify import METHOD, remap_uid, scrubbed
from labeler.dicom.reading import DicomOptions, DicomRejected, dicom_file
from tests.labeler.dicom_data import SAMPLES, identified_ct, searchable_identifiers

PROJECT_A = DicomOptions(uid_secret="a" * 64)
PROJECT_B = DicomOptions(uid_secret="b" * 64)
MAX_PIXELS = 40_000_000


def deidentified(data: bytes, options: DicomOptions = PROJECT_A) -> pydicom.Dataset:
    stored = dicom_file(data, options, max_pixels=MAX_PIXELS)
    return pydicom.dcmread(io.BytesIO(stored.dicom))


def test_no_identifier_of_the_original_survives_anywhere_in_the_stored_file():
    original = identified_ct()
    stored = dicom_file(original, PROJECT_A, max_pixels=MAX_PIXELS)

    identifiers = searchable_identifiers(original)
    assert b"Gildong" in identifiers and b"PID-77342190" in identifiers
    for value in identifiers | {b"19580317", b"OTHER-PID-5566", b"RPID-443322", b"HOSPITALPACS1"}:
        assert value in original
        assert value not in stored.dicom, value
        assert value not in stored.rendition, value
    assert b"Lee^Scheduled" not in stored.dicom and b"Kim^Referrer" not in stored.dicom


def test_the_file_says_it_was_de_identified_and_how():
    dataset = deidentified(identified_ct())

    assert dataset.PatientIdentityRemoved == "YES"
    assert dataset.DeidentificationMethod == METHOD
    code = dataset.DeidentificationMethodCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    assert not any(element.tag.is_private for element in dataset.iterall())
    assert "InstitutionName" not in dataset or dataset.InstitutionName in ("", "ANONYMIZED")
    assert "StudyDescription" not in dataset
    assert dataset.file_meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID
    assert dataset.preamble == b"\x00" * 128
    assert "SourceApplicationEntityTitle" not in dataset.file_meta


def test_what_the_reading_needs_is_kept():
    dataset = deidentified(identified_ct())

    assert dataset.Modality == "CT"
    assert dataset.SOPClassUID == pydicom.uid.CTImageStorage
    assert (dataset.Rows, dataset.Columns) == (512, 512)
    assert float(dataset.RescaleSlope) == 1.0
    assert dataset.pixel_array.shape == (512, 512)


def test_uids_map_consistently_within_a_project_and_differently_across_projects():
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    first = deidentified(identified_ct(study_uid=study, series_uid=series))
    second = deidentified(identified_ct(study_uid=study, series_uid=series))
    elsewhere = deidentified(identified_ct(study_uid=study, series_uid=series), PROJECT_B)

    # Two slices of one study stay one study, one series; each keeps its own instance UID.
    assert first.StudyInstanceUID == second.StudyInstanceUID == remap_uid(study, "a" * 64)
    assert first.SeriesInstanceUID == second.SeriesInstanceUID != study
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert elsewhere.StudyInstanceUID != first.StudyInstanceUID
    # References inside sequences follow their targets.
    assert first.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
    for dataset in (first, second, elsewhere):
        assert dataset.StudyInstanceUID.startswith("2.25.")
        assert pydicom.uid.UID(dataset.StudyInstanceUID).is_valid


def test_the_same_file_de_identifies_to_the_same_bytes_so_a_reimport_is_a_duplicate():
    original = identified_ct()
    assert (
        dicom_file(original, PROJECT_A, max_pixels=MAX_PIXELS).checksum
        == dicom_file(original, PROJECT_A, max_pixels=MAX_PIXELS).checksum
    )


def test_burned_in_annotation_is_refused_unless_the_project_allows_it():
    flagged = identified_ct(burned_in="YES")

    with pytest.raises(DicomRejected, match="burned-in annotation"):
        dicom_file(flagged, PROJECT_A, max_pixels=MAX_PIXELS)
    allowed = DicomOptions(uid_secret="a" * 64, allow_burned_in=True)
    assert (
        dicom_file(flagged, allowed, max_pixels=MAX_PIXELS).metadata["dicom"][
            "burned_in_annotation"
        ]
        == "YES"
    )
    assert dicom_file(identified_ct(burned_in="NO"), PROJECT_A, max_pixels=MAX_PIXELS)


def test_a_rejection_never_quotes_the_file_and_decoder_messages_are_scrubbed():
    original = identified_ct()
    truncated = original[: len(original) // 3]

    with pytest.raises(DicomRejected) as rejected:
        dicom_file(truncated, PROJECT_A, max_pixels=MAX_PIXELS)
    for value in searchable_identifiers(original):
        assert value.decode() not in str(rejected.value)
    dataset = pydicom.dcmread(io.BytesIO(original))
    assert scrubbed("failed on Hong^Gildong^Minsu, PID-77342190", dataset) == "failed on …, …"


def test_an_image_over_the_pixel_limit_is_refused_before_decoding():
    with pytest.raises(DicomRejected, match="pixel limit"):
        dicom_file(identified_ct(), PROJECT_A, max_pixels=512 * 512 - 1)


def test_a_dataset_without_the_file_meta_header_is_read():
    stored = dicom_file(
        (SAMPLES / "OT-PAL-8-face.dcm").read_bytes(), PROJECT_A, max_pixels=MAX_PIXELS
    )
    assert stored.metadata["dicom"]["color"] is True
    assert pydicom.dcmread(io.BytesIO(stored.dicom)).PatientIdentityRemoved == "YES"
