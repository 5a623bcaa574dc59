"""Export memory benchmark: does exporting a large labeled set keep the server's memory flat?

Seeds PostgreSQL with a text project and an image project of N labeled items each (reused on
later runs), starts gunicorn with one sync worker on 127.0.0.1 (DEBUG off, as in
production), and downloads each export format through the real HTTP endpoint. For every
export it resets the worker's peak-RSS counter (``/proc/<pid>/clear_refs``), streams the
response to nowhere, and reports the worker's resident memory before, its peak during the
export, the bytes sent and the time taken. Running it for two sizes shows whether memory
grows with the project.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tweezers_bench_export \\
        .venv/bin/python bench/export_memory.py --items 10000 100000

Linux only (reads /proc). The request loop is bounded: one download per format and size.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tweezers_bench_export"
FORMATS = {"text": ["csv", "jsonl", "json", "labelstudio"], "image": ["imagefolder"]}


def environment(var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-not-a-secret",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        TWEEZERS_VAR_DIR=str(var_dir),
        CELERY_BROKER_URL=env.get("CELERY_BROKER_URL", "memory://"),
        DJANGO_LOG_LEVEL="WARNING",
    )
    return env


def database_create(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def tiny_png(number: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (4, 4), number % 256).save(buffer, format="PNG", pnginfo=None)
    # Distinct content per item (the importer de-duplicates by checksum): a text chunk.
    data = buffer.getvalue()
    return data[:-12] + _png_text_chunk(str(number)) + data[-12:]


def _png_text_chunk(text: str) -> bytes:
    import struct
    import zlib

    body = b"Comment\x00" + text.encode()
    return (
        struct.pack(">I", len(body))
        + b"tEXt"
        + body
        + struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    )


def seed(n_items: int, media_root: Path) -> dict[str, object]:
    """Create (or reuse) a text and an image project of n_items labeled items, one annotation
    each, written in bulk straight to the tables."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from knox.models import AuthToken

    from labeler import services
    from labeler.models import Annotation, Item, Project, item_file_path

    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username="bench-exporter")
    _, token = AuthToken.objects.create(user=user)
    projects = {}
    for kind in ("text", "image"):
        name = f"bench-export-{kind}-{n_items}"
        project = Project.objects.filter(name=name).first()
        if project is None or project.n_items != n_items:
            if project is not None:
                Annotation.objects.filter(project=project).delete()
                project.delete()
            project = services.project_create(
                name=name, kind=kind, classes=["alpha", "beta", "gamma"], created_by=user
            )
            classes = list(project.classes.all())
            started = time.perf_counter()
            for start in range(0, n_items, 5000):
                batch = []
                for number in range(start, min(start + 5000, n_items)):
                    if kind == "text":
                        text = f"Item {number}: a sentence of about the length of a short review."
                        content = text.encode()
                    else:
                        text, content = "", tiny_png(number)
                    checksum = hashlib.sha256(content).hexdigest()
                    item = Item(
                        project=project,
                        text=text,
                        source_name=f"bench line {number}",
                        checksum=checksum,
                        label=classes[number % 3],
                        status=Item.Status.LABELED,
                        is_evaluation=number % 10 == 0,
                    )
                    if kind == "image":
                        name_on_disk = item_file_path(item, "x.png")
                        path = media_root / name_on_disk
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(content)
                        item.file.name = name_on_disk
                    batch.append(item)
                with transaction.atomic():
                    Item.objects.bulk_create(batch)
                    Annotation.objects.bulk_create(
                        Annotation(
                            project=project,
                            item=item,
                            annotator=user,
                            label=item.label,
                            kind="evaluation" if item.is_evaluation else "strategy",
                            predicted_label=classes[(i + 1) % 3],
                            predicted_confidence=0.5,
                        )
                        for i, item in enumerate(batch)
                    )
            Project.objects.filter(pk=project.pk).update(n_items=n_items, n_labeled=n_items)
            print(
                f"seeded {n_items:,} {kind} items in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
        projects[kind] = project.pk
    return {"token": token, "projects": projects}


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found for {pid}")


def worker_pid(master: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def download(url: str, token: str) -> tuple[int, float]:
    started = time.perf_counter()
    size = 0
    with requests.get(
        url, headers={"Authorization": f"Token {token}"}, stream=True, timeout=600
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            size += len(chunk)
    return size, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--var-dir", type=Path, default=Path(tempfile.gettempdir()) / "tw-bench")
    args = parser.parse_args()

    env = environment(args.var_dir)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    database_create(env["DATABASE_URL"])
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    media_root = args.var_dir / "media"
    seeded = {n: seed(n, media_root) for n in args.items}

    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            "1",
            "--timeout",
            "600",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        worker = worker_pid(server.pid)
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(60):
            try:
                requests.get(f"{base}/healthz", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.5)
        # Warm up: import every module the export path touches before measuring.
        smallest = seeded[min(args.items)]
        for kind, formats in FORMATS.items():
            for export_format in formats:
                project = smallest["projects"][kind]
                download(
                    f"{base}/api/projects/{project}/export/?format={export_format}",
                    str(smallest["token"]),
                )
        print("| items | format | bytes | seconds | RSS before (MiB) | peak (MiB) | growth (MiB) |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for n_items in args.items:
            for kind, formats in FORMATS.items():
                for export_format in formats:
                    project = seeded[n_items]["projects"][kind]
                    # Reset the kernel's peak-RSS counter so VmHWM is this export's peak.
                    Path(f"/proc/{worker}/clear_refs").write_text("5")
                    before = rss_kib(worker, "VmRSS")
                    size, seconds = download(
                        f"{base}/api/projects/{project}/export/?format={export_format}",
                        str(seeded[n_items]["token"]),
                    )
                    peak = rss_kib(worker, "VmHWM")
                    print(
                        f"| {n_items:,} | {export_format} | {size:,} | {seconds:.1f} | "
                        f"{before / 1024:.0f} | {peak / 1024:.0f} | {(peak - before) / 1024:.1f} |",
                        flush=True,
                    )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
