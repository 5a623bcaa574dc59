"""The role matrix every API test draws on: one project with a manager, an annotator and a
viewer, an outsider who belongs to another project, and an anonymous client."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AbstractBaseUser, Permission
from rest_framework.test import APIClient

from labeler.models import Membership, Project
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import membership_add


@dataclass
class Team:
    project: Project
    manager: AbstractBaseUser
    annotator: AbstractBaseUser
    viewer: AbstractBaseUser
    outsider: AbstractBaseUser
    other_project: Project

    def user(self, role: str) -> AbstractBaseUser | None:
        return None if role == "anonymous" else getattr(self, role)


def team_for(kind: str, classes: tuple[str, ...]) -> Team:
    manager = UserFactory(username=f"{kind}-manager")
    # Creating projects is a Django permission an administrator grants (labeler/access.py).
    # Account administration (creating accounts, seeing which exist) is granted the same way.
    manager.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_project", "add_user", "view_user"])
    )
    project = ProjectFactory(kind=kind, created_by=manager, classes=classes)
    annotator = UserFactory(username=f"{kind}-annotator")
    viewer = UserFactory(username=f"{kind}-viewer")
    membership_add(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    membership_add(project=project, user=viewer, role=Membership.Role.VIEWER)
    outsider = UserFactory(username=f"{kind}-outsider")
    other_project = ProjectFactory(kind=kind, created_by=outsider, classes=classes)
    return Team(project, manager, annotator, viewer, outsider, other_project)


@pytest.fixture
def fast_passwords(settings) -> None:
    # Five users per team at PBKDF2's production cost would dominate the suite's runtime.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def text_team(db, fast_passwords) -> Team:
    return team_for("text", ("spam", "ham"))


@pytest.fixture
def image_team(db, fast_passwords) -> Team:
    return team_for("image", ("cat", "dog"))


@pytest.fixture
def api():
    """A client that acts as the given user (None: anonymous)."""

    def client_for(user: AbstractBaseUser | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for
