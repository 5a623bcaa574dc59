"""The engine installs on its own: its wheel, built from packaging/tweezers-learning, goes
into a fresh virtualenv without Django, and the README's loop (examples/learning_loop.py)
runs there on scikit-learn's digits and prints a learning curve that rises."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = Path("packaging") / "tweezers-learning"


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Nothing of this checkout may leak into the clean virtualenv's imports.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )


def _build_wheel(tmp_path: Path) -> Path:
    """The same pip command as `make engine-wheel`, on a copy of the two folders it reads, so
    the test neither writes into the checkout nor picks up a stale build folder."""
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / PACKAGING, source / PACKAGING, ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    shutil.copytree(
        ROOT / "learning", source / "learning", ignore=shutil.ignore_patterns("__pycache__")
    )
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--wheel-dir", tmp_path / "dist", f"./{PACKAGING.as_posix()}",
        cwd=source,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("tweezers_learning-*-py3-none-any.whl")
    return wheel


def _curve(output: str) -> list[tuple[int, float]]:
    points = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit():
            points.append((int(fields[0]), float(fields[1])))
    return points


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_engine_wheel_installs_without_django_and_runs_the_example_loop(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = "-".join(wheel.name.split("-")[:2]) + ".dist-info"
    # learning/ only: no tests, no web app, no configuration.
    assert {name.split("/")[0] for name in names} == {"learning", dist_info}
    assert "learning/strategies.py" in names

    venv = tmp_path / "venv"
    created = _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    # Its dependencies come from the package index (pip's cache makes a rerun quick).
    installed = _run(
        python, "-m", "pip", "install", "--disable-pip-version-check", wheel, cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    no_django = _run(python, "-c", "import django", cwd=tmp_path)
    assert no_django.returncode != 0 and "No module named 'django'" in no_django.stderr
    where = _run(python, "-c", "import learning; print(learning.__file__)", cwd=tmp_path)
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr

    ran = _run(python, ROOT / "examples" / "learning_loop.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    curve = _curve(ran.stdout)
    labels = [n for n, _ in curve]
    accuracies = [accuracy for _, accuracy in curve]
    assert len(curve) >= 5 and labels == sorted(labels) and len(set(labels)) == len(labels)
    assert accuracies[-1] >= accuracies[0] + 0.1 and accuracies[-1] >= 0.85, ran.stdout
