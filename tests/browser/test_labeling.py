"""The loop in a real browser: keyboard-only labeling, the worker retraining, the dashboard
following it, and the queue's leases between two annotators."""

import datetime as dt
import json
import os
import statistics
from functools import cache

import numpy as np
import pytest
import requests
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from labeler import importing, services
from labeler.management.commands.demo_setup import digit_png
from labeler.models import Annotation, Item, Membership, ModelRun, Project, QueryRound, QueueEntry
from tests import processes
from tests.factories import UserFactory
from tests.loop_steps import embed_pending

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
    """Without a worker: embed the features and run the queued retrain in the test process."""
    embed_pending(project)
    run = ModelRun.objects.get(project=project, status=ModelRun.Status.QUEUED)
    services.model_run_execute(run_id=run.pk)


def ten_texts_project(manager, *, name: str, classes: list[str], **options) -> Project:
    """A text project of ten topic texts whose first round (a seeded draw, no features
    needed) is served: the set-up of the pages' layout and keyboard tests."""
    from tests.data import texts_csv, topic_texts

    project = services.project_create(
        name=name, kind=Project.Kind.TEXT, classes=classes, created_by=manager,
        round_size=10, evaluation_share=0, **options,
    )  # fmt: skip
    services.items_import_stream(project=project, name="r.csv", stream=texts_csv(topic_texts(10)))
    services.model_run_execute(run_id=ModelRun.objects.get(project=project).pk)
    return project


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


def wait_until_saved(page) -> None:
    """Answers go out in the background: wait until the server acknowledged all of them."""
    page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")


def wait_past_mouse_guard(page) -> None:
    """The page ignores a click or tap within its guard (350 ms) of an item appearing, a
    double click's second half; a person looks first. Wait until the guard has passed."""
    page.wait_for_function(
        "() => performance.now() - window.tweezersLabel.shownAt >= 350", polling=20
    )


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

    wait_until_saved(page)
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
    # Annotators keep labeling from the reserve while a round trains, so the number of rounds
    # depends on the worker's speed: the dashboard shows the newest one.
    newest = QueryRound.objects.filter(project=project).order_by("-number").first().number
    page.wait_for_selector(f'tr[data-round="{newest}"]', timeout=WORKER_SECONDS)
    curve = json.loads(page.text_content("#curve-data"))
    assert all(point["n_labels"] for point in curve)
    assert page.locator("#learning-curve").is_visible()
    assert page.locator("table.confusion tbody tr").count() == 10
    page.wait_for_function("window.tweezersChart && window.tweezersChart.canvas.isConnected")
    page.screenshot(path=output_dir / "dashboard.png", full_page=True)

    runs = ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
    assert runs.exclude(artifact_path="").count() >= 2
    assert QueryRound.objects.filter(project=project).count() >= ROUNDS_TO_LABEL
    median = statistics.median(timings)
    print(
        f"\nclick → next item shown: median {median:.0f} ms, max {max(timings):.0f} ms "
        f"over {len(timings)} labels"
    )
    (output_dir / "label-timings.json").write_text(json.dumps(timings))


def two_annotators(*, n_items: int):
    """A digits project with its first round written, two annotators of it, and its labeling
    page's address."""
    project = digits_project(UserFactory(), n_items=n_items)
    run_queued_here(project)
    alice, bob = UserFactory(), UserFactory()
    for user in (alice, bob):
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return project, alice, bob, reverse("label", args=[project.pk])


@pytest.mark.browser
def test_two_annotators_never_receive_the_same_item(transactional_db, new_page):
    project, alice, bob, label_url = two_annotators(n_items=60)
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
    for page in pages.values():
        wait_until_saved(page)
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
    assert "Took back your label" in alice_page.text_content("#label-saved")
    wait_until_saved(alice_page)
    assert not Annotation.objects.filter(item_id=seen[alice.username][-1], is_current=True).exists()
    # A double click records one answer, and its second click does not answer the next item.
    again = seen[alice.username][-1]
    wait_past_mouse_guard(alice_page)
    alice_page.dblclick(f'.class-button[data-key="{true_digit(again)}"]')
    wait_for_next(alice_page, again)
    following = shown_item(alice_page)
    # The second click was handled before dblclick returned: an answer it gave would be in
    # the outbox now, and stored once the outbox is empty.
    wait_until_saved(alice_page)
    assert Annotation.objects.filter(item_id=again, is_current=True).count() == 1
    assert not Annotation.objects.filter(item_id=following).exists()
    assert shown_item(alice_page) == following


