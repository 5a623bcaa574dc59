"""The client's waits (a mixin of :class:`tweezers_client.Client`): poll the background work
(imports, the representation, rounds, model runs) until it ends or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tweezers_client.errors import ImportFailed, TweezersError, WaitTimeout
from tweezers_client.resources import ImportJob, ImportReport, ModelRun, Project, QueryRound

ProjectRef = Project | int
ProgressCallback = Callable[[ImportJob], None]

# How long to wait between polls when the server does not say (Retry-After).
POLL_SECONDS = 1.0


class WaitCalls:
    """Needs the client's ``import_job``, ``stats``, ``latest_round``, ``latest_model_run``
    and ``model_run``."""

    def import_job(self, project: ProjectRef, job: ImportJob | int) -> ImportJob:
        raise NotImplementedError  # pragma: no cover - the Client's

    def stats(self, project: ProjectRef) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - the Client's

    def latest_round(self, project: ProjectRef) -> QueryRound | None:
        raise NotImplementedError  # pragma: no cover - the Client's

    def latest_model_run(self, project: ProjectRef) -> ModelRun | None:
        raise NotImplementedError  # pragma: no cover - the Client's

    def model_run(self, project: ProjectRef, run: ModelRun | int) -> ModelRun:
        raise NotImplementedError  # pragma: no cover - the Client's

    def wait_for_import(
        self,
        project: ProjectRef,
        job: ImportJob | int,
        *,
        on_progress: ProgressCallback | None = None,
        poll_interval: float = POLL_SECONDS,
        timeout: float = 3600.0,
    ) -> ImportReport:
        """Poll an import job until it ends; its report, or ``ImportFailed``."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.import_job(project, job)
            if on_progress is not None:
                on_progress(current)
            if current.status == "failed":
                raise ImportFailed(0, "import_failed", current.error or "the import failed")
            if current.status == "succeeded":
                return current.report
            sleep_until_next_poll(deadline, poll_interval, f"import job {current.id}")

    def wait_for_features(
        self, project: ProjectRef, *, timeout: float = 1800.0, poll_interval: float = 2.0
    ) -> dict[str, Any]:
        """Wait until the project's representation (``features``) is computed for its items
        and serves retrains; until then rounds are cold-start picks, not the model's. Returns
        the serving feature set as the dashboard reports it; ``TweezersError`` if computing
        it failed."""
        deadline = time.monotonic() + timeout
        while True:
            features = self.stats(project)["features"]
            building = features.get("building") or {}
            if building.get("status") == "failed":
                raise TweezersError(0, "features_failed", building.get("error") or "failed")
            if features.get("serving") and not building:
                return features["serving"]
            sleep_until_next_poll(deadline, poll_interval, "the project's features")

    def wait_for_round(
        self,
        project: ProjectRef,
        number: int | None = None,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
    ) -> QueryRound:
        """Wait until round ``number`` exists (by default the one after the latest now):
        the worker trained a model and chose its items. ``WaitTimeout`` after ``timeout``
        seconds; ``TweezersError`` if the model run meant to write it fails."""
        if number is None:
            latest = self.latest_round(project)
            number = (latest.number if latest else 0) + 1
        deadline = time.monotonic() + timeout
        while True:
            latest = self.latest_round(project)
            if latest is not None and latest.number >= number:
                return latest
            run = self.latest_model_run(project)
            if run is not None and run.status == "failed":
                raise TweezersError(0, "model_run_failed", run.error or f"model run {run.id}")
            sleep_until_next_poll(deadline, poll_interval, f"round {number}")

    def wait_for_model_run(
        self,
        project: ProjectRef,
        run: ModelRun | int | None = None,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
    ) -> ModelRun:
        """Wait until a model run (by default the latest) has finished and return it; a run
        that failed raises ``TweezersError`` with its error. (A round can be listed a moment
        before the run that chose it is marked succeeded.)"""
        deadline = time.monotonic() + timeout
        while True:
            current = (
                self.latest_model_run(project) if run is None else self.model_run(project, run)
            )
            if current is not None and current.status == "failed":
                raise TweezersError(0, "model_run_failed", current.error or f"run {current.id}")
            if current is not None and current.status == "succeeded":
                return current
            sleep_until_next_poll(deadline, poll_interval, "the model run")


def sleep_until_next_poll(deadline: float, poll_interval: float, what: str) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise WaitTimeout(f"timed out waiting for {what}")
    time.sleep(min(poll_interval, remaining))
