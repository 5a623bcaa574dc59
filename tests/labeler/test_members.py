"""Membership services: inviting people (existing or new accounts), changing roles, removing
members, and the rule that a project always keeps a manager."""

import datetime as dt

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import RequestFactory
from django.utils import timezone

from labeler import services
from labeler.models import Item, Membership, QueryRound, QueueEntry
from labeler.services.members import PASSWORD_ALPHABET, one_time_password
from tests.factories import ProjectFactory, UserFactory

User = get_user_model()


@pytest.fixture
def manager(db):
    return UserFactory(username="head")


@pytest.fixture
def project(manager):
    return ProjectFactory(classes=["benign", "malignant"], created_by=manager)


def membership_of(project, user) -> Membership:
    return Membership.objects.get(project=project, user=user)


def can_log_in(username: str, password: str) -> bool:
    # django-axes wants a request with every authentication attempt.
    request = RequestFactory().post("/accounts/login/")
    return authenticate(request=request, username=username, password=password) is not None


# Invite -------------------------------------------------------------------------------------


def test_inviting_an_existing_user_makes_them_a_member_with_the_role(project):
    doctor = UserFactory(username="dr-ng")

    invitation = services.membership_invite(project=project, username="dr-ng", role="annotator")

    assert invitation.password is None
    assert invitation.membership == membership_of(project, doctor)
    assert invitation.membership.role == Membership.Role.ANNOTATOR


def test_an_existing_user_is_found_whatever_the_case_of_the_name(project):
    doctor = UserFactory(username="dr-ng")

    services.membership_invite(project=project, username="  DR-NG ", role="viewer")

    assert membership_of(project, doctor).role == Membership.Role.VIEWER


def test_inviting_a_new_account_returns_a_one_time_password_that_logs_in(project):
    invitation = services.membership_invite(
        project=project, username="nurse.kim", role="annotator", create_account=True
    )

    user = User.objects.get(username="nurse.kim")
    assert invitation.membership == membership_of(project, user)
    assert invitation.password and can_log_in("nurse.kim", invitation.password)
    assert not can_log_in("nurse.kim", "")


def test_one_time_passwords_are_readable_and_never_repeat():
    passwords = {one_time_password() for _ in range(200)}

    assert len(passwords) == 200
    for password in passwords:
        groups = password.split("-")
        assert [len(group) for group in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set(PASSWORD_ALPHABET)


@pytest.mark.parametrize(
    ("username", "role", "create_account", "code"),
    [
        ("nobody", "annotator", False, "unknown_user"),
        ("", "annotator", False, "invalid_username"),
        ("has space!", "annotator", True, "invalid_username"),
        ("x" * 151, "annotator", True, "invalid_username"),
        ("dr-ng", "owner", False, "unknown_role"),
        ("DR-NG", "annotator", True, "user_exists"),
        ("head", "viewer", False, "already_member"),
    ],
)
def test_a_bad_invite_says_why_and_changes_nothing(project, username, role, create_account, code):
    UserFactory(username="dr-ng")
    users, memberships = User.objects.count(), Membership.objects.count()

    with pytest.raises(services.MembershipRejected) as rejected:
        services.membership_invite(
            project=project, username=username, role=role, create_account=create_account
        )

    assert rejected.value.code == code and rejected.value.message
    assert isinstance(rejected.value, ValueError)
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert membership_of(project, User.objects.get(username="head")).role == "manager"


def test_an_invite_to_one_project_gives_nothing_in_another(project, manager):
    other = ProjectFactory(created_by=manager)
    doctor = UserFactory()

    services.membership_invite(project=project, username=doctor.username, role="manager")

    assert not Membership.objects.filter(project=other, user=doctor).exists()


# Role change --------------------------------------------------------------------------------


def test_a_members_role_can_be_changed(project):
    doctor = UserFactory()
    membership = Membership.objects.create(project=project, user=doctor, role="annotator")

    changed = services.membership_role_change(
        project=project, membership_id=membership.pk, role="manager"
    )

    assert changed.role == "manager" == membership_of(project, doctor).role


def test_the_last_manager_cannot_step_down(project, manager):
    only = membership_of(project, manager)

    with pytest.raises(services.MembershipRejected) as rejected:
        services.membership_role_change(project=project, membership_id=only.pk, role="viewer")

    assert rejected.value.code == "last_manager"
    assert "only manager" in rejected.value.message
    assert membership_of(project, manager).role == "manager"


def test_a_manager_may_step_down_once_there_is_another(project, manager):
    deputy = UserFactory()
    services.membership_invite(project=project, username=deputy.username, role="manager")

    services.membership_role_change(
        project=project, membership_id=membership_of(project, manager).pk, role="annotator"
    )

    assert membership_of(project, manager).role == "annotator"
    with pytest.raises(services.MembershipRejected):
        services.membership_role_change(
            project=project, membership_id=membership_of(project, deputy).pk, role="viewer"
        )


def test_a_membership_of_another_project_cannot_be_changed_through_this_one(project, manager):
    other = ProjectFactory(created_by=UserFactory())
    outsider = Membership.objects.create(project=other, user=UserFactory(), role="annotator")

    with pytest.raises(services.MembershipRejected) as rejected:
        services.membership_role_change(project=project, membership_id=outsider.pk, role="manager")
    assert rejected.value.code == "not_member"
    with pytest.raises(services.MembershipRejected):
        services.membership_remove(project=project, membership_id=outsider.pk)

    outsider.refresh_from_db()
    assert outsider.role == "annotator"


# Remove -------------------------------------------------------------------------------------


def held_entry(project, user) -> QueueEntry:
    item = Item.objects.create(project=project, source_name="a.png", checksum="c" * 64)
    round_ = QueryRound.objects.create(project=project, number=1, strategy="cold_start", size=1)
    return QueueEntry.objects.create(
        project=project,
        round=round_,
        item=item,
        rank=1,
        leased_by=user,
        lease_expires_at=timezone.now() + dt.timedelta(minutes=10),
    )


def test_removing_a_member_ends_their_access_and_frees_the_items_they_held(project):
    doctor = UserFactory()
    membership = Membership.objects.create(project=project, user=doctor, role="annotator")
    entry = held_entry(project, doctor)

    removed = services.membership_remove(project=project, membership_id=membership.pk)

    assert removed == doctor
    assert not Membership.objects.filter(project=project, user=doctor).exists()
    assert User.objects.filter(pk=doctor.pk).exists()
    entry.refresh_from_db()
    assert entry.leased_by is None and entry.lease_expires_at is None


def test_the_last_manager_cannot_be_removed(project, manager):
    with pytest.raises(services.MembershipRejected) as rejected:
        services.membership_remove(
            project=project, membership_id=membership_of(project, manager).pk
        )

    assert rejected.value.code == "last_manager"
    assert membership_of(project, manager).role == "manager"


def test_a_manager_can_be_removed_when_another_remains(project, manager):
    deputy = UserFactory()
    Membership.objects.create(project=project, user=deputy, role="manager")

    services.membership_remove(project=project, membership_id=membership_of(project, manager).pk)

    assert list(Membership.objects.filter(project=project).values_list("user", flat=True)) == [
        deputy.pk
    ]
