"""The client against the real server (run-serve on PostgreSQL and Redis, a real worker)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.processes import REPO, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.timeout(900)]

CLIENT_SRC = REPO / "clients" / "python" / "src"


def debian_texts(classes: list[str], per_class: int) -> dict[str, str]:
    """Texts of the demo corpus with their true class: the expert's answers."""
    answers: dict[str, str] = {}
    counts = dict.fromkeys(classes, 0)
    with (REPO / "demo_data" / "debian_packages.csv").open(newline="") as corpus:
        for row in csv.DictReader(corpus):
            if counts.get(row["label"], per_class) < per_class:
                answers[row["text"]] = row["label"]
                counts[row["label"]] += 1
    return answers


def short_texts(count: int, prefix: str) -> list[str]:
    return [f"{prefix} note number {n}" for n in range(count)]


def test_a_script_labels_what_the_model_asks_until_the_worker_writes_a_round_and_exports(
    client, server, tmp_path: Path
):
    from tweezers_client import ImportJob

    expert = debian_texts(["games", "science"], per_class=20)
    project = client.create_project(
        "Debian packages", ["games", "science"], kind="text", features="tfidf", round_size=8
    )
    assert (project.kind, project.classes, project.round_size) == (
        "text",
        ["games", "science"],
        8,
    )

    progress: list[ImportJob] = []
    report = client.upload_texts(project, expert, on_progress=progress.append, poll_interval=0.2)

    assert (report.imported, report.duplicates, report.rejected) == (40, 0, [])
    # Over the server's synchronous limit: a background job, polled until it ended.
    assert progress and progress[-1].status == "succeeded"
    assert progress[-1].processed == progress[-1].total == 40
    assert client.project(project).n_items == 40

    client.wait_for_round(project, 1, timeout=300, poll_interval=0.5)
    assert client.wait_for_features(project, timeout=300)["representation"] == "tfidf"
    submitted: dict[int, str] = {}
    retried = None
    chosen = None
    try:
        # The first rounds are cold-start picks; label until the worker trained a model and
        # wrote a round its strategy chose.
        for item in client.items_to_label(project, wait=300, poll_interval=0.5):
            label = expert[item.text]
            annotation = client.submit(item, label, client_key=f"package-{item.id}")
            if retried is None:
                # A retried POST (same client_key) returns the label already stored.
                retried = client.submit(item, label, client_key=f"package-{item.id}")
                assert retried.id == annotation.id
            assert (annotation.item, annotation.label) == (item.id, label)
            submitted[item.id] = label
            latest = client.latest_round(project)
            if latest is not None and latest.model_run is not None:
                chosen = client.wait_for_round(project, latest.number, timeout=5)
                break
    except Exception:
        print(server.log_tail())
        raise

    assert chosen is not None, "every item was labeled before a model chose a round"
    run = client.wait_for_model_run(project, chosen.model_run, timeout=300, poll_interval=0.5)
    assert run.status == "succeeded" and 0 < run.n_labels <= len(submitted)
    assert run.artifact_url
    model = client.download_model(project, run, tmp_path / "model.zip")
    assert zipfile.is_zipfile(model) and "model.json" in zipfile.ZipFile(model).namelist()
    assert chosen.strategy != "cold_start"
    numbers = [r.number for r in client.rounds(project, page_size=1)]
    assert numbers == list(range(chosen.number, 0, -1))
    assert client.latest_model_run(project).id >= run.id
    assert {a.item: a.label for a in client.annotations(project, page_size=5)} == submitted

    path = client.export(project, "csv", tmp_path / "labeled.csv", neutralise_formulas=False)
    with path.open(newline="", encoding="utf-8") as exported:
        rows = list(csv.DictReader(exported))
    assert {int(row["item_id"]): row["label"] for row in rows} == submitted
    assert all(expert[row["text"]] == row["label"] for row in rows)
    assert not (tmp_path / "labeled.csv.part").exists()


def test_listing_follows_cursors_over_more_than_one_page(client):
    created = [client.create_project(f"Paged {n}", ["a", "b"], features="tfidf") for n in range(3)]
    report = client.upload_texts(created[0], short_texts(15, "paged"))
    assert report.imported == 15

    listed = [p.id for p in client.projects(page_size=2)]
    items = [item.id for item in client.items(created[0], page_size=4)]

    assert [p.id for p in reversed(created)] == [i for i in listed if i in {p.id for p in created}]
    assert len(listed) == len(set(listed)) >= 3
    # Oldest first, four pages of four (the last one short), each item once.
    assert len(items) == 15 and items == sorted(set(items))


def test_a_wrong_token_is_unauthorized_and_a_wrong_password_a_bad_request(server):
    from tweezers_client import BadRequest, Client, Unauthorized

    with (
        Client(server.url, token="not-a-token") as stranger,
        pytest.raises(Unauthorized) as refused,
    ):
        list(stranger.projects())
    with pytest.raises(BadRequest) as wrong:
        Client.login(server.url, server.username, "wrong password")

    assert refused.value.status == 401 and refused.value.code and refused.value.message
    assert wrong.value.status == 400


