"""De-identification: DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile.

The profile's table of attributes and actions (D, Z, X, U and their combinations) comes from
``dicom-anonymizer`` (KitwareMedical), which transcribes the standard's Table E.1-1 for each
edition; we use its 2026c table. We add what that library leaves to the caller:

- UIDs are remapped by a keyed hash (HMAC-SHA-256 under the project's secret) instead of the
  library's in-process random table, so the same study stays one study across imports, workers
  and restarts within a project, and two projects never share a UID. No map is stored.
- The table is applied inside every sequence item too, not only at the top level, and a final
  pass remaps any UID and empties any person name the table did not reach.
- What can carry text is kept only when it is on an allow-list of attributes known to be safe
  and needed (``labeler/dicom/kept.py``): the table removes what it knows to identify, the
  allow-list everything it does not know.
- Private tags are removed, the preamble and the file meta header are rebuilt, and Patient
  Identity Removed / De-identification Method (+ its code sequence) are set.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from django.utils.translation import gettext_lazy
from pydicom import Dataset, Sequence
from pydicom.datadict import dictionary_VR
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

from labeler.dicom.kept import keep_only_allowed

PROFILE_TABLE = "dicomfields_2026c"
METHOD = "Tweezers: DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile"
# DICOM Controlled Terminology (CID 7050): 113100 = Basic Application Confidentiality Profile.
PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
BURNED_IN_REFUSED = gettext_lazy(
    "the file says it has burned-in annotation (text in the pixels that may identify the "
    "patient); this project does not accept such images"
)


def remap_uid(uid: str, secret: str) -> str:
    """A UID under the 2.25 root derived from ``uid`` and the project's secret: stable for one
    project, unrelated across projects, and not reversible without the secret."""
    digest = hmac.new(secret.encode(), uid.strip().encode(), hashlib.sha256).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def _is_standard_uid(value: str) -> bool:
    # SOP classes, transfer syntaxes, coding schemes...: names of things, not of patients.
    return UID(value).name != value


def _remap_element_uids(dataset: Dataset, secret: str, produced: set[str]) -> None:
    def visit(ds: Dataset, element) -> None:
        if element.VR != "UI" or element.value in (None, ""):
            return
        values = element.value if isinstance(element.value, list | tuple) else [element.value]
        remapped = []
        for value in values:
            value = str(value)
            if not value or _is_standard_uid(value) or value in produced:
                remapped.append(value)
                continue
            new = remap_uid(value, secret)
            produced.add(new)
            remapped.append(new)
        element.value = remapped if len(remapped) > 1 else remapped[0]

    dataset.walk(visit)


def _keep(dataset: Dataset, tag) -> None:
    """UIDs were remapped before the table ran (see ``deidentify``)."""


@cache
def _profile_rules() -> dict:
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
    from dicomanonymizer.simpledicomanonymizer import initialize_actions

    rules = initialize_actions(PROFILE_TABLE)
    # X/Z/U* sequences (Referenced Image Sequence...): the standard allows keeping them with
    # their instance UIDs replaced; we do, so a segmentation still points at its slices.
    # Their items went through the table themselves (see _apply_profile).
    for tag in dicom_anonymization_database_selector(PROFILE_TABLE)["X_Z_U_STAR_TAGS"]:
        rules[tag] = _keep
    for tag in list(rules):
        # U actions (and D on a UI attribute) would draw random UIDs: ours are already keyed.
        if len(tag) == 2 and _vr(tag) == "UI" and rules[tag].__name__ != "delete":
            rules[tag] = _keep
    return rules


def _vr(tag: tuple[int, int]) -> str:
    try:
        return dictionary_VR((tag[0] << 16) | tag[1])
    except KeyError:
        return ""


def _apply_profile(dataset: Dataset, rules: dict) -> None:
    from dicomanonymizer.simpledicomanonymizer import anonymize_dataset

    # Inside sequence items first: the library applies its table to the top level only.
    for element in list(dataset):
        if element.VR == "SQ" and element.value:
            for item in element.value:
                _apply_profile(item, rules)
    anonymize_dataset(dataset, base_rules_gen=lambda: dict(rules), delete_private_tags=True)


def _empty_person_names(dataset: Dataset) -> None:
    def visit(ds: Dataset, element) -> None:
        if element.VR == "PN" and element.value not in (None, ""):
            element.value = ""

    dataset.walk(visit)


def _mark(dataset: Dataset) -> None:
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = PROFILE_CODE
    dataset.DeidentificationMethodCodeSequence = Sequence([code])


def _rebuild_file_meta(dataset: Dataset, transfer_syntax: UID) -> None:
    # The original header can carry the sending station's AE title and a private
    # implementation's data; the preamble is 128 free bytes (TIFF hybrids keep data there).
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    dataset.file_meta = meta
    dataset.preamble = b"\x00" * 128


def deidentify(dataset: Dataset, *, secret: str) -> None:
    """De-identify ``dataset`` in place. ``secret`` is the project's UID key."""
    transfer_syntax = UID(dataset.file_meta.TransferSyntaxUID)
    produced: set[str] = set()
    if hasattr(dataset, "file_meta"):
        _remap_element_uids(dataset.file_meta, secret, produced)
    _remap_element_uids(dataset, secret, produced)
    _apply_profile(dataset, _profile_rules())
    dataset.remove_private_tags()
    # Then the allow-list: text the table does not name (a Text Value, a comment) goes too.
    keep_only_allowed(dataset)
    # What the table missed (a UID or a name in an attribute newer than the table, or in a
    # sequence the table keeps) is caught here: no original UID or name survives.
    _remap_element_uids(dataset, secret, produced)
    _empty_person_names(dataset)
    _mark(dataset)
    _rebuild_file_meta(dataset, transfer_syntax)


def burned_in_annotation(dataset: Dataset) -> bool:
    return str(dataset.get("BurnedInAnnotation", "")).strip().upper() == "YES"


def scrubbed(message: str, dataset: Dataset) -> str:
    """``message`` with every text value of ``dataset`` longer than three characters blanked:
    error text from a decoder must not carry an identifier into a report or a log."""
    values: set[str] = set()

    def visit(ds: Dataset, element) -> None:
        if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ"):
            return
        raw = element.value
        for value in raw if isinstance(raw, list | tuple) else [raw]:
            text = str(value).strip()
            if len(text) > 3:
                values.add(text)

    try:
        dataset.walk(visit)
        if hasattr(dataset, "file_meta"):
            dataset.file_meta.walk(visit)
    except Exception:  # noqa: BLE001 - a broken dataset must not hide the original error
        return "(details withheld: the file's header could not be read)"
    for value in sorted(values, key=len, reverse=True):
        message = message.replace(value, "…")
    return message