@pytest.mark.browser
def test_an_expired_lease_returns_its_item_to_the_queue(transactional_db, new_page):
    project, alice, bob, label_url = two_annotators(n_items=40)
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
    alice_page.wait_for_selector("#label-panel .banner.bad")
    assert "expired" in alice_page.text_content("#label-panel .banner.bad")
    assert shown_item(alice_page) != held
    assert not Annotation.objects.filter(annotator=alice).exists()

    bob_page.keyboard.press(true_digit(held))
    wait_for_next(bob_page, held)
    wait_until_saved(bob_page)
    assert Annotation.objects.get(item_id=held).annotator == bob


def held_in_order(page) -> list[int]:
    return page.evaluate("() => window.tweezersLabel.queue.map(item => item.item_id)")


@pytest.mark.browser
def test_a_reload_keeps_the_item_on_screen_and_the_next_ones_in_the_pages_order(
    transactional_db, new_page
):
    """A top-up can lease an entry ranked before the ones held (here Alice's lease ran out; a
    requeue or a new round does the same): the page puts it last, where it arrived. A reload
    keeps the page's order; the server lists held entries by rank, which would put it first."""
    project, alice, bob, label_url = two_annotators(n_items=40)
    alice_page, bob_page = new_page(), new_page()
    log_in(alice_page, alice, label_url)
    log_in(bob_page, bob, label_url)
    alice_first = shown_item(alice_page)
    # Alice walks away: her leases run out, and the entries ranked first are free again.
    QueueEntry.objects.filter(leased_by=alice, done=False).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    bob_first = shown_item(bob_page)
    bob_page.keyboard.press(true_digit(bob_first))
    wait_for_next(bob_page, bob_first)
    wait_until_saved(bob_page)
    order = held_in_order(bob_page)
    assert order[-1] == alice_first

    bob_page.reload()
    assert shown_item(bob_page) == order[0]
    assert held_in_order(bob_page) == order


@pytest.mark.browser
def test_a_reload_never_shows_again_an_item_whose_answer_lands_during_it(
    transactional_db, new_page
):
    """The old page's last answer can be acknowledged after the server read what the reloaded
    page holds but before that page starts: the server still listed the item as held, and the
    old page had already taken the answer out of its outbox. The item is answered; the page
    must show the next one."""
    manager = UserFactory()
    project = digits_project(manager, n_items=40)
    run_queued_here(project)
    bob = UserFactory()
    Membership.objects.create(project=project, user=bob, role=Membership.Role.ANNOTATOR)
    label_url = reverse("label", args=[project.pk])
    page = new_page()
    log_in(page, bob, label_url)
    answered = shown_item(page)
    answers_held = []
    page.route("**/label/answer/", lambda route: answers_held.append(route))
    page.keyboard.press(true_digit(answered))
    wait_for_next(page, answered)
    following = shown_item(page)
    page.wait_for_function("() => window.tweezersLabel.inFlight !== null")

    # The reload's page as the server wrote it before the answer arrived, then the answer.
    # (A reloading page leaves its tab for the page that loads next: the snapshot is of it.)
    page.evaluate(
        """() => document.cookie = "tweezers_tab=" + window.tweezersLabel.tab +
            "; path=" + location.pathname"""
    )
    snapshot = page.request.get(label_url)
    answer = answers_held.pop()
    answer.fulfill(response=answer.fetch())
    wait_until_saved(page)
    page.route(f"**{label_url}", lambda route: route.fulfill(response=snapshot))
    page.reload()
    assert Annotation.objects.filter(annotator=bob, item_id=answered).exists()
    assert shown_item(page) == following


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
    assert (first.get_attribute("data-key"), first.get_attribute("data-label")) == (
        "1",
        "cardiology",
    )
    page.screenshot(path=output_dir / "labeling-text.png")


