"""Directory groups -> project roles (labeler/services/members.py), without servers: the map
from the environment, roles granted, changed and taken back, hand-given roles kept."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.sso import role_map
from labeler.models import Membership
from labeler.services import members
from tests.factories import ProjectFactory, UserFactory

RADIOLOGY = "cn=Radiology,ou=groups,dc=hospital,dc=test"
MAP = role_map(
    json.dumps(
        {
            RADIOLOGY: [{"project": "Chest X-ray", "role": "annotator"}],
            "/chest-leads": [{"project": "Chest X-ray", "role": "manager"}],
            "viewers": {"project": "Chest X-ray", "role": "viewer"},
        }
    )
)


@pytest.fixture
def chest(db):
    project = ProjectFactory(name="Chest X-ray", kind="image", classes=["normal", "effusion"])
    Membership.objects.create(project=project, user=UserFactory(), role="manager")
    return project


def role_in(project, user) -> tuple[str, str] | None:
    membership = Membership.objects.filter(project=project, user=user).first()
    return (membership.role, membership.source) if membership else None


def apply(user, *groups: str, creators: str = "") -> members.DirectoryRoles:
    return members.directory_roles_apply(
        user=user, groups=groups, role_map=MAP, creators_group=creators
    )


def test_a_directory_group_gives_its_role_on_the_named_project(chest):
    user = UserFactory()

    result = apply(user, RADIOLOGY.lower())

    assert role_in(chest, user) == ("annotator", "directory")
    assert result.roles == {chest.pk: "annotator"}


def test_the_strongest_role_of_several_groups_wins(chest):
    user = UserFactory()

    apply(user, "viewers", RADIOLOGY, "/chest-leads")

    assert role_in(chest, user) == ("manager", "directory")


def test_leaving_the_group_takes_the_directory_role_back_at_the_next_login(chest):
    user = UserFactory()
    apply(user, RADIOLOGY)

    apply(user, "some-other-group")

    assert role_in(chest, user) is None


def test_moving_between_groups_changes_the_role(chest):
    user = UserFactory()
    apply(user, RADIOLOGY)

    apply(user, "viewers")

    assert role_in(chest, user) == ("viewer", "directory")


def test_a_role_a_manager_gave_by_hand_is_never_touched_by_the_directory(chest):
    user = UserFactory()
    members.membership_invite(project=chest, username=user.username, role="viewer")

    apply(user, "/chest-leads")
    assert role_in(chest, user) == ("viewer", "manual")
    apply(user)
    assert role_in(chest, user) == ("viewer", "manual")


def test_a_managers_change_to_a_directory_role_makes_it_hand_given(chest):
    user = UserFactory()
    apply(user, RADIOLOGY)
    membership = Membership.objects.get(project=chest, user=user)

    members.membership_role_change(project=chest, membership_id=membership.pk, role="viewer")
    apply(user)

    assert role_in(chest, user) == ("viewer", "manual")


def test_the_only_manager_keeps_the_role_until_another_manager_is_added(db):
    project = ProjectFactory(name="Chest X-ray", kind="image", classes=["a", "b"])
    lead = UserFactory()
    apply(lead, "/chest-leads")

    apply(lead)

    assert role_in(project, lead) == ("manager", "directory")


def test_the_creators_group_gives_and_takes_back_the_permission_to_create_projects(db):
    user = UserFactory()

    assert apply(user, "Project-Creators", creators="project-creators").may_create_projects
    assert UserFactory._meta.model.objects.get(pk=user.pk).has_perm("labeler.add_project")

    apply(user, creators="project-creators")
    assert not UserFactory._meta.model.objects.get(pk=user.pk).has_perm("labeler.add_project")


def test_an_unknown_or_ambiguous_project_in_the_map_grants_nothing_and_logs_it(db, caplog):
    ProjectFactory(name="Chest X-ray", kind="image", classes=["a", "b"])
    ProjectFactory(name="Chest X-ray", kind="image", classes=["a", "b"])
    user = UserFactory()

    assert apply(user, RADIOLOGY).roles == {}
    assert "several projects" in caplog.text


@pytest.mark.parametrize(
    "raw, message",
    [
        ("{not json", "not valid JSON"),
        ('["radiology"]', "JSON object"),
        ('{"g": [{"project": "x"}]}', "needs 'project' and 'role'"),
        ('{"g": [{"project": "x", "role": "owner"}]}', "not one of"),
    ],
)
def test_a_mistyped_role_map_stops_the_server_at_start(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        role_map(raw)


def test_a_project_can_be_named_by_id(chest):
    user = UserFactory()
    by_id = role_map(json.dumps({"g": [{"project": chest.pk, "role": "viewer"}]}))

    members.directory_roles_apply(user=user, groups=["G"], role_map=by_id)

    assert role_in(chest, user) == ("viewer", "directory")
