"""Importing from a PACS over DICOMweb: QIDO-RS to find studies, WADO-RS to retrieve their
instances, each de-identified on the way in exactly like an uploaded file.

Nothing from the PACS is written before de-identification: instances arrive in memory and go
through the same candidate path as a zip entry. Source names are positional ("PACS study 2,
instance 14"), never a UID or an accession number, and errors never quote the query.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import requests
from dicomweb_client.api import DICOMwebClient

from labeler.dicom.reading import DicomOptions
from labeler.importing import Entry, ImportSourceError, Limits, Rejection, dicom_candidate

# Both log request URLs (study UIDs, an accession number in the query) and retried errors.
for _name in ("dicomweb_client", "retrying"):
    logging.getLogger(_name).setLevel(logging.ERROR)

DATE_PATTERN = re.compile(r"^(\d{8})?(-(\d{8})?)?$")
MODALITY_PATTERN = re.compile(r"^[A-Z0-9]{1,16}$")
MAX_STUDIES = 500


def pacs_addresses_allowed() -> list[str]:
    """The DICOMweb roots the server may contact (``TWEEZERS_PACS_URLS``); empty: any. A
    hospital sets it so that a manager's address cannot make the server fetch from elsewhere
    on its network (server-side request forgery)."""
    from django.conf import settings

    return [url.rstrip("/") for url in settings.TWEEZERS_PACS_URLS if url.strip()]


def _within(url: str, root: str) -> bool:
    """``url`` is ``root`` or below it, compared by scheme, host, port and path segments (so
    ``http://pacs.local.evil`` is not below ``http://pacs.local``)."""
    from urllib.parse import urlsplit

    wanted, given = urlsplit(root), urlsplit(url.rstrip("/"))
    if (given.scheme, given.netloc.lower()) != (wanted.scheme, wanted.netloc.lower()):
        return False
    return given.path == wanted.path or given.path.startswith(wanted.path.rstrip("/") + "/")


@dataclass(frozen=True)
class PacsQuery:
    """A QIDO-RS study search. Empty fields are not sent; ``study_date`` is ``YYYYMMDD`` or a
    range ``YYYYMMDD-YYYYMMDD`` (either end may be open); ``description`` matches anywhere."""

    url: str
    modality: str = ""
    study_date: str = ""
    accession: str = ""
    description: str = ""
    limit: int = 20

    def __post_init__(self) -> None:
        if not re.match(r"^https?://", self.url):
            raise ImportSourceError("the DICOMweb address must start with http:// or https://")
        allowed = pacs_addresses_allowed()
        if allowed and not any(_within(self.url, root) for root in allowed):
            raise ImportSourceError(
                "this server may only search the PACS addresses its administrator allowed "
                f"(TWEEZERS_PACS_URLS): {', '.join(allowed)}"
            )
        if self.study_date and not DATE_PATTERN.match(self.study_date):
            raise ImportSourceError("study date must be YYYYMMDD or YYYYMMDD-YYYYMMDD")
        if self.modality and not MODALITY_PATTERN.match(self.modality):
            raise ImportSourceError("modality is a DICOM code such as CT, MR, CR or US")
        if not 1 <= self.limit <= MAX_STUDIES:
            raise ImportSourceError(f"the study limit must be between 1 and {MAX_STUDIES}")

    def as_dict(self) -> dict:
        return asdict(self)

    def filters(self) -> dict[str, str]:
        description = self.description.strip()
        if description and "*" not in description:
            description = f"*{description}*"
        filters = {
            "ModalitiesInStudy": self.modality,
            "StudyDate": self.study_date,
            "AccessionNumber": self.accession.strip(),
            "StudyDescription": description,
        }
        return {key: value for key, value in filters.items() if value}


def _client(url: str) -> DICOMwebClient:
    client = DICOMwebClient(url=url.rstrip("/"), timeout=60)
    # A PACS that is down should be reported in seconds, not after minutes of back-off.
    client.set_http_retry_params(max_attempts=2, wait_exponential_multiplier=500)
    return client


def _failure(action: str, error: Exception) -> ImportSourceError:
    # requests' messages quote the URL with its query string (an accession number...).
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return ImportSourceError(
            f"the PACS refused to {action} (HTTP {error.response.status_code})"
        )
    return ImportSourceError(f"could not {action} on the PACS ({type(error).__name__})")


def study_uids(query: PacsQuery) -> list[str]:
    try:
        studies = _client(query.url).search_for_studies(
            search_filters=query.filters(), limit=query.limit, fields=["StudyInstanceUID"]
        )
    except (requests.RequestException, ValueError) as error:
        raise _failure("search for studies", error) from error
    uids = []
    for study in studies:
        value = study.get("0020000D", {}).get("Value") or []
        if value:
            uids.append(str(value[0]))
    return uids


def pacs_entries(
    query: PacsQuery, limits: Limits, options: DicomOptions | None
) -> tuple[int, Iterator[Entry]]:
    """The matching studies' instances as import entries; the count is of studies."""
    uids = study_uids(query)
    client = _client(query.url)

    def entries() -> Iterator[Entry]:
        for study_number, uid in enumerate(uids, start=1):
            where = f"PACS study {study_number}"
            try:
                instances = client.iter_study(uid)
                for instance_number, dataset in enumerate(instances, start=1):
                    name = f"{where}, instance {instance_number}"
                    buffer = io.BytesIO()
                    try:
                        dataset.save_as(buffer, enforce_file_format=True)
                    except Exception as error:  # noqa: BLE001 - report it, keep importing
                        yield Rejection(name, f"unusable instance ({type(error).__name__})")
                        continue
                    yield dicom_candidate(name, buffer.getvalue(), limits, options)
            except (requests.RequestException, ValueError) as error:
                yield Rejection(where, str(_failure("retrieve this study", error)))

    return len(uids), entries()