KEY_TO_NEXT_MEDIAN_MS = 50
HELP_CLOSED = "() => !document.getElementById('label-help').open"
PAGE_STATE = """() => {
    const s = window.tweezersLabel;
    return JSON.stringify({queue: s.queue.map(i => i.item_id), outbox: s.outbox.length,
        inFlight: Boolean(s.inFlight), state: s.serverState, message: s.message,
        failures: s.failures, timings: s.timings.length});
}"""
OUTAGE_SECONDS = 5
THINK_MS = 400


def gunicorn_start(port: int, log_path, settings):
    """The app served by its own process (not the test's live server) so that the test can
    kill it and bring it back on the same port."""
    env = {
        **os.environ,
        "DATABASE_URL": processes.worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_DEBUG": "1",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TWEEZERS_UPLOAD_DIR": str(settings.TWEEZERS_UPLOAD_DIR),
        "TWEEZERS_ARTIFACT_DIR": str(settings.TWEEZERS_ARTIFACT_DIR),
        "TWEEZERS_EMBEDDING_DIR": str(settings.TWEEZERS_EMBEDDING_DIR),
    }
    command = [str(processes.REPO / ".venv/bin/gunicorn"), "config.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "60"]
    command += ["--access-logfile", "-"]
    server = processes.start(command, env=env, log_path=log_path)
    processes.wait_until(
        lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=60, what="gunicorn"
    )
    return server


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def press_and_wait(page, item_id: int) -> None:
    page.keyboard.press(true_digit(item_id))
    wait_for_next(page, item_id)


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.slow
def test_thirty_items_by_keyboard_show_at_once_and_survive_the_server_going_away(
    celery_worker, browser, settings, output_dir, tmp_path
):
    """Key press → next item on screen from what the page holds (median ≤ 50 ms, also while
    the worker retrains); the server killed mid-way and the page closed during the outage,
    once it has shown the answers kept and stored them in the browser: every one of the 30
    answers ends up stored exactly once."""
    manager = UserFactory()
    project = digits_project(manager, n_items=200)
    processes.wait_until(
        lambda: QueueEntry.objects.filter(project=project).exists(),
        timeout=WORKER_SECONDS / 1000,
        what="the worker to write the first round",
    )
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    server = gunicorn_start(port, tmp_path / "web.log", settings)
    context = browser.new_context(base_url=base, viewport={"width": 1360, "height": 860})
    context.set_default_timeout(20_000)
    page = context.new_page()
    label_url = reverse("label", args=[project.pk])
    try:
        log_in(page, manager, label_url)
        answered, during_retrain, timings = [], [], []

        pressed_in: set[int] = set()

        def active_run() -> int | None:
            return (
                ModelRun.objects.filter(project=project, status__in=["queued", "running"])
                .values_list("pk", flat=True)
                .first()
            )

        def label_one(*, during_a_retrain: bool = False):
            item_id = shown_item(page)
            if during_a_retrain:
                # A manager's retrain, running right now: the press below lands inside it.
                services.retrain_force(project=project)
                running = ModelRun.objects.filter(project=project, status="running")
                # The worker's own process moves the run to running: watched closely, since
                # on a quiet machine the retrain lasts a fraction of a second.
                processes.wait_until(
                    running.exists, timeout=30, what="the forced retrain to start", every=0.01
                )
            before = page.evaluate("window.tweezersLabel.timings.length")
            # A fast expert's glance: a robot pressing every few milliseconds would outrun any
            # server, which the page's two items ahead are not meant to hide. The first time a
            # retrain is seen on (on a quiet machine it takes well under a second), the press
            # comes at once: that is the moment the page must not wait for the model.
            run = active_run()
            busy = during_a_retrain or (run is not None and run not in pressed_in)
            if busy:
                pressed_in.add(run)
            else:
                page.wait_for_timeout(THINK_MS)
                busy = active_run() is not None
            press_and_wait(page, item_id)
            answered.append(item_id)
            try:
                page.wait_for_function("n => window.tweezersLabel.timings.length > n", arg=before)
            except Exception:
                page.screenshot(path=output_dir / "labeling-stuck.png")
                print(page.evaluate(PAGE_STATE))
                raise
            timing = page.evaluate("window.tweezersLabel.timings.at(-1)")
            timings.append(timing)
            if busy:
                during_retrain.append(timing)

        while len(answered) < 12:
            label_one()
        page.screenshot(path=output_dir / "labeling-held-items.png")

        # Everything so far acknowledged: the page holds the current item and the next two.
        page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")
        processes.stop(server)  # the server goes away mid-way
        for _ in range(2):  # the page still holds the next items: labeling goes on
            label_one()
        page.wait_for_function(
            "() => document.getElementById('label-outbox').textContent.includes('kept in')",
            timeout=OUTAGE_SECONDS * 1000,
        )
        page.screenshot(path=output_dir / "labeling-offline.png")
        kept = page.evaluate("window.tweezersLabel.outbox.length")
        assert kept >= 2
        # The reopened page sends what the closed one left in the browser's storage: wait
        # for the storage to hold every kept answer, then close it while the server is down.
        tab = page.evaluate("window.tweezersLabel.tab")
        page.wait_for_function(
            "([key, n]) => JSON.parse(localStorage.getItem(key) || '{}').entries.length >= n",
            arg=[f"tweezers.outbox.{manager.pk}.{project.pk}.{tab}", kept],
        )
        page.goto("about:blank")  # closed before anything was acknowledged
        server = gunicorn_start(port, tmp_path / "web.log", settings)

        page.goto(label_url)  # the kept answers are sent from the browser's storage
        page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")
        while len(answered) < 30:
            label_one(during_a_retrain=len(answered) == 20)
        page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")
    finally:
        context.close()
        processes.stop(server)

    stored = list(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    assert sorted(stored) == sorted(answered) and len(set(answered)) == 30
    assert {a.label.name for a in Annotation.objects.filter(project=project)} <= {
        true_digit(i) for i in answered
    }
    median = statistics.median(timings)
    retrain_median = statistics.median(during_retrain) if during_retrain else None
    print(
        f"\nkey press → next item: median {median:.1f} ms, max {max(timings):.0f} ms over "
        f"{len(timings)}; while retraining: "
        + (
            f"median {retrain_median:.1f} ms over {len(during_retrain)}"
            if during_retrain
            else "none"
        )
    )
    (output_dir / "key-to-next-timings.json").write_text(
        json.dumps({"all": timings, "during_retrain": during_retrain})
    )
    assert median <= KEY_TO_NEXT_MEDIAN_MS
    assert during_retrain, "no key press happened while the worker retrained"
    assert retrain_median <= KEY_TO_NEXT_MEDIAN_MS


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(390, 844), (768, 1024)])
def test_the_labeling_page_fits_phones_and_tablets(
    transactional_db, browser, live_server, output_dir, width, height
):
    manager = UserFactory()
    project = digits_project(manager, n_items=40)
    run_queued_here(project)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}, has_touch=True
    )
    page = context.new_page()
    try:
        log_in(page, manager, reverse("label", args=[project.pk]))
        shown_item(page)
        page.screenshot(path=output_dir / f"labeling-{width}x{height}.png")

        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        buttons = page.locator(".class-button")
        assert buttons.count() == 10
        for index in range(buttons.count()):
            box = buttons.nth(index).bounding_box()
            # Visible without scrolling, and big enough for a finger.
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, (index, box)
            assert box["height"] >= 44 and box["x"] + box["width"] <= width
        item_id = shown_item(page)
        wait_past_mouse_guard(page)
        buttons.filter(has_text=true_digit(item_id)).first.tap()
        wait_for_next(page, item_id)
        wait_until_saved(page)
        assert Annotation.objects.filter(item_id=item_id).exists()
    finally:
        context.close()


