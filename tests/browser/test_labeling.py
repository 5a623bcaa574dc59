"""The loop in a real browser: keyboard-only labeling, the worker retraining, the dashboard
following it, and the queue's leases between two annotators."""

import datetime as dt
import json
import statistics
from functools import cache

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from labeler import importing, services
from labeler.management.commands.demo_setup import digit_png
from labeler.models import Annotation, Item, Membership, ModelRun, Project, QueryRound, QueueEntry
from tests.factories import UserFactory

PASSWORD = "correct horse battery"
ROUND_SIZE = 10
ROUNDS_TO_LABEL = 3
WORKER_SECONDS = 60_000  # ms: generous, the machine may be shared with other test runs
# The product's target is 100 ms from click to next item on the demo (measured there at about
# 70 ms). Timing is a benchmark's job, not a test's: here the figures are only printed and
# saved, and the test asserts what makes them small — the page is never reloaded.


@cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images, data.target


def digits_project(manager, n_items: int) -> Project:
    """The demo's digits project, smaller: 8×8 images named ``digit_0042.png``."""
    images, _ = digits()
    project = services.project_create(
        name="Handwritten digits",
        kind=Project.Kind.IMAGE,
        classes=[str(d) for d in range(10)],
        created_by=manager,
        round_size=ROUND_SIZE,
    )
    limits = services.import_limits()
    entries = (
        importing.image_candidate(f"digit_{index:04d}.png", digit_png(pixels), limits)
        for index, pixels in enumerate(images[:n_items])
    )
    services.items_import(project=project, entries=entries, total=n_items)
    return project


def true_digit(item_id: int) -> str:
    _, target = digits()
    name = Item.objects.get(pk=item_id).source_name
    return str(target[int(name.removeprefix("digit_").removesuffix(".png"))])


def run_queued_here(project: Project) -> None:
    """Without a worker: run the queued retrain in the test process."""
    run = ModelRun.objects.get(project=project, status=ModelRun.Status.QUEUED)
    services.model_run_execute(run_id=run.pk)


