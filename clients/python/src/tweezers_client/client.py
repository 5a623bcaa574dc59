"""The client: one ``requests`` session with the account's token, a method per API action,
iterators that follow the API's cursors, and waits with deadlines for the background work
(imports, rounds)."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import requests

from tweezers_client.downloads import DownloadCalls
from tweezers_client.errors import (
    RateLimited,
    ServerError,
    error_from_response,
)
from tweezers_client.resources import (
    Annotation,
    ImportJob,
    ImportReport,
    Item,
    LeasedItem,
    ModelRun,
    NextItem,
    Project,
    QueryRound,
    from_json,
    parse_time,
)
from tweezers_client.waits import POLL_SECONDS, ProgressCallback, WaitCalls, sleep_until_next_poll
from tweezers_client.webhooks import WebhookCalls

__version__ = "0.1.0"

T = TypeVar("T")
ProjectRef = Project | int
Source = str | os.PathLike[str] | bytes | IO[bytes]

DEFAULT_TIMEOUT = 30.0


def _project_id(project: ProjectRef) -> int:
    return project.id if isinstance(project, Project) else int(project)


class Client(WaitCalls, DownloadCalls, WebhookCalls):
    """A Tweezers server, as one account.

    >>> with Client.login("http://127.0.0.1:8000", "ada", "secret") as tweezers:
    ...     for project in tweezers.projects():
    ...         print(project.name, project.n_labeled)

    ``token`` is sent as ``Authorization: Token <token>``; ``timeout`` bounds each HTTP
    request (seconds), not the waits, which take their own."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.token: str | None = None
        self.expiry: datetime | None = None
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = f"tweezers-client/{__version__}"
        if token:
            self._use_token(token)

    @classmethod
    def login(
        cls,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> Client:
        """Exchange a username and password for a token (``POST /api/auth/token/``). The
        token expires at ``client.expiry``; log in again after that."""
        client = cls(url, timeout=timeout, session=session)
        try:
            answer = client._request(
                "POST", "auth/token/", json={"username": username, "password": password}
            ).json()
        except BaseException:
            client.close()
            raise
        client._use_token(answer["token"])
        client.expiry = parse_time(answer.get("expiry"))
        return client

    def _use_token(self, token: str) -> None:
        self.token = token
        self._session.headers["Authorization"] = f"Token {token}"

    def logout(self) -> None:
        """Revoke this client's token on the server."""
        self._request("POST", "auth/logout/")
        self.token = None
        self._session.headers.pop("Authorization", None)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- HTTP ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            # A URL the server built (a cursor, an import job): its path and query on this
            # client's own origin, so the token never goes to a host the server's view of
            # itself names (behind a proxy it may differ from the one the script uses).
            parts = urlsplit(path)
            origin = urlsplit(self.url)
            return f"{origin.scheme}://{origin.netloc}{parts.path}" + (
                f"?{parts.query}" if parts.query else ""
            )
        return f"{self.url}/api/{path.lstrip('/')}"

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response = self._session.request(method, self._url(path), **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            finally:
                response.close()
            raise error_from_response(
                response.status_code, body, response.headers.get("Retry-After")
            )
        return response

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params).json()

    def _paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Every object of a list, page after page, following the ``next`` cursor."""
        page = self._get_json(path, {k: v for k, v in (params or {}).items() if v is not None})
        while True:
            if isinstance(page, list):  # an endpoint without pagination
                yield from page
                return
            yield from page["results"]
            if not page.get("next"):
                return
            page = self._get_json(page["next"])

    # -- projects -------------------------------------------------------------------------

    def projects(self, *, page_size: int | None = None) -> Iterator[Project]:
        """The projects this account belongs to, newest first (every page)."""
        for data in self._paginate("projects/", {"page_size": page_size}):
            yield from_json(Project, data)

    def project(self, project: ProjectRef) -> Project:
        return from_json(Project, self._get_json(f"projects/{_project_id(project)}/"))

    def create_project(
        self, name: str, classes: Iterable[str], *, kind: str = "text", **settings: Any
    ) -> Project:
        """A new project of ``kind`` (the modality: ``text``, ``image``, ``dicom``…) with
        its classes; ``settings`` are any other project fields (``budget``, ``round_size``,
        ``strategy``, ``features``, ``evaluation_share``, ``target_metric``…)."""
        body = {"name": name, "kind": kind, "classes": list(classes), **settings}
        return from_json(Project, self._request("POST", "projects/", json=body).json())

    def update_project(self, project: ProjectRef, **changes: Any) -> Project:
        """Change a project's settings (``classes`` adds the names not yet present)."""
        path = f"projects/{_project_id(project)}/"
        return from_json(Project, self._request("PATCH", path, json=changes).json())

    def stats(self, project: ProjectRef) -> dict[str, Any]:
        """The dashboard's figures: labels against the budget, queue, worker, metrics."""
        return self._get_json(f"projects/{_project_id(project)}/stats/")

    # -- items and imports ---------------------------------------------------------------

    def items(self, project: ProjectRef, **filters: Any) -> Iterator[Item]:
        """Items, oldest first; ``filters`` as the API's (``status="labeled"``,
        ``label=``, ``evaluation=``, ``round=``, ``page_size=``)."""
        for data in self._paginate(f"projects/{_project_id(project)}/items/", filters):
            yield from_json(Item, data)

    def upload(
        self,
        project: ProjectRef,
        source: Source,
        *,
        name: str | None = None,
        on_progress: ProgressCallback | None = None,
        poll_interval: float = POLL_SECONDS,
        timeout: float = 3600.0,
    ) -> ImportReport:
        """Import a file (an image, a zip, a CSV or JSONL of texts, Label Studio JSON): a
        path, bytes or a binary file object (``name`` then gives its file name). A file
        over the server's synchronous limit (2 MiB by default) becomes a background job:
        this polls it until it ends, calling ``on_progress(job)`` after each poll, and
        returns its report; a failed job raises ``ImportFailed``."""
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            with path.open("rb") as stream:
                return self.upload(
                    project,
                    stream,
                    name=name or path.name,
                    on_progress=on_progress,
                    poll_interval=poll_interval,
                    timeout=timeout,
                )
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        file_name = name or Path(getattr(stream, "name", "") or "upload").name
        response = self._request(
            "POST",
            f"projects/{_project_id(project)}/items/",
            files={"file": (file_name, stream)},
        )
        answer = response.json()
        if response.status_code == 202:
            job = from_json(ImportJob, answer)
            return self.wait_for_import(
                project, job, on_progress=on_progress, poll_interval=poll_interval, timeout=timeout
            )
        return ImportReport.from_json(answer)

    def upload_texts(
        self,
        project: ProjectRef,
        texts: Iterable[str | dict[str, Any]],
        *,
        name: str = "texts.jsonl",
        **upload_options: Any,
    ) -> ImportReport:
        """Import texts (or JSON objects with a ``text`` field, plus ``label`` and metadata)
        as a JSONL file."""
        lines = (
            json.dumps({"text": text} if isinstance(text, str) else text, ensure_ascii=False)
            for text in texts
        )
        body = ("\n".join(lines) + "\n").encode()
        return self.upload(project, body, name=name, **upload_options)

    def import_job(self, project: ProjectRef, job: ImportJob | int) -> ImportJob:
        job_id = job.id if isinstance(job, ImportJob) else int(job)
        path = f"projects/{_project_id(project)}/imports/{job_id}/"
        return from_json(ImportJob, self._get_json(path))

    # -- labeling --------------------------------------------------------------------------

    def next_item(self, project: ProjectRef) -> NextItem:
        """Lease the next item the model asks for (the same one again while it is held)."""
        project_id = _project_id(project)
        answer = self._get_json(f"projects/{project_id}/next/")
        item = answer.get("item")
        leased = from_json(LeasedItem, item, project=project_id) if item else None
        return NextItem(state=answer["state"], message=answer.get("message", ""), item=leased)

    def items_to_label(
        self,
        project: ProjectRef,
        *,
        limit: int | None = None,
        wait: float = 300.0,
        poll_interval: float = 2.0,
    ) -> Iterator[LeasedItem]:
        """The items the model asks for, one at a time, until the project is done, the
        budget or the daily cap is spent, or ``limit`` items were given. Submit or skip
        each before taking the next: an item still held is leased again. While the model
        chooses the next round (``updating``) this waits, for at most ``wait`` seconds at a
        time (then ``WaitTimeout``)."""
        given = 0
        while limit is None or given < limit:
            deadline = time.monotonic() + wait
            step = self.next_item(project)
            while step.state == "updating":
                sleep_until_next_poll(deadline, poll_interval, "the model to choose items")
                step = self.next_item(project)
            if step.state != "ready" or step.item is None:
                return
            given += 1
            yield step.item

    def submit(
        self,
        item: LeasedItem | int,
        label: str,
        *,
        project: ProjectRef | None = None,
        client_key: str | None = None,
        note: str = "",
        is_unsure: bool = False,
        seconds_spent: float | None = None,
        findings: dict[str, Any] | None = None,
        retries: int = 2,
    ) -> Annotation:
        """Label a leased item. ``client_key`` (a new UUID unless given) makes the request
        safe to repeat: a lost connection or a 5xx is retried ``retries`` times with the
        same key, and the server stores the label once. ``project`` is needed only when
        ``item`` is an id rather than the ``LeasedItem`` from ``next_item``.

        ``findings`` (per-region or per-attribute answers) is reserved: the server has no
        findings yet, so passing it raises ``NotImplementedError``."""
        if findings is not None:
            raise NotImplementedError(
                "The Tweezers server has no findings yet (a label per item only); "
                "submit(..., findings=...) will send them once the API accepts them."
            )
        if isinstance(item, LeasedItem):
            item_id, project_id = item.id, item.project
        elif project is None:
            raise TypeError("submit(item_id, ...) needs project=; or pass the LeasedItem")
        else:
            item_id, project_id = int(item), _project_id(project)
        body: dict[str, Any] = {
            "item": item_id,
            "label": label,
            "client_key": client_key or uuid.uuid4().hex,
            "note": note,
            "is_unsure": is_unsure,
        }
        if seconds_spent is not None:
            body["seconds_spent"] = seconds_spent
        path = f"projects/{project_id}/annotations/"
        for attempt in range(retries + 1):
            try:
                return from_json(Annotation, self._request("POST", path, json=body).json())
            except (requests.ConnectionError, requests.Timeout, ServerError, RateLimited) as error:
                if attempt == retries:
                    raise
                wait = getattr(error, "retry_after", None) or POLL_SECONDS * (attempt + 1)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def skip(self, item: LeasedItem | int, *, project: ProjectRef | None = None) -> None:
        """Skip an item this account holds: it leaves this account's queue."""
        if isinstance(item, LeasedItem):
            item_id, project_id = item.id, item.project
        elif project is None:
            raise TypeError("skip(item_id) needs project=; or pass the LeasedItem")
        else:
            item_id, project_id = int(item), _project_id(project)
        self._request("POST", f"projects/{project_id}/items/{item_id}/skip/")

    def annotations(self, project: ProjectRef, **filters: Any) -> Iterator[Annotation]:
        """Annotations, newest first (managers: everyone's; annotators: their own)."""
        for data in self._paginate(f"projects/{_project_id(project)}/annotations/", filters):
            yield from_json(Annotation, data)

    # -- rounds and model runs ------------------------------------------------------------

    def rounds(self, project: ProjectRef, *, page_size: int | None = None) -> Iterator[QueryRound]:
        """Query rounds, newest first."""
        path = f"projects/{_project_id(project)}/rounds/"
        for data in self._paginate(path, {"page_size": page_size}):
            yield from_json(QueryRound, data)

    def latest_round(self, project: ProjectRef) -> QueryRound | None:
        return next(self.rounds(project, page_size=1), None)

    def model_runs(
        self, project: ProjectRef, *, page_size: int | None = None
    ) -> Iterator[ModelRun]:
        """Model runs with their evaluation metrics, newest first."""
        path = f"projects/{_project_id(project)}/model-runs/"
        for data in self._paginate(path, {"page_size": page_size}):
            yield from_json(ModelRun, data)

    def latest_model_run(self, project: ProjectRef) -> ModelRun | None:
        return next(self.model_runs(project, page_size=1), None)

    def model_run(self, project: ProjectRef, run: ModelRun | int) -> ModelRun:
        run_id = run.id if isinstance(run, ModelRun) else int(run)
        path = f"projects/{_project_id(project)}/model-runs/{run_id}/"
        return from_json(ModelRun, self._get_json(path))

    # -- downloads --------------------------------------------------------------------------
