import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_is_valid_and_documents_the_public_contract():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    validate_schema(schema)
    paths = schema["paths"]
    for path, method in [
        ("/api/auth/token/", "post"),
        ("/api/projects/", "get"),
        ("/api/projects/", "post"),
        ("/api/projects/{project_pk}/items/", "post"),
        ("/api/projects/{project_pk}/next/", "get"),
        ("/api/projects/{project_pk}/annotations/", "post"),
        ("/api/projects/{project_pk}/model-runs/", "get"),
        ("/api/projects/{project_pk}/export/", "get"),
    ]:
        assert method in paths[path], (path, method)
    project = schema["components"]["schemas"]["Project"]["properties"]
    assert {"id", "name", "kind", "classes"} <= set(project)
    report = schema["components"]["schemas"]["ImportReport"]["properties"]
    # Series and study projects add the scans that grew and the series kept incomplete.
    assert set(report) == {"imported", "duplicates", "rejected", "incomplete", "scans_extended"}
    assert "unit" in project


def test_the_schema_is_served_without_login():
    response = APIClient().get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Tweezers API"


def test_the_swagger_ui_loads_its_assets_from_our_own_static_files():
    page = APIClient().get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
