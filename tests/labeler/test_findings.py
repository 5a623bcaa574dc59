"""Findings projects (issue 21): answers store each finding's state, items resolve per
finding, and the label matrix the training glue reads holds what was answered."""

import numpy as np
import pytest

from labeler import services
from labeler.models import Annotation, FindingAnswer, Item, ItemFinding, ModelRun
from labeler.selectors_findings import findings_label_matrix, item_states
from tests.data import texts_csv, topic_texts
from tests.factories import ProjectFactory, UserFactory

FINDINGS = ["effusion", "cardiomegaly", "atelectasis"]


def findings_project(*, overlap: int = 1, n: int = 10):
    project = ProjectFactory(
        kind="text",
        task="findings",
        classes=FINDINGS,
        round_size=8,
        overlap=overlap,
        evaluation_share=0,
    )
    services.items_import_stream(project=project, name="t.csv", stream=texts_csv(topic_texts(n)))
    run = ModelRun.objects.get(project=project)
    services.model_run_execute(run_id=run.pk)
    project.refresh_from_db()
    return project


def leased(project, annotator) -> int:
    return services.next_item_lease(project=project, annotator=annotator).entry.item_id


@pytest.mark.django_db
def test_an_answer_stores_each_finding_and_the_matrix_reads_it_back():
    project, alice = findings_project(), UserFactory()
    first = leased(project, alice)
    services.annotation_submit(
        project=project,
        annotator=alice,
        item_id=first,
        findings={"effusion": "present", "atelectasis": "uncertain", "cardiomegaly": "absent"},
    )
    second = leased(project, alice)
    services.annotation_submit(project=project, annotator=alice, item_id=second, findings={})

    item_ids, Y, names = findings_label_matrix(project=project)

    assert names == FINDINGS
    assert Y.dtype == np.int8
    rows = dict(zip(item_ids, Y.tolist(), strict=True))
    assert rows == {first: [1, 0, -1], second: [0, 0, 0]}
    assert item_states(project=project, item_ids=[first])[first] == {
        "effusion": "present",
        "cardiomegaly": "absent",
        "atelectasis": "uncertain",
    }
    project.refresh_from_db()
    # One answer per item spends one label of the budget, however many findings it marks.
    assert (project.n_annotations, project.n_labeled) == (2, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"findings": {"pneumonia": "present"}}, "unknown_finding"),
        ({"findings": {"effusion": "maybe"}}, "unknown_state"),
        ({"findings": {"effusion": 1}}, "unknown_state"),
        ({"findings": ["effusion"]}, "invalid_findings"),
        ({"label": "effusion"}, "label_unexpected"),
    ],
)
def test_bad_findings_answers_are_refused_and_nothing_is_stored(answer, code):
    project, alice = findings_project(), UserFactory()
    item_id = leased(project, alice)

    with pytest.raises(services.SubmitRejected) as refused:
        services.annotation_submit(project=project, annotator=alice, item_id=item_id, **answer)

    assert refused.value.code == code
    assert not Annotation.objects.filter(project=project).exists()
    assert not FindingAnswer.objects.exists()
    assert Item.objects.get(pk=item_id).status == "unlabeled"


@pytest.mark.django_db
def test_a_findings_answer_to_a_single_label_project_is_refused(text_project):
    with pytest.raises(services.SubmitRejected) as refused:
        services.annotation_submit(
            project=text_project,
            annotator=UserFactory(),
            item_id=1,
            findings={"spam": "present"},
        )
    assert refused.value.code == "findings_unexpected"


@pytest.mark.django_db
def test_a_correction_replaces_the_states_and_undo_brings_the_old_ones_back():
    project, alice = findings_project(), UserFactory()
    item_id = leased(project, alice)
    first, _ = services.annotation_submit(
        project=project, annotator=alice, item_id=item_id, findings={"effusion": "present"}
    )
    services.annotation_correct(
        annotation=first, annotator=alice, findings={"cardiomegaly": "uncertain"}
    )
    assert item_states(project=project, item_ids=[item_id])[item_id]["cardiomegaly"] == (
        "uncertain"
    )
    assert not ItemFinding.objects.filter(item_id=item_id, finding__name="effusion").exists()

    services.last_action_undo(project=project, annotator=alice)

    states = item_states(project=project, item_ids=[item_id])[item_id]
    assert (states["effusion"], states["cardiomegaly"]) == ("present", "absent")


@pytest.mark.django_db
def test_with_overlap_each_finding_takes_the_majority_and_a_split_waits_for_a_ruling():
    project = findings_project(overlap=2)
    alice, bob, manager = UserFactory(), UserFactory(), UserFactory()
    item_id = leased(project, alice)
    services.annotation_submit(
        project=project, annotator=alice, item_id=item_id, findings={"effusion": "present"}
    )
    assert Item.objects.get(pk=item_id).status == "pending"
    assert leased(project, bob) == item_id
    services.annotation_submit(
        project=project,
        annotator=bob,
        item_id=item_id,
        findings={"effusion": "present", "atelectasis": "present"},
    )
    assert Item.objects.get(pk=item_id).status == "conflict"
    assert findings_label_matrix(project=project)[0] == []

    services.item_adjudicate(
        project=project, manager=manager, item_id=item_id, findings={"effusion": "present"}
    )

    item_ids, Y, _ = findings_label_matrix(project=project)
    assert item_ids == [item_id] and Y.tolist() == [[1, 0, 0]]


def listed_ids(response) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r'<tr data-item="(\d+)"', response.content.decode())]


