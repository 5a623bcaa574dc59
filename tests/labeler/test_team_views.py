"""Team pages through Django's test client: members and invitations, conflicts and the
manager's decision, an item's history, and the agreement panel of the dashboard."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from labeler import selectors, services
from labeler.models import Annotation, Item, Membership, ModelRun, Project
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory

User = get_user_model()
PASSWORD_PATTERN = re.compile(r'id="one-time-password">([a-z0-9-]+)<')


@pytest.fixture
def manager(db):
    head = UserFactory(username="head")
    # An account administrator too: creates accounts and may see which usernames exist.
    head.user_permissions.add(*Permission.objects.filter(codename__in=["add_user", "view_user"]))
    return head


@pytest.fixture
def project(manager):
    """Dark and light 8×8 images, each labeled by two annotators; the first round is queued."""
    project = ProjectFactory(
        kind="image",
        classes=["dark", "light"],
        created_by=manager,
        round_size=6,
        overlap=2,
        evaluation_share=0,
    )
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(10))
    services.model_run_execute(run_id=ModelRun.objects.get(project=project).pk)
    project.refresh_from_db()
    return project


def member(project: Project, role: str, username: str | None = None):
    user = UserFactory(**({"username": username} if username else {}))
    Membership.objects.create(project=project, user=user, role=role)
    return user


@pytest.fixture
def alice(project):
    return member(project, "annotator", "alice")


@pytest.fixture
def bob(project):
    return member(project, "annotator", "bob")


def truth(item: Item) -> str:
    return item.source_name.split("_")[0]


def other(label: str) -> str:
    return "light" if label == "dark" else "dark"


def answer(project: Project, annotator, label_for=truth) -> Item:
    entry = services.next_item_lease(project=project, annotator=annotator).entry
    services.annotation_submit(
        project=project, annotator=annotator, item_id=entry.item_id, label=label_for(entry.item)
    )
    return entry.item


def conflict(project: Project, first, second) -> Item:
    """An item the two annotators disagree on."""
    item = answer(project, first)
    assert answer(project, second, lambda _: other(truth(item))) == item
    assert Item.objects.get(pk=item.pk).status == Item.Status.CONFLICT
    return item


def logged_in(client, user):
    client.force_login(user)
    return client


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def membership_of(project, user) -> Membership:
    return Membership.objects.get(project=project, user=user)


# Access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("manager", 200), ("annotator", 403), ("viewer", 403), ("outsider", 404)],
)
@pytest.mark.parametrize("page_name", ["project-members", "project-conflicts"])
def test_team_pages_are_for_managers_only(client, project, manager, role, status, page_name):
    users = {
        "manager": manager,
        "annotator": member(project, "annotator"),
        "viewer": member(project, "viewer"),
        "outsider": UserFactory(),
    }

    response = logged_in(client, users[role]).get(reverse(page_name, args=[project.pk]))

    assert response.status_code == status


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("manager", 200),
        ("viewer", 200),
        ("annotator who labeled it", 200),
        ("another annotator", 403),
        ("outsider", 404),
    ],
)
def test_an_items_history_is_open_to_readers_and_to_the_annotators_who_labeled_it(
    client, project, manager, alice, who, status
):
    item = answer(project, alice)
    users = {
        "manager": manager,
        "viewer": member(project, "viewer"),
        "annotator who labeled it": alice,
        "another annotator": member(project, "annotator"),
        "outsider": UserFactory(),
    }
    url = reverse("item-history", args=[project.pk, item.pk])

    assert logged_in(client, users[who]).get(url).status_code == status


def test_an_item_of_another_project_has_no_history_page_here(client, project, manager):
    elsewhere = ProjectFactory(created_by=manager)
    foreign = Item.objects.create(project=elsewhere, source_name="x.png", checksum="f" * 64)

    url = reverse("item-history", args=[project.pk, foreign.pk])

    assert logged_in(client, manager).get(url).status_code == 404


def test_members_and_conflicts_tabs_show_for_managers_with_the_open_conflicts_count(
    client, project, manager, alice, bob
):
    conflict(project, alice, bob)

    body = page(logged_in(client, manager).get(reverse("project-dashboard", args=[project.pk])))

    assert reverse("project-members", args=[project.pk]) in body
    assert reverse("project-conflicts", args=[project.pk]) in body
    assert re.search(r'id="conflict-badge" class="badge" title="1 item waiting', body)
    viewer_page = page(
        logged_in(client, member(project, "viewer")).get(
            reverse("project-dashboard", args=[project.pk])
        )
    )
    assert reverse("project-members", args=[project.pk]) not in viewer_page


def test_team_writes_are_refused_to_annotators_and_outsiders(client, project, manager, alice):
    own = membership_of(project, manager)
    logged_in(client, alice)
    assert client.post(reverse("member-remove", args=[project.pk, own.pk])).status_code == 403
    data = {"account": "existing", "username": "alice", "role": "manager"}
    assert client.post(reverse("project-members", args=[project.pk]), data).status_code == 403
    logged_in(client, UserFactory())
    response = client.post(reverse("member-role", args=[project.pk, own.pk]), {"role": "viewer"})
    assert response.status_code == 404

    assert membership_of(project, manager).role == "manager"
    assert membership_of(project, alice).role == "annotator"


def test_a_team_form_posted_without_its_csrf_token_is_refused(project, manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    UserFactory(username="dr-ng")

    response = client.post(
        reverse("project-members", args=[project.pk]),
        {"account": "existing", "username": "dr-ng", "role": "annotator"},
    )

    assert response.status_code == 403
    assert not Membership.objects.filter(user__username="dr-ng").exists()


# Members ------------------------------------------------------------------------------------


def test_members_page_lists_each_member_with_role_and_todays_labels(
    client, project, manager, alice
):
    for _ in range(3):
        answer(project, alice)

    body = page(logged_in(client, manager).get(reverse("project-members", args=[project.pk])))

    row = re.search(r'<tr data-member="alice">.*?</tr>', body, re.S).group(0)
    assert '<option value="annotator" selected>' in row
    assert re.search(r'<td class="num">3\b', row)
    assert '<tr data-member="head">' in body and "(you)" in body
    # The recent labels link each item to its history.
    assert body.count(reverse("item-history", args=[project.pk, 0])[:-2]) >= 3


def test_a_manager_adds_an_existing_user_by_name_with_a_role(client, project, manager):
    doctor = UserFactory(username="dr-ng")

    response = logged_in(client, manager).post(
        reverse("project-members", args=[project.pk]),
        {"account": "existing", "username": "dr-ng", "role": "viewer"},
        follow=True,
    )

    assert "dr-ng joined the project as viewer." in page(response)
    assert membership_of(project, doctor).role == "viewer"


def test_a_new_account_shows_its_password_once_and_the_password_logs_in(client, project, manager):
    response = logged_in(client, manager).post(
        reverse("project-members", args=[project.pk]),
        {"account": "new", "username": "nurse.kim", "role": "annotator"},
    )

    body = page(response)
    assert response["Cache-Control"] == "no-store"
    password = PASSWORD_PATTERN.search(body).group(1)
    assert "Account created for nurse.kim" in body
    assert membership_of(project, User.objects.get(username="nurse.kim")).role == "annotator"
    again = page(client.get(reverse("project-members", args=[project.pk])))
    assert password not in again and "one-time-password" not in again

    newcomer = Client()
    login = newcomer.post(reverse("login"), {"username": "nurse.kim", "password": password})
    assert login.status_code == 302
    # Signed in, and sent to choose their own password before anything else.
    first_page = newcomer.get(reverse("project-list"))
    assert first_page.status_code == 302 and first_page["Location"] == reverse("password_change")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"account": "existing", "username": "nobody", "role": "annotator"}, "No user is named"),
        ({"account": "existing", "username": "alice", "role": "viewer"}, "already a member"),
        ({"account": "new", "username": "ALICE", "role": "annotator"}, "already exists"),
        ({"account": "new", "username": "two words", "role": "annotator"}, "Enter a valid"),
        ({"account": "existing", "username": "", "role": "annotator"}, "This field is required"),
        ({"account": "existing", "username": "alice", "role": "owner"}, "Select a valid choice"),
    ],
)
def test_a_bad_invite_shows_why_on_the_form_and_changes_nothing(
    client, project, manager, alice, data, error
):
    users, memberships = User.objects.count(), Membership.objects.count()

    body = page(
        logged_in(client, manager).post(reverse("project-members", args=[project.pk]), data)
    )

    assert error in body and 'class="errorlist' in body
    assert "one-time-password" not in body
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert membership_of(project, alice).role == "annotator"


def test_a_manager_changes_a_members_role(client, project, manager, alice):
    url = reverse("member-role", args=[project.pk, membership_of(project, alice).pk])

    response = logged_in(client, manager).post(url, {"role": "manager"}, follow=True)

    assert "alice is now manager." in page(response)
    assert membership_of(project, alice).role == "manager"


def test_the_last_manager_can_neither_be_removed_nor_step_down(client, project, manager):
    own = membership_of(project, manager)
    logged_in(client, manager)

    removed = client.post(reverse("member-remove", args=[project.pk, own.pk]), follow=True)
    demoted = client.post(
        reverse("member-role", args=[project.pk, own.pk]), {"role": "viewer"}, follow=True
    )

    assert "only manager" in page(removed) and "only manager" in page(demoted)
    assert membership_of(project, manager).role == "manager"
    # The page offers neither action for the only manager.
    body = page(client.get(reverse("project-members", args=[project.pk])))
    assert reverse("member-remove", args=[project.pk, own.pk]) not in body


def test_a_removed_member_loses_access_and_keeps_their_labels(client, project, manager, alice):
    item = answer(project, alice)

    response = logged_in(client, manager).post(
        reverse("member-remove", args=[project.pk, membership_of(project, alice).pk]), follow=True
    )

    assert "alice was removed from the project." in page(response)
    assert not Membership.objects.filter(project=project, user=alice).exists()
    assert Annotation.objects.filter(item=item, annotator=alice).exists()
    assert logged_in(client, alice).get(reverse("label", args=[project.pk])).status_code == 404


# Conflicts ----------------------------------------------------------------------------------


def test_conflicts_page_lists_disputed_items_with_each_annotators_answer(
    client, project, manager, alice, bob
):
    disputed = conflict(project, alice, bob)
    agreed = answer(project, alice)
    answer(project, bob)

    body = page(logged_in(client, manager).get(reverse("project-conflicts", args=[project.pk])))

    card = re.search(rf'id="conflict-{disputed.pk}".*?</article>', body, re.S)
    assert card is not None
    assert re.search(r'alice</span> <span class="tag">' + truth(disputed), card.group(0))
    assert re.search(r'bob</span> <span class="tag">' + other(truth(disputed)), card.group(0))
    assert 'name="label" value="dark"' in card.group(0)
    assert reverse("item-history", args=[project.pk, disputed.pk]) in card.group(0)
    assert f'id="conflict-{agreed.pk}"' not in body


def test_a_managers_decision_labels_the_item_and_takes_it_off_the_list(
    client, project, manager, alice, bob
):
    item = conflict(project, alice, bob)
    url = reverse("project-conflicts", args=[project.pk])

    response = logged_in(client, manager).post(
        url, {"item_id": item.pk, "label": truth(item)}, follow=True
    )

    assert f"Item {item.pk} is now labeled" in page(response)
    resolved = Item.objects.get(pk=item.pk)
    assert (resolved.status, resolved.label.name) == ("labeled", truth(item))
    ruling = Annotation.objects.get(item=item, is_adjudication=True)
    assert ruling.annotator == manager
    assert f'id="conflict-{item.pk}"' not in page(client.get(url))


def test_a_decision_through_htmx_swaps_the_card_and_updates_the_tab_badge(
    client, project, manager, alice, bob
):
    item = conflict(project, alice, bob)

    response = logged_in(client, manager).post(
        reverse("project-conflicts", args=[project.pk]),
        {"item_id": item.pk, "label": other(truth(item))},
        HTTP_HX_REQUEST="true",
    )

    body = page(response)
    assert "<html" not in body and "conflict resolved" in body
    assert re.search(r'id="conflict-badge" class="badge" hx-swap-oob="true" hidden', body)
    assert Item.objects.get(pk=item.pk).label.name == other(truth(item))


@pytest.mark.parametrize(
    "data", [{"item_id": "x", "label": "dark"}, {"item_id": 10**9, "label": "dark"}]
)
def test_a_bad_decision_is_refused_and_changes_nothing(client, project, manager, data):
    response = logged_in(client, manager).post(
        reverse("project-conflicts", args=[project.pk]), data, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400
    assert not Annotation.objects.exists()


def test_an_unknown_label_in_a_decision_is_refused_with_its_reason(
    client, project, manager, alice, bob
):
    item = conflict(project, alice, bob)

    response = logged_in(client, manager).post(
        reverse("project-conflicts", args=[project.pk]),
        {"item_id": item.pk, "label": "purple"},
        follow=True,
    )

    assert "unknown label" in page(response)
    assert Item.objects.get(pk=item.pk).status == Item.Status.CONFLICT


# History ------------------------------------------------------------------------------------


def test_history_shows_old_to_new_after_a_correction(client, project, manager, alice):
    item = answer(project, alice, lambda _: "dark")
    first = Annotation.objects.get(item=item)
    services.annotation_correct(annotation=first, annotator=alice, label="light")

    body = page(logged_in(client, manager).get(reverse("item-history", args=[project.pk, item.pk])))

    assert re.search(
        r'<span class="old-label">dark</span> <span class="muted">→</span> '
        r'<span class="tag">light</span>',
        body,
    )
    assert f'<tr class="state-replaced" data-annotation="{first.pk}">' in body
    assert reverse("item-file", args=[item.pk]) in body


def test_history_marks_the_managers_ruling_and_the_models_guess(
    client, project, manager, alice, bob
):
    item = conflict(project, alice, bob)
    Annotation.objects.filter(item=item, annotator=alice).update(
        predicted_label=project.classes.get(name="light"), predicted_confidence=0.62
    )
    services.item_adjudicate(project=project, manager=manager, item_id=item.pk, label="dark")

    body = page(logged_in(client, manager).get(reverse("item-history", args=[project.pk, item.pk])))

    assert "status-adjudication" in body and "ruling" in body
    assert re.search(r"light <span class=\"muted\">62%</span>", body)
    assert ">Labeled<" in body


def test_an_annotator_sees_only_their_own_answers_in_a_history(client, project, alice, bob):
    item = conflict(project, alice, bob)

    body = page(logged_in(client, alice).get(reverse("item-history", args=[project.pk, item.pk])))

    assert "You see your own answers." in body
    assert "<td>alice</td>" in body and "<td>bob</td>" not in body
    assert "Annotators disagree" not in body


# Agreement ----------------------------------------------------------------------------------


def test_the_dashboard_shows_agreement_figures_for_an_overlap_project(
    client, project, manager, alice, bob
):
    items = [answer(project, alice) for _ in range(6)]
    disputed = items[0]
    for _ in range(6):
        answer(project, bob, lambda item: other(truth(item)) if item == disputed else truth(item))
    stats = selectors.agreement_stats(project=project)

    body = page(logged_in(client, manager).get(reverse("project-dashboard", args=[project.pk])))

    assert 'id="agreement"' in body
    assert f"{stats['fleiss_kappa']:.3f}" in body
    (pair,) = stats["pairs"]
    assert "alice · bob" in body and f"{pair['cohen_kappa']:.3f}" in body
    assert "1 open conflict" in body and reverse("project-conflicts", args=[project.pk]) in body
    assert re.search(r"<td>alice</td><td class=\"num\">5</td>", body)
    # The polled fragment carries the panel too.
    fragment = page(
        client.get(reverse("project-dashboard", args=[project.pk]), HTTP_HX_REQUEST="true")
    )
    assert 'id="agreement"' in fragment and "<html" not in fragment


def test_a_single_annotator_project_has_no_agreement_panel(client, manager):
    project = ProjectFactory(created_by=manager)

    body = page(logged_in(client, manager).get(reverse("project-dashboard", args=[project.pk])))

    assert 'id="agreement"' not in body
    assert reverse("project-conflicts", args=[project.pk]) not in body


# Overlap setting ----------------------------------------------------------------------------


def test_a_new_project_takes_its_annotators_per_item_from_the_form(client, manager):
    manager.user_permissions.add(Permission.objects.get(codename="add_project"))
    data = {
        "name": "Panel",
        "kind": "text",
        "classes": "yes\nno",
        "strategy": "default",
        "features": "tfidf",
        "round_size": 20,
        "evaluation_share": 0.1,
        "target_metric": "accuracy",
        "lease_seconds": 600,
        "overlap": 3,
    }
    logged_in(client, manager)

    assert client.post(reverse("project-create"), {**data, "overlap": 11}).status_code == 200
    response = client.post(reverse("project-create"), data)

    assert response.status_code == 302
    assert Project.objects.get(name="Panel").overlap == 3


def test_settings_show_the_annotators_per_item(client, project, manager):
    body = page(logged_in(client, manager).get(reverse("project-settings", args=[project.pk])))

    assert "Annotators per item" in body and "Each item goes to 2 different annotators" in body
