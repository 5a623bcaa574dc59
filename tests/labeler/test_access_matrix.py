"""Every URL pattern of the project (pages and API, read from the URL conf) × manager /
annotator / viewer / outsider / anonymous, against the one access table in
``labeler/access.py``. A pattern without a rule there fails here, by name.

What each cell must answer follows from the policy's decision: allowed → anything but 401,
403, 404 or a 5xx; anonymous → the login page (pages) or 401 (API); not a member → 404;
a member whose role may not → 403 (or 405 when the page refuses the method first, which
tells nobody anything)."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from labeler import access
from labeler.models import ImportJob, Membership, Project, Webhook
from tests.conftest import png_bytes
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import annotation_add, item_add, membership_add, model_run_add

ROLES = ["manager", "annotator", "viewer", "outsider", "anonymous"]
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Admin pages are covered by the namespace rule; these stand for them in the matrix.
ADMIN_SAMPLES = {"admin:index", "admin:labeler_project_changelist", "admin:auth_user_add"}
# Allowed, yet 404 for a reason that is about the data, not access.
ALLOWED_404 = {
    # The run in the fixture has no artifact file.
    ("api:model-run-artifact", "get"): "the run has no stored artifact",
    ("api:model-run-export", "get"): "the run has no stored model to export",
    # Every path under /api/ that is not an endpoint.
    ("api:unknown", "*"): "not an endpoint",
    # The fixture's item is a PNG: its DICOM views answer 404 to every allowed role.
    ("item-dicom", "*"): "not a DICOM item",
    ("item-dicom-render", "*"): "not a DICOM item",
    ("item-scan", "*"): "not a scan item",
    ("item-scan-slice", "*"): "not a scan item",
    # OpenID Connect's sign-in and callback: off while it is not configured (the tests in
    # tests/sso/ turn it on against a real provider).
    ("oidc_authentication_init", "*"): "single sign-on is off",
    ("oidc_authentication_callback", "*"): "single sign-on is off",
    # Off unless email is configured (config/urls.py).
    **{
        (name, "*"): "password reset is off without email"
        for name in (
            "password_reset",
            "password_reset_done",
            "password_reset_confirm",
            "password_reset_complete",
        )
    },
}


# Refused pages that send the member where their role belongs instead of a 403 (no
# information leaks: the member knows the project). URL name -> where they are sent.
REDIRECTS_INSTEAD_OF_403 = {"project-dashboard": "label"}


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            # An unnamed pattern inside a namespace (the admin's object URLs) falls under the
            # namespace's rule; an unnamed one elsewhere cannot have a rule and fails below.
            name = f"{namespace}{entry.name or '<unnamed>'}" if entry.name or namespace else None
            yield name, prefix + str(entry.pattern), entry


def url_patterns() -> list[tuple[str | None, str, URLPattern]]:
    return list(_walk(get_resolver()))


def _methods(pattern: URLPattern) -> list[str]:
    view_class = getattr(pattern.callback, "cls", None) or getattr(
        pattern.callback, "view_class", None
    )
    if view_class is None:
        return ["get", "post"]
    return [m for m in HTTP_METHODS if hasattr(view_class, m)] or ["get"]


def _cases():
    for name, route, pattern in url_patterns():
        if name is None or name.endswith("<unnamed>"):
            continue
        if name.startswith("admin:") and name not in ADMIN_SAMPLES:
            continue
        for method in _methods(pattern):
            for role in ROLES:
                yield pytest.param(name, route, method, role, id=f"{name}-{method}-{role}")


def test_every_url_pattern_has_an_access_rule():
    unruled = [
        f"{name or '(unnamed)'} ({route})"
        for name, route, _ in url_patterns()
        if access.rule_for(name) is None
    ]
    assert not unruled, (
        "These URL patterns have no rule in labeler.access.URL_RULES; add one line each, "
        'e.g. \'"api:x": Rule("project.read", write="project.manage")\': ' + "; ".join(unruled)
    )


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    manager = UserFactory(username="matrix-manager")
    project = ProjectFactory(kind="image", created_by=manager, classes=("cat", "dog"))
    users = {"manager": manager}
    for role in (Membership.Role.ANNOTATOR, Membership.Role.VIEWER):
        users[role] = UserFactory(username=f"matrix-{role}")
        membership_add(project=project, user=users[role], role=role)
    users["outsider"] = UserFactory(username="matrix-outsider")
    ProjectFactory(kind="image", created_by=users["outsider"], classes=("x", "y"))

    item = item_add(project, image=png_bytes(10))
    annotation = annotation_add(item, users["annotator"], "cat")
    # As a submit leaves it: the counter covers the stored label (an undo decrements it).
    Project.objects.filter(pk=project.pk).update(n_labeled=1)
    run = model_run_add(project, status="succeeded")
    job = ImportJob.objects.create(project=project, source_name="a.zip", upload_path="a.zip")
    viewer_membership = Membership.objects.get(project=project, user=users["viewer"])
    hook = Webhook.objects.create(project=project, url="http://hooks.test/x", secret="s" * 20)
    ids = {
        "project_id": project.pk,
        "project_pk": project.pk,
        "item_id": item.pk,
        "membership_id": viewer_membership.pk,
        "job_id": job.pk,
        "uidb64": "MQ",
        "token": "set-password",
        "id": project.pk,
        "object_id": project.pk,
        "hook_id": hook.pk,
    }
    pk_by_name = {
        "api:member-detail": viewer_membership.pk,
        "api:annotation-detail": annotation.pk,
        "api:annotation-correct": annotation.pk,
        "api:model-run-detail": run.pk,
        "api:model-run-artifact": run.pk,
        "api:model-run-export": run.pk,
        "api:import-job": job.pk,
        "api:webhook-detail": hook.pk,
        "api:webhook-delivery-list": hook.pk,
    }
    return {"project": project, "users": users, "ids": ids, "pk_by_name": pk_by_name, "item": item}


def _path(name: str, route: str, world) -> str:
    if name == "api:unknown":
        return "/api/no-such-endpoint/"
    pattern = dict(url_patterns_by_name())[name]
    kwargs = {}
    for key in pattern.pattern.converters:
        kwargs[key] = world["pk_by_name"].get(name, world["item"].pk) if key == "pk" else None
        if key != "pk":
            kwargs[key] = world["ids"][key]
    return reverse(name, kwargs=kwargs)


def url_patterns_by_name():
    return [(name, pattern) for name, _, pattern in url_patterns() if name]


def _role_in_project(role: str) -> str | None:
    return {"manager": access.MANAGER, "annotator": access.ANNOTATOR, "viewer": access.VIEWER}.get(
        role
    )


@pytest.mark.parametrize(("name", "route", "method", "role"), list(_cases()))
def test_each_url_answers_each_role_as_the_policy_says(world, name, route, method, role):
    rule = access.rule_for(name)
    assert rule is not None, f"URL pattern {name} ({route}) has no rule in labeler.access"
    action = rule.action_for(method)
    user = None if role == "anonymous" else world["users"][role]
    in_project = access.ACTIONS[action].in_project
    decision = access.decide(user, _role_in_project(role) if in_project else None, action)
    client = APIClient()
    if user is not None:
        client.force_login(user)
    is_api = name.startswith("api:")

    response = getattr(client, method)(_path(name, route, world), {}, format="json")

    status = response.status_code
    cell = f"{method.upper()} {name} as {role}: policy says {decision.value}, got {status}"
    assert status < 500, cell
    if decision is access.Decision.ALLOW:
        data_404 = (name, method) in ALLOWED_404 or (name, "*") in ALLOWED_404
        assert status not in (401, 403), cell
        assert status != 404 or data_404, cell
    elif decision is access.Decision.LOGIN:
        if is_api:
            assert status == 401, cell
        else:
            assert status in (302, 405), cell
            if status == 302:
                assert "login" in response["Location"], cell
    elif decision is access.Decision.NOT_FOUND:
        assert status in (404, 405), cell
    elif name in REDIRECTS_INSTEAD_OF_403 and status == 302:
        target = reverse(REDIRECTS_INSTEAD_OF_403[name], args=[world["project"].pk])
        assert response["Location"] == target, cell
    else:
        admin_page = name.startswith("admin:")
        assert status in ((302,) if admin_page else (403, 405)), cell


def test_creating_a_project_needs_add_project_on_the_page_and_in_the_api(world):
    from django.contrib.auth.models import Permission

    user = world["users"]["manager"]  # manages a project, yet has no add_project
    client = APIClient()
    client.force_login(user)
    body = {"name": "Sneaky", "kind": "text", "classes": ["a", "b"]}

    assert client.post("/api/projects/", body, format="json").status_code == 403
    assert client.post(reverse("project-create"), body).status_code == 403
    assert not Project.objects.filter(name="Sneaky").exists()

    user.user_permissions.add(Permission.objects.get(codename="add_project"))
    user = type(user).objects.get(pk=user.pk)  # permissions are cached on the instance
    client.force_login(user)
    assert client.post("/api/projects/", body, format="json").status_code == 201
    assert Project.objects.filter(name="Sneaky", memberships__user=user).exists()


def test_a_manager_without_add_user_can_only_invite_existing_users(world):
    from django.contrib.auth import get_user_model

    project, manager = world["project"], world["users"]["manager"]
    client = APIClient()
    client.force_login(manager)
    url = f"/api/projects/{project.pk}/members/"
    users = get_user_model().objects.count()

    api_new = client.post(
        url, {"username": "new-nurse", "role": "annotator", "create_account": True}, format="json"
    )
    page_new = client.post(
        reverse("project-members", args=[project.pk]),
        {"account": "new", "username": "new-nurse", "role": "annotator"},
    )
    existing = client.post(url, {"username": "matrix-outsider", "role": "viewer"}, format="json")

    assert api_new.status_code == 403
    assert page_new.status_code == 200 and "may not create user accounts" in page_new.text
    assert "one-time-password" not in page_new.text
    assert get_user_model().objects.count() == users
    assert existing.status_code == 201


def test_no_such_user_does_not_enumerate_usernames_to_a_manager_who_may_not_list_them(world):
    project, manager = world["project"], world["users"]["manager"]
    client = APIClient()
    client.force_login(manager)

    response = client.post(
        f"/api/projects/{project.pk}/members/",
        {"username": "ghost", "role": "viewer"},
        format="json",
    )

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "could not be added" in message and "No user is named" not in message
