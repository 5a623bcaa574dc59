"""Only ``labeler/queue/`` writes the queue's tables (``QueueEntry``, ``QueryRound``,
``QueueRanking``): every
other module of ``labeler/`` is parsed and checked for manager writes, saves and deletes of
their instances, and SQL that inserts, updates or deletes their rows. Migrations are left out.

The check reads the code, so it finds the writes that the code spells out: a manager chain
rooted at either model or at a relation that leads to it (``project.queue``,
``item.queue_entries``, ``query_round.entries``), a ``save()`` or ``delete()`` on a name bound
to one of their instances in the same module, and SQL in string literals, f-strings and their
concatenations (the table named literally or as ``Model._meta.db_table``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.contrib import admin

from labeler.models import QueryRound, QueueEntry, QueueRanking

LABELER = Path(__file__).resolve().parents[2] / "labeler"
OWNER = LABELER / "queue"
QUEUE_MODELS = {
    "QueueEntry": QueueEntry,
    "QueryRound": QueryRound,
    "QueueRanking": QueueRanking,
}
TABLES = {name: model._meta.db_table for name, model in QUEUE_MODELS.items()}
WRITES = {
    "create",
    "bulk_create",
    "update",
    "delete",
    "bulk_update",
    "get_or_create",
    "update_or_create",
}
INSTANCE_WRITES = {"save", "delete"}
# The managers other models reach the queue's rows by (project.queue, item.queue_entries, ...).
RELATIONS = {
    field.remote_field.get_accessor_name()
    for model in QUEUE_MODELS.values()
    for field in model._meta.concrete_fields
    if field.many_to_one and not (field.remote_field.related_name or "").endswith("+")
}
SQL_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?[\"`]?(?:"
    + "|".join(re.escape(table) for table in TABLES.values())
    + r")\b",
    re.IGNORECASE,
)


def _chain(node: ast.AST) -> list[ast.AST]:
    """The receivers of an attribute or call chain, outermost first: for
    ``QueueEntry.objects.filter(x).update`` the Attribute ``filter``, its call, ``objects``,
    and the name ``QueueEntry``."""
    links = []
    while True:
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            links.append(node)
            return links
        links.append(node)


def _names_a_queue_model(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in QUEUE_MODELS) or (
        isinstance(node, ast.Attribute) and node.attr in QUEUE_MODELS
    )


def _reaches_queue_rows(receiver: ast.AST) -> bool:
    """Whether ``receiver`` is a manager, query set or instance of the queue's models."""
    links = _chain(receiver)
    for link in [receiver, *links]:
        if _names_a_queue_model(link):
            return True
        if isinstance(link, ast.Attribute) and link.attr in RELATIONS:
            # project.queue, item.queue_entries: an attribute, not the module named queue.
            return True
    return False


def _table_of(node: ast.AST, constants: dict[str, str]) -> str | None:
    """The table an f-string's value names: ``QueueEntry._meta.db_table`` or a module name
    bound to one."""
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if (
        isinstance(node, ast.Attribute)
        and node.attr == "db_table"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "_meta"
    ):
        model = node.value.value
        name = model.id if isinstance(model, ast.Name) else getattr(model, "attr", None)
        return TABLES.get(name)
    return None


def _text(node: ast.AST, constants: dict[str, str]) -> str | None:
    """The SQL a string expression spells, with the queue's tables filled in; None when
    ``node`` is not a string expression."""
    table = _table_of(node, constants)
    if table is not None:
        return table
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append(_table_of(value.value, constants) or "{}")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left, constants), _text(node.right, constants)
        if left is not None or right is not None:
            return (left or "{}") + (right or "{}")
    return None


def _bound_to_queue_rows(tree: ast.AST) -> set[str]:
    """Names assigned an instance (or query set) of the queue's models in this module."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _reaches_queue_rows(node.value):
                bound |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif (
            isinstance(node, ast.For)
            and isinstance(node.target, ast.Name)
            and _reaches_queue_rows(node.iter)
        ):
            bound.add(node.target.id)
    return bound


def _table_constants(tree: ast.AST) -> dict[str, str]:
    """Module names bound to a queue table's name (``_ENTRY = QueueEntry._meta.db_table``)."""
    constants = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            table = _table_of(node.value, {})
            if isinstance(target, ast.Name) and table is not None:
                constants[target.id] = table
    return constants