@pytest.mark.django_db
def test_the_items_page_filters_by_finding_and_state_and_shows_the_models_probabilities():
    from django.test import Client
    from django.urls import reverse

    from labeler.models import LabelClass

    manager = UserFactory()
    project = findings_project()
    from labeler.models import Membership

    Membership.objects.create(project=project, user=manager, role="manager")
    given = [
        {"effusion": "present"},
        {"effusion": "uncertain", "atelectasis": "present"},
        {},
        {"effusion": "present", "cardiomegaly": "uncertain"},
    ]
    answered = {}
    for states in given:
        item_id = leased(project, manager)
        services.annotation_submit(
            project=project, annotator=manager, item_id=item_id, findings=states
        )
        answered[item_id] = states
    ids = list(answered)
    services.item_finding_probabilities_store(
        project=project,
        item_ids=ids[:1],
        finding_names=FINDINGS,
        proba=np.array([[0.91, 0.07, 0.42]]),
    )
    effusion = LabelClass.objects.get(project=project, name="effusion").pk
    client = Client()
    client.force_login(manager)
    url = reverse("project-items", args=[project.pk])

    def listed(state: int) -> set[int]:
        return set(listed_ids(client.get(url, {"finding": effusion, "finding_state": state})))

    assert listed(1) == {ids[0], ids[3]}
    assert listed(-1) == {ids[1]}
    assert listed(0) == {ids[2]}
    page = client.get(url).content.decode()
    assert 'effusion <span class="muted">91%</span>' in page
    assert "cardiomegaly?" in page
    # A state without its finding is refused with a reason, not ignored.
    refused = client.get(url, {"finding_state": 1})
    assert refused.status_code == 200 and listed_ids(refused) == []


@pytest.mark.django_db
def test_a_manager_settles_a_findings_conflict_and_corrects_an_item_from_the_pages():
    from django.test import Client
    from django.urls import reverse

    from labeler.models import Membership

    project = findings_project(overlap=2)
    alice, bob, manager = UserFactory(), UserFactory(), UserFactory()
    Membership.objects.create(project=project, user=manager, role="manager")
    item_id = leased(project, alice)
    services.annotation_submit(
        project=project, annotator=alice, item_id=item_id, findings={"effusion": "present"}
    )
    leased(project, bob)
    services.annotation_submit(
        project=project, annotator=bob, item_id=item_id, findings={"atelectasis": "uncertain"}
    )
    client = Client()
    client.force_login(manager)

    page = client.get(reverse("project-conflicts", args=[project.pk]))
    assert page.status_code == 200
    assert 'name="finding:effusion"' in page.content.decode()
    history = client.get(reverse("item-history", args=[project.pk, item_id]))
    assert history.status_code == 200 and "atelectasis?" in history.content.decode()

    client.post(
        reverse("project-conflicts", args=[project.pk]),
        {"item_id": item_id, "finding:effusion": "present", "finding:cardiomegaly": "uncertain"},
    )
    assert item_states(project=project, item_ids=[item_id])[item_id] == {
        "effusion": "present",
        "cardiomegaly": "uncertain",
        "atelectasis": "absent",
    }

    # A second ruling from the item page replaces the first.
    client.post(
        reverse("item-correct", args=[project.pk, item_id]), {"finding:atelectasis": "present"}
    )
    assert item_states(project=project, item_ids=[item_id])[item_id]["atelectasis"] == "present"
    assert client.get(reverse("item-history", args=[project.pk, item_id])).status_code == 200
    # An unknown state changes nothing.
    client.post(
        reverse("item-correct", args=[project.pk, item_id]), {"finding:atelectasis": "maybe"}
    )
    assert item_states(project=project, item_ids=[item_id])[item_id]["atelectasis"] == "present"


@pytest.mark.django_db
def test_agreement_is_given_per_finding_with_overlap():
    from django.test import Client
    from django.urls import reverse
    from rest_framework.test import APIClient

    from labeler import selectors
    from labeler.models import Membership

    project = findings_project(overlap=2, n=6)
    alice, bob, manager = UserFactory(), UserFactory(), UserFactory()
    Membership.objects.create(project=project, user=manager, role="manager")
    pattern = [True, True, False, False, True, False]
    for number, agree in enumerate(pattern):
        effusion = "present" if number % 2 else "absent"  # both give the same
        mine = {"effusion": effusion, "cardiomegaly": "present" if agree else "absent"}
        theirs = {"effusion": effusion, "cardiomegaly": "absent" if agree else "present"}
        item_id = leased(project, alice)
        services.annotation_submit(project=project, annotator=alice, item_id=item_id, findings=mine)
        assert leased(project, bob) == item_id
        services.annotation_submit(project=project, annotator=bob, item_id=item_id, findings=theirs)

    figures = selectors.agreement_stats(project=project)

    by_finding = {row["finding"]: row for row in figures["findings"]}
    assert by_finding["effusion"]["pairs"][0]["cohen_kappa"] == pytest.approx(1.0)
    assert by_finding["cardiomegaly"]["pairs"][0]["cohen_kappa"] < 0
    assert figures["conflicts"] == 6  # cardiomegaly is split on every item
    client = APIClient()
    client.force_authenticate(manager)
    body = client.get(f"/api/projects/{project.pk}/agreement/").json()
    assert [row["finding"] for row in body["findings"]] == FINDINGS
    dashboard = Client()
    dashboard.force_login(manager)
    page = dashboard.get(reverse("project-dashboard", args=[project.pk]))
    assert page.status_code == 200 and "findings-agreement" in page.content.decode()
