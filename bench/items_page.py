"""Items page benchmark: does a page of the items browser cost the same at a million items?

Seeds PostgreSQL with one text project of N items (reused on later runs; rows written with
generate_series, not through the importer, since only the browsing is measured): a tenth
labeled with a model guess, some skipped, a few in conflict, one answer per labeled item with
a note on every fiftieth. Then reads pages through the same selector the page uses
(``selectors_items.items_page``) for each filter and sort, first page and a page deep in the
list, and prints the median time of 5 reads. ``--write-docs`` puts the table into
docs/benchmarks.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tweezers_bench_items \\
        .venv/bin/python bench/items_page.py --items 100000 1000000 --write-docs
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tweezers_bench_items"
REPEATS = 5
# Bumped when the seeded data changes, so a stale seed is replaced.
SEED_VERSION = "seed 2: one in seven labeled items contradicted by the model"


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


def setup_django(url: str) -> None:
    os.environ.setdefault("DATABASE_URL", url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    import django

    django.setup()


def seeded_project(n_items: int):
    """The project named for ``n_items``, created and filled on the first run."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labeler import services
    from labeler.models import Project

    name = f"bench items {n_items}"
    project = Project.objects.filter(name=name).first()
    if project is not None and project.n_items == n_items and project.description == SEED_VERSION:
        return project
    user, _ = get_user_model().objects.get_or_create(username="bench")
    if project is not None:
        project.delete()
    project = services.project_create(
        name=name,
        kind="text",
        classes=["a", "b", "c", "d"],
        created_by=user,
        description=SEED_VERSION,
    )
    a, b, c, d = project.classes.order_by("order").values_list("id", flat=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO labeler_item (project_id, text, file, source_name, checksum, metadata,
                status, is_evaluation, created_at, label_id, model_label_id, model_confidence)
            SELECT %(p)s, 'text ' || g, '', 'row ' || g, md5(%(p)s || ':' || g), '{}',
                CASE WHEN g %% 10 = 0 THEN 'labeled' WHEN g %% 97 = 0 THEN 'skipped'
                     WHEN g %% 991 = 0 THEN 'conflict' ELSE 'unlabeled' END,
                g %% 100 = 5, now() - (g || ' seconds')::interval,
                CASE WHEN g %% 10 = 0 THEN (ARRAY[%(a)s, %(b)s, %(c)s, %(d)s])[1 + g / 10 %% 4] END,
                CASE WHEN g %% 10 = 0 THEN (ARRAY[%(a)s, %(b)s, %(c)s, %(d)s])[
                    1 + (g / 10 + (g %% 70 = 0)::int) %% 4] END,
                CASE WHEN g %% 10 = 0 THEN 0.25 + (g %% 750) / 1000.0 END
            FROM generate_series(1, %(n)s) AS g
            """,
            {"p": project.pk, "n": n_items, "a": a, "b": b, "c": c, "d": d},
        )
        cursor.execute(
            """
            INSERT INTO labeler_annotation (project_id, item_id, annotator_id, label_id, kind,
                note, is_current, is_adjudication, created_at)
            SELECT project_id, id, %(u)s, label_id, 'strategy',
                CASE WHEN id %% 50 = 0 THEN 'blurry scan, check again' ELSE '' END,
                true, false, created_at
            FROM labeler_item WHERE project_id = %(p)s AND status = 'labeled'
            """,
            {"p": project.pk, "u": user.pk},
        )
        cursor.execute("ANALYZE labeler_item; ANALYZE labeler_annotation;")
    Project.objects.filter(pk=project.pk).update(n_items=n_items, n_labeled=n_items // 10)
    print(f"seeded {n_items:,} items in {time.perf_counter() - started:.1f} s", flush=True)
    project.refresh_from_db()
    return project


def median_ms(read) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(project) -> list[tuple[str, float, float]]:
    from django.contrib.auth import get_user_model

    from labeler import selectors_items
    from labeler.selectors_items import ItemFilter

    viewer = get_user_model().objects.get(username="bench")
    label_b = project.classes.get(name="b").pk
    cases = {
        "everything, newest first": ItemFilter(),
        "status = skipped": ItemFilter(status="skipped"),
        "status = conflict": ItemFilter(status="conflict"),
        "label = b": ItemFilter(label_id=label_b),
        "model disagrees with the label": ItemFilter(disagrees=True),
        "least confident first": ItemFilter(sort="least_confident"),
        "confidence 40–60 %": ItemFilter(confidence_min=0.4, confidence_max=0.6),
        "note contains 'blurry'": ItemFilter(note="blurry"),
        "annotator = bench": ItemFilter(annotator_id=viewer.pk),
    }
    rows = []
    for name, filters in cases.items():

        def page(cursor="", filters=filters):
            return selectors_items.items_page(
                project=project, viewer=viewer, own_only=False, filters=filters, cursor=cursor
            )

        first = median_ms(page)
        # Walk 20 pages in, then time reading the page there (the 21st).
        cursor = ""
        for _ in range(20):
            cursor = page(cursor).next_cursor or ""
            if not cursor:
                break
        deep = median_ms(lambda cursor=cursor: page(cursor)) if cursor else float("nan")
        rows.append((name, first, deep))
        print(f"  {name:34s} first {first:7.1f} ms   page 21 {deep:7.1f} ms", flush=True)
    return rows


def write_docs(results: dict[int, list], command: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    sizes = sorted(results)
    header = "| filter | " + " | ".join(f"{n:,} items: first / page 21" for n in sizes) + " |"
    lines = [
        "## Items page",
        "",
        "A page of 50 items through `selectors_items.items_page` (what the items page calls), "
        f"median of {REPEATS} reads, in ms. A tenth of the items is labeled with a model guess. "
        "Page 21 is reached by following the cursors, as a manager clicking “next” would.",
        "",
        f"    {command}",
        "",
        header,
        "| --- | " + " | ".join("---" for _ in sizes) + " |",
    ]
    names = [name for name, _, _ in results[sizes[0]]]
    for index, name in enumerate(names):
        cells = []
        for size in sizes:
            _, first, deep = results[size][index]
            cells.append(f"{first:.1f} / " + ("—" if deep != deep else f"{deep:.1f}"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    section = "\n".join(lines) + "\n"
    text = path.read_text()
    start = text.find("## Items page")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    database_create(url)
    setup_django(url)
    results = {}
    for n_items in args.items:
        print(f"{n_items:,} items", flush=True)
        results[n_items] = measure(seeded_project(n_items))
    if args.write_docs:
        command = "DATABASE_URL=postgres://postgres@127.0.0.1:5432/tweezers_bench_items "
        command += ".venv/bin/python bench/items_page.py --items " + " ".join(
            str(n) for n in args.items
        )
        write_docs(results, command + " --write-docs")


if __name__ == "__main__":
    main()
