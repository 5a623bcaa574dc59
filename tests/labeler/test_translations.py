"""Korean and English: every string marked for translation has a Korean translation, and the
pages come out in the language the user chose.

The first test re-extracts the marked strings from the code as it is now (in a copy of the
sources, so the committed .po files are left alone) and fails on any msgid without a Korean
msgstr, or with a fuzzy one: a string someone adds or changes without translating it breaks
the build, not the Korean user's page."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import ProjectFactory, UserFactory

REPO = Path(__file__).resolve().parents[2]
LOCALE = REPO / "locale" / "ko" / "LC_MESSAGES"
SOURCES = ["config", "labeler", "templates", "manage.py"]
DOMAINS = ["django", "djangojs"]


def _copy_sources(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    shutil.copytree(REPO / "static" / "js", target / "static" / "js")
    shutil.copytree(REPO / "locale", target / "locale", ignore=ignore)


def _untranslated(po: Path) -> str:
    found = []
    for flag in ("--untranslated", "--only-fuzzy"):
        result = subprocess.run(
            ["msgattrib", flag, "--no-wrap", str(po)],
            capture_output=True,
            text=True,
            check=True,
        )
        # msgattrib prints the header entry (msgid "") even when nothing else matched.
        entries = [e for e in result.stdout.split("\n\n") if "msgid" in e and 'msgid ""' not in e]
        found.extend(entry.strip() for entry in entries)
    return "\n\n".join(found)


@pytest.mark.skipif(shutil.which("msgattrib") is None, reason="gettext is not installed")
def test_every_marked_string_has_a_korean_translation(tmp_path):
    _copy_sources(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "1", "HOME": str(tmp_path)}
    for domain in DOMAINS:
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "ko", "-d", domain]
            + ["--no-location", "--ignore=static/vendor/*"],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
        )
        missing = _untranslated(tmp_path / "locale" / "ko" / "LC_MESSAGES" / f"{domain}.po")
        assert not missing, (
            f"{domain}.po: strings without a Korean translation (run `make messages`, "
            f"translate them in locale/ko/LC_MESSAGES/{domain}.po, commit):\n{missing[:4000]}"
        )


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_committed_translations_compile_with_matching_placeholders(domain, tmp_path):
    # --check: a msgstr that drops or renames a %(name)s placeholder would fail at run time.
    subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "out.mo"), str(LOCALE / f"{domain}.po")],
        check=True,
    )


def test_the_language_switcher_remembers_korean_and_the_pages_follow(client, db):
    user = UserFactory()
    ProjectFactory(created_by=user)
    client.force_login(user)
    assert "Log out" in client.get(reverse("project-list")).content.decode()

    response = client.post(reverse("set_language"), {"language": "ko", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "ko"

    page = client.get(reverse("project-list")).content.decode()
    assert '<html lang="ko">' in page
    assert "프로젝트" in page and "로그아웃" in page

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("project-list")).content.decode()
    assert '<html lang="en">' in page and "Log out" in page


def test_the_javascript_catalog_serves_korean_strings(client, db):
    client.cookies["django_language"] = "ko"
    body = client.get(reverse("javascript-catalog")).content.decode()
    assert "\\uc815\\ud655\\ub3c4" in body or "정확도" in body  # "Accuracy"


def test_submit_refusals_and_pixel_text_refusals_come_in_the_users_language(db):
    """Refusals built in code (issue 23): a submit for an item the annotator does not hold, an
    unknown label, and a DICOM import's reasons, in Korean for a Korean user."""
    import io

    from django.utils import translation
    from rest_framework.test import APIClient

    from labeler import services
    from tests.labeler.api.factories import item_add, round_add

    user = UserFactory()
    project = ProjectFactory(kind="text", created_by=user, classes=("spam", "ham"))
    items = [item_add(project, text=f"message {n}") for n in range(3)]
    round_add(project, items)
    client = APIClient()
    client.force_authenticate(user)
    url = f"/api/projects/{project.pk}/annotations/"
    try:
        not_held = client.post(
            url, {"item": items[0].pk, "label": "spam"}, format="json", HTTP_ACCEPT_LANGUAGE="ko"
        )
        held = client.get(f"/api/projects/{project.pk}/next/").json()["item"]["id"]
        unknown = client.post(
            url, {"item": held, "label": "eggs"}, format="json", HTTP_ACCEPT_LANGUAGE="ko"
        )
        with translation.override("ko"):
            image = ProjectFactory(kind="image", created_by=user, classes=("a", "b"))
            report = services.items_import_stream(
                project=image, name="x.dcm", stream=io.BytesIO(b"DICM but not really")
            )
    finally:
        translation.activate("en")

    assert not_held.status_code == 409
    assert "이 항목을 맡고 있지 않습니다" in not_held.json()["error"]["message"]
    assert unknown.status_code == 400
    assert "알 수 없는 레이블 'eggs'" in unknown.json()["error"]["message"]
    assert "DICOM 파일" in report.rejected[0]["reason"]


