"""The engine never imports the web side, and importing strategies does not pull in torch."""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import learning

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    f"learning.{info.name}" for info in pkgutil.iter_modules(learning.__path__) if info.name
)


def _loaded_after_import(module: str) -> set[str]:
    code = (
        "import importlib, json, sys; "
        f"importlib.import_module({module!r}); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(completed.stdout.strip().splitlines()[-1]))


def test_every_engine_module_is_found():
    assert {"learning.strategies", "learning.models", "learning.simulate"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_importing_engine_module_loads_no_django_celery_or_labeler(module):
    loaded = _loaded_after_import(module)
    assert not loaded & {"django", "celery", "labeler", "config", "rest_framework"}


@pytest.mark.parametrize("module", ["learning.strategies", "learning.models", "learning.features"])
def test_light_engine_modules_do_not_import_torch(module):
    assert "torch" not in _loaded_after_import(module)
