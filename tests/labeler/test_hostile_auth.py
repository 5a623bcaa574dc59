"""Tokens and passwords as hospital IT checks them: tokens expire, die with the password and
at logout; a one-time password must be replaced before anything else."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from labeler import services
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


@pytest.fixture
def expert(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory(username="dr-token")
    ProjectFactory(kind="text", created_by=user, classes=("a", "b"))
    return user


def token_for(username: str, password: str = PASSWORD) -> tuple[int, dict]:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )
    return response.status_code, response.json()


def projects_with(token: str) -> int:
    return APIClient().get("/api/projects/", HTTP_AUTHORIZATION=f"Token {token}").status_code


def test_a_token_carries_its_expiry_and_stops_working_after_it(expert):
    status, body = token_for("dr-token")
    assert status == 200 and body["expiry"]
    assert projects_with(body["token"]) == 200

    AuthToken.objects.filter(user=expert).update(expiry=timezone.now() - dt.timedelta(seconds=1))

    assert projects_with(body["token"]) == 401


def test_an_api_request_costs_no_scan_of_the_users_other_tokens_and_the_sweep_deletes_them(
    expert, django_assert_max_num_queries
):
    _, current = token_for("dr-token")
    _, old = token_for("dr-token")
    AuthToken.objects.filter(token_key=old["token"][:15]).update(
        expiry=timezone.now() - dt.timedelta(seconds=1)
    )
    client = APIClient()

    # Token (one query), the user's projects: nothing reads the user's other tokens.
    with django_assert_max_num_queries(3) as captured:
        assert (
            client.get("/api/projects/", HTTP_AUTHORIZATION=f"Token {current['token']}").status_code
            == 200
        )
    assert sum("knox_authtoken" in q["sql"] for q in captured.captured_queries) == 1
    assert projects_with(old["token"]) == 401

    assert AuthToken.objects.filter(user=expert).count() == 1  # presented, so deleted
    _, stale = token_for("dr-token")
    AuthToken.objects.filter(token_key=stale["token"][:15]).update(
        expiry=timezone.now() - dt.timedelta(seconds=1)
    )
    assert services.expired_tokens_delete() == 1
    assert projects_with(current["token"]) == 200


def test_after_a_password_change_the_old_token_gets_401(expert):
    _, body = token_for("dr-token")
    browser = Client()
    browser.force_login(expert)

    changed = browser.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a new long phrase 42",
            "new_password2": "a new long phrase 42",
        },
    )

    assert changed.status_code == 302
    assert projects_with(body["token"]) == 401
    status, fresh = token_for("dr-token", "a new long phrase 42")
    assert status == 200 and projects_with(fresh["token"]) == 200


def test_logout_revokes_the_token_and_logout_all_revokes_every_one(expert):
    first, second, third = (token_for("dr-token")[1]["token"] for _ in range(3))

    client = APIClient()
    assert client.post("/api/auth/logout/", HTTP_AUTHORIZATION=f"Token {first}").status_code == 204
    assert projects_with(first) == 401 and projects_with(second) == 200

    response = client.post("/api/auth/logout-all/", HTTP_AUTHORIZATION=f"Token {second}")
    assert response.status_code == 204
    assert projects_with(second) == 401 and projects_with(third) == 401


def test_a_tokens_secret_is_not_stored(expert):
    _, body = token_for("dr-token")

    stored = AuthToken.objects.get(user=expert)
    assert body["token"] not in (stored.digest, stored.token_key)


def test_a_one_time_password_must_be_changed_at_first_sign_in(expert):
    project = ProjectFactory(kind="text", created_by=expert, classes=("a", "b"))
    invitation = services.membership_invite(
        project=project, username="nurse-new", role="annotator", create_account=True
    )
    browser = Client()

    login = browser.post(
        reverse("login"), {"username": "nurse-new", "password": invitation.password}
    )
    elsewhere = browser.get(reverse("label", args=[project.pk]))
    token_status, token_body = token_for("nurse-new", invitation.password)

    assert login.status_code == 302
    assert elsewhere.status_code == 302 and elsewhere["Location"] == reverse("password_change")
    assert token_status == 403 and "one-time password" in token_body["error"]["message"]

    changed = browser.post(
        reverse("password_change"),
        {
            "old_password": invitation.password,
            "new_password1": "my own phrase 9",
            "new_password2": "my own phrase 9",
        },
    )
    assert changed.status_code == 302
    assert browser.get(reverse("label", args=[project.pk])).status_code == 200


def test_the_password_reset_pages_are_off_without_email(client):
    assert client.get("/accounts/password_reset/").status_code == 404


def test_every_request_renews_the_session_for_the_idle_timeout_only(expert, settings):
    browser = Client()
    browser.force_login(expert)

    response = browser.get(reverse("project-list"))

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE <= 8 * 3600


def test_opening_an_item_is_recorded_and_shown_to_managers_only(expert):
    from labeler.models import ItemView, Membership
    from tests.labeler.api.factories import item_add, membership_add, round_add

    project = ProjectFactory(kind="text", created_by=expert, classes=("a", "b"))
    nurse = UserFactory(username="nurse-audit")
    membership_add(project=project, user=nurse, role=Membership.Role.ANNOTATOR)
    item = item_add(project, text="a patient note")
    round_add(project, [item])
    nurse_browser, manager_api = Client(), APIClient()
    nurse_browser.force_login(nurse)
    manager_api.force_login(expert)

    assert nurse_browser.get(reverse("label", args=[project.pk])).status_code == 200
    detail = manager_api.get(f"/api/projects/{project.pk}/items/{item.pk}/")
    views = manager_api.get(f"/api/projects/{project.pk}/items/{item.pk}/views/").json()
    page = manager_api.get(reverse("item-history", args=[project.pk, item.pk]))
    nurse_views = APIClient()
    nurse_views.force_login(nurse)

    assert detail.status_code == 200
    recorded = {(v["user"], v["where"]) for v in views["results"]}
    assert {("nurse-audit", "labeling"), ("dr-token", "api")} <= recorded
    assert "nurse-audit" in page.content.decode() and 'id="item-views"' in page.content.decode()
    assert nurse_views.get(f"/api/projects/{project.pk}/items/{item.pk}/views/").status_code == 403
    first = ItemView.objects.first()
    with pytest.raises(ValueError):
        first.save()


def test_the_access_log_line_names_the_user(expert, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="tweezers.access")
    browser = Client()
    browser.force_login(expert)

    browser.get(reverse("project-list"))
    Client().get(reverse("project-list"))

    lines = [r.getMessage() for r in caplog.records if r.name == "tweezers.access"]
    assert any(line.startswith("user=dr-token GET / 200") for line in lines), lines
    assert any(line.startswith("user=- GET / 302") for line in lines), lines
