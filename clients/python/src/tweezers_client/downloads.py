"""The client's downloads (a mixin of :class:`tweezers_client.Client`): exports and model
artifacts, streamed to a file in chunks and renamed into place only when complete."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tweezers_client.resources import ModelRun, Project

if TYPE_CHECKING:
    import requests

ProjectRef = Project | int


def _project_id(project: ProjectRef) -> int:
    return project.id if isinstance(project, Project) else int(project)


class DownloadCalls:
    """Needs the client's ``_request``."""

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        raise NotImplementedError  # pragma: no cover - the Client's

    def export(
        self,
        project: ProjectRef,
        format: str,
        path: str | os.PathLike[str],
        *,
        final: bool = True,
        include_evaluation: bool = True,
        neutralise_formulas: bool = True,
        since: datetime | str | None = None,
        chunk_size: int = 1 << 16,
    ) -> Path:
        """Stream the labeled set to ``path`` (``csv``, ``json``, ``jsonl``, ``imagefolder``,
        ``labelstudio``) in chunks, never whole in memory. Options as the API's; CSV cells
        starting with ``=``, ``+``… get a leading ``'`` unless ``neutralise_formulas=False``.
        """
        params: dict[str, Any] = {
            "format": format,
            "final": _flag(final),
            "include_evaluation": _flag(include_evaluation),
            "neutralise_formulas": _flag(neutralise_formulas),
        }
        if since is not None:
            params["since"] = since.isoformat() if isinstance(since, datetime) else since
        return self._download(
            f"projects/{_project_id(project)}/export/", path, params=params, chunk_size=chunk_size
        )

    def download_model(
        self, project: ProjectRef, run: ModelRun | int, path: str | os.PathLike[str]
    ) -> Path:
        """A model run's artifact (a zip: ``model.json`` and the weights) to ``path``."""
        run_id = run.id if isinstance(run, ModelRun) else int(run)
        return self._download(
            f"projects/{_project_id(project)}/model-runs/{run_id}/artifact/", path
        )

    def _download(
        self,
        api_path: str,
        path: str | os.PathLike[str],
        *,
        params: dict[str, Any] | None = None,
        chunk_size: int = 1 << 16,
    ) -> Path:
        # Written beside the target and renamed at the end: a broken download never leaves
        # a file that looks complete.
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        with self._request("GET", api_path, params=params, stream=True) as response:
            try:
                with partial.open("wb") as out:
                    for chunk in response.iter_content(chunk_size=chunk_size):
                        out.write(chunk)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        partial.replace(target)
        return target


def _flag(value: bool) -> str:
    return "true" if value else "false"
