"""Exact budgets under concurrency: 16 annotator threads label through the REST API while a
manager edits the project every 0.2 s, alternating the API (PATCH) and the settings page.

It builds a fresh PostgreSQL database `tweezers_bench_budget`, a text project with a pool
larger than the budget and one queued round, starts `scripts/run-serve` (gunicorn and a real
Celery worker) on 127.0.0.1, and runs until every annotator is told the budget is spent (or a
time limit). The annotators are threads of this process; the manager is a process of its own
that starts an edit every `--edit-every` seconds on a fixed schedule, so its pace does not
depend on the annotators' share of one interpreter. It reports labels stored against the
budget, whether the project's counters equal count(*), items labeled twice, accepted submits
missing from the database, responses >= 500, PostgreSQL's deadlock counter for the database
and the manager's achieved edit interval, and writes the figures into docs/benchmarks.md.

    .venv/bin/python bench/budget_concurrency.py --annotators 16 --budget 200 --edit-every 0.2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
import serving  # noqa: E402

ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BENCH_DB = os.environ.get("TWEEZERS_BENCH_DB", "tweezers_bench_budget")
BROKER = os.environ.get("TWEEZERS_BENCH_BROKER", "redis://127.0.0.1:6379/9")
SECTION = "## Exact budgets under concurrency"
MANAGER_PASSWORD = "bench-manager-" + uuid.uuid4().hex


def recreate_database() -> None:
    serving.recreate_database(BENCH_DB)


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
            "CELERY_BROKER_URL": BROKER,
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(n_items: int, budget: int, n_annotators: int):
    from django.contrib.auth import get_user_model

    from labeler import services
    from labeler.models import Item, Membership, QueryRound, QueueEntry

    users = get_user_model().objects
    manager = users.create_user("bench-manager", password=MANAGER_PASSWORD)
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


def annotate(base: str, project_id: int, token: str, deadline: float, results: dict, lock):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    url = f"{base}/api/projects/{project_id}"
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            served = session.get(f"{url}/next/", timeout=30)
        except requests.RequestException:
            with lock:
                results["timeouts"] += 1
            continue
        with lock:
            results["statuses"].append(served.status_code)
        if served.status_code != 200:
            time.sleep(0.1)
            continue
        body = served.json()
        if body["state"] == "budget_spent":
            with lock:
                results["told_spent"] += 1
            return
        if body["state"] != "ready":
            time.sleep(float(served.headers.get("Retry-After", 0.5)))
            continue
        key = uuid.uuid4().hex
        try:
            submitted = session.post(
                f"{url}/annotations/",
                json={"item": body["item"]["id"], "label": "yes", "client_key": key},
                timeout=30,
            )
        except requests.RequestException:
            with lock:
                results["timeouts"] += 1
            continue
        with lock:
            results["statuses"].append(submitted.status_code)
            results["latency"].append(time.perf_counter() - started)
            if submitted.status_code == 201:
                results["accepted"].append(submitted.json()["id"])
            elif submitted.status_code == 409:
                results["refused"] += 1


def manage(base: str, project_id: int, token: str, form: dict, every: float, stop, out) -> None:
    """The manager, in a process of its own: an edit starts every ``every`` seconds on a fixed
    schedule, whether or not the previous one has answered (up to four in flight: a slow
    answer must not slow the rate of edits), alternating PATCH /api/projects/<id>/ and the
    settings page's form, signed in through the login page like a browser."""
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def sessions() -> tuple[requests.Session, requests.Session]:
        if not hasattr(local, "api"):
            local.api = requests.Session()
            local.api.headers["Authorization"] = f"Token {token}"
            local.page = requests.Session()
            login = f"{base}/accounts/login/"
            local.page.get(login, timeout=30)
            local.page.post(
                login,
                data={
                    "username": "bench-manager",
                    "password": MANAGER_PASSWORD,
                    "csrfmiddlewaretoken": local.page.cookies["csrftoken"],
                },
                timeout=30,
                allow_redirects=False,
            )
        return local.api, local.page

    def edit(number: int, begun: float) -> tuple[float, float, int]:
        api, page = sessions()
        sent = time.monotonic()
        try:
            if number % 2:
                response = api.patch(
                    f"{base}/api/projects/{project_id}/",
                    json={"description": f"API edit {number}", "lease_seconds": 120 + number % 7},
                    timeout=30,
                )
                accepted = response.status_code == 200
            else:
                data = {**form, "description": f"page edit {number}"}
                data["csrfmiddlewaretoken"] = page.cookies["csrftoken"]
                response = page.post(
                    f"{base}/projects/{project_id}/settings/",
                    data=data,
                    timeout=30,
                    allow_redirects=False,
                )
                # The page redirects after a saved form; 200 is the form shown again with errors.
                accepted = response.status_code == 302
            status = response.status_code if accepted or response.status_code >= 500 else -1
        except requests.RequestException:
            status = 0
        return begun, time.monotonic() - sent, status

    started = time.monotonic()
    futures = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        # Sign the four threads in before the clock starts.
        list(pool.map(lambda _: sessions(), range(4)))
        started = time.monotonic()
        number = 0
        while not stop.is_set():
            number += 1
            futures.append(pool.submit(edit, number, time.monotonic() - started))
            next_at = started + number * every
            stop.wait(max(0.0, next_at - time.monotonic()))
    out.put([future.result() for future in futures])