@pytest.mark.browser
def test_help_zoom_reset_undo_after_skip_and_changing_an_answer_from_the_strip(
    transactional_db, new_page, output_dir
):
    manager = UserFactory()
    project = digits_project(manager, n_items=40)
    Project.objects.filter(pk=project.pk).update(
        guidelines="## Reading digits\n- A **7** may have a bar.\n<b>not bold</b>"
    )
    run_queued_here(project)
    page = new_page()
    log_in(page, manager, reverse("label", args=[project.pk]))

    # Guidelines open by themselves on the first visit, and `?` toggles the help.
    page.wait_for_selector("#label-help[open]")
    assert "A 7 may have a bar." in page.text_content("#label-help .guidelines")
    assert page.locator("#label-help .guidelines b").count() == 0  # raw HTML shown as text
    page.screenshot(path=output_dir / "labeling-help.png")
    page.keyboard.press("Escape")
    page.wait_for_function(HELP_CLOSED)
    page.keyboard.press("?")
    page.wait_for_selector("#label-help[open]")
    page.keyboard.press("?")
    page.wait_for_function(HELP_CLOSED)

    # Zoom is per item: the next item starts fitted.
    first = shown_item(page)
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert page.text_content(".zoom-level") == "2×"
    press_and_wait(page, first)
    assert page.text_content(".zoom-level") == "Fit"

    # Undo after a skip brings the skipped item back, and says so.
    skipped = shown_item(page)
    page.keyboard.press(" ")
    wait_for_next(page, skipped)
    page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")
    assert Item.objects.get(pk=skipped).status == Item.Status.SKIPPED
    page.keyboard.press("Backspace")
    page.wait_for_function(
        f"() => document.getElementById('label-panel').dataset.itemId === '{skipped}'"
    )
    assert "which you skipped" in page.text_content("#label-saved")
    page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")
    assert Item.objects.get(pk=skipped).status == Item.Status.UNLABELED
    assert Annotation.objects.get(item_id=first).is_current  # the older label stays

    # Flag as unsure, answer, then change that answer from the strip.
    page.keyboard.press("f")
    assert page.is_checked("#label-unsure")
    press_and_wait(page, skipped)
    page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")
    answer = Annotation.objects.get(item_id=skipped)
    assert answer.is_unsure
    other = "0" if answer.label.name != "0" else "1"
    page.click(f"#label-strip [data-answer-key]:has-text('#{skipped} ')")
    page.click(f"#label-change [data-change-label='{other}']")
    page.wait_for_function(
        f"() => document.getElementById('label-saved').textContent.includes('“{other}”')"
    )
    assert Item.objects.get(pk=skipped).label.name == other
    assert Annotation.objects.filter(item_id=skipped).count() == 2
    page.screenshot(path=output_dir / "labeling-strip.png")


