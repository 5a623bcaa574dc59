"""Every project endpoint against every role: anonymous 401, outsider 404 (the project's
existence never leaks), members by role 2xx or 403."""

import pytest

pytestmark = pytest.mark.django_db

ROLES = ["manager", "annotator", "viewer", "outsider", "anonymous"]

# (method, path under the project, payload, statuses for manager, annotator, viewer)
ENDPOINTS = [
    ("get", "", None, (200, 200, 200)),
    ("patch", "", {"description": "x"}, (200, 403, 403)),
    ("get", "classes/", None, (200, 200, 200)),
    ("post", "classes/", {"name": "new"}, (201, 403, 403)),
    ("get", "items/", None, (200, 403, 403)),
    ("get", "next/", None, (200, 200, 403)),
    ("get", "annotations/", None, (200, 200, 403)),
    ("get", "rounds/", None, (200, 403, 200)),
    ("get", "model-runs/", None, (200, 403, 200)),
    ("get", "stats/", None, (200, 403, 200)),
    ("get", "export/?format=csv", None, (200, 403, 403)),
]

CASES = [
    pytest.param(method, path, payload, role, expected, id=f"{method}-{path or 'project'}-{role}")
    for method, path, payload, by_role in ENDPOINTS
    for role, expected in zip(ROLES, (*by_role, 404, 401), strict=True)
]


@pytest.mark.parametrize(("method", "path", "payload", "role", "expected"), CASES)
def test_each_role_gets_exactly_its_access(api, text_team, method, path, payload, role, expected):
    client = api(text_team.user(role))

    response = getattr(client, method)(
        f"/api/projects/{text_team.project.pk}/{path}", payload, format="json"
    )

    assert response.status_code == expected
    if expected >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}
