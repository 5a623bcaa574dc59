"""Who works on a project: inviting people, changing their role, removing them.

A project always keeps at least one manager: the check locks the project's manager
memberships, so two managers demoting each other at the same moment cannot both succeed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from labeler import queue
from labeler.models import Membership, PasswordChangeRequired, Project
from labeler.services.rejections import Rejected

# No 0/O, 1/l/I: the password is read off a screen and typed, or handed over on paper.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
PASSWORD_GROUPS = 4
PASSWORD_GROUP_LENGTH = 4


class MembershipRejected(Rejected):
    """A membership change that cannot be made; ``code`` is stable for callers."""


@dataclass(frozen=True)
class Invitation:
    membership: Membership
    # Set only when the account was created by this invitation: shown once, never stored.
    password: str | None


def one_time_password() -> str:
    """About 79 bits from ``secrets``, in groups of four: ``k7qm-x3hp-29wd-ft4c``."""
    return "-".join(
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP_LENGTH))
        for _ in range(PASSWORD_GROUPS)
    )


def _check_role(role: str) -> None:
    if role not in Membership.Role.values:
        allowed = ", ".join(Membership.Role.values)
        raise MembershipRejected(
            "unknown_role",
            _("Unknown role “%(role)s”; roles are: %(allowed)s.")
            % {"role": role, "allowed": allowed},
        )


def _new_account(username: str) -> tuple[AbstractBaseUser, str]:
    user_model = get_user_model()
    username = user_model.normalize_username(username)
    field = user_model._meta.get_field(user_model.USERNAME_FIELD)
    try:
        field.clean(username, None)
    except ValidationError as invalid:
        raise MembershipRejected("invalid_username", " ".join(invalid.messages)) from invalid
    # Case-insensitively: "Alice" and "alice" as two accounts would be handed to one person.
    lookup = {f"{user_model.USERNAME_FIELD}__iexact": username}
    if user_model._default_manager.filter(**lookup).exists():
        raise MembershipRejected(
            "user_exists",
            _("A user named “%(name)s” already exists: add them as an existing user.")
            % {"name": username},
        )
    password = one_time_password()
    user = user_model._default_manager.create_user(
        **{user_model.USERNAME_FIELD: username}, password=password
    )
    # Someone else chose it: the owner picks their own at first sign-in.
    PasswordChangeRequired.objects.create(user=user)
    return user, password


def _existing_account(username: str, *, reveal_unknown: bool) -> AbstractBaseUser:
    user_model = get_user_model()
    users = user_model._default_manager
    user = users.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        # "Alice" finds alice, unless the name is ambiguous in that case.
        matches = list(users.filter(**{f"{user_model.USERNAME_FIELD}__iexact": username})[:2])
        user = matches[0] if len(matches) == 1 else None
    if user is None and not reveal_unknown:
        # Said the same way whatever the cause, to someone who may not list the accounts.
        raise MembershipRejected(
            "unknown_user",
            f"“{username}” could not be added. Check the spelling with your administrator.",
        )
    if user is None:
        raise MembershipRejected(
            "unknown_user",
            _("No user is named “%(name)s”. Check the spelling, or create a new account.")
            % {"name": username},
        )
    return user


def membership_invite(
    *,
    project: Project,
    username: str,
    role: str,
    create_account: bool = False,
    reveal_unknown: bool = True,
) -> Invitation:
    """Add a user to a project with a role. With ``create_account`` the user is new: the
    account is created with a one-time password, returned once for the manager to hand over.
    The caller decides (``labeler.access``) whether the inviting user may create accounts
    (``account.create``) and may learn that a username does not exist (``reveal_unknown``).
    """
    username = username.strip()
    if not username:
        raise MembershipRejected("invalid_username", _("Enter a username."))
    _check_role(role)
    try:
        with transaction.atomic():
            if create_account:
                user, password = _new_account(username)
            else:
                user = _existing_account(username, reveal_unknown=reveal_unknown)
                password = None
            if Membership.objects.filter(project=project, user=user).exists():
                raise MembershipRejected(
                    "already_member",
                    _("%(name)s is already a member of this project.")
                    % {"name": user.get_username()},
                )
            membership = Membership.objects.create(project=project, user=user, role=role)
    except IntegrityError as race:
        # A concurrent invite of the same person (or account) won.
        raise MembershipRejected(
            "already_member",
            _("%(name)s was added by someone else a moment ago.") % {"name": username},
        ) from race
    return Invitation(membership=membership, password=password)


def _locked_membership(project: Project, membership_id: int) -> tuple[Membership, int]:
    """The membership, locked, and the project's number of managers. Every manager row is
    locked too, so a concurrent demotion waits and then counts what this one left."""
    managers = list(
        Membership.objects.select_for_update()
        .filter(project=project, role=Membership.Role.MANAGER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(project=project, pk=membership_id)
        .first()
    )
    if membership is None:
        raise MembershipRejected("not_member", _("This person is not a member of the project."))
    return membership, len(managers)


def _refuse_last_manager(membership: Membership, managers: int, removing: bool) -> None:
    if membership.role == Membership.Role.MANAGER and managers <= 1:
        message = (
            _(
                "%(name)s is the project's only manager and cannot be removed. Make someone "
                "else a manager first."
            )
            if removing
            else _(
                "%(name)s is the project's only manager and cannot be given another role. "
                "Make someone else a manager first."
            )
        )
        raise MembershipRejected("last_manager", message % {"name": membership.user.get_username()})


def membership_role_change(*, project: Project, membership_id: int, role: str) -> Membership:
    """Give a member another role. The last manager cannot step down."""
    _check_role(role)
    with transaction.atomic():
        membership, managers = _locked_membership(project, membership_id)
        if membership.role == role:
            return membership
        if role != Membership.Role.MANAGER:
            _refuse_last_manager(membership, managers, removing=False)
        membership.role = role
        membership.save(update_fields=["role"])
        if role == Membership.Role.VIEWER:
            _release_leases(project, membership.user_id)
    return membership


def membership_remove(*, project: Project, membership_id: int) -> AbstractBaseUser:
    """Take a member off a project; returns the user. Their answers stay in the history, and
    items they were holding go back to the queue at once instead of when the lease expires."""
    with transaction.atomic():
        membership, managers = _locked_membership(project, membership_id)
        _refuse_last_manager(membership, managers, removing=True)
        user = membership.user
        membership.delete()
        _release_leases(project, user.pk)
    return user


def _release_leases(project: Project, user_id: int) -> None:
    queue.release_held(project=project, user_id=user_id)