@pytest.mark.browser
def test_enter_accepts_the_teams_suggestion_only_where_the_project_shows_it(
    transactional_db, new_page
):
    from labeler.models import Suggestion

    project, alice, _bob, label_url = two_annotators(n_items=40)
    labels = {c.name: c for c in project.classes.all()}
    for item in project.items.all():
        # The team's model says "7" everywhere, 80% sure.
        Suggestion.objects.create(project=project, item=item, label=labels["7"], score=0.8)
    page = new_page()
    log_in(page, alice, label_url)
    first = shown_item(page)
    assert page.is_hidden("#label-suggestion")
    page.keyboard.press("Enter")  # nothing to accept: the item stays
    assert shown_item(page) == first

    services.project_update(project=project, changes={"show_suggestions": True})
    page.reload()
    item_id = shown_item(page)
    assert page.is_visible("#label-suggestion")
    assert page.text_content("#label-suggestion .suggestion-label") == "7"
    assert "80%" in page.text_content("#label-suggestion .suggestion-score")
    page.keyboard.press("Enter")
    wait_for_next(page, item_id)
    wait_until_saved(page)

    answer = Annotation.objects.get(item_id=item_id, annotator=alice)
    assert answer.label.name == "7"
    assert Suggestion.objects.filter(item_id=item_id).exists()
