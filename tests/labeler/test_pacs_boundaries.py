"""The PACS path stays where it was told: a local canary server records every request the
import sends, and none may fall outside the allowed DICOMweb root (redirects, dot segments,
encoded dots, UIDs sent by the PACS); the requested limit holds on what is fetched; a PACS
that drips its answer is cut off at the total deadline, not after each slow read."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import translation

from labeler.dicom.dicomweb import PacsQuery, pacs_entries
from labeler.dicom.pacs_http import pacs_url_normalise, pacs_url_within
from labeler.importing import ImportSourceError, Limits, Rejection
from tests.factories import ProjectFactory, UserFactory
from tests.processes import http_answer, loopback_http

LIMITS = Limits(
    max_file_bytes=10**7, max_image_pixels=10**7, max_text_chars=10**5, max_total_bytes=10**8
)
ROOT_PATH = "/pacs/dicom-web"
DRIP_INTERVAL = 0.25
DRIP_BYTES = 40  # 10 s of dripping: far past every deadline these tests set
# Time past a deadline allowed for the cut-off to show on a busy 2-core machine.
MARGIN = 2.0


class Canary:
    """What the fake PACS answers, and every request it received (path with query)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.study_uids: list[str] = []
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def root(self) -> str:
        return self.base + ROOT_PATH

    def paths(self) -> list[str]:
        return [urlsplit(request).path for request in self.requests]

    def outside_root(self) -> list[str]:
        return [
            path
            for path in self.paths()
            if path != ROOT_PATH and not path.startswith(ROOT_PATH + "/")
        ]


def _respond(canary: Canary, request: BaseHTTPRequestHandler) -> None:
    canary.requests.append(request.path)
    path = urlsplit(request.path).path
    if path == "/redirect/dicom-web/studies":
        http_answer(request, 302, headers={"Location": f"{canary.base}/outside/studies"})
    elif path == f"{ROOT_PATH}/studies":
        body = json.dumps(
            [{"0020000D": {"vr": "UI", "Value": [uid]}} for uid in canary.study_uids]
        ).encode()
        http_answer(request, 200, body, headers={"Content-Type": "application/dicom+json"})
    elif path in ("/drip/dicom-web/studies", f"{ROOT_PATH}/studies/1.2.840.99"):
        _drip(request)
    elif path == "/dropping/dicom-web/studies" or (
        path == "/flaky/dicom-web/studies" and canary.paths().count(path) == 1
    ):
        return  # the connection closes with no answer at all, as a PACS under load may
    elif path == "/flaky/dicom-web/studies":
        http_answer(request, 200, b"[]", headers={"Content-Type": "application/dicom+json"})
    else:
        http_answer(request, 404)


def _drip(request: BaseHTTPRequestHandler) -> None:
    # Each byte arrives well within any per-read timeout; the whole never ends in time.
    request.send_response(200)
    request.send_header("Content-Type", 'multipart/related; type="application/dicom"')
    request.send_header("Content-Length", str(DRIP_BYTES * 100))
    request.end_headers()
    stop = threading.Event()
    for _ in range(DRIP_BYTES):
        try:
            request.wfile.write(b"[")
            request.wfile.flush()
        except OSError:
            return
        stop.wait(DRIP_INTERVAL)


@pytest.fixture
def canary(settings) -> Iterator[Canary]:
    canary = Canary()
    with loopback_http(lambda request: _respond(canary, request)) as port:
        canary.port = port
        settings.TWEEZERS_PACS_URLS = [canary.root]
        yield canary


def _import(url: str, limit: int = 20) -> tuple[int, list]:
    total, entries = pacs_entries(PacsQuery(url=url, limit=limit), LIMITS, None)
    return total, list(entries)


def test_a_redirect_from_the_allowed_pacs_is_not_followed(canary, settings):
    settings.TWEEZERS_PACS_URLS = [f"{canary.base}/redirect/dicom-web"]

    with pytest.raises(ImportSourceError, match="redirect"):
        _import(f"{canary.base}/redirect/dicom-web")

    assert canary.paths() == ["/redirect/dicom-web/studies"]


