"""Only ``labeler/engine/`` imports the engine library (``learning``), so the library's surface
and the app's use of it meet in one package (STYLE.md: views/api -> services -> engine ->
learning). Every import is counted, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("labeler", "config")
ALLOWED = ("labeler/engine/",)


def learning_imports(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of ``learning`` (or a submodule) in ``source``: import
    statements anywhere, and ``importlib.import_module`` / ``__import__`` of a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in {"import_module", "__import__"}
                )
            )
        ):
            names = [node.args[0].value]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] == "learning"]
    return sorted(found)


def _offenders() -> dict[str, list[tuple[int, str]]]:
    offenders = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(ALLOWED):
                continue
            imports = learning_imports(path.read_text(encoding="utf-8"))
            if imports:
                offenders[relative] = imports
    return offenders


def test_only_the_engine_package_imports_learning():
    assert _offenders() == {}, "import learning through labeler.engine instead"


def test_the_engine_package_is_where_learning_is_imported():
    engine = ROOT / "labeler" / "engine"
    assert any(learning_imports(path.read_text()) for path in engine.rglob("*.py"))


def test_imports_inside_functions_and_by_name_are_counted():
    source = """
import os
from labeler import engine
from . import learning_helpers

def later():
    from learning.strategies import get_strategy
    import learning.models as models
    import importlib
    importlib.import_module("learning.training")

class Lazy:
    def method(self):
        __import__("learning")
"""
    assert learning_imports(source) == [
        (7, "learning.strategies"),
        (8, "learning.models"),
        (10, "learning.training"),
        (14, "learning"),
    ]


def test_names_that_only_start_like_the_engine_are_not_counted():
    assert learning_imports("import learning_rate\nfrom learningkit import x\n") == []