# The modules that build an import's rejection reasons, and the exceptions and rows that carry
# them: a reason written as a plain string or an f-string is English in a Korean report.
IMPORT_PATH = [
    "labeler/importing.py",
    "labeler/importing_entries.py",
    "labeler/importing_findings.py",
    "labeler/importing_text.py",
    "labeler/outbound_http.py",
    "labeler/dicom/deidentify.py",
    "labeler/dicom/dicomweb.py",
    "labeler/dicom/pacs_query.py",
    "labeler/dicom/geometry.py",
    "labeler/dicom/reading.py",
    "labeler/services/imports.py",
    "labeler/services/import_jobs.py",
    "labeler/services/labelstudio_import.py",
    "labeler/services/scans.py",
]
REASON_CARRIERS = {
    "Rejection",
    "ImportSourceError",
    "DicomRejected",
    "OutboundRefused",
    "PacsRefused",
    "_MalformedTask",
    "_job_fail",
}


def _is_english_literal(node) -> bool:
    """A string literal or f-string with words in it, not passed through gettext."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(char.isalpha() for char in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(
            isinstance(part, ast.Constant) and any(char.isalpha() for char in part.value)
            for part in node.values
        )
    if isinstance(node, ast.IfExp):
        return _is_english_literal(node.body) or _is_english_literal(node.orelse)
    return False


def _module_constants() -> dict:
    """The import path's module-level names bound to a value (``NOT_AN_IMAGE = …``)."""
    import ast

    constants = {}
    for name in IMPORT_PATH:
        for node in ast.parse((REPO / name).read_text()).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value
    return constants


def _untranslated_reasons(path: Path, constants: dict) -> list[str]:
    import ast

    def english(node) -> bool:
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "str" and node.args:
            node = node.args[0]  # str(NOT_AN_IMAGE)
        if isinstance(node, ast.Name) and node.id in constants:
            node = constants[node.id]
        return _is_english_literal(node)

    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in REASON_CARRIERS:
                found += [f"{path}:{arg.lineno}" for arg in node.args if english(arg)]
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                named = isinstance(key, ast.Constant) and key.value in ("reason", "name", "error")
                if named and english(value):
                    found.append(f"{path}:{value.lineno}")
        elif (
            isinstance(node, ast.keyword)
            and node.arg in ("reason", "refused", "error")
            and english(node.value)
        ):
            found.append(f"{path}:{node.value.lineno}")
    return found


def test_the_import_paths_reasons_are_built_for_translation():
    """Issue 23: an import's rejection reasons and failures are made in code, many by the
    worker. Every one is built from a marked string (gettext), never a plain or f-string."""
    constants = _module_constants()
    found = [
        where for name in IMPORT_PATH for where in _untranslated_reasons(REPO / name, constants)
    ]

    assert not found, "reasons built from plain strings:\n" + "\n".join(found)


HANGUL = range(0xAC00, 0xD7A4)


