"""Webhooks against a real local receiver (``http.server`` on 127.0.0.1): what a labeled round
sends and how it is signed, retries and disabling, and the addresses that are refused.

The worker is not the point here: the delivery task is called directly, as the worker would
call it, from an explicit outbox that records what would have been enqueued (and with which
countdown)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone, translation

from labeler import services
from labeler.models import ImportJob, ModelRun, Project
from labeler.models_webhooks import Webhook, WebhookDelivery
from labeler.services import webhook_delivery, webhooks
from labeler.services.import_jobs import import_job_succeed
from labeler.services.imports import ImportReport
from labeler.tasks import deliver_webhook
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import item_add, membership_add, round_add
from tests.loop_steps import run_queued, truth
from tests.processes import (
    celery_worker_command,
    http_answer,
    loopback_http,
    start,
    stop,
    wait_until,
    worker_database_url,
)

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "receiver-secret-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int = 0
    received: list[Received] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}/hooks/{path}"

    def events(self) -> list[str]:
        return [request.headers["X-Tweezers-Event"] for request in self.received]


def _respond(receiver: Receiver, request: BaseHTTPRequestHandler) -> None:
    body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
    receiver.received.append(Received(request.path, dict(request.headers.items()), body))
    if request.path.endswith("/fail"):
        http_answer(request, 500)
    elif request.path.endswith("/redirect"):
        http_answer(request, 302, headers={"Location": f"{receiver.base}/elsewhere"})
    else:
        http_answer(request, 200)


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    receiver = Receiver()
    with loopback_http(lambda request: _respond(receiver, request)) as port:
        receiver.port = port
        settings.TWEEZERS_WEBHOOK_URLS = [f"{receiver.base}/hooks"]
        yield receiver


@dataclass
class Outbox:
    """What the service enqueued for the worker: (task arguments, countdown seconds)."""

    sent: list[tuple[tuple, float]] = field(default_factory=list)

    def work(self) -> int:
        """Run every enqueued delivery as the worker would, retries included; returns how
        many task runs that took."""
        runs = 0
        while self.sent:
            args, _countdown = self.sent.pop(0)
            deliver_webhook(*args)
            runs += 1
        return runs


@pytest.fixture
def outbox(monkeypatch) -> Outbox:
    box = Outbox()

    # Celery's own signature: the service sends the job by name (labeler.jobs), which calls
    # the registered task's apply_async(args, kwargs, **options).
    def apply_async(args=None, kwargs=None, countdown=0, **_options):
        box.sent.append((tuple(args), countdown))

    monkeypatch.setattr(deliver_webhook, "apply_async", apply_async)
    return box


def run_webhook_callbacks(callbacks) -> None:
    """Run the on-commit callbacks the webhook service registered, and only those: a retrain
    the same commit would enqueue is run by the test itself."""
    for callback in callbacks:
        if callback.__module__ == webhooks.__name__:
            callback()


def readme_verify():
    text = README.read_text()
    section = re.search(
        r"<!-- webhook-verify:start -->(.*?)<!-- webhook-verify:end -->", text, flags=re.S
    )
    assert section, "README.md has no webhook-verify markers"
    (code,) = re.findall(r"```python\n(.*?)```", section.group(1), flags=re.S)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace["verify"]


def manager_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def hook_create(client: Client, project, url: str, events: list[str], secret: str = SECRET):
    return client.post(
        f"/api/projects/{project.pk}/webhooks/",
        {"url": url, "events": events, "secret": secret},
        content_type="application/json",
    )


@pytest.fixture
def shades_project(db):
    manager = UserFactory()
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], created_by=manager, round_size=10
    )
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(20))
    project.refresh_from_db()
    return project


@pytest.mark.django_db
def test_a_labeled_round_sends_labels_added_model_trained_and_round_ready_signed(
    shades_project, receiver, outbox, django_capture_on_commit_callbacks
):
    project = shades_project
    client = manager_client(project.created_by)
    created = hook_create(
        client, project, receiver.url("ok"), ["labels.added", "model.trained", "round.ready"]
    )
    assert created.status_code == 201, created.json()
    assert created.json()["secret"] == SECRET
    assert "secret" not in client.get(f"/api/projects/{project.pk}/webhooks/").json()[0]
    with django_capture_on_commit_callbacks() as callbacks:
        run_queued(project)  # the cold-start round, before anything is labeled
    run_webhook_callbacks(callbacks)
    outbox.work()
    # No model yet: the round is ready, nothing was trained.
    assert receiver.events() == ["round.ready"]
    assert receiver.received[0].json["data"]["round"] == 1
    receiver.received.clear()

    # Label the round through the API, as an annotator's client would.
    with django_capture_on_commit_callbacks() as callbacks:
        labeled = []
        for _ in range(10):
            served = client.get(f"/api/projects/{project.pk}/next/").json()
            item_id = served["item"]["id"]
            source = project.items.get(pk=item_id)
            answer = client.post(
                f"/api/projects/{project.pk}/annotations/",
                {"item": item_id, "label": truth(source)},
                content_type="application/json",
            )
            assert answer.status_code == 201, answer.json()
            labeled.append(item_id)
    run_webhook_callbacks(callbacks)
    # One collecting delivery, sent after the batching window, not one call per label.
    assert [countdown for _id, countdown in outbox.sent] == [10]
    with django_capture_on_commit_callbacks() as callbacks:
        run = run_queued(project)
    run_webhook_callbacks(callbacks)
    assert run.status == ModelRun.Status.SUCCEEDED and run.artifact_path
    outbox.work()

    assert sorted(receiver.events()) == ["labels.added", "model.trained", "round.ready"]
    verify = readme_verify()
    for request in receiver.received:
        signature = request.headers["X-Tweezers-Signature"]
        assert verify(SECRET, signature, request.body)
        assert webhook_delivery.signature_verify(secret=SECRET, header=signature, body=request.body)
        assert request.path == "/hooks/ok"
        assert request.json["delivery"] == int(request.headers["X-Tweezers-Delivery"])
        assert request.json["project"] == project.pk
    by_event = {request.json["event"]: request.json["data"] for request in receiver.received}
    assert by_event["labels.added"] == {"count": 10, "item_ids": labeled}
    assert by_event["model.trained"]["run"] == run.pk
    assert by_event["model.trained"]["metrics"]["accuracy"] == run.metrics["accuracy"]
    assert by_event["round.ready"]["run"] == run.pk and by_event["round.ready"]["round"] == 2
    log = client.get(
        f"/api/projects/{project.pk}/webhooks/{created.json()['id']}/deliveries/"
    ).json()["results"]
    assert {entry["status"] for entry in log} == {"succeeded"}
    assert all(entry["response_code"] == 200 and entry["duration_ms"] >= 0 for entry in log)


def test_the_readme_verifier_refuses_a_changed_body_another_secret_and_an_old_timestamp():
    verify = readme_verify()
    body = b'{"event":"round.ready"}'
    now = int(time.time())
    header = webhook_delivery.signature_header(secret=SECRET, body=body, timestamp=now)
    assert verify(SECRET, header, body)
    assert not verify(SECRET, header, body + b" ")
    assert not verify("another-secret-0123456789", header, body)
    old = webhook_delivery.signature_header(secret=SECRET, body=body, timestamp=now - 3600)
    assert not verify(SECRET, old, body)
    assert not webhook_delivery.signature_verify(secret=SECRET, header=old, body=body)
    assert not verify(SECRET, "v1=abc", body)


@pytest.mark.django_db
def test_a_failing_receiver_gets_retries_then_the_hook_is_disabled_and_the_settings_page_says_so(
    text_project, receiver, outbox, settings
):
    settings.TWEEZERS_WEBHOOK_ATTEMPTS = 5
    settings.TWEEZERS_WEBHOOK_DISABLE_AFTER = 3
    hook = webhooks.webhook_create(
        project=text_project, url=receiver.url("fail"), events=["import.finished"]
    )

    for _ in range(3):
        webhooks._deliveries_create(text_project.pk, "import.finished", {"import": 1})
        outbox.sent.clear()
        delivery = WebhookDelivery.objects.filter(webhook=hook).first()
        waits = []
        deliver_webhook(delivery.pk)
        while outbox.sent:
            args, countdown = outbox.sent.pop(0)
            waits.append(countdown)
            deliver_webhook(*args)
        # Exponential back-off between the five attempts.
        assert waits == [30, 60, 120, 240]

    assert len(receiver.received) == 15
    assert set(WebhookDelivery.objects.values_list("status", "attempt", "response_code")) == {
        ("failed", 5, 500)
    }
    hook.refresh_from_db()
    assert not hook.active and hook.failures_in_row == 3
    assert "HTTP 500" in hook.disabled_reason
    # A disabled hook gets nothing more.
    webhooks._deliveries_create(text_project.pk, "import.finished", {"import": 2})
    assert outbox.sent == [] and len(receiver.received) == 15

    client = manager_client(text_project.created_by)
    page = client.get(f"/projects/{text_project.pk}/settings/").content.decode()
    assert "disabled" in page and "HTTP 500" in page
    with translation.override("ko"):
        korean = client.get(
            f"/projects/{text_project.pk}/settings/", HTTP_ACCEPT_LANGUAGE="ko"
        ).content.decode()
    assert "사용 중지됨" in korean
    webhooks_page = client.get(f"/projects/{text_project.pk}/settings/webhooks/").content
    assert b"HTTP 500" in webhooks_page and b'data-status="failed"' in webhooks_page

    # Turning it on again clears the count.
    client.post(f"/projects/{text_project.pk}/settings/webhooks/{hook.pk}/", {"action": "enable"})
    hook.refresh_from_db()
    assert hook.active and hook.failures_in_row == 0 and hook.disabled_reason == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/elsewhere",  # outside the allowed prefix
        "/hooks/../admin",  # a dot-segment escape
        "/hooks/%2e%2e/admin",  # an encoded one
        "/hooksx",  # a longer name is not below /hooks
        "/hooks/ok?x=1",  # a query
    ],
)
def test_a_hook_to_a_disallowed_address_is_refused_at_creation(text_project, receiver, path):
    client = manager_client(text_project.created_by)
    response = hook_create(client, text_project, receiver.base + path, ["round.ready"])
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["url"]
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_userinfo_and_an_unknown_event_are_refused_naming_their_field(text_project, receiver):
    client = manager_client(text_project.created_by)
    userinfo = hook_create(
        client, text_project, f"http://x@127.0.0.1:{receiver.port}/hooks/ok", ["round.ready"]
    )
    assert list(userinfo.json()["error"]["fields"]) == ["url"]
    unknown = hook_create(client, text_project, receiver.url("ok"), ["round.exploded"])
    assert unknown.status_code == 400
    assert list(unknown.json()["error"]["fields"]) == ["events"]


@pytest.mark.django_db
def test_without_an_allow_list_webhooks_are_off_with_a_message(text_project, settings):
    settings.TWEEZERS_WEBHOOK_URLS = []
    client = manager_client(text_project.created_by)
    response = hook_create(client, text_project, "http://127.0.0.1:9/hooks", ["round.ready"])
    assert response.status_code == 400
    assert "TWEEZERS_WEBHOOK_URLS" in response.json()["error"]["fields"]["url"][0]
    page = client.get(f"/projects/{text_project.pk}/settings/webhooks/").content.decode()
    assert "turned off on this server" in page


@pytest.mark.django_db
def test_a_redirect_from_the_receiver_is_not_followed_and_not_retried(
    text_project, receiver, outbox
):
    hook = webhooks.webhook_create(
        project=text_project, url=receiver.url("redirect"), events=["round.ready"]
    )
    webhooks._deliveries_create(text_project.pk, "round.ready", {"round": 1})
    outbox.work()

    assert [request.path for request in receiver.received] == ["/hooks/redirect"]
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.status, delivery.attempt, delivery.response_code) == ("failed", 1, 302)
    assert "redirect" in delivery.error


@pytest.mark.django_db
def test_an_address_no_longer_allowed_is_refused_at_delivery(
    text_project, receiver, outbox, settings
):
    hook = webhooks.webhook_create(
        project=text_project, url=receiver.url("ok"), events=["round.ready"]
    )
    settings.TWEEZERS_WEBHOOK_URLS = ["http://hooks.example.org/"]
    webhooks._deliveries_create(text_project.pk, "round.ready", {"round": 1})
    outbox.work()

    assert receiver.received == []
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.status == "failed" and "TWEEZERS_WEBHOOK_URLS" in delivery.error


@pytest.mark.django_db
def test_labels_added_collects_into_one_delivery_per_hook_until_it_is_sent(
    text_project, receiver, outbox, django_capture_on_commit_callbacks
):
    hook = webhooks.webhook_create(
        project=text_project, url=receiver.url("ok"), events=["labels.added"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.labels_added_emit(project=text_project, item_ids=[1])
        webhooks.labels_added_emit(project=text_project, item_ids=[2, 3])
    assert len(outbox.sent) == 1
    outbox.work()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.labels_added_emit(project=text_project, item_ids=[4])
    outbox.work()

    assert [request.json["data"] for request in receiver.received] == [
        {"count": 3, "item_ids": [1, 2, 3]},
        {"count": 1, "item_ids": [4]},
    ]
    assert WebhookDelivery.objects.filter(webhook=hook, status="succeeded").count() == 2


@pytest.mark.django_db
def test_a_submit_to_a_project_without_webhooks_leaves_no_webhook_work(
    text_project, settings, django_capture_on_commit_callbacks
):
    """The API reads whether any hook listens with the project itself, so a submit to a
    project without hooks (nearly all) leaves no webhook work after its commit; once a hook
    listens, the submit queues it."""
    annotator = UserFactory()
    membership_add(project=text_project, user=annotator, role="annotator")
    round_add(text_project, [item_add(text_project, text=f"t{n}") for n in range(4)])
    client = Client()
    client.force_login(annotator)

    def webhook_work_after_a_submit() -> list:
        item_id = client.get(f"/api/projects/{text_project.pk}/next/").json()["item"]["id"]
        with django_capture_on_commit_callbacks() as callbacks:
            response = client.post(
                f"/api/projects/{text_project.pk}/annotations/",
                {"item": item_id, "label": "spam"},
                content_type="application/json",
            )
        assert response.status_code == 201, response.content
        return [c for c in callbacks if c.__module__ == webhooks.__name__]

    assert webhook_work_after_a_submit() == []
    settings.TWEEZERS_WEBHOOK_URLS = ["http://127.0.0.1:9/hooks/"]
    webhooks.webhook_create(
        project=text_project, url="http://127.0.0.1:9/hooks/x", events=["labels.added"]
    )
    assert len(webhook_work_after_a_submit()) == 1


@pytest.mark.django_db
def test_budget_spent_once_and_import_finished_reach_their_hooks(
    text_project, receiver, outbox, django_capture_on_commit_callbacks
):
    webhooks.webhook_create(
        project=text_project, url=receiver.url("ok"), events=["budget.spent", "import.finished"]
    )
    Project.objects.filter(pk=text_project.pk).update(budget=1, n_annotations=1)
    job = ImportJob.objects.create(project=text_project, source_name="a.csv", upload_path="x")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.labels_added_emit(project=text_project, item_ids=[1])
        webhooks.labels_added_emit(project=text_project, item_ids=[2])
        import_job_succeed(job.pk, ImportReport(imported=3))
    outbox.work()

    assert sorted(receiver.events()) == ["budget.spent", "import.finished"]
    data = {request.json["event"]: request.json["data"] for request in receiver.received}
    assert data["budget.spent"] == {"budget": 1, "n_annotations": 1}
    assert data["import.finished"]["import"] == job.pk
    assert data["import.finished"]["status"] == "succeeded"
    assert data["import.finished"]["imported"] == 3


@pytest.mark.django_db
def test_annotators_and_viewers_cannot_see_or_add_webhooks(text_project, receiver):
    annotator = UserFactory()
    membership_add(project=text_project, user=annotator, role="annotator")
    client = manager_client(annotator)
    assert client.get(f"/api/projects/{text_project.pk}/webhooks/").status_code == 403
    denied = hook_create(client, text_project, receiver.url("ok"), ["round.ready"])
    assert denied.status_code == 403
    assert client.get(f"/projects/{text_project.pk}/settings/webhooks/").status_code == 403
    outsider = manager_client(UserFactory())
    assert outsider.get(f"/api/projects/{text_project.pk}/webhooks/").status_code == 404


@pytest.mark.django_db
def test_the_webhooks_page_adds_a_hook_and_shows_its_secret_once(text_project, receiver):
    client = manager_client(text_project.created_by)
    url = f"/projects/{text_project.pk}/settings/webhooks/"
    added = client.post(url, {"url": receiver.url("ok"), "events": ["round.ready"]})
    assert added.status_code == 200
    hook = Webhook.objects.get()
    assert hook.secret in added.content.decode()
    assert hook.secret not in client.get(url).content.decode()
    refused = client.post(url, {"url": receiver.base + "/elsewhere", "events": ["round.ready"]})
    assert refused.status_code == 400 and Webhook.objects.count() == 1
    client.post(f"{url}{hook.pk}/", {"action": "delete"})
    assert not Webhook.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_default_queue_delivers_and_retries(
    text_project, receiver, settings, tmp_path
):
    """The task as deployed: enqueued through Redis after commit, run by a worker that takes
    only the default queue, retried with its back-off (shortened here)."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail("the worker test runs on Redis: set CELERY_BROKER_URL")
    ok = webhooks.webhook_create(
        project=text_project, url=receiver.url("ok"), events=["round.ready"]
    )
    failing = webhooks.webhook_create(
        project=text_project, url=receiver.url("fail"), events=["round.ready"]
    )
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TWEEZERS_VAR_DIR": str(tmp_path / "worker-var"),
        "TWEEZERS_WEBHOOK_URLS": f"{receiver.base}/hooks",
        "TWEEZERS_WEBHOOK_ATTEMPTS": "2",
        "TWEEZERS_WEBHOOK_RETRY_SECONDS": "0.5",
    }
    worker = start(celery_worker_command(queues="default"), env=env, log_path=tmp_path / "w.log")
    try:
        webhooks.event_emit(project_id=text_project.pk, event="round.ready", payload={"round": 1})

        def finished() -> bool:
            return not WebhookDelivery.objects.filter(status="pending").exists()

        wait_until(finished, timeout=90, what="the worker to finish both deliveries")
    finally:
        stop(worker, timeout=30)

    assert sorted(request.path for request in receiver.received) == [
        "/hooks/fail",
        "/hooks/fail",
        "/hooks/ok",
    ]
    assert WebhookDelivery.objects.get(webhook=ok).status == "succeeded"
    failed = WebhookDelivery.objects.get(webhook=failing)
    assert (failed.status, failed.attempt, failed.response_code) == ("failed", 2, 500)


