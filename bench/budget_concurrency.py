"""Exact budgets under concurrency: 16 annotator threads label through the REST API while a
manager edits the project every 0.2 s, alternating the API (PATCH) and the settings page.

It builds a fresh PostgreSQL database `tweezers_bench_budget`, a text project with a pool
larger than the budget and one queued round, then runs until every annotator is told the
budget is spent (or a time limit). It reports labels stored against the budget, whether the
project's counters equal count(*), items labeled twice, accepted submits missing from the
database, responses >= 500 and PostgreSQL's deadlock counter for the database, and writes the
figures into docs/benchmarks.md.

    .venv/bin/python bench/budget_concurrency.py --annotators 16 --budget 200 --edit-every 0.2
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "tweezers_bench_budget"
SECTION = "## Exact budgets under concurrency"


def recreate_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (BENCH_DB,),
        )
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def deadlocks() -> int:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (BENCH_DB,)
        ).fetchone()
    return int(row[0]) if row else 0


def setup_django(var_dir: Path) -> None:
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}",
            "DJANGO_DEBUG": "1",
            "TWEEZERS_VAR_DIR": str(var_dir),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_LOG_LEVEL": "WARNING",
            # The in-process test clients send Host: testserver.
            "DJANGO_ALLOWED_HOSTS": "testserver",
        }
    )
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class ServerErrors(logging.Handler):
    """Counts what the server would log as an error (a 500's traceback)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:200])


def build(n_items: int, budget: int, n_annotators: int):
    from django.contrib.auth import get_user_model

    from labeler import services
    from labeler.models import Item, Membership, QueryRound, QueueEntry

    users = get_user_model().objects
    manager = users.create_user("bench-manager", password="x")
    project = services.project_create(
        name="budget race",
        kind="text",
        classes=["yes", "no"],
        created_by=manager,
        budget=budget,
        round_size=20,
        lease_seconds=120,
    )
    annotators = []
    for number in range(n_annotators):
        user = users.create_user(f"bench-annotator-{number}", password="x")
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
        annotators.append(user)
    items = Item.objects.bulk_create(
        Item(project=project, text=f"item {n}", source_name=f"row {n}", checksum=f"c{n:08d}")
        for n in range(n_items)
    )
    services.project_update(project=project, changes={})
    project.__class__.objects.filter(pk=project.pk).update(n_items=n_items)
    query_round = QueryRound.objects.create(
        project=project, number=1, strategy="cold_start", size=n_items
    )
    QueueEntry.objects.bulk_create(
        QueueEntry(project=project, round=query_round, item=item, rank=rank)
        for rank, item in enumerate(items)
    )
    return project, manager, annotators


def annotate(project_id, user, stop: threading.Event, results: dict, lock: threading.Lock):
    from django.db import connection
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    base = f"/api/projects/{project_id}"
    try:
        while not stop.is_set():
            started = time.perf_counter()
            served = client.get(f"{base}/next/")
            with lock:
                results["statuses"].append(served.status_code)
            if served.status_code != 200:
                stop.wait(0.1)
                continue
            body = served.json()
            if body["state"] == "budget_spent":
                with lock:
                    results["told_spent"].add(user.pk)
                return
            if body["state"] != "ready":
                time.sleep(0.05)
                continue
            item_id = body["item"]["id"]
            submitted = client.post(
                f"{base}/annotations/", {"item": item_id, "label": "yes"}, format="json"
            )
            with lock:
                results["statuses"].append(submitted.status_code)
                results["latency"].append(time.perf_counter() - started)
                if submitted.status_code == 201:
                    results["accepted"].append(submitted.json()["id"])
                elif submitted.status_code == 409:
                    results["refused"] += 1
    finally:
        connection.close()


def edit(project_id, manager, every: float, stop: threading.Event, results: dict, lock):
    from django.db import connection
    from django.forms import model_to_dict
    from django.test import Client
    from rest_framework.test import APIClient

    from labeler.models import Project
    from labeler.services.projects import EDITABLE_FIELDS

    api = APIClient(raise_request_exception=False)
    api.force_authenticate(manager)
    page = Client(raise_request_exception=False)
    page.force_login(manager)
    number = 0
    try:
        while not stop.is_set():
            number += 1
            if number % 2:
                response = api.patch(
                    f"/api/projects/{project_id}/",
                    {"description": f"API edit {number}", "lease_seconds": 120 + number % 7},
                    format="json",
                )
            else:
                form = model_to_dict(Project.objects.get(pk=project_id), fields=EDITABLE_FIELDS)
                form = {k: ("" if v is None else v) for k, v in form.items()}
                form["description"] = f"page edit {number}"
                response = page.post(f"/projects/{project_id}/settings/", form)
            with lock:
                results["edits"].append(response.status_code)
            stop.wait(every)
    finally:
        connection.close()


def run(args) -> dict:
    import tempfile

    recreate_database()
    var_dir = Path(tempfile.mkdtemp(prefix="tweezers-budget-"))
    setup_django(var_dir)
    errors = ServerErrors()
    logging.getLogger("django.request").addHandler(errors)
    project, manager, annotators = build(args.items, args.budget, args.annotators)
    deadlocks_before = deadlocks()
    results = {
        "statuses": [],
        "latency": [],
        "accepted": [],
        "refused": 0,
        "edits": [],
        "told_spent": set(),
    }
    lock = threading.Lock()
    stop = threading.Event()
    workers = [
        threading.Thread(target=annotate, args=(project.pk, user, stop, results, lock))
        for user in annotators
    ]
    editor = threading.Thread(
        target=edit, args=(project.pk, manager, args.edit_every, stop, results, lock)
    )
    started = time.perf_counter()
    editor.start()
    for worker in workers:
        worker.start()
    deadline = started + args.seconds
    while any(w.is_alive() for w in workers) and time.perf_counter() < deadline:
        time.sleep(0.1)
    stop.set()
    for thread in [*workers, editor]:
        thread.join(timeout=30)
    elapsed = time.perf_counter() - started

    from django.db.models import Count

    from labeler.models import Annotation, Item, Project

    project = Project.objects.get(pk=project.pk)
    annotations = Annotation.objects.filter(project=project)
    stored = annotations.count()
    labeled = Item.objects.filter(project=project, status=Item.Status.LABELED).count()
    twice = annotations.values("item_id").annotate(n=Count("id")).filter(n__gt=1).count()
    missing = len(set(results["accepted"]) - set(annotations.values_list("id", flat=True)))
    statuses = results["statuses"] + results["edits"]
    return {
        "annotators": args.annotators,
        "budget": args.budget,
        "items": args.items,
        "edit_every": args.edit_every,
        "seconds": elapsed,
        "stored": stored,
        "counters_match": project.n_annotations == stored and project.n_labeled == labeled,
        "n_annotations": project.n_annotations,
        "n_labeled": project.n_labeled,
        "labeled": labeled,
        "twice": twice,
        "missing": missing,
        "accepted": len(results["accepted"]),
        "refused": results["refused"],
        "edits": len(results["edits"]),
        "edits_ok": sum(1 for s in results["edits"] if s in (200, 302)),
        "errors_5xx": sum(1 for s in statuses if s >= 500),
        "server_errors": len(errors.messages),
        "deadlocks": deadlocks() - deadlocks_before,
        "told_spent": len(results["told_spent"]),
        "submit_p50_ms": 1000 * statistics.median(results["latency"]) if results["latency"] else 0,
    }


def docs_section(report: dict, command: str) -> str:
    r = report
    match = "yes" if r["counters_match"] else "NO"
    counters = f"{r['n_annotations']}, {r['n_labeled']}"
    return f"""{SECTION}

`{command}`

{r["annotators"]} annotator threads label a text project through the REST API (next item,
then submit) while a manager edits the project every {r["edit_every"]} s, alternating
`PATCH /api/projects/<id>/` and the settings page. Pool {r["items"]:,} items, budget
{r["budget"]}. In-process Django against PostgreSQL, one database connection per thread.

| figure | value |
| --- | --- |
| labels stored / budget | {r["stored"]} / {r["budget"]} |
| counters equal count(*) (n_annotations, n_labeled) | {match} ({counters}) |
| items labeled twice | {r["twice"]} |
| accepted submits missing from the database | {r["missing"]} |
| submits refused with 409 (budget spent meanwhile) | {r["refused"]} |
| manager edits (accepted) | {r["edits"]} ({r["edits_ok"]}) |
| responses >= 500 / server errors logged | {r["errors_5xx"]} / {r["server_errors"]} |
| PostgreSQL deadlocks in the database | {r["deadlocks"]} |
| annotators told "budget spent" | {r["told_spent"]} of {r["annotators"]} |
| lease + submit, median | {r["submit_p50_ms"]:.0f} ms |
| wall time | {r["seconds"]:.1f} s |

The manager waits {r["edit_every"]} s after each edit; with 17 Python threads sharing one
interpreter (and the machine's other work) an edit took about
{r["seconds"] / max(r["edits"], 1):.1f} s, so the project was edited {r["edits"]} times while the
budget ran out. Latency here is the in-process threads' (one GIL), not the server's: see the
load benchmark for request latency.
"""


def replace_section(path: Path, heading: str, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(heading)
    if start == -1:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=16)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--edit-every", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    report = run(args)
    for key, value in report.items():
        print(f"{key:>16}: {value}")
    command = (
        f".venv/bin/python bench/budget_concurrency.py --annotators {args.annotators} "
        f"--budget {args.budget} --edit-every {args.edit_every}"
    )
    replace_section(args.out, SECTION, docs_section(report, command))
    exact = (
        report["stored"] == args.budget
        and report["counters_match"]
        and not (report["twice"] or report["missing"] or report["errors_5xx"])
        and report["deadlocks"] == 0
    )
    print("exact budget, no deadlocks:", "yes" if exact else "NO")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
