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
    assert "알 수 없는 라벨 'eggs'" in unknown.json()["error"]["message"]
    assert "DICOM 파일" in report.rejected[0]["reason"]
