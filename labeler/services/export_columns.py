"""The columns of the tabular exports, shared by the single-label and findings writers (a
finding's column never takes a standard column's name)."""

FINAL_COLUMNS = [
    "item_id",
    "source_name",
    "text",
    "file_name",
    "label",
    "annotators",
    "labeled_at",
    "origin",
    "is_evaluation",
    "predicted_label",
    "predicted_confidence",
]
HISTORY_COLUMNS = [*FINAL_COLUMNS, "annotation_id", "is_current", "replaces"]
# DICOM items are keyed by their de-identified (project-keyed) UIDs; added for DICOM projects.
DICOM_COLUMNS = ["study_uid", "series_uid", "sop_uid", "modality", "body_part", "frames"]
# A scan (series or study project) is one row keyed by its de-identified study and series
# UIDs (a study's series separated by spaces); its description is the de-identified one.
SCAN_COLUMNS = ["study_uid", "series_uid", "modality", "series_description", "slices"]

# Every column an export may carry besides the findings.
STANDARD_COLUMNS = frozenset([*HISTORY_COLUMNS, *DICOM_COLUMNS, *SCAN_COLUMNS, "findings"])
