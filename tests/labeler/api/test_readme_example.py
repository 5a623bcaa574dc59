"""The README's API example, run exactly as written against a live server."""

import csv
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from config.celery import app as celery_app
from labeler.models import Item, Project
from tests.factories import UserFactory

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = re.search(
        r"<!-- api-example:start -->(.*?)<!-- api-example:end -->", text, flags=re.S
    )
    assert section, "README.md has no api-example markers"
    (code,) = re.findall(r"```python\n(.*?)```", section.group(1), flags=re.S)
    return code


@pytest.fixture
def tasks_run_in_the_server():
    # No worker in this test: the server runs the retrain task inline when it is enqueued,
    # so the queue fills the way a worker would fill it.
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.mark.slow
def test_the_readme_api_example_runs_against_a_live_server(
    live_server, tasks_run_in_the_server, monkeypatch, tmp_path
):
    scripter = UserFactory(username="scripter")
    # The README's script creates a project: an administrator grants that (labeler/access.py).
    scripter.user_permissions.add(Permission.objects.get(codename="add_project"))
    monkeypatch.setenv("TWEEZERS_URL", live_server.url)
    monkeypatch.setenv("TWEEZERS_USER", "scripter")
    monkeypatch.setenv("TWEEZERS_PASSWORD", "correct horse battery")
    monkeypatch.chdir(tmp_path)

    exec(compile(readme_example(), str(README), "exec"), {"__name__": "readme_example"})

    project = Project.objects.get(name="Support tickets")
    assert Item.objects.filter(project=project).count() == 6
    rows = list(csv.DictReader((tmp_path / "tickets-labeled.csv").open()))
    assert len(rows) == 6
    for row in rows:
        assert row["label"] == ("question" if row["text"].endswith("?") else "bug")
        assert row["annotators"] == "scripter"
