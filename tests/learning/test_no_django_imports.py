"""The engine never imports the web side, and its light modules do not pull in torch."""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import learning

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(f"learning.{info.name}" for info in pkgutil.iter_modules(learning.__path__))
FORBIDDEN = {"django", "celery", "labeler", "config", "rest_framework"}

# Imports each module in turn in one fresh interpreter and records which top-level packages
# each import added, so an offending import is pinned to the module that made it.
_PROBE = """
import importlib, json, sys
added = {}
for name in sys.argv[1:]:
    before = {m.split('.')[0] for m in sys.modules}
    importlib.import_module(name)
    added[name] = sorted({m.split('.')[0] for m in sys.modules} - before)
print(json.dumps(added))
"""


def _added_by_import(modules: list[str]) -> dict[str, list[str]]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_every_engine_module_is_found():
    assert {"learning.strategies", "learning.models", "learning.simulate"} <= set(MODULES)


def test_importing_the_engine_loads_no_django_celery_or_labeler():
    added = _added_by_import(MODULES)
    assert set(added) == set(MODULES)
    offending = {module: FORBIDDEN & set(loaded) for module, loaded in added.items()}
    assert {module: found for module, found in offending.items() if found} == {}


def test_light_engine_modules_do_not_import_torch():
    added = _added_by_import(["learning.strategies", "learning.models", "learning.features"])
    assert not any("torch" in loaded for loaded in added.values())


_PUBLIC_PROBE = """
import json, sys
import learning
bare = sorted({m.split('.')[0] for m in sys.modules})
public = {name: type(getattr(learning, name)).__name__ for name in learning.__all__}
loaded = sorted({m.split('.')[0] for m in sys.modules})
print(json.dumps({"bare": bare, "public": public, "all": loaded}))
"""


def _probe_public_names() -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", _PUBLIC_PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_package_exports_its_public_names_without_loading_torch_or_the_web_side():
    probed = _probe_public_names()
    assert {"get_strategy", "train_model", "UncertaintySampling", "evaluate"} <= set(
        probed["public"]
    )
    assert not (FORBIDDEN | {"torch", "sentence_transformers"}) & set(probed["all"])


def test_importing_the_package_alone_loads_neither_scikit_learn_nor_torch():
    # The web app's processes ask the engine for names only; they must stay light.
    assert not {"sklearn", "scipy", "torch"} & set(_probe_public_names()["bare"])