def queue_writes(source: str, filename: str = "<source>") -> list[str]:
    """Where ``source`` writes the queue's tables: ``"file:line: what"`` per write."""
    tree = ast.parse(source, filename)
    constants = _table_constants(tree)
    bound = _bound_to_queue_rows(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            if method in WRITES and _reaches_queue_rows(receiver):
                found.append(f"{filename}:{node.lineno}: .{method}() on the queue's rows")
            elif (
                method in INSTANCE_WRITES
                and isinstance(receiver, ast.Name)
                and receiver.id in bound
            ):
                found.append(f"{filename}:{node.lineno}: {receiver.id}.{method}()")
        text = _text(node, constants) if isinstance(node, ast.expr) else None
        if text is not None and SQL_WRITE.search(text):
            found.append(f"{filename}:{node.lineno}: SQL {SQL_WRITE.search(text).group(0)!r}")
    return sorted(set(found))


def _modules_outside_the_queue() -> list[Path]:
    return [
        path
        for path in sorted(LABELER.rglob("*.py"))
        if OWNER not in path.parents and "migrations" not in path.relative_to(LABELER).parts
    ]


def test_nothing_outside_labeler_queue_writes_the_queue_tables():
    modules = _modules_outside_the_queue()
    assert len(modules) > 40  # the walk found the app, not an empty folder
    writes = [
        write
        for path in modules
        for write in queue_writes(path.read_text(), str(path.relative_to(LABELER.parent)))
    ]
    assert writes == [], "write the queue through labeler.queue:\n" + "\n".join(writes)


def test_the_queue_package_itself_is_seen_writing():
    """The check finds the writes where they are allowed: it is not blind to the code's
    own way of writing them (the named SQL, the ORM)."""
    writes = [
        write
        for path in sorted(OWNER.rglob("*.py"))
        for write in queue_writes(path.read_text(), path.name)
    ]
    assert any(w.startswith("sql.py") and "UPDATE" in w for w in writes), writes
    assert any(w.startswith("rounds.py") and "bulk_create" in w for w in writes), writes
    assert any(w.startswith("answering.py") and ".update()" in w for w in writes), writes


@pytest.mark.parametrize(
    "planted",
    [
        "QueueEntry.objects.filter(project=p, done=False).update(leased_by=None)",
        "QueryRound.objects.create(project=p, number=1)",
        "models.QueueEntry.objects.bulk_create(entries)",
        "QueueEntry.objects.select_for_update().get(pk=1).delete()",
        "project.queue.filter(done=False).delete()",
        "item.queue_entries.update(done=True)",
        "query_round.entries.all().delete()",
        "QueryRound.objects.update_or_create(project=p, number=1)",
        "entry = QueueEntry(project=p)\nentry.save()",
        "entry = QueueEntry.objects.first()\nentry.delete()",
        "for entry in QueueEntry.objects.all():\n    entry.save()",
        'cursor.execute("UPDATE labeler_queueentry SET done = true")',
        "cursor.execute('delete from \"labeler_queryround\" where id = %s', [1])",
        'cursor.execute(f"INSERT INTO {QueueEntry._meta.db_table} (id) VALUES (1)")',
        'TABLE = QueryRound._meta.db_table\nSQL = f"UPDATE {TABLE} SET n_done = 0"',
        'SQL = "DELETE FROM " + QueueEntry._meta.db_table',
    ],
)
def test_a_write_planted_in_a_module_is_found(planted):
    """The check of the check: each way of writing the queue, planted in a module."""
    source = "from labeler.models import QueryRound, QueueEntry\n\n\ndef plant(p):\n" + "".join(
        f"    {line}\n" for line in planted.splitlines()
    )
    assert queue_writes(source), planted


@pytest.mark.parametrize(
    "harmless",
    [
        "QueueEntry.objects.filter(project=p, done=False).count()",
        "queue.release_held(project=p, user_id=1)",
        "Item.objects.filter(project=p).update(status='unlabeled')",
        "Annotation.objects.create(project=p, round=r)",
        'cursor.execute("SELECT id FROM labeler_queueentry WHERE done")',
        'cursor.execute("UPDATE labeler_item SET status = %s", ["x"])',
        "item.save()",
    ],
)
def test_reads_and_other_tables_are_not_flagged(harmless):
    source = f"def read(p, r, item, cursor):\n    {harmless}\n"
    assert queue_writes(source) == [], harmless


def test_the_admin_shows_the_queue_but_never_writes_it(rf, admin_user):
    """The admin reads the queue tables; writing them there would bypass the queue's locks
    and counters. (A round's ranking, item ids as bytes, is not shown there.)"""
    request = rf.get("/")
    request.user = admin_user
    for model in (QueueEntry, QueryRound):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)


def test_no_function_of_the_queue_is_over_80_lines():
    """Each step of the queue reads on one screen: a longer one is split into named steps."""
    long = [
        f"{path.name}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
        for path in sorted(OWNER.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []


def test_no_module_of_labeler_imports_another_modules_private_names():
    """A name with a leading underscore is its module's own: another module that needs it
    needs a public function (as the queue's services once shared ``_limit_state``)."""
    private = [
        f"{path.relative_to(LABELER.parent)}:{node.lineno} {node.module}.{alias.name}"
        for path in sorted(LABELER.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labeler")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []
