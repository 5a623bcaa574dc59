"""Tweezers from Python with the client: create a project, upload texts, label what the model
asks for, download the labeled set.

    pip install clients/python
    TWEEZERS_USER=ada TWEEZERS_PASSWORD=… python examples/client_quickstart.py

``TWEEZERS_URL`` defaults to http://127.0.0.1:8000; the account needs the
``labeler.add_project`` permission (an administrator grants it in the admin)."""

import csv
import os
import re
from pathlib import Path

from tweezers_client import Client

URL = os.environ.get("TWEEZERS_URL", "http://127.0.0.1:8000")
CORPUS = Path(__file__).resolve().parents[1] / "demo_data" / "debian_packages.csv"


def expert(text: str) -> str:
    """Stands in for the person who knows: a keyword rule."""
    return "games" if re.search(r"\b(game|games|play|player|puzzle)\b", text, re.I) else "science"


with CORPUS.open(newline="", encoding="utf-8") as corpus:
    texts = [row["text"] for row in csv.DictReader(corpus) if row["label"] in ("games", "science")]

with Client.login(URL, os.environ["TWEEZERS_USER"], os.environ["TWEEZERS_PASSWORD"]) as tweezers:
    # TF-IDF: light and offline; leave `features` out for the best measured representation.
    project = tweezers.create_project(
        "Debian packages", ["games", "science"], kind="text", features="tfidf", round_size=10
    )
    report = tweezers.upload_texts(
        project, texts[:60], on_progress=lambda job: print(f"import {job.processed}/{job.total}")
    )
    print(f"{report.imported} imported, {report.duplicates} duplicates")
    # Until the texts' features are computed the model cannot choose: first picks are random.
    tweezers.wait_for_features(project)

    # The model asks, the expert answers; each submit carries a client_key (a UUID) so a
    # retried request counts once.
    for item in tweezers.items_to_label(project, limit=30):
        tweezers.submit(item, expert(item.text))

    run = tweezers.latest_model_run(project)
    if run is not None:
        print(f"model run {run.id}: {run.status}, metrics {run.metrics}")
    path = tweezers.export(project, "csv", "debian-packages-labeled.csv")
    print(f"labeled set in {path}")
