"""HTTP to a PACS: the bounded outbound session of ``labeler/outbound_http.py`` (addresses
normalised before the allow-list decides, nothing sent outside the allowed root, no redirects,
total deadlines), under the names the DICOMweb importer uses, and the DICOM UID check for what
the PACS sends back before it is pasted into a path."""

from __future__ import annotations

import re

from labeler.outbound_http import AddressError as PacsAddressError
from labeler.outbound_http import BoundedSession as PacsSession
from labeler.outbound_http import OutboundDeadline as PacsDeadline
from labeler.outbound_http import OutboundRefused as PacsRefused
from labeler.outbound_http import url_normalise as pacs_url_normalise
from labeler.outbound_http import url_within as pacs_url_within

__all__ = [
    "PacsAddressError",
    "PacsDeadline",
    "PacsRefused",
    "PacsSession",
    "is_dicom_uid",
    "pacs_url_normalise",
    "pacs_url_within",
]

# A DICOM UID (PS3.5 9.1): digits in dot-separated components, at most 64 characters.
UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")
UID_MAX = 64


def is_dicom_uid(value: object) -> bool:
    return isinstance(value, str) and len(value) <= UID_MAX and bool(UID_PATTERN.match(value))