def _korean(text: str) -> bool:
    return any(ord(char) in HANGUL for char in text)


def test_an_import_the_worker_runs_reports_in_the_language_of_whoever_started_it(db, settings):
    """The worker has no request: a job started from a Korean page writes its rejection
    reasons (and the rows' names) in Korean, while the worker's own language is English."""
    import io
    import json
    import zipfile

    from django.utils import translation

    from labeler import services
    from labeler.models import ImportJob

    settings.TWEEZERS_MAX_TEXT_CHARS = 50
    user = UserFactory()
    text = ProjectFactory(kind="text", created_by=user, classes=("spam", "ham"))
    image = ProjectFactory(kind="image", created_by=user, classes=("a", "b"))
    csv_rows = (
        b"text,label\n"
        b"fine,spam\n"
        b"empty label next,eggs\n"
        b",ham\n"
        b"too many,spam,extra\n" + b"x" * 60 + b",spam\n" + b"\xff\xfe not utf-8,ham\n"
    )
    jsonl_rows = b'{"text": "ok"}\n{"text": 3}\nnot json\n[1, 2]\n{"text": "a", "label": 4}\n'
    labelstudio = json.dumps(
        [{"data": {"text": "fine"}}, 5, {"data": 3}, {"data": {"text": "x"}, "annotations": 7}]
    ).encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("notes.txt", b"not an image")
        zipped.writestr("broken.png", b"\x89PNG\r\n\x1a\n broken")
        zipped.writestr("photo.gif", b"GIF89a" + b"\x00" * 20)
    uploads = [
        (text, "mail.csv", csv_rows),
        (text, "mail.jsonl", jsonl_rows),
        (text, "tasks.json", labelstudio),
        (image, "pictures.zip", archive.getvalue()),
        (image, "pictures.zip", b"not a zip at all"),
    ]
    with translation.override("ko"):  # the manager's page
        jobs = [
            services.import_job_create(
                project=project, created_by=user, name=name, stream=io.BytesIO(data)
            )
            for project, name, data in uploads
        ]
    translation.activate("en")  # the worker's
    for job in jobs:
        services.import_job_run(job_id=job.pk)

    reports = [ImportJob.objects.get(pk=job.pk) for job in jobs]
    reasons = [row["reason"] for job in reports for row in job.rejected]
    names = [row["name"] for job in reports for row in job.rejected if "line" in row["name"]]
    failures = [job.error for job in reports if job.status == ImportJob.Status.FAILED]
    assert len(reasons) >= 12 and failures
    english = [said for said in reasons + failures + names if not _korean(said)]
    assert not english, "left in English:\n" + "\n".join(english)
    # The same reasons in English for a job started from an English page.
    with translation.override("en"):
        job = services.import_job_create(
            project=text, created_by=user, name="again.csv", stream=io.BytesIO(csv_rows)
        )
    translation.activate("ko")
    try:
        services.import_job_run(job_id=job.pk)
    finally:
        translation.activate("en")
    assert not any(_korean(row["reason"]) for row in ImportJob.objects.get(pk=job.pk).rejected)


def test_the_new_project_pages_burned_in_setting_is_in_korean(client, db):
    # Its label and help came from the model field unmarked: the only English left on the
    # Korean new-project page.
    from django.contrib.auth.models import Permission

    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="add_project"))
    client.force_login(user)
    client.cookies["django_language"] = "ko"

    page = client.get(reverse("project-create")).content.decode()

    assert "annotation이 있는 DICOM 받기" in page
    assert "Accept DICOM" not in page


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_korean_translation_keeps_one_word_for_label_and_for_annotator(domain):
    # "레이블" (the tabs, the buttons) and "라벨" ("라벨 0개") stood side by side on the
    # labeling page, as did "레이블러" and "주석자" for an annotator.
    po = (
        Path(__file__).resolve().parents[2] / "locale/ko/LC_MESSAGES" / f"{domain}.po"
    ).read_text()

    assert "라벨" not in po and "주석자" not in po
