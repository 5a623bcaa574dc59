import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_script_exchanges_username_and_password_for_a_token_and_uses_it():
    UserFactory(username="ada")
    client = APIClient()

    response = client.post(
        "/api/auth/token/", {"username": "ada", "password": "correct horse battery"}, format="json"
    )

    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/projects/").status_code == 200


def test_a_wrong_password_gets_no_token_and_the_common_error_format():
    UserFactory(username="ada")

    response = APIClient().post(
        "/api/auth/token/", {"username": "ada", "password": "wrong"}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "authorization"
    assert "Unable to log in" in error["message"]


def test_a_request_without_credentials_is_401_in_the_common_error_format():
    response = APIClient().get("/api/projects/")

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
        }
    }
    assert response["WWW-Authenticate"] == "Token"


def test_an_invalid_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    response = client.get("/api/projects/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_validation_errors_name_each_field(api, text_team):
    response = api(text_team.manager).post(
        "/api/projects/", {"name": "", "kind": "video", "budget": -5}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"name", "kind", "budget"}
    assert "budget" in error["message"]


def test_malformed_json_is_a_400_parse_error(api, text_team):
    response = api(text_team.manager).post(
        "/api/projects/", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_an_unknown_project_is_404_in_the_common_error_format(api, text_team):
    response = api(text_team.manager).get("/api/projects/999999999/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_an_unknown_api_path_is_a_404_in_the_common_error_format(api, text_team):
    response = api(text_team.manager).get("/api/nowhere/")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "No API endpoint at /api/nowhere/.",
    }


def test_a_path_missing_its_trailing_slash_says_which_one_was_meant(api, text_team):
    response = api(text_team.manager).post("/api/projects", {"name": "x"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["message"].endswith("Did you mean /api/projects/ ?")


def test_a_method_an_endpoint_does_not_have_is_a_405(api, text_team):
    response = api(text_team.manager).delete(f"/api/projects/{text_team.project.pk}/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
