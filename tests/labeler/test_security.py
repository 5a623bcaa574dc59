"""Security behaviour a hospital relies on: login rate limiting, CSRF, the CSP header, no
public URLs for uploaded files, and caps on what an import may contain."""

import io
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from labeler import services
from labeler.models import Item
from tests.conftest import png_bytes
from tests.factories import UserFactory

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


@pytest.mark.django_db
def test_one_address_spraying_a_password_across_accounts_is_locked_out_for_all(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.TWEEZERS_LOGIN_SPRAY_LIMIT = 10
    victim = UserFactory()
    client = Client()
    # One guess per account: never more than one failure for any username.
    for number in range(10):
        client.post(reverse("login"), {"username": f"doctor{number}", "password": "Winter2026!"})

    response = client.post(reverse("login"), {"username": victim.username, "password": PASSWORD})
    token = client.post("/api/auth/token/", {"username": victim.username, "password": PASSWORD})

    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
    assert token.status_code in (400, 403, 429) and "token" not in token.content.decode()
    # Another address is not affected.
    elsewhere = Client(REMOTE_ADDR="10.1.2.3")
    assert (
        elsewhere.post(
            reverse("login"), {"username": victim.username, "password": PASSWORD}
        ).status_code
        == 302
    )


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
