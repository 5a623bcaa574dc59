"""OpenID Connect sign-in through a real provider (the certified oidc-provider, run by Node
for each test) and its own login page, in Chromium: the authorization code flow with PKCE,
the account created just in time with the role of its group, an API token made from the
session, RP-initiated logout, and the role taken back when the provider drops the group."""

from __future__ import annotations

import json

import pytest
import requests
from django.contrib.auth import get_user_model

from labeler.models import Membership
from tests.factories import ProjectFactory, UserFactory
from tests.sso.conftest import OIDC_USERS, oidc_variables

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLE_MAP = json.dumps({"/radiology": [{"project": "Chest X-ray", "role": "annotator"}]})


@pytest.fixture
def chest(transactional_db):
    project = ProjectFactory(name="Chest X-ray", kind="image", classes=["normal", "effusion"])
    Membership.objects.create(project=project, user=UserFactory(), role="manager")
    return project


def sign_in_with_provider(page, login: str) -> None:
    """From Tweezers' login page through the provider's own pages and back."""
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Test Hospital").click()
    # The provider's development login page (oidc-provider's devInteractions).
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any")
    page.get_by_role("button", name="Sign-in").click()
    consent = page.get_by_role("button", name="Continue")
    page.wait_for_load_state()
    if "/interaction/" in page.url:
        consent.click()
    page.wait_for_selector("form[action$='/accounts/logout/']", state="attached")


def test_browser_login_through_the_provider_lands_on_tweezers_with_the_mapped_role(
    new_page, live_server, identity_provider, configure_sso, chest
):
    configure_sso(**oidc_variables(identity_provider, TWEEZERS_SSO_ROLE_MAP=ROLE_MAP))
    page = new_page()

    sign_in_with_provider(page, "alice")

    alice = get_user_model().objects.get(username="alice")
    assert (alice.email, alice.last_name, alice.has_usable_password()) == (
        "alice@hospital.test",
        "Kim",
        False,
    )
    assert Membership.objects.get(project=chest, user=alice).source == "directory"
    page.goto(f"/projects/{chest.pk}/label/")
    tabs = page.locator("nav.tabs")
    tabs.get_by_text("Label", exact=True).wait_for()
    assert tabs.get_by_text("Settings", exact=True).count() == 0

    # No password to give the token endpoint: the token comes from the signed-in session.
    page.goto("/accounts/tokens/")
    page.get_by_role("button", name="Create a token").click()
    token = page.locator("code.new-token").inner_text()
    projects = requests.get(
        f"{live_server.url}/api/projects/", headers={"Authorization": f"Token {token}"}, timeout=10
    )
    assert [p["name"] for p in projects.json()["results"]] == ["Chest X-ray"]

    # RP-initiated logout: Tweezers' "Log out" ends the provider's session too.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{identity_provider.issuer}/**")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/**")
    page.goto("/")
    assert "/accounts/login/" in page.url


def test_a_user_the_provider_takes_out_of_the_group_loses_the_project_at_next_login(
    new_page, identity_provider, configure_sso, chest
):
    configure_sso(**oidc_variables(identity_provider, TWEEZERS_SSO_ROLE_MAP=ROLE_MAP))
    page = new_page()
    sign_in_with_provider(page, "alice")
    assert page.goto(f"/projects/{chest.pk}/label/").status == 200

    identity_provider.set_users({**OIDC_USERS, "alice": {**OIDC_USERS["alice"], "groups": []}})
    # A new browser, as on the next morning: the provider is asked again.
    later = new_page()
    sign_in_with_provider(later, "alice")

    assert later.goto(f"/projects/{chest.pk}/label/").status == 404
    assert not Membership.objects.filter(project=chest, user__username="alice").exists()
