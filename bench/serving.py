"""What the benchmarks that drive the real server share: a fresh PostgreSQL database, the
server's environment, and `scripts/run-serve` started, waited for and stopped."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parents[1]
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def recreate_database(name: str, broker_url: str | None = None) -> None:
    """Drop and create database ``name``; flush the broker's database too, so messages left
    by an earlier run do not name runs of a database that no longer exists."""
    if broker_url:
        import redis

        redis.Redis.from_url(broker_url).flushdb()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
        slow_ms = int(os.environ.get("TWEEZERS_BENCH_PG_SLOW_MS", "0"))
        if slow_ms:
            # Diagnosis: PostgreSQL's own log names statements slower than this and lock
            # waits longer than this (deadlock detection then also runs after this long).
            for setting in ("log_min_duration_statement", "deadlock_timeout"):
                conn.execute(f"ALTER DATABASE {name} SET {setting} = {slow_ms}")
            conn.execute(f"ALTER DATABASE {name} SET log_lock_waits = on")


def server_env(database: str, broker_url: str, var_dir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_DEBUG": "0",
        # Plain HTTP on 127.0.0.1: session cookies must travel without TLS.
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "TWEEZERS_VAR_DIR": str(var_dir),
        "PORT": str(port),
        "DJANGO_LOG_LEVEL": os.environ.get("DJANGO_LOG_LEVEL", "WARNING"),
    }


def serve(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`scripts/run-serve` in a session of its own (its workers stop with it), logging to
    ``log_path``; returns once /healthz answers (or after a minute)."""
    log = log_path.open("wb")
    server = subprocess.Popen(
        ["scripts/run-serve"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    base = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.3)
    return server


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def _process_tree(root_pid: int) -> list[int]:
    """A process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def process_tree_rss_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (from /proc)."""
    total = 0
    for pid in _process_tree(root_pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _smaps_kib(pid: int) -> dict[str, int]:
    """Rss and Pss of one process in KiB, from /proc/<pid>/smaps_rollup (empty if it is gone)."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                found[key.lower()] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return found


def _group_of(pid: int) -> str:
    """What a process of the served tree is, for the breakdown: web, a Celery worker (named
    by its queues), or the rest."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "other"
    words = [word.decode(errors="replace") for word in command if word]
    if any("gunicorn" in word for word in words):
        return "web"
    if any(word.endswith("celery") for word in words) and "beat" in words:
        return "beat"
    if any(word.endswith("celery") for word in words):
        queues = words[words.index("-Q") + 1] if "-Q" in words[:-1] else "all queues"
        return f"worker {queues}"
    return "other"


def process_tree_memory_kib(root_pid: int) -> dict:
    """The memory of a process and all its descendants, in KiB, summed over processes:
    ``rss`` (each process's resident pages; pages shared after a fork count once per
    process), ``pss`` (proportional: a page shared by n processes counts 1/n in each, so the
    sum is what the tree really holds), and ``groups``: PSS per kind of process (web, each
    Celery worker's processes, its forked children and embedded beat included)."""
    rss = pss = 0
    groups: dict[str, int] = {}
    for pid in _process_tree(root_pid):
        sizes = _smaps_kib(pid)
        if not sizes:
            continue
        rss += sizes.get("rss", 0)
        pss += sizes.get("pss", 0)
        group = _group_of(pid)
        groups[group] = groups.get(group, 0) + sizes.get("pss", 0)
    return {"rss": rss, "pss": pss, "groups": groups}


class MemoryPeak:
    """The largest whole-tree PSS and RSS seen over the samples given to :meth:`sample`, with
    the per-group breakdown of the sample that had the largest PSS."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.pss = self.rss = 0
        self.groups: dict[str, int] = {}

    def sample(self) -> None:
        now = process_tree_memory_kib(self.root_pid)
        self.rss = max(self.rss, now["rss"])
        if now["pss"] > self.pss:
            self.pss, self.groups = now["pss"], now["groups"]


def pool_processes(root_pid: int, group: str) -> int:
    """How many pool processes the Celery worker ``group`` (as :func:`_group_of` names it) has
    now: its processes beyond the main one."""
    return max(0, sum(_group_of(pid) == group for pid in _process_tree(root_pid)) - 1)


def wait_for_workers(root_pid: int, log_path: Path, timeout: float = 120) -> bool:
    """Wait until every Celery worker started by the server has logged that it is ready (they
    import the engine as they start, after the web server already answers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A worker's pool children share its command line: one "ready." per kind of worker.
        kinds = {_group_of(pid) for pid in _process_tree(root_pid)} - {"web", "other"}
        if kinds and log_path.read_text(errors="replace").count(" ready.") >= len(kinds):
            return True
        time.sleep(0.5)
    return False


def process_tree_cpu_seconds(root_pid: int) -> dict[str, float]:
    """CPU seconds used so far by a process tree, split into "celery" and "gunicorn" (by
    command line) and "other"; children already reaped count with their parent."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"celery": 0.0, "gunicorn": 0.0, "other": 0.0}
    for pid in _process_tree(root_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name.
        seconds = sum(int(value) for value in fields[11:15]) / tick
        kind = next((k for k in ("celery", "gunicorn") if k.encode() in command), "other")
        totals[kind] += seconds
    return totals


def expert_pauses(seed: str, think: float, spread: float):
    """How an annotator paces a load benchmark, independently of the others: a first pause at
    a random moment of one ``think``, then pauses of ``think`` give or take ``spread`` of it
    (uniform). Identical pauses from one start keep all annotators in step, every request of
    a cycle arriving in one burst. Returns (first pause, a function giving the next pause)."""
    rng = random.Random(seed)
    return rng.uniform(0, think), lambda: think * rng.uniform(1 - spread, 1 + spread)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of durations in seconds, in milliseconds (linear
    interpolation, as numpy's default); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return 1000 * (ordered[low] + (ordered[high] - ordered[low]) * (rank - low))