def test_a_logged_out_token_no_longer_works(server):
    from tweezers_client import Client, Unauthorized

    with Client.login(server.url, server.username, server.password) as session:
        token = session.token
        assert session.expiry is not None
        session.logout()
    with Client(server.url, token=token) as revoked, pytest.raises(Unauthorized):
        revoked.project(1)


def test_errors_carry_the_apis_code_message_and_field(client, server):
    from tweezers_client import BadRequest, Client, Forbidden, NotFound

    project = client.create_project("Errors", ["spam", "ham"], features="tfidf")
    client.upload_texts(project, short_texts(12, "errors"))
    client.wait_for_round(project, 1, timeout=300, poll_interval=0.5)
    item = next(client.items_to_label(project, wait=300, poll_interval=0.5))

    with pytest.raises(BadRequest) as unknown_label:
        client.submit(item, "eggs")
    with pytest.raises(BadRequest) as invalid_setting:
        client.create_project("Bad", ["x", "y"], round_size=0)
    with pytest.raises(NotFound) as missing:
        client.project(10**9)
    with Client.login(server.url, server.viewer, server.viewer_password) as viewer:
        with pytest.raises(Forbidden) as forbidden:
            viewer.create_project("Not mine", ["x", "y"])
        with pytest.raises(NotFound):
            viewer.project(project)

    error = unknown_label.value
    assert (error.status, error.code, error.field) == (400, "unknown_label", "label")
    assert "'eggs'" in error.message and error.fields["label"]
    assert invalid_setting.value.field == "round_size"
    assert (missing.value.status, forbidden.value.status) == (404, 403)
    # The rejected label changed nothing: the item is still held and takes a good label.
    assert client.submit(item, "spam").label == "spam"


def test_the_readme_quickstart_example_runs_against_the_server(server, tmp_path: Path):
    env = {
        **os.environ,
        "TWEEZERS_URL": server.url,
        "TWEEZERS_USER": server.username,
        "TWEEZERS_PASSWORD": server.password,
        "PYTHONPATH": str(CLIENT_SRC),
    }
    finished = subprocess.run(
        [sys.executable, str(REPO / "examples" / "client_quickstart.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr + server.log_tail()
    with (tmp_path / "debian-packages-labeled.csv").open(newline="", encoding="utf-8") as out:
        rows = list(csv.DictReader(out))
    assert len(rows) >= 10 and {row["label"] for row in rows} <= {"games", "science"}


def _signature_valid(secret: str, header: str, body: bytes) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(","))
    signed = parts["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_a_script_registers_a_webhook_the_worker_delivers_to_and_deletes_it(client, server):
    from tweezers_client import BadRequest, NotFound, Webhook

    project = client.create_project("Hooked", ["a", "b"], kind="text", features="tfidf")
    hook = client.create_webhook(
        project, f"{server.hooks_url}/tweezers", ["import.finished", "round.ready"]
    )
    assert isinstance(hook, Webhook) and hook.secret and hook.active
    assert sorted(hook.events) == ["import.finished", "round.ready"]
    listed = client.webhooks(project)
    assert [h.id for h in listed] == [hook.id] and listed[0].secret is None
    with pytest.raises(BadRequest) as refused:
        client.create_webhook(project, "http://169.254.169.254/latest", ["round.ready"])
    assert "url" in refused.value.fields

    # Over the server's synchronous limit: an import job, whose end the worker announces;
    # then the cold-start round it writes.
    # 300 texts: about 7 kB, over the served instance's 4 kB synchronous limit.
    report = client.upload_texts(project, short_texts(300, "hooked"), poll_interval=0.2)
    assert report.imported == 300

    def mine() -> dict[str, tuple[dict, bytes]]:
        return {
            headers["X-Tweezers-Event"]: (headers, body)
            for path, headers, body in server.received
            if path == "/hooks/tweezers" and json.loads(body)["project"] == project.id
        }

    wait_until(lambda: len(mine()) == 2, timeout=300, what="both events at the receiver")
    for headers, body in mine().values():
        assert _signature_valid(hook.secret, headers["X-Tweezers-Signature"], body)
    assert json.loads(mine()["import.finished"][1])["data"]["imported"] == 300
    wait_until(
        lambda: {d.status for d in client.webhook_deliveries(project, hook)} == {"succeeded"},
        timeout=60,
        what="the delivery log to say succeeded",
    )
    log = list(client.webhook_deliveries(project, hook))
    assert {d.event for d in log} == {"import.finished", "round.ready"}
    assert all(d.response_code == 200 and d.attempt == 1 for d in log)

    turned_off = client.update_webhook(project, hook, active=False)
    assert turned_off.active is False and client.webhook(project, hook).active is False
    client.delete_webhook(project, hook)
    assert client.webhooks(project) == []
    with pytest.raises(NotFound):
        client.webhook(project, hook.id)
