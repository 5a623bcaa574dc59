"""DICOM in Tweezers: read and decode (pydicom with pylibjpeg's decoders), de-identify
(PS3.15 Annex E Basic Profile), render for the browser and the image pipeline, and fetch from a
PACS over DICOMweb.

An imported DICOM file becomes an ordinary image item: its ``file`` is a PNG rendition in the
file's own window (so the learning loop, the labeling page and exports work unchanged), the
de-identified DICOM file is stored beside it for windowed renditions, and ``metadata["dicom"]``
holds the de-identified keys (project-keyed UIDs, modality, frames, window).
"""
