"""A PACS study search as a manager asks for it: which server (within the allow-list), which
studies (modality, date, accession, description) and which of their series, checked before
anything is sent."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from django.utils.translation import gettext as _

from labeler.dicom.pacs_http import PacsAddressError, pacs_url_normalise, pacs_url_within
from labeler.importing import ImportSourceError
from labeler.outbound_http import allowed_roots

DATE_PATTERN = re.compile(r"^(\d{8})?(-(\d{8})?)?$")
MODALITY_PATTERN = re.compile(r"^[A-Z0-9]{1,16}$")
# A series chosen from a search, by its de-identified (project-keyed) UID.
KEYED_UID_PATTERN = re.compile(r"^2\.25\.[0-9]{1,39}$")
MAX_STUDIES = 500
MAX_CHOSEN_SERIES = 1000


def pacs_addresses_allowed() -> list[str]:
    """The DICOMweb roots the server may contact (``TWEEZERS_PACS_URLS``), normalised. A
    hospital sets it so that a manager's address cannot make the server fetch from elsewhere
    on its network (server-side request forgery). Empty: PACS import is off, except in the
    demo (``DJANGO_DEBUG``), where any address may be searched."""
    from django.conf import settings

    return allowed_roots(settings.TWEEZERS_PACS_URLS, setting="TWEEZERS_PACS_URLS")


def pacs_import_enabled() -> bool:
    from django.conf import settings

    return bool(pacs_addresses_allowed()) or settings.DEBUG


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
    # Which series of the found studies to import (none given: whole studies): those of a
    # modality, those whose description contains a text (compared here, never kept), or
    # the ones chosen from a search by their de-identified UIDs (``pacs_studies``).
    series_modality: str = ""
    series_description: str = ""
    series: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not pacs_import_enabled():
            raise ImportSourceError(
                _(
                    "PACS import is off on this server: its administrator has not listed the "
                    "PACS addresses it may contact (TWEEZERS_PACS_URLS)."
                )
            )
        try:
            # The address used from here on is the one the allow-list judged.
            object.__setattr__(self, "url", pacs_url_normalise(str(self.url)))
        except PacsAddressError as error:
            raise ImportSourceError(
                _("This DICOMweb address cannot be used: %(reason)s.") % {"reason": error}
            ) from error
        allowed = pacs_addresses_allowed()
        if allowed and not any(pacs_url_within(self.url, root) for root in allowed):
            raise ImportSourceError(
                _(
                    "This server may only search the PACS addresses its administrator allowed "
                    "(TWEEZERS_PACS_URLS): %(addresses)s"
                )
                % {"addresses": ", ".join(allowed)}
            )
        if self.study_date and not DATE_PATTERN.match(self.study_date):
            raise ImportSourceError(_("Study date must be YYYYMMDD or YYYYMMDD-YYYYMMDD."))
        if self.modality and not MODALITY_PATTERN.match(self.modality):
            raise ImportSourceError(_("Modality is a DICOM code such as CT, MR, CR or US."))
        if not 1 <= self.limit <= MAX_STUDIES:
            raise ImportSourceError(
                _("The study limit must be between 1 and %(max)d.") % {"max": MAX_STUDIES}
            )
        self._series_check()

    def _series_check(self) -> None:
        if self.series_modality and not MODALITY_PATTERN.match(self.series_modality):
            raise ImportSourceError(_("Modality is a DICOM code such as CT, MR, CR or US."))
        chosen = self.series if isinstance(self.series, list | tuple) else [self.series]
        object.__setattr__(self, "series", tuple(str(uid) for uid in chosen))
        if len(self.series) > MAX_CHOSEN_SERIES or not all(
            KEYED_UID_PATTERN.match(uid) for uid in self.series
        ):
            raise ImportSourceError(
                _("Choose series by the de-identified UIDs a search listed (2.25.…).")
            )

    @property
    def by_series(self) -> bool:
        return bool(self.series_modality or self.series_description.strip() or self.series)

    def series_filters(self) -> dict[str, str]:
        return {"Modality": self.series_modality} if self.series_modality else {}

    def series_wanted(self, record: dict) -> bool:
        """Whether a QIDO series record's description contains the asked text (compared
        here, case-insensitively: PACS differ in how they match wildcards; the description is
        never kept)."""
        wanted = self.series_description.strip().casefold()
        return not wanted or wanted in text_value(record, "0008103E").casefold()

    def as_dict(self) -> dict:
        return asdict(self)

    def filters(self) -> dict[str, str]:
        """What the PACS is asked to match (the description is matched here)."""
        filters = {
            "ModalitiesInStudy": self.modality,
            "StudyDate": self.study_date,
            "AccessionNumber": self.accession.strip(),
        }
        return {key: value for key, value in filters.items() if value}

    def description_pattern(self) -> str:
        """The study description asked for as a case-folded ``fnmatch`` pattern: the text
        anywhere, or as written where it has a ``*`` wildcard; empty when none is asked."""
        description = self.description.strip().casefold()
        if description and "*" not in description:
            description = f"*{description}*"
        return description.replace("[", "[[]")


def text_value(record: dict, tag: str) -> str:
    element = record.get(tag) if isinstance(record, dict) else None
    value = (element.get("Value") if isinstance(element, dict) else None) or []
    return str(value[0]) if value and not isinstance(value[0], dict) else ""


def number_value(record: dict, tag: str) -> int | None:
    try:
        return int(text_value(record, tag))
    except ValueError:
        return None
