"""The API's resources as frozen dataclasses. Each keeps the answer it was read from in
``raw``, so a field the server adds later is readable before this client names it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

T = TypeVar("T")

NextState = Literal["ready", "updating", "budget_spent", "daily_cap", "done"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]


def parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def from_json(cls: type[T], data: dict[str, Any], **extra: Any) -> T:
    """An instance of dataclass ``cls`` from an API answer: known fields are taken (times
    parsed), unknown ones stay in ``raw``."""
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        if spec.name == "raw":
            continue
        if spec.name in extra:
            values[spec.name] = extra[spec.name]
        elif spec.name in data:
            value = data[spec.name]
            values[spec.name] = parse_time(value) if "datetime" in str(spec.type) else value
    return cls(**values, raw=data)  # type: ignore[call-arg]


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    kind: str
    classes: list[str]
    description: str = ""
    budget: int | None = None
    daily_cap: int | None = None
    strategy: str | None = None
    features: str | None = None
    round_size: int | None = None
    evaluation_share: float | None = None
    target_metric: str | None = None
    target_value: float | None = None
    show_model_guess: bool = False
    lease_seconds: int | None = None
    overlap: int | None = None
    n_items: int = 0
    n_labeled: int = 0
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Rejection:
    name: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did: items added, duplicates skipped, files or rows rejected."""

    imported: int
    duplicates: int
    rejected: list[Rejection]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportReport:
        rejected = [
            Rejection(str(r.get("name", "")), str(r.get("reason", ""))) for r in data["rejected"]
        ]
        return cls(int(data["imported"]), int(data["duplicates"]), rejected)


@dataclass(frozen=True)
class ImportJob:
    """A background import (files over the server's synchronous limit, 2 MiB by default)."""

    id: int
    url: str
    source_name: str
    status: JobStatus
    total: int = 0
    processed: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    created_at: datetime | None = None
    finished_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    @property
    def report(self) -> ImportReport:
        return ImportReport.from_json(
            {"imported": self.imported, "duplicates": self.duplicates, "rejected": self.rejected}
        )


@dataclass(frozen=True)
class Item:
    id: int
    source_name: str
    text: str
    image_url: str | None
    status: str
    label: str | None = None
    prelabel: str | None = None
    is_evaluation: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class LeasedItem:
    """The item the model asks this account to label now, held until ``lease_expires_at``.
    ``project`` is the project it was leased in (the client fills it in)."""

    id: int
    project: int
    source_name: str
    text: str
    image_url: str | None
    lease_expires_at: datetime | None
    round: int
    model_guess: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class NextItem:
    """``item`` is None unless ``state`` is ``ready``; ``updating`` means the model is
    choosing the next items (ask again shortly)."""

    state: NextState
    message: str
    item: LeasedItem | None


@dataclass(frozen=True)
class Annotation:
    id: int
    item: int
    label: str
    annotator: str
    kind: str | None = None
    round: int | None = None
    client_key: str | None = None
    seconds_spent: float | None = None
    note: str = ""
    is_unsure: bool = False
    predicted_label: str | None = None
    predicted_confidence: float | None = None
    replaces: int | None = None
    is_current: bool = True
    is_adjudication: bool = False
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class QueryRound:
    """A batch of items the strategy chose after a model run (round 1: before any model)."""

    id: int
    number: int
    model_run: int | None
    strategy: str
    size: int
    n_done: int
    created_at: datetime | None = None
    completed_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class ModelRun:
    id: int
    status: JobStatus
    strategy: str = ""
    model_name: str = ""
    n_labels: int = 0
    metrics: dict[str, Any] | None = None
    error: str = ""
    created: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    train_seconds: float | None = None
    query_seconds: float | None = None
    artifact_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Webhook:
    """A project's webhook. ``secret`` is known only in the answer that created it (the
    server shows it once); keep it to check each delivery's ``X-Tweezers-Signature``."""

    id: int
    url: str
    events: list[str]
    active: bool = True
    failures_in_row: int = 0
    disabled_reason: str = ""
    disabled_at: datetime | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    secret: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class WebhookDelivery:
    """One event sent to a hook: ``status`` pending, succeeded or failed, after ``attempt``
    tries; ``payload`` is the body's ``data``."""

    id: int
    event: str
    status: str
    payload: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0
    response_code: int | None = None
    duration_ms: int | None = None
    error: str = ""
    created_at: datetime | None = None
    finished_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