def log_in(page, user, next_url: str) -> None:
    page.goto(f"{reverse('login')}?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    # The login form's own button: the header's language switcher has submit buttons too.
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(f"**{next_url}")
    page.wait_for_selector("form[action$='/accounts/logout/']", state="attached")


def shown_item(page) -> int:
    page.wait_for_selector('#label-panel[data-state="ready"]', timeout=WORKER_SECONDS)
    return int(page.get_attribute("#label-panel", "data-item-id"))


def wait_for_next(page, previous_item: int) -> None:
    page.wait_for_function(
        """previous => {
            const panel = document.getElementById("label-panel");
            return panel && panel.dataset.itemId !== String(previous);
        }""",
        arg=previous_item,
    )


@pytest.mark.browser
def test_keyboard_labeling_retrains_through_the_worker_and_the_dashboard_follows(
    celery_worker, new_page, output_dir
):
    manager = UserFactory()
    project = digits_project(manager, n_items=150)
    page = new_page()
    label_url = reverse("label", args=[project.pk])
    log_in(page, manager, label_url)
    # A marker on the document: a full page load anywhere below would wipe it.
    page.evaluate("window.sameDocument = true")

    labeled = []
    while len(labeled) < ROUNDS_TO_LABEL * ROUND_SIZE:
        item_id = shown_item(page)  # waits through "the model is updating" by itself
        if len(labeled) == 3:
            page.screenshot(path=output_dir / "labeling.png")
            page.keyboard.press("+")
            assert page.text_content(".zoom-level") == "1.5×"
            page.keyboard.press("-")
        page.keyboard.press(true_digit(item_id))
        wait_for_next(page, item_id)
        labeled.append(item_id)

    timings = page.evaluate("window.tweezersLabel.timings")
    assert page.evaluate("window.sameDocument === true"), "the labeling page reloaded"
    assert len(set(labeled)) == len(labeled)
    annotations = Annotation.objects.filter(project=project)
    assert annotations.count() == len(labeled)
    assert all(a.seconds_spent is not None and a.client_key for a in annotations)
    assert {a.label.name for a in annotations} == {true_digit(i) for i in labeled}

    page.goto(reverse("project-dashboard", args=[project.pk]))
    # The dashboard refreshes itself: the model trained on these labels and the round it
    # chose appear without a reload.
    page.wait_for_function(
        """() => {
            const data = document.getElementById("curve-data");
            return data && JSON.parse(data.textContent).length >= 2
                && document.getElementById("dashboard").dataset.worker === "idle";
        }""",
        timeout=WORKER_SECONDS,
    )
    page.wait_for_selector(f'tr[data-round="{ROUNDS_TO_LABEL + 1}"]', timeout=WORKER_SECONDS)
    curve = json.loads(page.text_content("#curve-data"))
    assert all(point["n_labels"] for point in curve)
    assert page.locator("#learning-curve").is_visible()
    assert page.locator("table.confusion tbody tr").count() == 10
    page.wait_for_function("window.tweezersChart && window.tweezersChart.canvas.isConnected")
    page.screenshot(path=output_dir / "dashboard.png", full_page=True)

    runs = ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
    assert runs.exclude(artifact_path="").count() >= 2
    assert QueryRound.objects.filter(project=project).count() >= ROUNDS_TO_LABEL + 1
    median = statistics.median(timings)
    print(
        f"\nclick → next item shown: median {median:.0f} ms, max {max(timings):.0f} ms "
        f"over {len(timings)} labels"
    )
    (output_dir / "label-timings.json").write_text(json.dumps(timings))


@pytest.mark.browser
def test_two_annotators_never_receive_the_same_item(transactional_db, new_page):
    manager = UserFactory()
    project = digits_project(manager, n_items=60)
    run_queued_here(project)
    alice, bob = UserFactory(), UserFactory()
    for user in (alice, bob):
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    label_url = reverse("label", args=[project.pk])
    pages = {}
    for user in (alice, bob):
        pages[user.username] = new_page()
        log_in(pages[user.username], user, label_url)

    seen = {alice.username: [], bob.username: []}
    for _ in range(4):
        for name, page in pages.items():
            item_id = shown_item(page)
            seen[name].append(item_id)
            page.keyboard.press(true_digit(item_id))
            wait_for_next(page, item_id)
    # A reload keeps one's own item instead of burning a new one.
    bob_page = pages[bob.username]
    held = shown_item(bob_page)
    bob_page.reload()
    assert shown_item(bob_page) == held

    assert not set(seen[alice.username]) & set(seen[bob.username])
    by_annotator = Annotation.objects.filter(project=project).values_list(
        "annotator__username", "item_id"
    )
    assert len(by_annotator) == 8
    assert len({item for _, item in by_annotator}) == 8

    # Backspace takes Alice's last label back and shows her that item again.
    alice_page = pages[alice.username]
    current = shown_item(alice_page)
    alice_page.keyboard.press("Backspace")
    wait_for_next(alice_page, current)
    assert shown_item(alice_page) == seen[alice.username][-1]
    assert "taken back" in alice_page.text_content("#label-panel .banner")
    assert not Annotation.objects.filter(item_id=seen[alice.username][-1], is_current=True).exists()
    # A double click records one answer, and its second click does not answer the next item.
    again = seen[alice.username][-1]
    alice_page.wait_for_timeout(400)
    alice_page.dblclick(f'.class-button[data-key="{true_digit(again)}"]')
    wait_for_next(alice_page, again)
    following = shown_item(alice_page)
    alice_page.wait_for_timeout(300)
    assert Annotation.objects.filter(item_id=again, is_current=True).count() == 1
    assert not Annotation.objects.filter(item_id=following).exists()
    assert shown_item(alice_page) == following


@pytest.mark.browser
def test_an_expired_lease_returns_its_item_to_the_queue(transactional_db, new_page):
    manager = UserFactory()
    project = digits_project(manager, n_items=40)
    run_queued_here(project)
    alice, bob = UserFactory(), UserFactory()
    for user in (alice, bob):
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    label_url = reverse("label", args=[project.pk])
    alice_page, bob_page = new_page(), new_page()
    log_in(alice_page, alice, label_url)
    held = shown_item(alice_page)

    # Alice walks away: her lease runs out.
    QueueEntry.objects.filter(item_id=held, done=False).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    log_in(bob_page, bob, label_url)
    assert shown_item(bob_page) == held

    # Alice comes back and answers: told why, given another item, nothing recorded for her.
    alice_page.keyboard.press(true_digit(held))
    wait_for_next(alice_page, held)
    assert "expired" in alice_page.text_content("#label-panel .banner")
    assert shown_item(alice_page) != held
    assert not Annotation.objects.filter(annotator=alice).exists()

    bob_page.keyboard.press(true_digit(held))
    wait_for_next(bob_page, held)
    assert Annotation.objects.get(item_id=held).annotator == bob


@pytest.mark.browser
def test_a_manager_sets_up_a_text_project_imports_a_csv_and_starts_labeling(
    celery_worker, new_page, output_dir, tmp_path
):
    manager = UserFactory()
    manager.user_permissions.add(Permission.objects.get(codename="add_project"))
    page = new_page()
    log_in(page, manager, reverse("project-list"))

    page.click("text=New project")
    page.fill("#id_name", "Discharge letters")
    page.select_option("#id_kind", "text")
    page.fill("#id_classes", "cardiology\ncardiology")
    page.click("button:has-text('Create project')")
    assert "listed twice" in page.text_content(".settings-form")
    page.fill("#id_classes", "cardiology\noncology\nother")
    page.select_option("#id_features", "tfidf")
    page.fill("#id_round_size", "5")
    page.screenshot(path=output_dir / "project-form.png", full_page=True)
    page.click("button:has-text('Create project')")

    project = Project.objects.get(name="Discharge letters")
    assert list(project.classes.values_list("name", flat=True)) == [
        "cardiology",
        "oncology",
        "other",
    ]
    csv_path = tmp_path / "letters.csv"
    findings = [
        "Admitted with chest pain radiating to the left arm; troponin rising, ECG with ST "
        "depression in V4 to V6. Coronary angiography showed a 90% stenosis of the LAD, "
        "treated with a drug-eluting stent.",
        "Second cycle of adjuvant chemotherapy for stage II breast carcinoma, well tolerated.",
        "Paroxysmal atrial fibrillation, rate controlled with bisoprolol; anticoagulation started.",
        "Staging CT after three cycles of FOLFOX shows partial response of liver metastases.",
        "Community-acquired pneumonia of the right lower lobe treated with amoxicillin.",
        "Heart failure with reduced ejection fraction, diuretics titrated, weight down 4 kg.",
        "Biopsy-proven diffuse large B-cell lymphoma, R-CHOP planned.",
        "Syncope during exercise; echocardiography shows hypertrophic obstructive cardiomyopathy.",
        "Uncomplicated laparoscopic cholecystectomy for symptomatic gallstones.",
        "Radiotherapy of bone metastases in the lumbar spine for pain control.",
    ]
    rows = [f'"{text}",' for text in findings]  # unlabeled: the expert labels them
    rows += ['"Known aortic stenosis, valve replacement scheduled.",cardiology']
    rows += ['"Melanoma excised with clear margins.",oncology']
    rows += [rows[0], '"Fractured wrist after a fall.",orthopaedics']
    csv_path.write_text("text,label\n" + "\n".join(rows) + "\n")
    page.set_input_files("#id_file", str(csv_path))
    page.click("button:has-text('Upload and import')")

    # The job page polls the import until the worker has finished it.
    page.wait_for_selector('#import-job[data-status="succeeded"]', timeout=WORKER_SECONDS)
    report = page.text_content("#import-job")
    assert "orthopaedics" in report and "unknown label" in report
    page.screenshot(path=output_dir / "import-report.png", full_page=True)
    kpis = [int(v) for v in page.locator("#import-job .kpi-value").all_text_contents()]
    assert kpis == [12, 1, 1]

    page.click("text=Start labeling")
    shown_item(page)
    assert page.locator(".item-text").is_visible()
    first = page.locator(".class-button").first
    assert (first.get_attribute("data-key"), first.get_attribute("value")) == ("1", "cardiology")
    page.screenshot(path=output_dir / "labeling-text.png")
