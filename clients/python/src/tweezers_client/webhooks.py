"""The client's webhook calls (a mixin of :class:`tweezers_client.Client`): a project's hooks,
listed, created, changed and deleted, and each hook's delivery log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from tweezers_client.resources import Project, Webhook, WebhookDelivery, from_json

if TYPE_CHECKING:
    import requests

ProjectRef = Project | int
WebhookRef = Webhook | int


def _ids(project: ProjectRef, hook: WebhookRef | None = None) -> str:
    project_id = project.id if isinstance(project, Project) else int(project)
    path = f"projects/{project_id}/webhooks/"
    if hook is not None:
        path += f"{hook.id if isinstance(hook, Webhook) else int(hook)}/"
    return path


class WebhookCalls:
    """Needs the client's ``_request`` and ``_paginate``."""

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        raise NotImplementedError  # pragma: no cover - the Client's

    def _paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        raise NotImplementedError  # pragma: no cover - the Client's

    def webhooks(self, project: ProjectRef) -> list[Webhook]:
        """The project's webhooks (managers only), oldest first, without their secrets."""
        return [from_json(Webhook, data) for data in self._paginate(_ids(project))]

    def webhook(self, project: ProjectRef, hook: WebhookRef) -> Webhook:
        return from_json(Webhook, self._request("GET", _ids(project, hook)).json())

    def create_webhook(
        self, project: ProjectRef, url: str, events: Iterable[str], *, secret: str | None = None
    ) -> Webhook:
        """A new hook on ``events`` (``round.ready``, ``model.trained``, ``budget.spent``,
        ``target.reached``, ``import.finished``, ``labels.added``). ``url`` must lie under
        one of the server's ``TWEEZERS_WEBHOOK_URLS`` (else :class:`BadRequest` naming
        ``url``). The answer carries the ``secret`` (generated when left out): the only time
        the server shows it."""
        body: dict[str, Any] = {"url": url, "events": list(events)}
        if secret is not None:
            body["secret"] = secret
        return from_json(Webhook, self._request("POST", _ids(project), json=body).json())

    def update_webhook(self, project: ProjectRef, hook: WebhookRef, **changes: Any) -> Webhook:
        """Change ``url``, ``events`` or ``active`` (``active=True`` turns a hook disabled
        after failures on again)."""
        path = _ids(project, hook)
        return from_json(Webhook, self._request("PATCH", path, json=changes).json())

    def delete_webhook(self, project: ProjectRef, hook: WebhookRef) -> None:
        self._request("DELETE", _ids(project, hook))

    def webhook_deliveries(
        self, project: ProjectRef, hook: WebhookRef, *, page_size: int | None = None
    ) -> Iterator[WebhookDelivery]:
        """The hook's delivery log, newest first (every page)."""
        path = f"{_ids(project, hook)}deliveries/"
        for data in self._paginate(path, {"page_size": page_size}):
            yield from_json(WebhookDelivery, data)
