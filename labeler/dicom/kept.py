"""What a stored DICOM file may keep: every attribute that can carry text (names, free text,
codes, dates, binary blobs) must be on this allow-list or it is removed, at the top level and
in every sequence item; numbers (rows, spacing, rescale, LUT descriptors) and UIDs (remapped
by then) stay. The confidentiality profile's table removes what it knows to be identifying;
this list keeps only what is known to be safe and needed, so an attribute the table does not
name (a Text Value in a content sequence, a free-text comment, an encapsulated PDF report) is
gone too.

Needed means: to store a valid file (SOP common, the patient and study modules' type 2
attributes, emptied by the profile), to decode and window the pixels (image pixel, palette
and LUT modules, enhanced multi-frame functional groups), to place the image (geometry), to
say it was de-identified, and a segmentation's segments and their codes."""

from __future__ import annotations

from pydicom import Dataset

# Value representations whose values are text or opaque bytes. Everything else (US, SS, UL,
# SL, FL, FD, IS, DS, AT, SV, UV) is a number; UI values were remapped before this runs.
TEXT_OR_BYTES_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UR", "UT"}
    | {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
)

KEPT_KEYWORDS = frozenset(
    {
        # SOP common, character set, de-identification marks
        "SpecificCharacterSet",
        "PatientIdentityRemoved",
        "DeidentificationMethod",
        "BurnedInAnnotation",
        "RecognizableVisualFeatures",
        "LossyImageCompression",
        "LossyImageCompressionMethod",
        # Patient, study, series (type 2: present, emptied or dummied by the profile)
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "ReferringPhysicianName",
        "AccessionNumber",
        "StudyID",
        "StudyDate",
        "StudyTime",
        "SeriesDate",
        "SeriesTime",
        "ContentDate",
        "ContentTime",
        "AcquisitionDate",
        "AcquisitionTime",
        "AcquisitionDateTime",
        "Modality",
        "BodyPartExamined",
        "Laterality",
        "ImageLaterality",
        "ViewPosition",
        "PatientPosition",
        "PatientOrientation",
        "ImageType",
        "FrameType",
        "ConversionType",
        # Image pixel, palette, LUTs, windowing
        "PhotometricInterpretation",
        "PixelPresentation",
        "VolumetricProperties",
        "VolumeBasedCalculationTechnique",
        "PixelData",
        "FloatPixelData",
        "DoubleFloatPixelData",
        "ICCProfile",
        "ColorSpace",
        "RedPaletteColorLookupTableData",
        "GreenPaletteColorLookupTableData",
        "BluePaletteColorLookupTableData",
        "AlphaPaletteColorLookupTableData",
        "SegmentedRedPaletteColorLookupTableData",
        "SegmentedGreenPaletteColorLookupTableData",
        "SegmentedBluePaletteColorLookupTableData",
        "LUTData",
        "ModalityLUTType",
        "RescaleType",
        "VOILUTFunction",
        "PresentationLUTShape",
        # Enhanced multi-frame and segmentations
        "DimensionOrganizationType",
        "SegmentationType",
        "SegmentationFractionalType",
        "SegmentAlgorithmType",
        "SegmentLabel",
        "CodeValue",
        "CodingSchemeDesignator",
        "CodingSchemeVersion",
        "CodeMeaning",
        "ContentQualification",
    }
)


def _keeps(element) -> bool:
    if element.VR not in TEXT_OR_BYTES_VRS:
        return True
    return element.keyword in KEPT_KEYWORDS


def keep_only_allowed(dataset: Dataset) -> None:
    """Remove, in place and in every sequence item, each text or byte attribute that is not on
    the allow-list (repeating groups such as overlays have no listed keyword: removed)."""
    for element in list(dataset):
        if element.VR == "SQ":
            for item in element.value or []:
                keep_only_allowed(item)
        elif not _keeps(element):
            del dataset[element.tag]