def test_a_connection_dropped_without_an_answer_is_tried_once_more(canary, settings):
    settings.TWEEZERS_PACS_URLS = [f"{canary.base}/flaky/dicom-web"]

    assert _import(f"{canary.base}/flaky/dicom-web") == (0, [])

    assert canary.paths() == ["/flaky/dicom-web/studies"] * 2


def test_a_pacs_that_keeps_dropping_the_connection_is_a_clear_error_after_two_tries(
    canary, settings
):
    settings.TWEEZERS_PACS_URLS = [f"{canary.base}/dropping/dicom-web"]

    with pytest.raises(ImportSourceError, match="could not search for studies"):
        _import(f"{canary.base}/dropping/dicom-web")

    assert canary.paths() == ["/dropping/dicom-web/studies"] * 2


@pytest.mark.parametrize(
    "escape",
    [
        "/pacs/dicom-web/../../outside",
        "/pacs/dicom-web/%2e%2e/%2E%2E/outside",
        "/pacs/dicom-web/.%2e/%2e./outside",
        "/pacs//dicom-web/..//../outside",
        "/pacs/dicom-web/%2e%2e%2f%2e%2e%2foutside",
        "/pacs/dicom-web/..%5c..%5coutside",
    ],
)
def test_dot_segments_and_encoded_dots_cannot_leave_the_allowed_root(canary, escape):
    with pytest.raises(ImportSourceError):
        _import(canary.base + escape)

    assert canary.requests == []


def test_userinfo_cannot_smuggle_another_host_past_the_allow_list(canary):
    for sneaky in (
        f"http://127.0.0.1:{canary.port}@169.254.169.254{ROOT_PATH}",
        f"http://user:pw@127.0.0.1:{canary.port}{ROOT_PATH}",
    ):
        with pytest.raises(ImportSourceError):
            _import(sneaky)

    assert canary.requests == []


def test_spellings_of_the_allowed_root_are_normalised_and_stay_inside_it(canary):
    canary.study_uids = []
    spelled = f"HTTP://127.0.0.1:{canary.port}//pacs/./dicom-web/x/../"

    total, entries = _import(spelled)

    assert (total, entries) == (0, [])
    assert canary.paths() == [f"{ROOT_PATH}/studies"]


def test_addresses_are_normalised_before_the_allow_list_decides():
    assert pacs_url_normalise("HTTP://PACS.local:80//a/./b/%2e%2e/c/") == "http://pacs.local/a/c"
    assert pacs_url_normalise("https://pacs.local:443/dicom-web") == "https://pacs.local/dicom-web"
    assert pacs_url_within("http://pacs.local:80/dicom-web/studies", "http://pacs.local/dicom-web")
    assert not pacs_url_within(
        "http://pacs.local/dicom-web/%2e%2e/x", "http://pacs.local/dicom-web"
    )
    assert not pacs_url_within("http://pacs.local/dicom-webx", "http://pacs.local/dicom-web")
    assert not pacs_url_within("http://pacs.local@evil/dicom-web", "http://pacs.local/dicom-web")


def test_study_uids_from_the_pacs_are_checked_before_they_enter_a_path(canary):
    canary.study_uids = [
        "1.2.3",
        "../../outside/x",
        "1.2.3/../../../../outside",
        "1.2.3%2F..%2F..%2Foutside",
        "1." + "2" * 63,
        "1.2.3?x=../../outside",
    ]

    total, entries = _import(canary.root)

    assert total == 6
    assert canary.outside_root() == []
    assert canary.paths() == [f"{ROOT_PATH}/studies", f"{ROOT_PATH}/studies/1.2.3"]
    rejected = [entry for entry in entries if isinstance(entry, Rejection)]
    assert sum("invalid study UID" in entry.reason for entry in rejected) == 5


def test_the_requested_limit_holds_even_when_the_pacs_sends_more(canary):
    canary.study_uids = [f"1.2.{number}" for number in range(50)]

    total, _ = _import(canary.root, limit=3)

    assert total == 3
    search = canary.requests[0]
    assert parse_qs(urlsplit(search).query)["limit"] == ["3"]
    assert canary.paths()[1:] == [f"{ROOT_PATH}/studies/1.2.{number}" for number in range(3)]


