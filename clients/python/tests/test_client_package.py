"""The client as a package: installs on its own, and what it decides without a server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import REPO


@pytest.mark.slow
def test_the_client_installs_on_its_own_with_its_type_marker(tmp_path: Path):
    # A copy, so the build leaves nothing in the repository.
    source = shutil.copytree(
        REPO / "clients" / "python",
        tmp_path / "source",
        ignore=shutil.ignore_patterns("tests", "__pycache__"),
    )
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-build-isolation",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )

    assert (target / "tweezers_client" / "py.typed").exists()
    assert list(target.glob("tweezers_client-0.1.0.dist-info"))
    imported = subprocess.run(
        [sys.executable, "-c", "import tweezers_client as t; print(t.__file__, t.__version__)"],
        env={"PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.startswith(str(target)) and "0.1.0" in imported.stdout


def test_findings_are_refused_until_the_server_has_them():
    from tweezers_client import Client, LeasedItem

    item = LeasedItem(
        id=1, project=1, source_name="", text="", image_url=None, lease_expires_at=None, round=1
    )
    with Client("http://127.0.0.1:9") as client, pytest.raises(NotImplementedError):
        client.submit(item, "spam", findings={"nodule": True})


def test_an_error_answer_outside_the_apis_shape_still_raises_by_status():
    from tweezers_client import NotFound, RateLimited, ServerError
    from tweezers_client.errors import error_from_response

    assert isinstance(error_from_response(502, None), ServerError)
    assert isinstance(error_from_response(404, {"detail": "x"}), NotFound)
    limited = error_from_response(429, {"error": {"code": "throttled", "message": "m"}}, "3")
    assert isinstance(limited, RateLimited) and limited.retry_after == 3.0
    assert (limited.code, limited.message, limited.field) == ("throttled", "m", None)


def test_the_readme_shows_the_quickstart_examples_own_code():
    readme = (REPO / "README.md").read_text()
    section = re.search(
        r"<!-- client-example:start -->\n```python\n(.*?)```\n<!-- client-example:end -->",
        readme,
        flags=re.S,
    )
    assert section, "README.md has no client-example block"
    assert section.group(1) in (REPO / "examples" / "client_quickstart.py").read_text()
