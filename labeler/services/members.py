"""Who works on a project: inviting people, changing their role, removing them.

A project always keeps at least one manager: the check locks the project's manager
memberships, so two managers demoting each other at the same moment cannot both succeed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from labeler import queue
from labeler.models import Membership, PasswordChangeRequired, Project
from labeler.services.rejections import Rejected

logger = logging.getLogger(__name__)

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
            _("“%(name)s” could not be added. Check the spelling with your administrator.")
            % {"name": username},
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
        # A manager's choice from now on: the next directory login leaves it alone.
        membership.source = Membership.Source.MANUAL
        membership.save(update_fields=["role", "source"])
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


# The Django group that holds ``labeler.add_project`` for the directory's project creators: a
# user in it got the permission from single sign-on and loses it with the directory group;
# the permission given any other way (by hand in the admin, a superuser) is not touched.
DIRECTORY_CREATORS = "Project creators (from the directory)"
_ROLE_RANK = {Membership.Role.VIEWER: 0, Membership.Role.ANNOTATOR: 1, Membership.Role.MANAGER: 2}


@dataclass(frozen=True)
class DirectoryRoles:
    """What a directory login left: project id -> role held from the directory."""

    roles: dict[int, str]
    may_create_projects: bool


def _projects_named(references: Iterable[str]) -> dict[str, int]:
    """Role-map project references (an id, or a name that only one project has) -> id."""
    found: dict[str, int] = {}
    for reference in set(references):
        if reference.isdigit():
            projects = list(Project.objects.filter(pk=int(reference)).values_list("pk", flat=True))
        else:
            projects = list(Project.objects.filter(name=reference).values_list("pk", flat=True)[:2])
        if len(projects) == 1:
            found[reference] = projects[0]
        else:
            # Logged for the administrator; a login never fails because of the map.
            logger.warning(
                "TWEEZERS_SSO_ROLE_MAP names project %r, which %s",
                reference,
                "several projects are called" if projects else "does not exist",
            )
    return found


def _directory_wanted_roles(
    groups: Iterable[str], role_map: Mapping[str, Sequence[Mapping[str, str]]]
) -> dict[int, str]:
    names = {group.casefold() for group in groups}
    grants = [grant for name in names for grant in role_map.get(name, ())]
    projects = _projects_named(grant["project"] for grant in grants)
    wanted: dict[int, str] = {}
    for grant in grants:
        project_id = projects.get(grant["project"])
        if project_id is None:
            continue
        # Two groups on one project: the stronger role.
        if _ROLE_RANK[grant["role"]] > _ROLE_RANK.get(wanted.get(project_id), -1):
            wanted[project_id] = grant["role"]
    return wanted


def _directory_membership_set(project: Project, user, role: str | None) -> None:
    """Make the user's directory-sourced role on one project ``role`` (None: no role), under
    the same locks and last-manager rule as a manager's change. A membership a manager gave
    by hand is left as it is."""
    with transaction.atomic():
        membership = Membership.objects.filter(project=project, user=user).first()
        if membership is None:
            if role is not None:
                try:
                    with transaction.atomic():
                        Membership.objects.create(
                            project=project,
                            user=user,
                            role=role,
                            source=Membership.Source.DIRECTORY,
                        )
                except IntegrityError:
                    # The same person's other login (or a manager) added them a moment ago.
                    pass
            return
        membership, managers = _locked_membership(project, membership.pk)
        if membership.source != Membership.Source.DIRECTORY or membership.role == role:
            return
        try:
            if role != Membership.Role.MANAGER:
                _refuse_last_manager(membership, managers, removing=role is None)
        except MembershipRejected:
            logger.warning(
                "%s left the directory group that made them manager of project %s, its only "
                "manager: the role stays until another manager is added",
                user.get_username(),
                project.pk,
            )
            return
        if role is None:
            membership.delete()
        else:
            membership.role = role
            membership.save(update_fields=["role"])
        if role in (None, Membership.Role.VIEWER):
            _release_leases(project, user.pk)


def _directory_creators_group() -> Group:
    group, created = Group.objects.get_or_create(name=DIRECTORY_CREATORS)
    if created:
        group.permissions.add(
            Permission.objects.get(content_type__app_label="labeler", codename="add_project")
        )
    return group


def directory_roles_apply(
    *,
    user: AbstractBaseUser,
    groups: Iterable[str],
    role_map: Mapping[str, Sequence[Mapping[str, str]]],
    creators_group: str = "",
) -> DirectoryRoles:
    """Bring a user's roles in line with their directory groups at a single sign-on login:
    roles from ``role_map`` (``{group: [{"project": name or id, "role": role}]}``, groups
    case-insensitive) are granted, changed or taken back; only roles that came from the
    directory are ever changed or taken back. Membership of ``creators_group`` gives the
    permission to create projects, and leaving it takes that permission back."""
    groups = [str(group) for group in groups]
    wanted = _directory_wanted_roles(groups, role_map)
    held = dict(
        Membership.objects.filter(user=user, source=Membership.Source.DIRECTORY).values_list(
            "project_id", "role"
        )
    )
    # One project at a time, in id order: each change takes only its own project's locks.
    for project in Project.objects.filter(pk__in=set(wanted) | set(held)).order_by("pk"):
        _directory_membership_set(project, user, wanted.get(project.pk))
    may_create = bool(creators_group) and creators_group.casefold() in {
        group.casefold() for group in groups
    }
    creators = _directory_creators_group()
    if may_create:
        user.groups.add(creators)
    else:
        user.groups.remove(creators)
    roles = dict(
        Membership.objects.filter(user=user, source=Membership.Source.DIRECTORY).values_list(
            "project_id", "role"
        )
    )
    return DirectoryRoles(roles=roles, may_create_projects=may_create)