def test_a_dripping_pacs_is_cut_off_at_the_requests_total_deadline(canary, settings):
    settings.TWEEZERS_PACS_URLS = [f"{canary.base}/drip/dicom-web"]
    settings.TWEEZERS_PACS_REQUEST_SECONDS = 1.5

    started = time.monotonic()
    with pytest.raises(ImportSourceError, match="time limit"):
        _import(f"{canary.base}/drip/dicom-web")
    elapsed = time.monotonic() - started

    assert elapsed < 1.5 + MARGIN, elapsed


def test_a_dripping_study_ends_the_import_at_the_jobs_deadline(canary, settings):
    settings.TWEEZERS_PACS_REQUEST_SECONDS = 60
    settings.TWEEZERS_PACS_JOB_SECONDS = 1.5
    canary.study_uids = ["1.2.840.99", "1.2.840.100", "1.2.840.101"]

    started = time.monotonic()
    total, entries = _import(canary.root)
    elapsed = time.monotonic() - started

    assert elapsed < 1.5 + MARGIN, elapsed
    assert total == 3
    reasons = [entry.reason for entry in entries if isinstance(entry, Rejection)]
    assert "time limit" in reasons[0]
    assert "reached its time limit" in reasons[-1]
    # The later studies were never asked for.
    assert canary.paths() == [f"{ROOT_PATH}/studies", f"{ROOT_PATH}/studies/1.2.840.99"]


def test_without_an_allow_list_pacs_import_is_off_outside_the_demo(settings):
    settings.TWEEZERS_PACS_URLS = []
    settings.DEBUG = False

    with translation.override("en"), pytest.raises(ImportSourceError, match="PACS import is off"):
        PacsQuery(url="http://pacs.hospital.local/dicom-web")

    settings.DEBUG = True
    assert PacsQuery(url="http://pacs.hospital.local/dicom-web").url.startswith("http://pacs")


@pytest.mark.django_db
def test_the_import_page_says_pacs_import_is_off_in_the_users_language(client, settings):
    settings.TWEEZERS_PACS_URLS = []
    settings.DEBUG = False
    project = ProjectFactory(kind="image", classes=["CT", "MR"], created_by=UserFactory())
    client.force_login(project.created_by)

    # The request switches this thread to Korean; override puts the language back after.
    with translation.override("en"):
        response = client.post(
            f"/projects/{project.pk}/import/pacs/",
            {"url": "http://pacs.hospital.local/dicom-web", "limit": "5"},
            HTTP_ACCEPT_LANGUAGE="ko",
        )
        page = client.get(f"/projects/{project.pk}/import/", HTTP_ACCEPT_LANGUAGE="ko")

    assert response.status_code == 400
    assert "PACS 가져오기" in response.content.decode()
    assert "PACS 가져오기가 꺼져" in page.content.decode()
    assert 'name="accession"' not in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address",
    [
        "{root}/../../outside",
        "{root}/%2e%2e/%2e%2e/outside",
        "{root}/%2e%2e%2foutside",
        "{root}/%ff",
        "{root}\\\\..\\\\outside",
        "http://127.0.0.1:{port}@169.254.169.254/pacs/dicom-web",
        "http://127.0.0.1:99999/pacs/dicom-web",
        "http://[::1/pacs/dicom-web",
        "{root}?limit=100000",
        "{root}/" + "a" * 600,
        "javascript:alert(1)",
        "http://127.0.0.1:{port}/pacs/dicom-web\x00",
    ],
)
def test_a_hostile_pacs_address_on_the_import_page_is_a_form_error(canary, client, address):
    from labeler.models import ImportJob

    project = ProjectFactory(kind="image", classes=["CT", "MR"], created_by=UserFactory())
    client.force_login(project.created_by)
    url = address.format(root=canary.root, port=canary.port)

    response = client.post(f"/projects/{project.pk}/import/pacs/", {"url": url, "limit": "5"})

    assert response.status_code == 400
    assert not ImportJob.objects.exists()
    assert canary.requests == []
