"""Importing from a PACS over DICOMweb: QIDO-RS to find studies, WADO-RS to retrieve their
instances, each de-identified on the way in exactly like an uploaded file.

Nothing from the PACS is written before de-identification: instances arrive in memory and go
through the same candidate path as a zip entry. Source names are positional ("PACS study 2,
instance 14"), never a UID or an accession number, and errors never quote the query.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import requests
from dicomweb_client.api import DICOMwebClient
from django.utils.translation import gettext as _

from labeler.dicom.pacs_http import (
    PacsDeadline,
    PacsRefused,
    PacsSession,
    is_dicom_uid,
)
from labeler.dicom.pacs_query import (
    MAX_STUDIES,
    PacsQuery,
    number_value,
    text_value,
)
from labeler.dicom.reading import DicomOptions
from labeler.importing import Entry, ImportSourceError, Limits, Rejection, dicom_candidate

# Both log request URLs (study UIDs, an accession number in the query) and retried errors.
for _name in ("dicomweb_client", "retrying"):
    logging.getLogger(_name).setLevel(logging.ERROR)

# Studies asked for at a time while a description is matched here.
DESCRIPTION_PAGE = 50


class _Pacs:
    """A DICOMweb client for one import and the guarded session it sends through."""

    def __init__(self, query: PacsQuery, job_deadline: float) -> None:
        from django.conf import settings

        self.session = PacsSession(
            root=query.url,
            request_seconds=settings.TWEEZERS_PACS_REQUEST_SECONDS,
            job_deadline=job_deadline,
        )
        self.client = DICOMwebClient(url=query.url, session=self.session)
        # No retries: a PACS that is down is reported in seconds, and a request that ran out
        # of time is not started again on top of the time it already took.
        self.client.set_http_retry_params(retry=False)


def _failure(action: str, error: Exception, pacs: _Pacs) -> ImportSourceError:
    from django.conf import settings

    # ``action`` says what failed, translated: "search for studies".
    if isinstance(error, PacsDeadline) or pacs.session.timed_out:
        return ImportSourceError(
            _(
                "the PACS did not %(action)s within the time limit "
                "(%(request)s s per request, %(job)s s per import)"
            )
            % {
                "action": action,
                "request": f"{settings.TWEEZERS_PACS_REQUEST_SECONDS:g}",
                "job": f"{settings.TWEEZERS_PACS_JOB_SECONDS:g}",
            }
        )
    if isinstance(error, PacsRefused):
        return ImportSourceError(
            _("could not %(action)s: %(error)s") % {"action": action, "error": error}
        )
    # requests' messages quote the URL with its query string (an accession number...).
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return ImportSourceError(
            _("the PACS refused to %(action)s (HTTP %(status)s)")
            % {"action": action, "status": error.response.status_code}
        )
    return ImportSourceError(
        _("could not %(action)s on the PACS (%(error)s)")
        % {"action": action, "error": type(error).__name__}
    )


def study_uids(query: PacsQuery, pacs: _Pacs) -> list[str | None]:
    """The found studies' UIDs, at most ``query.limit`` whatever the PACS sent; ``None`` for
    a study whose UID is not a DICOM UID (it never enters a request's path).

    A description is matched here, case-insensitively, not by the PACS: wildcards reach
    PACS differently (Orthanc matches ``*head*`` but not the ``%2Ahead%2A`` every HTTP client
    sends, nor a space in any encoding). The PACS is then asked page by page, at least
    ``DESCRIPTION_PAGE`` studies at a time, until ``limit`` match or ``MAX_STUDIES`` were
    read; without a description, one page of ``limit``."""
    pattern = query.description_pattern()
    fields = ["StudyInstanceUID", *(["StudyDescription"] if pattern else [])]
    size = max(query.limit, DESCRIPTION_PAGE) if pattern else query.limit
    uids: list[str | None] = []
    offset = 0
    while True:
        studies = _studies_page(query, pacs, fields, offset, size)
        for study in studies[:size]:
            if pattern and not fnmatch.fnmatchcase(
                text_value(study, "00081030").casefold(), pattern
            ):
                continue
            element = study.get("0020000D") if isinstance(study, dict) else None
            value = (element.get("Value") if isinstance(element, dict) else None) or []
            if value:
                uids.append(str(value[0]) if is_dicom_uid(value[0]) else None)
            if len(uids) == query.limit:
                return uids
        offset += size
        if not pattern or len(studies) < size or offset >= MAX_STUDIES:
            return uids


def _studies_page(query: PacsQuery, pacs: _Pacs, fields: list[str], offset: int, size: int):
    try:
        studies = pacs.client.search_for_studies(
            search_filters=query.filters(),
            limit=size,
            offset=offset or None,
            fields=fields,
        )
    except (requests.RequestException, ValueError) as error:
        raise _failure(_("search for studies"), error, pacs) from error
    if not isinstance(studies, list):
        raise ImportSourceError(_("the PACS answered the study search with something else"))
    return studies


def pacs_entries(
    query: PacsQuery, limits: Limits, options: DicomOptions | None
) -> tuple[int, Iterator[Entry]]:
    """The matching studies' instances as import entries; the count is of studies. The whole
    import, search included, must end within ``TWEEZERS_PACS_JOB_SECONDS``."""
    from django.conf import settings

    job_seconds = settings.TWEEZERS_PACS_JOB_SECONDS
    pacs = _Pacs(query, time.monotonic() + job_seconds)
    try:
        uids = study_uids(query, pacs)
    except BaseException:
        pacs.session.close()
        raise

    def entries() -> Iterator[Entry]:
        try:
            for study_number, uid in enumerate(uids, start=1):
                where = _("PACS study %(number)s") % {"number": study_number}
                if uid is None:
                    yield Rejection(where, _("the PACS sent an invalid study UID"))
                    continue
                if time.monotonic() >= pacs.session.job_deadline:
                    yield Rejection(
                        _("PACS studies %(first)s-%(last)s")
                        % {"first": study_number, "last": len(uids)},
                        _("not imported: the import reached its time limit of %(seconds)s s")
                        % {"seconds": f"{job_seconds:g}"},
                    )
                    return
                if query.by_series:
                    yield from _chosen_series_entries(pacs, query, uid, where, limits, options)
                else:
                    yield from _study_entries(pacs, uid, where, limits, options)
        finally:
            pacs.session.close()

    return len(uids), entries()


def _study_entries(
    pacs: _Pacs, uid: str, where: str, limits: Limits, options: DicomOptions | None
) -> Iterator[Entry]:
    yield from _instance_entries(pacs, lambda: pacs.client.iter_study(uid), where, limits, options)


def _instance_entries(
    pacs: _Pacs, retrieve, where: str, limits: Limits, options: DicomOptions | None
) -> Iterator[Entry]:
    try:
        instances = retrieve()
        for instance_number, dataset in enumerate(instances, start=1):
            name = _("%(where)s, instance %(number)s") % {"where": where, "number": instance_number}
            buffer = io.BytesIO()
            try:
                dataset.save_as(buffer, enforce_file_format=True)
            except Exception as error:  # noqa: BLE001 - report it, keep importing
                yield Rejection(
                    name, _("unusable instance (%(error)s)") % {"error": type(error).__name__}
                )
                continue
            yield dicom_candidate(name, buffer.getvalue(), limits, options, own_name=True)
    except (requests.RequestException, ValueError) as error:
        yield Rejection(where, str(_failure(_("retrieve this study"), error, pacs)))


@dataclass(frozen=True)
class PacsSeries:
    """A series a search found, as far as it may be shown: de-identified."""

    uid: str
    number: int | None
    modality: str
    instances: int | None


@dataclass(frozen=True)
class PacsStudy:
    """A study a search found: its place in the answer, its de-identified UID and series."""

    position: int
    uid: str
    series: list[PacsSeries]


def _series_found(pacs: _Pacs, query: PacsQuery, study_uid: str) -> list[tuple[str, dict]]:
    """The study's series matching the series filters: (PACS series UID, QIDO record)."""
    try:
        records = pacs.client.search_for_series(
            study_instance_uid=study_uid,
            search_filters=query.series_filters(),
            fields=[
                "SeriesNumber",
                "Modality",
                "SeriesDescription",
                "NumberOfSeriesRelatedInstances",
            ],
        )
    except (requests.RequestException, ValueError) as error:
        raise _failure(_("search for series"), error, pacs) from error
    found = []
    for record in records if isinstance(records, list) else []:
        uid = text_value(record, "0020000E")
        if is_dicom_uid(uid) and query.series_wanted(record):
            found.append((uid, record))
    return found


def _chosen_series_entries(
    pacs: _Pacs,
    query: PacsQuery,
    study_uid: str,
    where: str,
    limits: Limits,
    options: DicomOptions | None,
) -> Iterator[Entry]:
    from labeler.dicom.deidentify import remap_uid

    try:
        found = _series_found(pacs, query, study_uid)
    except ImportSourceError as error:
        yield Rejection(where, str(error))
        return
    for series_number, (uid, _record) in enumerate(found, start=1):
        if query.series and (
            options is None or remap_uid(uid, options.uid_secret) not in query.series
        ):
            continue
        yield from _instance_entries(
            pacs,
            lambda uid=uid: pacs.client.iter_series(study_uid, uid),
            _("%(where)s, series %(number)s") % {"where": where, "number": series_number},
            limits,
            options,
        )


def pacs_studies(query: PacsQuery, options: DicomOptions) -> list[PacsStudy]:
    """What a search finds, to choose series from: each study's and series' UIDs as the
    project will store them (keyed by its secret), series numbers, modalities and instance
    counts; nothing that names or dates the patient."""
    from django.conf import settings

    from labeler.dicom.deidentify import remap_uid

    pacs = _Pacs(query, time.monotonic() + settings.TWEEZERS_PACS_JOB_SECONDS)
    studies = []
    try:
        for position, uid in enumerate(study_uids(query, pacs), start=1):
            if uid is None:
                continue
            series = [
                PacsSeries(
                    uid=remap_uid(series_uid, options.uid_secret),
                    number=number_value(record, "00200011"),
                    modality=text_value(record, "00080060")[:16],
                    instances=number_value(record, "00201209"),
                )
                for series_uid, record in _series_found(pacs, query, uid)
            ]
            studies.append(PacsStudy(position, remap_uid(uid, options.uid_secret), series))
    finally:
        pacs.session.close()
    return studies
