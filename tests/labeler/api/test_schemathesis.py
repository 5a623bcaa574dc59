"""Schemathesis against the live server's OpenAPI schema: a bounded number of generated
requests per operation (valid and invalid ones), as a manager of a project with data: not
one 5xx, and every response's status code and body as the schema documents them.

Hypothesis drives each operation's strategy directly: schemathesis' own pytest plugin
(``from_fixture``) reads a pytest internal that pytest 9 no longer has."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import png_bytes
from tests.labeler.api.factories import annotation_add, item_add, model_run_add, round_add

EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def populated(image_team):
    """An image project with labeled, queued and unlabeled items, a run and an annotation."""
    project = image_team.project
    items = [item_add(project, image=png_bytes(shade)) for shade in range(4)]
    round_add(project, items[2:])
    annotation = annotation_add(items[0], image_team.manager, "cat")
    run = model_run_add(project, status="succeeded", metrics={"accuracy": 1.0})
    _, token = AuthToken.objects.create(user=image_team.manager)
    ids = {"items": items[0].pk, "annotations": annotation.pk, "model-runs": run.pk}
    return {"project": project.pk, "ids": ids, "token": token}


def aim_at_real_objects(case, populated: dict) -> None:
    # Most random ids would stop at a 404; real ones let the request reach the view's logic.
    parameters = case.path_parameters or {}
    if "project_pk" in parameters:
        parameters["project_pk"] = populated["project"]
    if "id" in parameters:
        for segment, pk in populated["ids"].items():
            if f"/{segment}/" in case.path:
                parameters["id"] = pk


@pytest.mark.slow
def test_no_generated_request_makes_the_server_fail_or_breaks_the_schema(live_server, populated):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    headers = {"Authorization": f"Token {populated['token']}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    # Logging out revokes the token every other operation uses: those go last.
    operations.sort(key=lambda operation: "/logout" in operation.path)

    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case):
            aim_at_real_objects(case, populated)
            case.call_and_validate(
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
            )

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")

    assert len(operations) >= 20
    assert not failures, "\n\n".join(failures)
