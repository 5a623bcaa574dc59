import pytest

from labeler.models import LabelClass, Membership, Project

pytestmark = pytest.mark.django_db


def test_creating_a_project_makes_its_creator_the_manager_with_the_given_classes(api, text_team):
    response = api(text_team.manager).post(
        "/api/projects/",
        {"name": "Reviews", "kind": "text", "classes": ["pos", "neg"], "budget": 200},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Reviews"
    assert body["kind"] == "text"
    assert body["classes"] == ["pos", "neg"]
    assert body["budget"] == 200
    for field in (
        "daily_cap",
        "strategy",
        "round_size",
        "evaluation_share",
        "target_metric",
        "target_value",
        "show_model_guess",
    ):
        assert field in body
    membership = Membership.objects.get(project_id=body["id"], user=text_team.manager)
    assert membership.role == Membership.Role.MANAGER


def test_the_project_list_shows_only_the_users_own_projects(api, text_team):
    response = api(text_team.annotator).get("/api/projects/")

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [text_team.project.pk]


@pytest.mark.parametrize(
    "payload",
    [
        {"budget": 0},
        {"daily_cap": -1},
        {"evaluation_share": 0.9},
        {"target_value": 1.5},
        {"round_size": 0},
        {"strategy": "psychic"},
        {"strategy": "cold_start"},
        {"classes": ["a", "a"]},
        {"classes": ["  "]},
    ],
)
def test_absurd_configuration_is_a_400_naming_the_field(api, text_team, payload):
    response = api(text_team.manager).patch(
        f"/api/projects/{text_team.project.pk}/", payload, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(payload)
    text_team.project.refresh_from_db()
    assert text_team.project.budget is None


def test_a_manager_configures_budget_cap_and_strategy(api, text_team):
    response = api(text_team.manager).patch(
        f"/api/projects/{text_team.project.pk}/",
        {"budget": 500, "daily_cap": 20, "strategy": "margin", "show_model_guess": True},
        format="json",
    )

    assert response.status_code == 200
    project = Project.objects.get(pk=text_team.project.pk)
    assert (project.budget, project.daily_cap, project.strategy) == (500, 20, "margin")
    assert project.show_model_guess is True


def test_a_projects_kind_cannot_change_after_creation(api, text_team):
    response = api(text_team.manager).patch(
        f"/api/projects/{text_team.project.pk}/", {"kind": "image"}, format="json"
    )

    assert response.status_code == 400  # fixed after creation: refused, not ignored
    assert Project.objects.get(pk=text_team.project.pk).kind == "text"


def test_updating_classes_adds_new_ones_and_keeps_the_old(api, text_team):
    response = api(text_team.manager).patch(
        f"/api/projects/{text_team.project.pk}/", {"classes": ["eggs"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["classes"] == ["spam", "ham", "eggs"]


def test_a_manager_adds_a_class_and_members_read_them(api, text_team):
    url = f"/api/projects/{text_team.project.pk}/classes/"

    created = api(text_team.manager).post(url, {"name": "eggs"}, format="json")
    listed = api(text_team.viewer).get(url)

    assert created.status_code == 201
    assert created.json()["name"] == "eggs"
    assert [c["name"] for c in listed.json()] == ["spam", "ham", "eggs"]


def test_a_duplicate_class_name_is_a_400(api, text_team):
    response = api(text_team.manager).post(
        f"/api/projects/{text_team.project.pk}/classes/", {"name": "spam"}, format="json"
    )

    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    assert LabelClass.objects.filter(project=text_team.project, name="spam").count() == 1


@pytest.mark.parametrize("role", ["annotator", "viewer"])
def test_only_managers_change_a_project(api, text_team, role):
    response = api(text_team.user(role)).patch(
        f"/api/projects/{text_team.project.pk}/", {"name": "Mine now"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Project.objects.get(pk=text_team.project.pk).name != "Mine now"


def test_an_outsider_cannot_tell_that_a_project_exists(api, text_team):
    existing = api(text_team.outsider).get(f"/api/projects/{text_team.project.pk}/")
    missing = api(text_team.outsider).get("/api/projects/987654321/")

    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json()


def test_a_dicom_project_can_make_each_series_one_item_and_keeps_that_unit(api, text_team):
    client = api(text_team.manager)
    response = client.post(
        "/api/projects/",
        {"name": "Brain MRI", "kind": "image", "unit": "series", "classes": ["PD", "normal"]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["unit"] == "series"
    project_id = response.json()["id"]

    changed = client.patch(f"/api/projects/{project_id}/", {"unit": "study"}, format="json")

    assert changed.status_code == 400 and "unit" in str(changed.json())
    assert Project.objects.get(pk=project_id).unit == "series"
    same = client.patch(f"/api/projects/{project_id}/", {"unit": "series"}, format="json")
    assert same.status_code == 200


def test_a_text_project_cannot_have_series_items_and_the_default_unit_is_the_instance(
    api, text_team
):
    client = api(text_team.manager)
    refused = client.post(
        "/api/projects/", {"name": "Notes", "kind": "text", "unit": "study"}, format="json"
    )
    unknown = client.post(
        "/api/projects/", {"name": "Scans", "kind": "image", "unit": "volume"}, format="json"
    )
    plain = client.post("/api/projects/", {"name": "Photos", "kind": "image"}, format="json")

    assert refused.status_code == 400 and "unit" in refused.json()["error"]["fields"]
    assert unknown.status_code == 400 and "unit" in unknown.json()["error"]["fields"]
    assert plain.status_code == 201 and plain.json()["unit"] == "instance"