def run(args) -> dict:
    import tempfile

    recreate_database()
    var_dir = Path(tempfile.mkdtemp(prefix="tweezers-budget-"))
    setup_django(var_dir)
    project, manager, annotators = build(args.items, args.budget, args.annotators)
    from django.db import connection
    from django.forms import model_to_dict
    from knox.models import AuthToken

    from labeler.models import Project
    from labeler.services.projects import EDITABLE_FIELDS

    tokens = [AuthToken.objects.create(user)[1] for user in annotators]
    manager_token = AuthToken.objects.create(manager)[1]
    form = model_to_dict(Project.objects.get(pk=project.pk), fields=EDITABLE_FIELDS)
    form = {k: ("" if v is None else v) for k, v in form.items()}
    connection.close()

    port = args.port
    base = f"http://127.0.0.1:{port}"
    server = serving.serve(
        serving.server_env(BENCH_DB, BROKER, var_dir, port), var_dir / "server.log"
    )
    spawn = multiprocessing.get_context("spawn")
    stop, out = spawn.Event(), spawn.Queue()
    results = {
        "statuses": [],
        "latency": [],
        "accepted": [],
        "refused": 0,
        "timeouts": 0,
        "told_spent": 0,
    }
    try:
        deadlocks_before = deadlocks()
        lock = threading.Lock()
        editor = spawn.Process(
            target=manage,
            args=(base, project.pk, manager_token, form, args.edit_every, stop, out),
        )
        editor.start()
        started = time.monotonic()
        deadline = started + args.seconds
        workers = [
            threading.Thread(
                target=annotate, args=(base, project.pk, token, deadline, results, lock)
            )
            for token in tokens
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - started
        stop.set()
        edits = out.get(timeout=60)
        editor.join(timeout=30)
    finally:
        serving.stop(server)
    server_errors = (var_dir / "server.log").read_text(errors="replace").count("Traceback")

    from django.db.models import Count

    from labeler.models import Annotation, Item

    project = Project.objects.get(pk=project.pk)
    annotations = Annotation.objects.filter(project=project)
    stored = annotations.count()
    labeled = Item.objects.filter(project=project, status=Item.Status.LABELED).count()
    twice = annotations.values("item_id").annotate(n=Count("id")).filter(n__gt=1).count()
    missing = len(set(results["accepted"]) - set(annotations.values_list("id", flat=True)))
    # Edits made while annotators were still working: the ones that raced the budget.
    racing = [edit for edit in edits if edit[0] <= elapsed]
    starts = [edit[0] for edit in racing]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    statuses = results["statuses"] + [status for _, _, status in edits]
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
        "timeouts": results["timeouts"],
        "edits": len(racing),
        "edits_ok": sum(1 for _, _, status in racing if status in (200, 302)),
        "edit_gap_mean": statistics.fmean(gaps) if gaps else float("nan"),
        "edit_gap_max": max(gaps) if gaps else float("nan"),
        "edit_p50_ms": 1000 * statistics.median([e[1] for e in racing]) if racing else 0,
        "errors_5xx": sum(1 for status in statuses if status >= 500),
        "server_errors": server_errors,
        "deadlocks": deadlocks() - deadlocks_before,
        "told_spent": results["told_spent"],
        "submit_p50_ms": 1000 * statistics.median(results["latency"]) if results["latency"] else 0,
    }


def docs_section(report: dict, command: str) -> str:
    r = report
    match = "yes" if r["counters_match"] else "NO"
    counters = f"{r['n_annotations']}, {r['n_labeled']}"
    return f"""{SECTION}

`{command}`

{r["annotators"]} annotator threads label a text project through the REST API (next item,
then submit, no pause) while a manager, in a process of its own, starts an edit of the project
every {r["edit_every"]} s on a fixed schedule (up to four in flight, so a slow answer does not
slow the rate), alternating `PATCH /api/projects/<id>/` and the
settings page's form (signed in through the login page). Against `scripts/run-serve`
(gunicorn, 4 workers, and a real Celery worker retraining as labels arrive) and PostgreSQL on
this 2-core machine. Pool {r["items"]:,} items, budget {r["budget"]}.

| figure | value |
| --- | --- |
| labels stored / budget | {r["stored"]} / {r["budget"]} |
| counters equal count(*) (n_annotations, n_labeled) | {match} ({counters}) |
| items labeled twice | {r["twice"]} |
| accepted submits missing from the database | {r["missing"]} |
| submits refused with 409 (budget spent meanwhile) | {r["refused"]} |
| manager edits while annotators worked (accepted) | {r["edits"]} ({r["edits_ok"]}) |
| time between edit starts, mean / max | {r["edit_gap_mean"]:.2f} s / {r["edit_gap_max"]:.2f} s |
| one edit, median | {r["edit_p50_ms"]:.0f} ms |
| responses >= 500 / tracebacks in the server log | {r["errors_5xx"]} / {r["server_errors"]} |
| requests timed out (30 s) | {r["timeouts"]} |
| PostgreSQL deadlocks in the database | {r["deadlocks"]} |
| annotators told "budget spent" | {r["told_spent"]} of {r["annotators"]} |
| lease + submit, median | {r["submit_p50_ms"]:.0f} ms |
| wall time until every annotator was told | {r["seconds"]:.1f} s |
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
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    report = run(args)
    for key, value in report.items():
        print(f"{key:>16}: {value}")
    command = (
        f".venv/bin/python bench/budget_concurrency.py --annotators {args.annotators} "
        f"--budget {args.budget} --items {args.items} --edit-every {args.edit_every}"
    )
    replace_section(args.out, SECTION, docs_section(report, command))
    exact = (
        report["stored"] == args.budget
        and report["counters_match"]
        and not (report["twice"] or report["missing"] or report["errors_5xx"])
        and report["deadlocks"] == 0
        and report["server_errors"] == 0
    )
    print("exact budget, no deadlocks:", "yes" if exact else "NO")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
