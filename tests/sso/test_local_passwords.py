"""``TWEEZERS_LOCAL_PASSWORDS=0``: Tweezers' own passwords stop working on the login page, the
admin and the token endpoint, except a superuser's (the break-glass account for when the
directory or the identity provider is down). With single sign-on off, its pages are 404."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

PASSWORD = "correct horse battery"

pytestmark = pytest.mark.django_db


def test_local_passwords_off_refuses_the_password_form_and_the_token_endpoint(
    client, configure_sso
):
    user = UserFactory()
    configure_sso(TWEEZERS_LOCAL_PASSWORDS="0")

    page = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    token = client.post(reverse("api:token"), {"username": user.username, "password": PASSWORD})

    assert page.status_code == 200
    assert "_auth_user_id" not in client.session
    assert token.status_code == 400


def test_a_superuser_keeps_password_login_when_local_passwords_are_off(client, configure_sso):
    admin = UserFactory(is_superuser=True, is_staff=True)
    configure_sso(TWEEZERS_LOCAL_PASSWORDS="0")

    response = client.post(reverse("login"), {"username": admin.username, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin.pk)


def test_local_passwords_on_is_the_default(client, configure_sso):
    user = UserFactory()
    configure_sso()

    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302


def test_with_local_passwords_off_the_login_page_folds_the_form_away_for_administrators(
    client, configure_sso
):
    configure_sso(TWEEZERS_LOCAL_PASSWORDS="0")

    page = client.get(reverse("login")).content.decode()

    assert "Administrator sign-in" in page
    assert "<details" in page


def test_openid_connect_pages_are_not_found_while_it_is_off(client, configure_sso):
    configure_sso()

    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    assert client.get(reverse("oidc_authentication_callback")).status_code == 404
    assert "Sign in with" not in client.get(reverse("login")).content.decode()


def test_a_signed_in_user_makes_an_api_token_from_the_session_page(client):
    user = UserFactory()
    client.force_login(user)

    page = client.post(reverse("account-tokens"))

    token = page.context["new_token"]
    script = Client()
    response = script.get(reverse("api:project-list"), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert len(page.context["tokens"]) == 1


def test_an_unreachable_provider_or_a_forged_callback_never_answers_500(client, configure_sso):
    from tests import processes

    closed = f"http://127.0.0.1:{processes.free_port()}"
    configure_sso(TWEEZERS_OIDC_ISSUER=closed, TWEEZERS_OIDC_CLIENT_ID="tweezers")

    sign_in = client.get(reverse("oidc_authentication_init"))
    forged = [
        client.get(reverse("oidc_authentication_callback"), query)
        for query in ({}, {"code": "x", "state": "y"}, {"error": "access_denied", "state": "y"})
    ]

    assert sign_in.status_code == 302
    assert sign_in["Location"].endswith("?sso=unavailable")
    assert "cannot be reached" in client.get(sign_in["Location"]).content.decode()
    assert all(response.status_code < 500 for response in forged), [r.status_code for r in forged]


def test_the_sign_in_sends_a_pkce_challenge_to_explicitly_configured_endpoints(
    client, configure_sso
):
    configure_sso(
        TWEEZERS_OIDC_AUTHORIZATION_ENDPOINT="https://idp.hospital.test/authorize",
        TWEEZERS_OIDC_TOKEN_ENDPOINT="https://idp.hospital.test/token",
        TWEEZERS_OIDC_JWKS_ENDPOINT="https://idp.hospital.test/jwks",
        TWEEZERS_OIDC_CLIENT_ID="tweezers",
    )

    location = client.get(reverse("oidc_authentication_init"))["Location"]

    query = parse_qs(urlsplit(location).query)
    assert location.startswith("https://idp.hospital.test/authorize?")
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["response_type"] == ["code"]
