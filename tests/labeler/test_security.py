"""Security behaviour a hospital relies on: login rate limiting, CSRF, the CSP header, no
public URLs for uploaded files, and caps on what an import may contain."""

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import translation

from labeler import services
from labeler.models import Item
from tests.conftest import png_bytes
from tests.factories import ProjectFactory, UserFactory

PASSWORD = "correct horse battery"


@pytest.mark.django_db
def test_after_five_failed_logins_even_the_right_password_is_refused(settings):
    settings.AXES_FAILURE_LIMIT = 5
    user = UserFactory()
    client = Client()
    login = reverse("login")
    for _ in range(5):
        client.post(login, {"username": user.username, "password": "guess"})

    response = client.post(login, {"username": user.username, "password": PASSWORD})

    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_api_token_endpoint_is_rate_limited_too(settings):
    settings.AXES_FAILURE_LIMIT = 5
    user = UserFactory()
    client = Client()
    for _ in range(5):
        client.post("/api/auth/token/", {"username": user.username, "password": "guess"})

    response = client.post("/api/auth/token/", {"username": user.username, "password": PASSWORD})

    assert response.status_code in (400, 403, 429)
    assert "token" not in response.content.decode()


def _login(client: Client, username: str, password: str, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def _token(client: Client, username: str, password: str, **extra):
    return client.post("/api/auth/token/", {"username": username, "password": password}, **extra)


@pytest.mark.django_db
def test_a_spray_from_one_address_does_not_lock_out_another_user_behind_it(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.TWEEZERS_LOGIN_SPRAY_LIMIT = 10
    colleague = UserFactory()
    # One guess per account from the department's NAT address.
    attacker = Client(REMOTE_ADDR="10.20.0.1")
    for number in range(10):
        _login(attacker, f"doctor{number}", "Winter2026!")

    same_address = Client(REMOTE_ADDR="10.20.0.1")
    page = _login(same_address, colleague.username, PASSWORD)
    token = _token(Client(REMOTE_ADDR="10.20.0.1"), colleague.username, PASSWORD)

    assert page.status_code == 302
    assert same_address.session["_auth_user_id"] == str(colleague.pk)
    assert token.status_code == 200 and "token" in token.json()


@pytest.mark.django_db
def test_a_spray_is_reported_once_as_an_audit_row_and_a_warning(settings, caplog):
    from labeler.models import SecurityEvent

    settings.AXES_FAILURE_LIMIT = 5
    settings.TWEEZERS_LOGIN_SPRAY_LIMIT = 10
    attacker = Client(REMOTE_ADDR="10.20.0.1")
    with caplog.at_level("WARNING", logger="tweezers.security"):
        for number in range(12):
            _login(attacker, f"doctor{number}", "Winter2026!")

    events = list(SecurityEvent.objects.filter(kind=SecurityEvent.Kind.PASSWORD_SPRAY))
    assert [(event.ip_address, event.username) for event in events] == [("10.20.0.1", "")]
    assert "10 accounts" in events[0].detail
    spray_lines = [r for r in caplog.records if "password spraying" in r.getMessage()]
    assert len(spray_lines) == 1 and spray_lines[0].levelname == "WARNING"
    assert "10.20.0.1" in spray_lines[0].getMessage()


@pytest.mark.django_db
def test_a_user_attacked_from_elsewhere_still_logs_in_from_their_own_address(settings):
    settings.AXES_FAILURE_LIMIT = 5
    doctor = UserFactory()
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(8):
        _login(attacker, doctor.username, "guess")
        _token(attacker, doctor.username, "guess")

    own = Client(REMOTE_ADDR="10.20.0.7")
    page = _login(own, doctor.username, PASSWORD)
    token = _token(Client(REMOTE_ADDR="10.20.0.7"), doctor.username, PASSWORD)

    assert page.status_code == 302
    assert own.session["_auth_user_id"] == str(doctor.pk)
    assert token.status_code == 200 and "token" in token.json()


@pytest.mark.django_db
def test_the_pair_of_account_and_address_is_locked_with_a_message_in_the_users_language(
    settings,
):
    from labeler.models import SecurityEvent

    settings.AXES_FAILURE_LIMIT = 5
    doctor = UserFactory()
    client = Client(REMOTE_ADDR="10.20.0.7")
    for _ in range(5):
        _login(client, doctor.username, "guess")

    # A Korean request switches this thread's language; override puts it back after.
    with translation.override("en"):
        page = _login(client, doctor.username, PASSWORD, HTTP_ACCEPT_LANGUAGE="ko")
        token = _token(client, doctor.username, PASSWORD, HTTP_ACCEPT_LANGUAGE="ko")
        english = _token(client, doctor.username, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 429
    assert "_auth_user_id" not in client.session
    assert "로그인 실패가 너무 많" in page.content.decode()
    assert token.status_code == 429
    assert token.json()["error"]["code"] == "locked_out"
    assert "로그인 실패가 너무 많" in token.json()["error"]["message"]
    assert "Too many failed sign-ins" in english.json()["error"]["message"]
    locked = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOCKOUT)
    assert [(event.username, event.ip_address) for event in locked] == [
        (doctor.username, "10.20.0.7")
    ]
    # The lockout is the pair's: the same account from another address is not locked.
    assert _login(Client(REMOTE_ADDR="10.20.0.8"), doctor.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_trying_again_during_a_lockout_does_not_start_the_wait_over(settings):
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.utils import timezone

    settings.AXES_FAILURE_LIMIT = 5
    doctor = UserFactory()
    client = Client(REMOTE_ADDR="10.20.0.7")
    for _ in range(5):
        _login(client, doctor.username, "guess")
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    AccessAttempt.objects.filter(username=doctor.username).update(attempt_time=ten_minutes_ago)

    refused = _login(client, doctor.username, PASSWORD)
    attempts = AccessAttempt.objects.filter(username=doctor.username)
    waited_since = list(attempts.values_list("attempt_time", flat=True))
    # Five more minutes and the lockout is over.
    attempts.update(attempt_time=ten_minutes_ago - timedelta(minutes=6))
    accepted = _login(client, doctor.username, PASSWORD)

    assert refused.status_code == 429
    assert waited_since == [ten_minutes_ago]
    assert accepted.status_code == 302


@pytest.mark.django_db
def test_a_few_mistyped_usernames_from_one_address_do_not_lock_it(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.TWEEZERS_LOGIN_SPRAY_LIMIT = 10
    user = UserFactory()
    client = Client()
    for number in range(9):
        client.post(reverse("login"), {"username": f"typo{number}", "password": "guess"})

    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302


@pytest.mark.django_db
def test_a_correct_login_works_and_resets_the_failure_count(settings):
    settings.AXES_FAILURE_LIMIT = 5
    user = UserFactory()
    client = Client()
    for _ in range(4):
        client.post(reverse("login"), {"username": user.username, "password": "guess"})

    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_a_form_post_without_its_csrf_token_is_refused(text_project, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(
        reverse("label-answer", args=[text_project.pk]), {"item_id": 1, "label": "spam"}
    )

    assert response.status_code == 403


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_without_inline_scripts(client, user):
    client.force_login(user)

    response = client.get(reverse("project-list"))

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_uploaded_images_have_no_public_url(client, image_project, user, settings):
    services.items_import_stream(
        project=image_project, name="scan.png", stream=io.BytesIO(png_bytes(3))
    )
    item = Item.objects.get(project=image_project)
    assert (Path(settings.MEDIA_ROOT) / item.file.name).exists()
    client.force_login(user)

    public = client.get(settings.MEDIA_URL + item.file.name)
    checked = client.get(reverse("item-file", args=[item.pk]))

    assert public.status_code == 404
    assert checked.status_code == 200
    outsider = Client()
    outsider.force_login(UserFactory())
    assert outsider.get(reverse("item-file", args=[item.pk])).status_code == 404


@pytest.mark.django_db
def test_a_text_over_the_size_limit_is_rejected_with_its_line_and_the_rest_imports(
    text_project, settings
):
    settings.TWEEZERS_MAX_TEXT_CHARS = 1000
    data = "text\nshort one\n" + "x" * 1001 + "\nanother short one\n"

    report = services.items_import_stream(
        project=text_project, name="t.csv", stream=io.BytesIO(data.encode())
    )

    assert report.imported == 2
    assert report.rejected == [
        {"name": "t.csv line 3", "reason": "text is 1,001 characters, over the 1,000 limit"}
    ]


@pytest.mark.django_db
def test_a_zip_that_unpacks_to_more_than_the_limit_is_refused_whole(image_project, settings):
    import zipfile

    from labeler.importing import ImportSourceError

    settings.TWEEZERS_MAX_UPLOAD_BYTES = 10_000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.png", b"\0" * 50_000)
    buffer.seek(0)

    with pytest.raises(ImportSourceError, match="unpacks to 50,000 bytes"):
        services.items_import_stream(project=image_project, name="bomb.zip", stream=buffer)
    assert not Item.objects.exists()


@pytest.mark.django_db
def test_the_demo_password_is_refused_outside_the_demo(settings):
    from django.contrib.auth import get_user_model
    from django.core.management import CommandError, call_command

    settings.DEBUG = False  # a server's settings, not `make demo`'s

    with pytest.raises(CommandError, match="exists only in the demo"):
        call_command("demo_setup", "--digits-limit", "1", "--texts-limit", "1")

    assert not get_user_model().objects.filter(username="admin").exists()


def _invited_annotator() -> tuple[str, str]:
    manager = UserFactory()
    project = ProjectFactory(classes=["benign", "malignant"], created_by=manager)
    invitation = services.membership_invite(
        project=project, username="dr-new", role="annotator", create_account=True
    )
    return invitation.membership.user.username, invitation.password


@pytest.mark.django_db
def test_a_one_time_password_cannot_be_changed_to_itself():
    from labeler.security import password_change_required

    username, one_time = _invited_annotator()
    client = Client()
    _login(client, username, one_time)

    response = client.post(
        reverse("password_change"),
        {"old_password": one_time, "new_password1": one_time, "new_password2": one_time},
    )

    assert response.status_code == 200
    assert "the one the account has now" in response.content.decode()
    user = get_user_model().objects.get(username=username)
    assert password_change_required(user)
    assert client.get(reverse("project-list")).url == reverse("password_change")


@pytest.mark.django_db
def test_keeping_the_one_time_password_is_refused_in_the_users_language():
    username, one_time = _invited_annotator()
    client = Client()
    _login(client, username, one_time)

    with translation.override("en"):
        response = client.post(
            reverse("password_change"),
            {"old_password": one_time, "new_password1": one_time, "new_password2": one_time},
            HTTP_ACCEPT_LANGUAGE="ko",
        )

    page = response.content.decode()
    assert response.status_code == 200
    assert "지금 계정의 비밀번호와 같습니다" in page and "the one the account has now" not in page
    assert client.get(reverse("project-list")).url == reverse("password_change")


@pytest.mark.django_db
def test_a_new_annotator_lands_on_tweezers_translated_password_page_that_leads_to_projects():
    username, one_time = _invited_annotator()
    client = Client()

    with translation.override("en"):
        landed = client.post(
            reverse("login"),
            {"username": username, "password": one_time},
            follow=True,
            HTTP_ACCEPT_LANGUAGE="ko",
        )
        page = landed.content.decode()
        changed = client.post(
            reverse("password_change"),
            {
                "old_password": one_time,
                "new_password1": "a phrase of my own 42",
                "new_password2": "a phrase of my own 42",
            },
            follow=True,
            HTTP_ACCEPT_LANGUAGE="ko",
        )

    assert landed.redirect_chain[-1][0] == reverse("password_change")
    assert "비밀번호 변경" in page and "일회용 비밀번호" in page
    assert "/admin/" not in page and "Django" not in page
    # No link that the one-time password would only send back here.
    assert reverse("account-tokens") not in page
    assert changed.redirect_chain[-1][0] == reverse("password_change_done")
    done = changed.content.decode()
    assert f'href="{reverse("project-list")}"' in done and "/admin/" not in done
    assert "프로젝트로 이동" in done
    assert reverse("account-tokens") in done  # changed: the account's pages are open again
    assert client.get(reverse("project-list")).status_code == 200


@pytest.mark.django_db
def test_the_password_page_loads_its_translations_and_switches_language_before_the_change():
    # The page a one-time password lands on loads the JavaScript catalogue and carries the
    # language switcher: both must reach their views, not the page itself again.
    username, one_time = _invited_annotator()
    client = Client()
    _login(client, username, one_time)

    catalogue = client.get(reverse("javascript-catalog"))
    switched = client.post(
        reverse("set_language"), {"language": "ko", "next": reverse("password_change")}
    )
    page = client.get(reverse("password_change")).content.decode()

    assert catalogue.status_code == 200
    assert "javascript" in catalogue["Content-Type"]
    assert switched.status_code == 302 and switched.url == reverse("password_change")
    assert switched.cookies["django_language"].value == "ko"
    assert "비밀번호 변경" in page


@pytest.mark.django_db
def test_pages_name_their_icon_so_browsers_do_not_ask_for_a_missing_favicon(client, user):
    # Without a <link rel="icon">, every first page load logged a 404 for /favicon.ico in the
    # browser's console.
    import re

    from django.contrib.staticfiles import finders

    client.force_login(user)
    page = client.get(reverse("project-list")).content.decode()

    icon = re.search(r'<link rel="icon" href="/static/([^"]+)"', page)
    assert icon and finders.find(icon.group(1))
