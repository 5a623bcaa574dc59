"""Findings filter benchmark (issue 21): does "finding X is present / uncertain / absent" on
the items page cost the same at a million items?

Seeds PostgreSQL with one findings project of N items and 14 findings (rows written with
generate_series, not through the importer: only the browsing is measured): a tenth of the
items labeled; finding 1 present on 30% of the labeled items, finding 2 on 5%, finding 3 on
1% (a rare one), each uncertain on 2%; only present and uncertain states are rows, as the app
stores them. Then reads pages through the selector the page uses
(``selectors_items.items_page``), first page and page 21 (following the cursors), median of
5 reads. ``--write-docs`` puts the table into docs/benchmarks.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tweezers_bench_findings \\
        nice -n 10 .venv/bin/python bench/findings_filter.py --items 100000 1000000 --write-docs
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from items_page import database_create, median_ms, setup_django  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tweezers_bench_findings"
SEED_VERSION = "findings seed 1"
FINDINGS = [f"finding {n:02d}" for n in range(1, 15)]
# Share of labeled items with the finding present (per mille), for the first three findings.
PRESENT_PER_MILLE = {0: 300, 1: 50, 2: 10}
PAGES_DEEP = 21


def seeded_project(n_items: int):
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labeler import services
    from labeler.models import Project

    name = f"bench findings {n_items}"
    project = Project.objects.filter(name=name).first()
    if project is not None and project.n_items == n_items and project.description == SEED_VERSION:
        return project
    user, _ = get_user_model().objects.get_or_create(username="bench")
    if project is not None:
        project.delete()
    project = services.project_create(
        name=name,
        kind="text",
        task="findings",
        classes=FINDINGS,
        created_by=user,
        description=SEED_VERSION,
    )
    finding_ids = list(project.classes.order_by("order").values_list("id", flat=True))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO labeler_item (project_id, text, file, source_name, checksum, metadata,
                status, is_evaluation, created_at)
            SELECT %(p)s, 'text ' || g, '', 'row ' || g, md5(%(p)s || ':' || g), '{}',
                CASE WHEN g %% 10 = 0 THEN 'labeled' ELSE 'unlabeled' END, false,
                now() - (g || ' seconds')::interval
            FROM generate_series(1, %(n)s) AS g
            """,
            {"p": project.pk, "n": n_items},
        )
        for column, per_mille in PRESENT_PER_MILLE.items():
            # A seeded hash of the item decides: present below per_mille, uncertain in the
            # 20 per mille after it.
            cursor.execute(
                """
                INSERT INTO labeler_itemfinding (project_id, item_id, finding_id, state)
                SELECT %(p)s, id, %(f)s, CASE WHEN h < %(pm)s THEN 1 ELSE -1 END
                FROM (SELECT id, abs(hashtext(id::text || %(salt)s)) %% 1000 AS h
                      FROM labeler_item WHERE project_id = %(p)s AND status = 'labeled') AS s
                WHERE h < %(pm)s + 20
                """,
                {"p": project.pk, "f": finding_ids[column], "pm": per_mille, "salt": str(column)},
            )
        cursor.execute("ANALYZE labeler_item; ANALYZE labeler_itemfinding;")
    Project.objects.filter(pk=project.pk).update(n_items=n_items, n_labeled=n_items // 10)
    print(f"seeded {n_items:,} items in {time.perf_counter() - started:.1f} s", flush=True)
    project.refresh_from_db()
    return project


def measure(project) -> list[tuple[str, float, float | None]]:
    from django.contrib.auth import get_user_model

    from labeler import selectors_items
    from labeler.selectors_items import ItemFilter

    viewer = get_user_model().objects.get(username="bench")
    ids = list(project.classes.order_by("order").values_list("id", flat=True))
    cases = {}
    for column, share in ((0, "30%"), (1, "5%"), (2, "1%")):
        for state, said in ((1, "present"), (-1, "uncertain"), (0, "absent")):
            cases[f"finding with {share} positives: {said}"] = ItemFilter(
                finding_id=ids[column], finding_state=state
            )
    rows = []
    for name, filters in cases.items():

        def page(cursor: str = "", filters=filters):
            return selectors_items.items_page(
                project=project, viewer=viewer, own_only=False, filters=filters, cursor=cursor
            )

        first = median_ms(page)
        cursor = ""
        for _ in range(PAGES_DEEP - 1):
            cursor = page(cursor).next_cursor
            if cursor is None:
                break
        deep = median_ms(lambda c=cursor: page(c)) if cursor else None
        rows.append((name, first, deep))
        print(f"{name}: {first:.1f} / {deep if deep is None else round(deep, 1)} ms", flush=True)
    return rows


def table(results: dict[int, list]) -> str:
    sizes = sorted(results)
    head = " | ".join(f"{n:,} items: first / page {PAGES_DEEP}" for n in sizes)
    lines = [f"| filter | {head} |", "| --- |" + " --- |" * len(sizes)]
    for index, (name, _, _) in enumerate(results[sizes[0]]):
        cells = []
        for n in sizes:
            _, first, deep = results[n][index]
            cells.append(f"{first:.1f} / {'—' if deep is None else f'{deep:.1f}'}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100_000])
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_create(url)
    os.environ["DATABASE_URL"] = url
    setup_django(url)
    results = {n: measure(seeded_project(n)) for n in args.items}
    print(table(results))
    if args.write_docs:
        docs = ROOT / "docs" / "benchmarks.md"
        section = (
            "## Items page: findings filter (issue 21)\n\n"
            "A page of 50 items of a findings project filtered by one finding's state, through "
            "`selectors_items.items_page`, median of 5 reads, in ms; a tenth of the items "
            "labeled, 14 findings, only present and uncertain states stored as rows.\n\n"
            "    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tweezers_bench_findings \\\n"
            "        nice -n 10 .venv/bin/python bench/findings_filter.py --items "
            + " ".join(str(n) for n in args.items)
            + " --write-docs\n\n"
            + table(results)
            + "\n"
        )
        text = docs.read_text()
        start = text.find("## Items page: findings filter")
        if start >= 0:
            end = text.find("\n## ", start + 1)
            text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + section
        docs.write_text(text)


if __name__ == "__main__":
    main()
