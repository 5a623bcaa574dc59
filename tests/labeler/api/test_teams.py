"""Members and invitations, agreement, adjudication and item history over the API."""

import pytest

from labeler import services
from labeler.models import Item, Membership, ModelRun, Project
from tests.data import shades_zip
from tests.factories import UserFactory
from tests.labeler.api.factories import membership_add
from tests.loop_steps import truth


@pytest.fixture
def panel(text_team):
    """An overlap-2 image project of the text team's members, first round queued."""
    project = services.project_create(
        name="Panel",
        kind="image",
        classes=["dark", "light"],
        created_by=text_team.manager,
        round_size=6,
        overlap=2,
        evaluation_share=0,
    )
    for role in ("annotator", "viewer"):
        membership_add(project=project, user=getattr(text_team, role), role=role)
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(6))
    services.model_run_execute(run_id=ModelRun.objects.get(project=project).pk)
    return project


def answer(project: Project, annotator, label=None) -> Item:
    entry = services.next_item_lease(project=project, annotator=annotator).entry
    services.annotation_submit(
        project=project,
        annotator=annotator,
        item_id=entry.item_id,
        label=label or truth(entry.item),
    )
    return entry.item


@pytest.mark.django_db
def test_a_manager_lists_members_and_invites_an_existing_user(api, text_team):
    colleague = UserFactory(username="dr-jones")
    url = f"/api/projects/{text_team.project.pk}/members/"

    listed = api(text_team.manager).get(url)
    invited = api(text_team.manager).post(
        url, {"username": "dr-jones", "role": "annotator"}, format="json"
    )

    assert {m["username"]: m["role"] for m in listed.json()} == {
        "text-manager": "manager",
        "text-annotator": "annotator",
        "text-viewer": "viewer",
    }
    assert invited.status_code == 201
    assert invited.json()["password"] is None
    assert Membership.objects.get(project=text_team.project, user=colleague).role == "annotator"


@pytest.mark.django_db
def test_a_new_account_gets_a_one_time_password_that_logs_in(api, text_team):
    url = f"/api/projects/{text_team.project.pk}/members/"

    created = api(text_team.manager).post(
        url,
        {"username": "nurse-ada", "role": "annotator", "create_account": True},
        format="json",
    )

    assert created.status_code == 201
    password = created.json()["password"]
    token = api(None).post(
        "/api/auth/token/", {"username": "nurse-ada", "password": password}, format="json"
    )
    # The password is right, and it is one to replace first (tests/labeler/test_hostile_auth).
    assert token.status_code == 403
    assert "one-time password" in token.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"username": "nobody-here", "role": "annotator"}, 400, "unknown_user"),
        ({"username": "text-annotator", "role": "viewer"}, 409, "already_member"),
        ({"username": "someone", "role": "emperor"}, 400, "invalid"),
    ],
)
def test_bad_invitations_are_refused_with_a_reason_and_change_nothing(
    api, text_team, payload, status, code
):
    before = Membership.objects.count()

    response = api(text_team.manager).post(
        f"/api/projects/{text_team.project.pk}/members/", payload, format="json"
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert Membership.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["annotator", "viewer"])
def test_only_managers_manage_members(api, text_team, role):
    url = f"/api/projects/{text_team.project.pk}/members/"

    assert api(text_team.user(role)).get(url).status_code == 403
    assert api(text_team.outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_the_last_manager_cannot_be_removed_or_demoted(api, text_team):
    membership = Membership.objects.get(project=text_team.project, user=text_team.manager)
    url = f"/api/projects/{text_team.project.pk}/members/{membership.pk}/"

    removed = api(text_team.manager).delete(url)
    demoted = api(text_team.manager).patch(url, {"role": "viewer"}, format="json")

    assert removed.status_code == 409 and demoted.status_code == 409
    assert Membership.objects.get(pk=membership.pk).role == "manager"


@pytest.mark.django_db
def test_a_manager_changes_a_role_and_removes_a_member(api, text_team):
    member = Membership.objects.get(project=text_team.project, user=text_team.annotator)
    url = f"/api/projects/{text_team.project.pk}/members/{member.pk}/"

    changed = api(text_team.manager).patch(url, {"role": "viewer"}, format="json")
    removed = api(text_team.manager).delete(url)

    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    assert removed.status_code == 204
    assert not Membership.objects.filter(pk=member.pk).exists()


@pytest.mark.django_db
def test_a_conflict_is_adjudicated_by_a_manager_and_the_history_shows_every_answer(
    api, text_team, panel
):
    second = UserFactory(username="second-reader")
    membership_add(project=panel, user=second, role="annotator")
    item = answer(panel, text_team.annotator)
    wrong = "light" if truth(item) == "dark" else "dark"
    entry = services.next_item_lease(project=panel, annotator=second).entry
    assert entry.item_id == item.pk
    services.annotation_submit(project=panel, annotator=second, item_id=item.pk, label=wrong)
    assert Item.objects.get(pk=item.pk).status == "conflict"

    ruled = api(text_team.manager).post(
        f"/api/projects/{panel.pk}/items/{item.pk}/adjudicate/",
        {"label": truth(item)},
        format="json",
    )
    history = api(text_team.viewer).get(f"/api/projects/{panel.pk}/items/{item.pk}/history/")

    assert ruled.status_code == 201 and ruled.json()["is_adjudication"] is True
    resolved = Item.objects.get(pk=item.pk)
    assert (resolved.status, resolved.label.name) == ("labeled", truth(item))
    assert [(a["annotator"], a["label"], a["is_adjudication"]) for a in history.json()] == [
        ("text-annotator", truth(item), False),
        ("second-reader", wrong, False),
        ("text-manager", truth(item), True),
    ]


@pytest.mark.django_db
def test_annotators_cannot_adjudicate_and_an_unknown_label_is_a_400(api, text_team, panel):
    item = answer(panel, text_team.annotator)
    url = f"/api/projects/{panel.pk}/items/{item.pk}/adjudicate/"

    assert api(text_team.annotator).post(url, {"label": "dark"}, format="json").status_code == 403
    unknown = api(text_team.manager).post(url, {"label": "purple"}, format="json")
    assert unknown.status_code == 400 and "purple" in unknown.json()["error"]["message"]


@pytest.mark.django_db
def test_agreement_reports_kappa_per_pair_and_against_the_consensus(api, text_team, panel):
    second = UserFactory(username="second-reader")
    membership_add(project=panel, user=second, role="annotator")
    for _ in range(6):
        answer(panel, text_team.annotator)
        answer(panel, second)

    response = api(text_team.viewer).get(f"/api/projects/{panel.pk}/agreement/")

    body = response.json()
    assert response.status_code == 200
    assert body["overlap"] == 2 and body["conflicts"] == 0
    assert body["fleiss_kappa"] == pytest.approx(1.0)
    assert body["pairs"] == [
        {"annotators": ["second-reader", "text-annotator"], "items": 6, "cohen_kappa": 1.0}
    ]
    assert {row["annotator"] for row in body["versus_consensus"]} == {
        "second-reader",
        "text-annotator",
    }
