"""Python client for the Tweezers active-learning labeling API.

from tweezers_client import Client

with Client.login(url, username, password) as tweezers:
    project = tweezers.create_project("Tickets", ["bug", "question"])
    tweezers.upload_texts(project, texts)
    for item in tweezers.items_to_label(project):
        tweezers.submit(item, "bug" if "crash" in item.text else "question")
    tweezers.export(project, "csv", "tickets.csv")
"""

from tweezers_client.client import Client, __version__
from tweezers_client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    ImportFailed,
    NotFound,
    RateLimited,
    ServerError,
    TweezersError,
    Unauthorized,
    WaitTimeout,
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
    Rejection,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "Annotation",
    "BadRequest",
    "Client",
    "Conflict",
    "Forbidden",
    "ImportFailed",
    "ImportJob",
    "ImportReport",
    "Item",
    "LeasedItem",
    "ModelRun",
    "NextItem",
    "NotFound",
    "Project",
    "QueryRound",
    "RateLimited",
    "Rejection",
    "ServerError",
    "TweezersError",
    "Unauthorized",
    "WaitTimeout",
    "Webhook",
    "WebhookDelivery",
    "__version__",
]
