"""Label Studio (community edition, from PyPI) on bench/load.py's workload: M annotator
threads loop GET /api/projects/{id}/next/ → POST /api/tasks/{task}/annotations/ (one
"choices" result), pausing `--think` seconds per item, for `--seconds`.

It starts `label-studio start` on 127.0.0.1 with a throwaway data dir, on a fresh PostgreSQL
database it creates and drops (and/or on SQLite), signs the annotators up through the signup
form (each gets its own next task from Label Studio's per-user queue) and uses their API
tokens. Every row gets a new project with `--tasks` synthetic text tasks. It prints next and
submit p50/p95/p99, labels stored (counted through the API afterwards) and requests per
second, and writes the section "Label Studio on the same workload" into docs/benchmarks.md;
with `--tweezers-json` it adds the ratios to Tweezers' rows for the same workload.

    nice -n 19 .venv/bin/python bench/labelstudio_load.py --tasks 500 --annotators 2 \
        --think 1 --seconds 15 --port 9510 --pg-db tw_i11ls_ls

It imports neither Django nor Tweezers: Label Studio runs from its own venv (`--ls-bin`).
Traffic goes only to 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import serving  # noqa: E402  (the benchmarks' shared helpers; no Django, no Tweezers code)
from labelstudio_server import (  # noqa: E402
    CHOICES,
    BenchError,
    LabelStudio,
    annotator_signup,
    free_port,
    labels_stored,
    project_create,
)

SECTION_START = "<!-- bench:labelstudio:start -->"
SECTION_END = "<!-- bench:labelstudio:end -->"


# --- The measured loop --------------------------------------------------------------------


def annotate(
    base: str,
    project: int,
    token: str,
    deadline: float,
    think: float,
    spread: float,
    timeout: float,
    out: dict,
) -> None:
    # Paced as bench/load.py paces Tweezers' annotators.
    first, pauses = serving.expert_pauses(token, think, spread)
    time.sleep(first)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    next_times, submit_times, empty, errors, timeouts = [], [], 0, 0, 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            response = session.get(f"{base}/api/projects/{project}/next/", timeout=timeout)
        except requests.Timeout:
            timeouts += 1
            continue
        except requests.RequestException:
            errors += 1
            time.sleep(0.2)
            continue
        next_times.append(time.perf_counter() - started)
        if response.status_code == 404:  # "There are no tasks for …": the queue ran dry
            empty += 1
            time.sleep(1)
            continue
        if response.status_code != 200:
            errors += 1
            continue
        task = response.json()["id"]
        started = time.perf_counter()
        try:
            response = session.post(
                f"{base}/api/tasks/{task}/annotations/",
                json={
                    "result": [
                        {
                            "from_name": "label",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [CHOICES[task % 2]]},
                        }
                    ],
                    "lead_time": round(think + next_times[-1], 3),
                },
                timeout=timeout,
            )
        except requests.Timeout:
            timeouts += 1
            continue
        except requests.RequestException:
            errors += 1
            continue
        submit_times.append(time.perf_counter() - started)
        if response.status_code not in (200, 201):
            errors += 1
        time.sleep(pauses())
    with out["lock"]:
        out["next"].extend(next_times)
        out["submit"].extend(submit_times)
        out["empty"] += empty
        out["errors"] += errors
        out["timeouts"] += timeouts


def run_row(ls: LabelStudio, tokens: list[str], annotators: int, think: float, args) -> dict:
    print(f"[{ls.backend}, {annotators} annotators, think {think:g}] importing…", flush=True)
    started = time.monotonic()
    project = project_create(ls, args.tasks, f"Load {annotators}x{think:g}")
    import_seconds = time.monotonic() - started
    print(f"  {args.tasks:,} tasks imported in {import_seconds:.0f} s; measuring…", flush=True)
    out = {"lock": threading.Lock(), "next": [], "submit": [], "empty": 0, "errors": 0}
    out["timeouts"] = 0
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    deadline = started + args.seconds
    threads = [
        threading.Thread(
            target=annotate,
            args=(ls.base, project, token, deadline, think, args.think_spread, args.timeout, out),
            daemon=True,
        )
        for token in tokens[:annotators]
    ]
    for thread in threads:
        thread.start()
    rss_peak = 0
    # Bounded: a request in flight at the deadline ends within its timeout.
    hard_stop = deadline + 2 * args.timeout + think + 5
    while any(t.is_alive() for t in threads) and time.monotonic() < hard_stop:
        rss_peak = max(rss_peak, serving.process_tree_rss_kib(ls.process.pid))
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    stored, tasks_labeled = labels_stored(ls, project)
    return {
        "backend": ls.backend,
        "items": args.tasks,
        "annotators": annotators,
        "think": think,
        "seconds": elapsed,
        "labels": stored,
        "items_labeled": tasks_labeled,
        "submits_ok": len(out["submit"]),
        "rps": (len(out["next"]) + len(out["submit"])) / elapsed,
        **{
            f"{kind}_p{q}": serving.percentile(out[kind], q)
            for kind in ("next", "submit")
            for q in (50, 95, 99)
        },
        "empty": out["empty"],
        "errors": out["errors"],
        "timeouts": out["timeouts"],
        "rss_mib": rss_peak / 1024,
        "import_seconds": import_seconds,
        "timeout": args.timeout,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def run_backend(backend: str, args, port: int) -> tuple[list[dict], dict]:
    ls = LabelStudio(args.ls_bin, backend, port, args.pg_db, args.start_timeout)
    rows = []
    try:
        print(f"[{backend}] starting Label Studio on {ls.base} (migrations)…", flush=True)
        start_seconds = ls.start()
        info = {"backend": backend, "start_seconds": start_seconds, "version": ls.version()}
        print(f"[{backend}] Label Studio {info['version']} up in {start_seconds:.0f} s", flush=True)
        tokens = [annotator_signup(ls, i) for i in range(max(args.annotators))]
        for think in args.think:
            for annotators in args.annotators:
                row = run_row(ls, tokens, annotators, think, args)
                print(json.dumps(row), flush=True)
                rows.append(row)
        return rows, info
    except BaseException:
        print(f"--- last lines of the Label Studio log ---\n{ls.log_tail()}", file=sys.stderr)
        raise
    finally:
        ls.stop()


# --- Tweezers' rows, ratios and the docs section -----------------------------------------


def tweezers_rows(path: Path) -> list[dict]:
    """A JSON list of bench/load.py's rows, or bench/load.py's output itself (its rows are
    printed as Python dicts, one a line)."""
    text = path.read_text()
    try:
        rows = json.loads(text)
        if isinstance(rows, dict):
            rows = [rows]
    except json.JSONDecodeError:
        rows = [
            ast.literal_eval(re.sub(r"\bnan\b", "None", line))
            for line in text.splitlines()
            if line.startswith("{'items'")
        ]
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise BenchError(f"{path}: no Tweezers rows (a JSON list of bench/load.py's rows)")
    return rows


def ratio(a, b) -> float:
    try:
        return float(a) / float(b) if b else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def ratios(rows: list[dict], tweezers: list[dict]) -> list[dict]:
    found = []
    for r in rows:
        for t in tweezers:
            same = (
                int(t.get("items", -1)) == r["items"]
                and int(t.get("annotators", -1)) == r["annotators"]
                and float(t.get("think", -1)) == r["think"]
            )
            if same:
                found.append(
                    {
                        "backend": r["backend"],
                        "items": r["items"],
                        "annotators": r["annotators"],
                        "think": r["think"],
                        **{
                            f"{k}_ratio": ratio(r[k], t.get(k))
                            for k in ("next_p50", "next_p99", "submit_p50", "submit_p99")
                        },
                        "labels_tweezers": t.get("labels"),
                        "labels_ls": r["labels"],
                        "labels_ratio": ratio(t.get("labels"), r["labels"]),
                    }
                )
                break
    return found


def markdown(
    rows: list[dict], infos: list[dict], found: list[dict] | None, command: str, spread: float
) -> str:
    out = io.StringIO()
    out.write(f"{SECTION_START}\n## Label Studio on the same workload\n\n")
    versions = ", ".join(
        f"{i['backend']} (Label Studio {i['version']}, up in {i['start_seconds']:.0f} s)"
        for i in infos
    )
    out.write(
        "Issue 11. Label Studio community edition from PyPI, started with `label-studio start` "
        "(its threaded Django server) on 127.0.0.1, driven like `bench/load.py` drives "
        "Tweezers: N annotator threads, each signed up through the signup form and using its "
        "own API token, loop GET `/api/projects/{id}/next/` → POST "
        "`/api/tasks/{task}/annotations/` (one choice), pausing `--think` seconds per item "
        "on average, paced as `bench/load.py` paces Tweezers' annotators (each pause within "
        f"±{100 * spread:.0f}% of it, each annotator starting at a random moment; "
        "`--think-spread`). "
        "Each row is a new project of synthetic text items (Label Studio's tasks). Labels "
        f"stored are counted through the API afterwards. Backends: {versions}. Measured "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n"
    )
    out.write(f"Reproduce: `{command}`\n\n")
    out.write(
        "| database | items | annotators | think (s) | labels stored | items labeled | req/s | "
        "next p50 / p95 / p99 (ms) | submit p50 / p95 / p99 (ms) | 'no tasks' replies | "
        "errors | timeouts | server RSS peak (MiB) | machine load before → after |\n"
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---|\n"
    )
    for r in rows:
        out.write(
            f"| {r['backend']} | {r['items']:,} | {r['annotators']} | {r['think']:g} | "
            f"{r['labels']} | {r['items_labeled']} | {r['rps']:.1f} | "
            f"{r['next_p50']:.0f} / {r['next_p95']:.0f} / {r['next_p99']:.0f} | "
            f"{r['submit_p50']:.0f} / {r['submit_p95']:.0f} / {r['submit_p99']:.0f} | "
            f"{r['empty']} | {r['errors']} | {r['timeouts']} | {r['rss_mib']:.0f} | "
            f"{r['load_before']:.1f} → {r['load_after']:.1f} |\n"
        )
    out.write(
        "\nSet-up per row (not measured in the loop): "
        + ", ".join(
            f"{r['backend']} {r['annotators']}×{r['think']:g} s imported in "
            f"{r['import_seconds']:.0f} s"
            for r in rows
        )
        + f". Request timeout {rows[0]['timeout']:g} s (bench/load.py uses 10 s).\n"
    )
    if found is not None:
        out.write(
            "\nRatios to Tweezers' rows for the same items, annotators and think time "
            "(latency: Label Studio / Tweezers, above 1 means Tweezers is faster; labels: "
            "Tweezers / Label Studio):\n\n"
            "| database | items | annotators | think (s) | next p50 | next p99 | submit p50 | "
            "submit p99 | labels Tweezers / LS |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---|\n"
        )
        for f in found:
            out.write(
                f"| {f['backend']} | {f['items']:,} | {f['annotators']} | {f['think']:g} | "
                f"{f['next_p50_ratio']:.1f}× | {f['next_p99_ratio']:.1f}× | "
                f"{f['submit_p50_ratio']:.1f}× | {f['submit_p99_ratio']:.1f}× | "
                f"{f['labels_tweezers']} / {f['labels_ls']} = {f['labels_ratio']:.2f}× |\n"
            )
        if not found:
            out.write("| (no Tweezers row matches these items / annotators / think) |||||||||\n")
    out.write(f"{SECTION_END}\n")
    return out.getvalue()


def write_section(path: Path, section: str) -> None:
    """Replace this section only; a first one goes after the Load section's notes."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if SECTION_START in text:
        before, rest = text.split(SECTION_START, 1)
        text = before + section.rstrip("\n") + rest.split(SECTION_END, 1)[1]
    elif "<!-- bench:load:end -->" in text:
        head, tail = text.split("<!-- bench:load:end -->", 1)
        at = tail.find("<!-- bench:")
        at = len(tail) if at < 0 else at
        text = (
            head
            + "<!-- bench:load:end -->"
            + tail[:at].rstrip("\n")
            + "\n\n"
            + section
            + ("\n" + tail[at:] if at < len(tail) else "")
        )
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def numbers(text: str, kind) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of numbers: {text!r}"
        ) from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"need one or more numbers >= 0: {text!r}")
    return values


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ls-bin", default="/tmp/lsvenv/bin/label-studio")
    parser.add_argument("--databases", default="postgresql", help="postgresql, sqlite or both")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--annotators", type=lambda s: numbers(s, int), default=[8])
    parser.add_argument("--think", type=lambda s: numbers(s, float), default=[1.0])
    parser.add_argument(
        "--think-spread",
        type=float,
        default=0.5,
        help="as bench/load.py: each pause is think × a uniform draw in [1 - spread, 1 + spread]",
    )
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--timeout", type=float, default=10, help="per request, as load.py")
    parser.add_argument("--port", type=int, default=9510, help="first port to try")
    parser.add_argument("--pg-db", default="tw_labelstudio_bench", help="created and dropped")
    parser.add_argument("--start-timeout", type=float, default=900)
    parser.add_argument("--tweezers-json", type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args(argv)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not args.databases or set(args.databases) - {"postgresql", "sqlite"}:
        parser.error("--databases: postgresql, sqlite, or postgresql,sqlite")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.pg_db):
        parser.error("--pg-db: lower-case letters, digits and _ only")
    if args.tasks < 1 or args.seconds <= 0 or 0 in args.annotators:
        parser.error("--tasks, --seconds and --annotators must be positive")
    if not (Path(args.ls_bin).is_file() and os.access(args.ls_bin, os.X_OK)):
        parser.error(f"--ls-bin: no label-studio executable at {args.ls_bin}")
    if args.tweezers_json and not args.tweezers_json.is_file():
        parser.error(f"--tweezers-json: no file {args.tweezers_json}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    tweezers = tweezers_rows(args.tweezers_json) if args.tweezers_json else None
    # A SIGTERM unwinds like Ctrl-C, so the server and its database are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows, infos = [], []
    port = free_port(args.port)
    for backend in args.databases:
        backend_rows, info = run_backend(backend, args, port)
        rows += backend_rows
        infos.append(info)
        port = free_port(port + 1)  # the stopped server's socket may linger
    found = ratios(rows, tweezers) if tweezers is not None else None
    for f in found or []:
        print(json.dumps(f))
    command = "python bench/labelstudio_load.py " + " ".join(argv)
    section = markdown(rows, infos, found, command.strip(), args.think_spread)
    print(section)
    if not args.no_docs:
        write_section(args.out, section)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as error:
        sys.exit(f"labelstudio_load: {error}")
