"""Load benchmark: N concurrent annotators against `scripts/run-serve` (gunicorn + a Celery
worker) on 127.0.0.1, with pools of 10,000 / 100,000 / 1,000,000 items in PostgreSQL.

For each pool size it builds a fresh database `tweezers_bench` (items bulk-loaded with COPY,
cached 384-d embeddings written as shards, so no model is downloaded or run), queues the first
round, starts the server, and lets annotator threads loop GET next → POST annotation through
the REST API for a fixed time. It reports next-item and submit latency (p50/p95/p99),
requests per second, the memory of the whole served process tree (web workers, every Celery
worker process and the beat: RSS summed, and PSS summed, which counts a page shared after a fork
once) at rest and at its peak while labeling, and how long each retrain took from the label
that triggered it to the next round being queued. Results go to docs/benchmarks.md.

    .venv/bin/python bench/load.py --items 10000,100000 --annotators 8,16 --seconds 120 --think 1

Traffic goes only to 127.0.0.1; every loop is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
import serving  # noqa: E402

ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# Overridable so that two people benchmarking on one machine do not share a database or a
# broker database (this script drops and flushes both).
BENCH_DB = os.environ.get("TWEEZERS_BENCH_DB", "tweezers_bench")
BENCH_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
BROKER = os.environ.get("TWEEZERS_BENCH_BROKER", "redis://127.0.0.1:6379/9")
# Samples of the process tree's memory at rest, half a second apart, once the workers are up.
REST_SAMPLES = 10
# With --embed-texts: how long to wait, after the embedding, for the embedding worker to let
# its pool process (and the model in it) go before memory at rest is sampled.
EMBED_SETTLE_SECONDS = 150
DIM = 384
CLASSES = ["negative", "positive"]
SECTION_START = "<!-- bench:load:start -->"
SECTION_END = "<!-- bench:load:end -->"


def cpu_hog(stop_at: float) -> None:
    """Another CPU-bound program on the server's machine (--cpu-hog): one core's worth of pure
    Python arithmetic at normal priority until ``stop_at`` (time.monotonic())."""
    value = 0
    while time.monotonic() < stop_at:
        for step in range(100_000):
            value = (value + step * step) % 1_000_003


class WorkerStall:
    """--stall-worker: the retrain worker (its main and pool processes) stopped with SIGSTOP
    for ``seconds``, from 30 s into the run: a retrain that gets no CPU, as a SCHED_IDLE worker
    beside a CPU-bound process on an otherwise idle machine, reproduced on a machine whose
    load would otherwise decide it. It is stopped at a moment no round is being written
    (nobody holds the queue writers' lock): a worker stopped inside the round write holds that
    lock, and every lease that finds nothing free waits for it (a starved SCHED_IDLE worker
    can do the same; measured separately)."""

    GROUP = "worker default,training"
    START = 30.0

    def __init__(self, server_pid: int, started: float, seconds: float) -> None:
        self.server_pid, self.seconds = server_pid, seconds
        self.start_at, self.stopped = started + self.START, []

    def _signal(self, pids: list[int], signal_number: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal_number)

    def step(self) -> None:
        now = time.monotonic()
        if self.seconds <= 0:
            return
        if not self.stopped and self.start_at <= now < self.start_at + self.seconds:
            if self._round_being_written():
                return
            tree = serving._process_tree(self.server_pid)
            self.stopped = [pid for pid in tree if serving._group_of(pid) == self.GROUP]
            self._signal(self.stopped, signal.SIGSTOP)
        elif self.stopped and now >= self.start_at + self.seconds:
            self.end()

    def _round_being_written(self) -> bool:
        """Whether someone holds a queue writers' lock (the one-key advisory lock)."""
        import psycopg

        with psycopg.connect(BENCH_URL, autocommit=True) as conn:
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()[0]
        return held > 0

    def end(self) -> None:
        self._signal(self.stopped, signal.SIGCONT)
        self.stopped, self.seconds = [], 0


def recreate_database() -> None:
    serving.recreate_database(BENCH_DB, BROKER)


def server_env(var_dir: Path, port: int) -> dict[str, str]:
    env = serving.server_env(BENCH_DB, BROKER, var_dir, port)
    # INFO: the access log's line per request carries Django's own time for it.
    env["DJANGO_LOG_LEVEL"] = os.environ.get("DJANGO_LOG_LEVEL", "INFO")
    return env


def synthetic_embeddings(n_items: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian classes in 384-d, unit-normalised like sentence embeddings."""
    truth = rng.integers(0, 2, size=n_items)
    centres = rng.normal(size=(2, DIM)).astype(np.float32)
    rows = np.empty((n_items, DIM), dtype=np.float32)
    for start in range(0, n_items, 100_000):
        stop = min(start + 100_000, n_items)
        block = rng.normal(size=(stop - start, DIM)).astype(np.float32) * 3.0
        block += centres[truth[start:stop]]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        rows[start:stop] = block
    return rows, truth


def build_pool(n_items: int, var_dir: Path, annotators: int, round_size: int) -> dict:
    """Fresh database with one text project of ``n_items`` embedded items; returns what the
    clients need (tokens, project id, the truth per item id)."""
    recreate_database()
    env = server_env(var_dir, 0)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    os.environ.update(
        {
            k: env[k]
            for k in (
                "DATABASE_URL",
                "CELERY_BROKER_URL",
                "DJANGO_DEBUG",
                "DJANGO_SECRET_KEY",
                "TWEEZERS_VAR_DIR",
            )
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone
    from knox.models import AuthToken

    from labeler import engine, services
    from labeler.models import FeatureSet, Item, Membership, ModelRun, Project

    connection.close()
    project = services.project_create(
        name=f"Load {n_items}",
        kind="text",
        classes=CLASSES,
        features="minilm",
        round_size=round_size,
    )
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    rows, truth = synthetic_embeddings(n_items, rng)
    now = timezone.now().isoformat()
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor().copy(
            "COPY labeler_item (project_id, text, file, source_name, checksum, metadata, status,"
            " is_evaluation, created_at) FROM STDIN"
        ) as copy:
            for row in range(n_items):
                copy.write_row(
                    (
                        project.pk,
                        f"synthetic item {row}",
                        "",
                        f"row {row}",
                        f"{row:064x}",
                        "{}",
                        "unlabeled",
                        False,
                        now,
                    )
                )
    Project.objects.filter(pk=project.pk).update(n_items=n_items)
    item_ids = np.fromiter(
        Item.objects.filter(project=project).order_by("id").values_list("id", flat=True),
        dtype=np.int64,
    )
    first_id = int(item_ids[0])
    # The embeddings as a ready feature set, as the embedding worker would leave them.
    features = FeatureSet.objects.create(
        project=project,
        representation="minilm",
        version=1,
        status=FeatureSet.Status.READY,
        processed=n_items,
        total=n_items,
        dimension=rows.shape[1],
        ready_at=timezone.now(),
    )
    directory = engine.feature_set_dir(features)
    for start in range(0, n_items, engine.SHARD_ROWS):
        stop = start + engine.SHARD_ROWS
        engine.rows_write(directory, start, rows[start:stop], item_ids[start:stop])
    del rows
    load_seconds = time.perf_counter() - started

    user_model = get_user_model()
    tokens = []
    for index in range(annotators):
        user = user_model.objects.create_user(
            username=f"annotator{index}", password=uuid.uuid4().hex
        )
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
        tokens.append(AuthToken.objects.create(user=user)[1])

    run = services.retrain_force(project=project)
    started = time.perf_counter()
    services.model_run_execute(run_id=run.pk)
    first_round_seconds = time.perf_counter() - started
    assert ModelRun.objects.get(pk=run.pk).status == "succeeded"
    connection.close()
    return {
        "project": project.pk,
        "tokens": tokens,
        "first_id": first_id,
        "truth": truth,
        "load_seconds": load_seconds,
        "first_round_seconds": first_round_seconds,
    }


def annotate(
    base: str,
    pool: dict,
    token: str,
    deadline: float,
    results: dict,
    lock,
    think: float,
    spread: float,
) -> None:
    first, pauses = serving.expert_pauses(token, think, spread)
    time.sleep(first)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    next_times, submit_times, waits, errors = [], [], 0, 0
    truth, first_id, project = pool["truth"], pool["first_id"], pool["project"]
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            response = session.get(f"{base}/api/projects/{project}/next/", timeout=10)
        except requests.RequestException:
            errors += 1  # a timeout on a saturated machine is a figure, not a crash
            continue
        next_times.append(time.perf_counter() - started)
        if response.status_code != 200:
            errors += 1
            continue
        body = response.json()
        if body["state"] != "ready":
            waits += 1
            # As the page does: come back when the server says (Retry-After).
            time.sleep(float(response.headers.get("Retry-After", 1)))
            continue
        item_id = body["item"]["id"]
        label = CLASSES[int(truth[item_id - first_id])]
        started = time.perf_counter()
        try:
            response = session.post(
                f"{base}/api/projects/{project}/annotations/",
                json={
                    "item": item_id,
                    "label": label,
                    "client_key": uuid.uuid4().hex,
                    # The pace the server sizes its reserve by, as the labeling page reports it.
                    "seconds_spent": round(think + next_times[-1], 3),
                },
                timeout=10,
            )
        except requests.RequestException:
            errors += 1
            continue
        submit_times.append(time.perf_counter() - started)
        if response.status_code not in (200, 201):
            errors += 1
        # The expert looks at the next item before answering (0: a closed-loop stress test).
        time.sleep(pauses())
    with lock:
        results["next"].extend(next_times)
        results["submit"].extend(submit_times)
        results["waits"] += waits
        results["errors"] += errors


def annotate_group(
    base: str, pool: dict, tokens: list[str], seconds: float, think: float, spread: float, out
) -> None:
    """One client process: a thread per annotator token, the figures sent back on ``out``."""
    results: dict = {"next": [], "submit": [], "waits": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=annotate,
            args=(base, pool, token, deadline, results, lock, think, spread),
            daemon=True,
        )
        for token in tokens
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(results)


ACCESS_LINE = re.compile(r"user=\S+ (GET|POST) (\S+) (\d{3}) (\d+)ms")


def server_durations(log_path: Path) -> dict[str, list[float]]:
    """Django's own time per next and submit request (the access-log lines, in seconds):
    what the server spent, without the wait in gunicorn's backlog or the client's share."""
    found: dict[str, list[float]] = {"next": [], "submit": []}
    for line in log_path.read_text(errors="replace").splitlines():
        match = ACCESS_LINE.search(line)
        if not match:
            continue
        path = match.group(2)
        kind = "next" if path.endswith("/next/") else "submit" if "/annotations/" in path else None
        if kind:
            found[kind].append(int(match.group(4)) / 1000)
    return found


def embed_texts(n_texts: int, server_pid: int) -> float:
    """What a deployment has done before its annotators label: import ``n_texts`` texts into
    a second project whose representation is MiniLM, and wait until the served embedding
    worker has embedded them (real model, real worker). Then wait until that worker has
    nothing running in a pool process any more, or EMBED_SETTLE_SECONDS, whichever comes
    first: a worker that keeps its model shows it at rest. Returns the embedding's seconds."""
    import io as _io

    from labeler import services
    from labeler.models import FeatureSet

    project = services.project_create(
        name=f"Embedded {n_texts}", kind="text", classes=CLASSES, features="minilm"
    )
    rows = "".join(f"embedded text {row} on topic {row % 13}\n" for row in range(n_texts))
    started = time.monotonic()
    services.items_import_stream(
        project=project, name="texts.csv", stream=_io.BytesIO(f"text\n{rows}".encode())
    )
    ready = FeatureSet.objects.filter(
        project=project, representation="minilm", status=FeatureSet.Status.READY
    )
    while not ready.exists():
        if time.monotonic() - started > 900:
            raise RuntimeError("the embedding worker did not embed the texts in 15 minutes")
        time.sleep(0.5)
    seconds = time.monotonic() - started
    settle = time.monotonic() + EMBED_SETTLE_SECONDS
    while time.monotonic() < settle and serving.pool_processes(server_pid, "worker embedding"):
        time.sleep(1)
    return seconds


def run_size(
    n_items: int,
    annotators: int,
    think: float,
    args: argparse.Namespace,
    var_dir: Path,
    row_index: int = 0,
) -> dict:
    # One var folder for the whole run (Django reads it once); each size starts it afresh.
    for name in ("embeddings", "artifacts"):
        shutil.rmtree(var_dir / name, ignore_errors=True)
    print(f"[{n_items:,} items] building the pool…", flush=True)
    pool = build_pool(n_items, var_dir, annotators, args.round_size)
    # A port of its own per row (--port, --port + 1, ...): the previous server may still be
    # letting go of its socket.
    port = args.port + row_index
    env = server_env(var_dir, port)
    log_path = var_dir / f"server-{n_items}.log"
    server = serving.serve(env, log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        # At rest: every worker started and idle, before the first annotator arrives.
        serving.wait_for_workers(server.pid, log_path)
        embed_seconds = embed_texts(args.embed_texts, server.pid) if args.embed_texts else 0.0
        at_rest = serving.MemoryPeak(server.pid)
        for _ in range(REST_SAMPLES):
            at_rest.sample()
            time.sleep(0.5)
        labeling = serving.MemoryPeak(server.pid)
        results: dict = {"next": [], "submit": [], "waits": 0, "errors": 0}
        # The machine may be shared: the load average before the run says how noisy it was.
        load_before = os.getloadavg()[0]
        # Annotators spread over client processes (four threads each at most), so the
        # clients' own interpreter lock does not add to the latencies they measure.
        spawn = multiprocessing.get_context("spawn")
        out = spawn.Queue()
        groups = [pool["tokens"][i : i + 4] for i in range(0, len(pool["tokens"]), 4)]
        shared = {key: pool[key] for key in ("truth", "first_id", "project")}
        started = time.monotonic()
        cpu_before = serving.process_tree_cpu_seconds(server.pid)
        deadline_in = args.seconds
        hogs = [
            spawn.Process(target=cpu_hog, args=(time.monotonic() + args.seconds + 5,))
            for _ in range(args.cpu_hog)
        ]
        for hog in hogs:
            hog.start()
        clients = [
            spawn.Process(
                target=annotate_group,
                args=(base, shared, group, deadline_in, think, args.think_spread, out),
            )
            for group in groups
        ]
        for client in clients:
            client.start()
        stall = WorkerStall(server.pid, started, args.stall_worker)
        for _ in clients:
            while True:
                labeling.sample()
                stall.step()
                try:
                    part = out.get(timeout=0.5)
                    break
                except queue.Empty:
                    continue
            for key in ("next", "submit"):
                results[key].extend(part[key])
            results["waits"] += part["waits"]
            results["errors"] += part["errors"]
        for client in clients:
            client.join(timeout=30)
        stall.end()
        elapsed = time.monotonic() - started
        cpu_after = serving.process_tree_cpu_seconds(server.pid)
        for hog in hogs:
            hog.terminate()
            hog.join(timeout=10)
    finally:
        if "stall" in locals():
            stall.end()
        serving.stop(server)

    from django.db import connection

    from labeler import queue as labeler_queue
    from labeler.models import ModelRun, QueueEntry

    connection.close()
    # Where the answered items came from: the round, its reserve (labeled while the next round
    # trained), the ranking beyond the reserve (the reserve ran out: the next items of the same
    # scoring, which queue.ranking leases at RANKED_RANK + their position), or exploration
    # leases (random unqueued items, which queue.leasing writes at EXPLORATION_RANK). A tree
    # without the ranking (before it existed) counts none.
    exploration_rank = labeler_queue.EXPLORATION_RANK
    ranked_rank = getattr(labeler_queue, "RANKED_RANK", exploration_rank)
    answered = QueueEntry.objects.filter(project_id=pool["project"], done=True)
    exploration = answered.filter(rank=exploration_rank).count()
    ranked = answered.filter(rank__gte=ranked_rank, rank__lt=exploration_rank).count()
    reserve = answered.filter(is_reserve=True).count() - exploration - ranked
    answered_total = answered.count()
    runs = list(
        ModelRun.objects.filter(project_id=pool["project"], status="succeeded", n_labels__gt=0)
        .order_by("created_at")
        .values_list("created_at", "started_at", "finished_at", "train_seconds", "query_seconds")
    )
    trained_on = list(
        ModelRun.objects.filter(project_id=pool["project"], status="succeeded")
        .order_by("created_at")
        .values_list("n_labels", flat=True)
    )
    # Labels that arrived while each retrain ran: the gap between consecutive runs' training
    # sets (a fresher model sees more of them sooner).
    per_retrain = [b - a for a, b in zip(trained_on, trained_on[1:], strict=False)]
    turnaround = [(done - created).total_seconds() for created, _, done, _, _ in runs]
    compute = [(done - start).total_seconds() for _, start, done, _, _ in runs]
    requests_total = len(results["next"]) + len(results["submit"])
    on_server = server_durations(var_dir / f"server-{n_items}.log")
    return {
        "items": n_items,
        "annotators": annotators,
        "think": think,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "labels_per_retrain": statistics.median(per_retrain) if per_retrain else float("nan"),
        "seconds": elapsed,
        "labels": len(results["submit"]),
        "rps": requests_total / elapsed,
        "next_p50": serving.percentile(results["next"], 50),
        "next_p95": serving.percentile(results["next"], 95),
        "next_p99": serving.percentile(results["next"], 99),
        "submit_p50": serving.percentile(results["submit"], 50),
        "submit_p95": serving.percentile(results["submit"], 95),
        "submit_p99": serving.percentile(results["submit"], 99),
        "server_next_p50": serving.percentile(on_server["next"], 50),
        "server_next_p99": serving.percentile(on_server["next"], 99),
        "server_submit_p50": serving.percentile(on_server["submit"], 50),
        "server_submit_p99": serving.percentile(on_server["submit"], 99),
        "waits": results["waits"],
        # Of the machine's cores: how much the retraining (and embedding) workers and the
        # web workers used while the annotators labeled.
        "cores_workers": (cpu_after["celery"] - cpu_before["celery"]) / elapsed,
        "cores_web": (cpu_after["gunicorn"] - cpu_before["gunicorn"]) / elapsed,
        "from_reserve": reserve,
        "from_ranking": ranked,
        "from_exploration": exploration,
        "exploration_share": exploration / answered_total if answered_total else float("nan"),
        "cpu_hog": args.cpu_hog,
        "stall_worker": args.stall_worker,
        "errors": results["errors"],
        "embed_texts": args.embed_texts,
        "embed_seconds": embed_seconds,
        "rss_mib": labeling.rss / 1024,
        "pss_rest_mib": at_rest.pss / 1024,
        "pss_mib": labeling.pss / 1024,
        "rss_rest_mib": at_rest.rss / 1024,
        "pss_groups_rest_mib": {k: round(v / 1024) for k, v in sorted(at_rest.groups.items())},
        "pss_groups_mib": {k: round(v / 1024) for k, v in sorted(labeling.groups.items())},
        "load_seconds": pool["load_seconds"],
        "first_round_seconds": pool["first_round_seconds"],
        "retrains": len(runs),
        "turnaround_median": statistics.median(turnaround) if turnaround else float("nan"),
        "turnaround_max": max(turnaround) if turnaround else float("nan"),
        "compute_median": statistics.median(compute) if compute else float("nan"),
    }


def markdown(rows: list[dict], command: str, spread: float, title: str = "Load") -> str:
    out = io.StringIO()
    out.write(f"{SECTION_START}\n## {title}\n\n")
    out.write(
        "N annotator threads (in client processes of four) loop GET "
        "`/api/projects/{id}/next/` → POST `/annotations/`, "
        "pausing `--think` seconds per item on average (a very fast expert; each pause drawn "
        f"uniformly within ±{100 * spread:.0f}% of it and each annotator starting at a random "
        "moment, as independent experts do, rather than all in step), against "
        "`scripts/run-serve` (gunicorn with "
        f"{os.environ.get('WEB_CONCURRENCY') or 'a worker per core, here ' + str(os.cpu_count())}"
        " sync workers, plus the Celery workers at "
        f"nice {os.environ.get('WORKER_NICE', '10')}, scheduling "
        f"{os.environ.get('WORKER_SCHED', 'idle')}) on this 2-core "
        "machine, PostgreSQL 15 and Redis on 127.0.0.1. Items carry cached 384-d embeddings, "
        "so every retrain re-scores the whole pool with the default strategy. Memory is the "
        "whole process tree `scripts/run-serve` starts (gunicorn and its workers, every "
        "Celery worker process, the beat), sampled every half second: *server RSS peak* sums "
        "each process's resident memory while labeling (a page shared after a fork counts "
        "once per process); *PSS* sums proportional set sizes (/proc/<pid>/smaps_rollup), what "
        "the tree really holds, at rest (workers up, before the first annotator, "
        f"{REST_SAMPLES} samples) and at its peak while labeling.\n\n"
    )
    embedded = [r for r in rows if r.get("embed_texts")]
    if embedded:
        out.write(
            f"Before each row's annotators arrived, the served embedding worker embedded "
            f"{embedded[0]['embed_texts']:,} texts of a second project with MiniLM (in "
            + ", ".join(f"{r['embed_seconds']:.0f}" for r in embedded)
            + f" s), and memory at rest was sampled once that worker had no pool process left "
            f"or {EMBED_SETTLE_SECONDS} s after the embedding, whichever came first.\n\n"
        )
    out.write(f"Reproduce: `{command}`\n\n")
    out.write(
        "| items | annotators | think (s) | labels | req/s | next p50 / p95 / p99 (ms) | "
        "submit p50 / p95 / p99 (ms) | on the server: next, submit p50 / p99 (ms) | "
        "'updating' replies | labels from the reserve / the ranking beyond it / exploration | "
        "exploration share | "
        "CPU-bound processes beside | retrain worker stopped (s) | errors | "
        "server RSS peak (MiB) | process tree PSS at rest / labeling peak (MiB) | "
        "cores used: retrain workers / web | retrains | labels arriving per retrain, median | "
        "label → next round queued, median / max (s) | retrain compute median (s) | "
        "machine load before → after |\n"
        "|---:|---:|---:|---:|---:|---|---|---|---:|---|---:|---:|---:|---:|---:|---|---|---:|---:|---|---:|---|\n"
    )
    for r in rows:
        out.write(
            f"| {r['items']:,} | {r['annotators']} | {r['think']:g} | {r['labels']} | "
            f"{r['rps']:.0f} | "
            f"{r['next_p50']:.1f} / {r['next_p95']:.1f} / {r['next_p99']:.1f} | "
            f"{r['submit_p50']:.1f} / {r['submit_p95']:.1f} / {r['submit_p99']:.1f} | "
            f"{r['server_next_p50']:.0f} / {r['server_next_p99']:.0f}, "
            f"{r['server_submit_p50']:.0f} / {r['server_submit_p99']:.0f} | "
            f"{r['waits']} | {r['from_reserve']} / {r['from_ranking']} / {r['from_exploration']} | "
            f"{100 * r['exploration_share']:.1f}% | {r['cpu_hog']} | {r['stall_worker']:g} | "
            f"{r['errors']} | "
            f"{r['rss_mib']:.0f} | {r['pss_rest_mib']:.0f} / {r['pss_mib']:.0f} | "
            f"{r['cores_workers']:.2f} / {r['cores_web']:.2f} | "
            f"{r['retrains']} | "
            f"{r['labels_per_retrain']:.0f} | "
            f"{r['turnaround_median']:.1f} / {r['turnaround_max']:.1f} | "
            f"{r['compute_median']:.1f} | {r['load_before']:.1f} → {r['load_after']:.1f} |\n"
        )
    by_key = {(r["items"], r["think"], r["annotators"]): r for r in rows}
    for (items, think, annotators), r in by_key.items():
        half = by_key.get((items, think, annotators // 2))
        if half and half["labels"]:
            out.write(
                f"\n{items:,} items, think {think:g} s: {annotators} annotators stored "
                f"{r['labels'] / half['labels']:.2f}× the labels of {annotators // 2}."
            )
    out.write("\n\nSet-up per size (not part of the measured loop): ")
    out.write(
        ", ".join(
            f"{r['items']:,} items loaded in {r['load_seconds']:.0f} s, first round chosen in "
            f"{r['first_round_seconds']:.1f} s"
            for r in rows
        )
    )
    out.write(f".\n{SECTION_END}\n")
    return out.getvalue()


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if SECTION_START in text:
        before, rest = text.split(SECTION_START, 1)
        after = rest.split(SECTION_END, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", default="10000,100000,1000000")
    parser.add_argument("--annotators", default="8", help="comma-separated, e.g. 8,16")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--round-size", type=int, default=100)
    parser.add_argument(
        "--think", default="1", help="seconds each annotator spends per item, e.g. 1,0"
    )
    parser.add_argument(
        "--think-spread",
        type=float,
        default=0.5,
        help="each pause is think × a uniform draw in [1 - spread, 1 + spread]; 0 keeps "
        "every annotator in step (all requests of a cycle in one burst)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--embed-texts",
        type=int,
        default=0,
        help="before the annotators arrive, embed this many texts of a second project with "
        "MiniLM through the served embedding worker (the model is loaded as in production)",
    )
    parser.add_argument(
        "--cpu-hog",
        type=int,
        default=0,
        help="run this many CPU-bound processes (normal priority) beside the server while the "
        "annotators label: the machine kept busy by other work",
    )
    parser.add_argument(
        "--stall-worker",
        type=float,
        default=0,
        help="stop the retrain worker (SIGSTOP) for this many seconds, from 30 s into the run: "
        "a retrain starved of CPU, whatever the machine's load",
    )
    parser.add_argument(
        "--section",
        default="load",
        help="name of the docs/benchmarks.md section the table replaces (bench:NAME markers)",
    )
    parser.add_argument("--title", default="Load", help="heading of that section")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    global SECTION_START, SECTION_END
    SECTION_START, SECTION_END = (
        f"<!-- bench:{args.section}:start -->",
        f"<!-- bench:{args.section}:end -->",
    )
    sizes = [int(size) for size in args.items.split(",")]
    rows = []
    var_dir = Path(tempfile.mkdtemp(prefix="tweezers-load-"))
    for size in sizes:
        for think in [float(t) for t in str(args.think).split(",")]:
            for annotators in [int(n) for n in str(args.annotators).split(",")]:
                row = run_size(size, annotators, think, args, var_dir, len(rows))
                print(row, flush=True)
                rows.append(row)
    command = ".venv/bin/python bench/load.py " + " ".join(sys.argv[1:])
    section = markdown(rows, command.strip(), args.think_spread, args.title)
    print(section)
    write_section(args.out, section)


if __name__ == "__main__":
    main()