@pytest.mark.django_db
def test_the_sweep_sends_what_the_broker_missed_and_a_duplicate_message_sends_nothing(
    text_project, receiver, outbox
):
    hook = webhooks.webhook_create(
        project=text_project, url=receiver.url("ok"), events=["round.ready"]
    )
    delivery = WebhookDelivery.objects.create(webhook=hook, event="round.ready", payload={})
    assert webhook_delivery.deliveries_sweep() == 0  # young: its message may still be on its way
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=1)
    )
    assert webhook_delivery.deliveries_sweep() == 1
    outbox.work()
    deliver_webhook(delivery.pk, 0)  # the original message, arriving late

    assert len(receiver.received) == 1
    assert webhook_delivery.deliveries_sweep() == 0


@pytest.mark.django_db
def test_the_api_turns_a_disabled_hook_on_again_and_refuses_a_disallowed_new_address(
    text_project, receiver
):
    hook = webhooks.webhook_create(
        project=text_project, url=receiver.url("ok"), events=["round.ready"]
    )
    Webhook.objects.filter(pk=hook.pk).update(
        active=False, failures_in_row=3, disabled_reason="Disabled after 3 deliveries"
    )
    client = manager_client(text_project.created_by)
    url = f"/api/projects/{text_project.pk}/webhooks/{hook.pk}/"

    enabled = client.patch(url, {"active": True}, content_type="application/json")
    assert enabled.status_code == 200
    assert enabled.json()["active"] and enabled.json()["failures_in_row"] == 0
    assert enabled.json()["disabled_reason"] == ""
    escaped = client.patch(
        url, {"url": receiver.url("../../elsewhere")}, content_type="application/json"
    )
    assert escaped.status_code == 400 and list(escaped.json()["error"]["fields"]) == ["url"]
    hook.refresh_from_db()
    assert hook.url == receiver.url("ok")
    assert client.delete(url).status_code == 204
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_target_reached_is_sent_for_the_first_run_that_reaches_the_target_only(
    text_project, receiver, outbox, django_capture_on_commit_callbacks
):
    Project.objects.filter(pk=text_project.pk).update(target_metric="accuracy", target_value=0.8)
    webhooks.webhook_create(
        project=text_project, url=receiver.url("ok"), events=["target.reached", "model.trained"]
    )
    runs = [
        ModelRun.objects.create(
            project=text_project,
            status="succeeded",
            artifact_path="model.joblib",
            metrics={"accuracy": accuracy, "curve": [[1, 0.5]]},
            started_at=timezone.now(),
        )
        for accuracy in (0.7, 0.85, 0.9)
    ]
    for run in runs:
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.run_succeeded_emit(run=run)
    outbox.work()

    reached = [r.json["data"] for r in receiver.received if r.json["event"] == "target.reached"]
    assert reached == [{"run": runs[1].pk, "metric": "accuracy", "value": 0.85, "target": 0.8}]
    trained = [r.json["data"] for r in receiver.received if r.json["event"] == "model.trained"]
    assert [data["metrics"] for data in trained] == [
        {"accuracy": 0.7},
        {"accuracy": 0.85},
        {"accuracy": 0.9},
    ]
