"""LDAP sign-in against a real OpenLDAP (slapd) started for each test: the login page, the
token endpoint, groups mapped to project roles at every login and taken back when the
directory takes the user out of the group."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from labeler.models import Membership
from tests.factories import ProjectFactory, UserFactory
from tests.sso import servers
from tests.sso.conftest import PEOPLE, ldap_variables

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ROLE_MAP = json.dumps(
    {
        servers.group_dn("radiology"): [{"project": "Chest X-ray", "role": "annotator"}],
        servers.group_dn("radiology-leads"): [{"project": "Chest X-ray", "role": "manager"}],
    }
)


@pytest.fixture
def chest(db):
    project = ProjectFactory(name="Chest X-ray", kind="image", classes=["normal", "effusion"])
    Membership.objects.create(project=project, user=UserFactory(), role="manager")
    return project


def log_in(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_a_directory_user_logs_in_on_the_page_and_gets_the_role_of_their_group(
    client, directory, configure_sso, chest
):
    configure_sso(**ldap_variables(directory, TWEEZERS_SSO_ROLE_MAP=ROLE_MAP))

    response = log_in(client, "alice", PEOPLE["alice"]["password"])

    assert response.status_code == 302, response.content[:500]
    alice = get_user_model().objects.get(username="alice")
    assert (alice.first_name, alice.email) == ("Alice", "alice@hospital.test")
    assert not alice.has_usable_password()
    page = client.get(reverse("label", args=[chest.pk]))
    assert page.status_code == 200
    assert "Chest X-ray" in page.content.decode()
    assert client.get(reverse("project-settings", args=[chest.pk])).status_code == 403
    # The project's manager sees where the role came from.
    client.force_login(Membership.objects.get(project=chest, role="manager").user)
    members = client.get(reverse("project-members", args=[chest.pk])).content.decode()
    alice_row = members[members.index('data-member="alice"') :].split("</tr>")[0]
    assert '<option value="annotator" selected>' in alice_row
    assert "From a directory group" in alice_row


def test_a_user_taken_out_of_the_group_in_the_directory_loses_the_project_at_next_login(
    client, directory, configure_sso, chest
):
    configure_sso(**ldap_variables(directory, TWEEZERS_SSO_ROLE_MAP=ROLE_MAP))
    assert log_in(client, "alice", PEOPLE["alice"]["password"]).status_code == 302
    assert client.get(reverse("label", args=[chest.pk])).status_code == 200
    client.post(reverse("logout"))

    directory.remove_member("radiology", "alice")
    assert log_in(client, "alice", PEOPLE["alice"]["password"]).status_code == 302

    assert client.get(reverse("label", args=[chest.pk])).status_code == 404
    assert not Membership.objects.filter(project=chest, user__username="alice").exists()


def test_the_strongest_group_wins_and_the_creators_group_may_create_projects(
    client, directory, configure_sso, chest
):
    configure_sso(
        **ldap_variables(
            directory,
            TWEEZERS_SSO_ROLE_MAP=ROLE_MAP,
            TWEEZERS_SSO_CREATORS_GROUP=servers.group_dn("project-creators"),
        )
    )

    assert log_in(client, "bob", PEOPLE["bob"]["password"]).status_code == 302

    assert client.get(reverse("project-settings", args=[chest.pk])).status_code == 200
    assert client.get(reverse("project-create")).status_code == 200
    client.post(reverse("logout"))
    directory.remove_member("project-creators", "bob")
    assert log_in(client, "bob", PEOPLE["bob"]["password"]).status_code == 302
    assert client.get(reverse("project-create")).status_code == 403


def test_a_wrong_directory_password_is_a_failed_login(client, directory, configure_sso, chest):
    configure_sso(**ldap_variables(directory, TWEEZERS_SSO_ROLE_MAP=ROLE_MAP))

    response = log_in(client, "alice", "not-her-password")

    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="alice").exists()


def test_a_direct_bind_with_the_dn_template_needs_no_service_account(
    client, directory, configure_sso
):
    configure_sso(
        TWEEZERS_LDAP_URL=directory.url,
        TWEEZERS_LDAP_USER_DN_TEMPLATE=f"uid=%(user)s,{servers.PEOPLE}",
    )

    assert log_in(client, "carol", PEOPLE["carol"]["password"]).status_code == 302


def test_the_directory_never_signs_in_to_a_local_account_that_has_its_own_password(
    client, directory, configure_sso
):
    UserFactory(username="alice")
    configure_sso(**ldap_variables(directory))

    response = log_in(client, "alice", PEOPLE["alice"]["password"])

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_directory_user_gets_an_api_token_with_the_directory_password(
    client, directory, configure_sso, chest
):
    configure_sso(**ldap_variables(directory, TWEEZERS_SSO_ROLE_MAP=ROLE_MAP))

    response = client.post(
        reverse("api:token"), {"username": "alice", "password": PEOPLE["alice"]["password"]}
    )

    assert response.status_code == 200, response.content
    token = response.json()["token"]
    projects = client.get(reverse("api:project-list"), HTTP_AUTHORIZATION=f"Token {token}")
    assert [p["name"] for p in projects.json()["results"]] == ["Chest X-ray"]


@pytest.mark.browser
def test_browser_login_through_ldap_shows_the_mapped_project(
    new_page, directory, configure_sso, chest, transactional_db
):
    configure_sso(**ldap_variables(directory, TWEEZERS_SSO_ROLE_MAP=ROLE_MAP))
    page = new_page()

    page.goto(f"/accounts/login/?next=/projects/{chest.pk}/label/")
    page.get_by_text("Use your hospital username and password.").wait_for()
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PEOPLE["alice"]["password"])
    page.click("form.login-form button[type=submit]")

    page.wait_for_url(f"**/projects/{chest.pk}/label/")
    # The annotator's tabs: Label, and no Settings (a manager's).
    tabs = page.locator("nav.tabs")
    tabs.get_by_text("Label", exact=True).wait_for()
    assert tabs.get_by_text("Settings", exact=True).count() == 0
    page.goto("/")
    page.get_by_text("Chest X-ray").first.wait_for()
