"""Tweezers' data: projects, their items and classes, the expert's annotations, and the loop's
state (model runs, query rounds and the precomputed queue).

Counters on ``Project`` and ``QueryRound`` are updated in the same transaction as the change
they count, so hot pages never ``COUNT(*)`` the pool.
"""

from __future__ import annotations

import secrets
from pathlib import PurePosixPath

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


def dicom_secret() -> str:
    return secrets.token_hex(32)


class Project(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", _("Images")
        TEXT = "text", _("Texts")

    class Unit(models.TextChoices):
        INSTANCE = "instance", _("One item per image (DICOM instance)")
        SERIES = "series", _("One item per DICOM series")
        STUDY = "study", _("One item per DICOM study")

    class Metric(models.TextChoices):
        ACCURACY = "accuracy", _("Accuracy")
        MACRO_F1 = "macro_f1", _("Macro F1")

    class Task(models.TextChoices):
        SINGLE = "single", _("One class per item")
        # Multi-label: every answer gives each finding (the project's classes) a state.
        FINDINGS = "findings", _("Findings (several per item)")

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Markdown shown to annotators in the labeling page's help overlay (raw HTML is escaped).
    guidelines = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What one item is in a DICOM project (issue 22): an image, a series or a whole study.
    # Fixed after creation: the items were grouped by it.
    unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.INSTANCE)
    # Chosen at creation, fixed after (issue 21). A findings project's classes are its findings.
    task = models.CharField(max_length=10, choices=Task.choices, default=Task.SINGLE)

    class Uncertain(models.TextChoices):
        # CheXpert's U-Ignore / U-Ones / U-Zeros (learning.findings.model.UNCERTAIN_POLICIES).
        IGNORE = "ignore", _("Leave out of training")
        ONES = "ones", _("Train as present")
        ZEROS = "zeros", _("Train as absent")

    # Findings projects: how an uncertain answer trains the model.
    uncertain_policy = models.CharField(
        max_length=8, choices=Uncertain.choices, default=Uncertain.IGNORE
    )
    # Name of a strategy in learning.strategies' registry; "default" is DESIGN.md's default.
    strategy = models.CharField(max_length=64, default="default")
    # A name in learning.representations' registry; "auto" is resolved by that registry on
    # the first import. Changing it starts a new FeatureSet while the current one serves.
    features = models.CharField(max_length=32, default="auto")
    # What "auto" serves now for an image project, once cross-validation on the labels chose
    # it over the first choice (issue 20); blank: the registry's choice for the pool. Written
    # only by services.projects.project_auto_representation_set, from a retrain.
    auto_representation = models.CharField(max_length=32, blank=True, default="")
    round_size = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    evaluation_share = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of the label budget spent on a random evaluation sample.",
    )
    budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="Total labels the project may spend; empty = no limit."
    )
    daily_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Labels per annotator per day; empty = no limit."
    )
    target_metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.ACCURACY)
    target_value = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Stop suggestion once the evaluation metric reaches this value (0–1).",
    )
    show_model_guess = models.BooleanField(
        default=False, help_text="Show the model's guess to annotators (off avoids anchoring)."
    )
    # The team's own model's imported predictions (Suggestion), on the labeling page: off by
    # default for the same reason, experts anchor on what they are shown.
    show_suggestions = models.BooleanField(
        default=False,
        help_text="Show your model's imported suggestion to annotators (off avoids anchoring).",
    )
    lease_seconds = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(10), MaxValueValidator(24 * 3600)]
    )
    overlap = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="How many annotators label each item.",
    )
    random_seed = models.PositiveIntegerField(default=0)
    # DICOM (issue 12): the key of the project's UID remapping (never shown, never exported),
    # and whether images flagged with burned-in annotation may be imported.
    dicom_uid_secret = models.CharField(max_length=64, default=dicom_secret, editable=False)
    dicom_allow_burned_in = models.BooleanField(
        _("accept DICOM with burned-in annotation"),
        default=False,
        help_text=_(
            "Accept DICOM images flagged with burned-in annotation (text in the pixels "
            "that may identify the patient; de-identification cannot remove it)."
        ),
    )

    class PixelText(models.TextChoices):
        REFUSE = "refuse", _("Refuse the image")
        MASK = "mask", _("Mask the text")

    # Text that OCR finds in a DICOM image's pixels (labeler/dicom/pixel_text.py).
    dicom_pixel_text = models.CharField(
        _("text found in DICOM pixels"),
        max_length=8,
        choices=PixelText.choices,
        default=PixelText.REFUSE,
        help_text=_(
            "Imports read every DICOM image for text burned into its pixels (a name, an ID, a "
            "date): refuse such images, or paint over the text and keep the image."
        ),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Counters, kept in the transaction that changes what they count.
    n_items = models.PositiveIntegerField(default=0, editable=False)
    n_labeled = models.PositiveIntegerField(default=0, editable=False)
    # Expert answers given (labels and corrections): what the budget is spent on.
    n_annotations = models.PositiveIntegerField(default=0, editable=False)
    # Set by the first DICOM import: the labeling page then carries the DICOM viewer.
    has_dicom = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_findings(self) -> bool:
        return self.task == Project.Task.FINDINGS


class Membership(models.Model):
    class Role(models.TextChoices):
        MANAGER = "manager", _("Manager")
        ANNOTATOR = "annotator", _("Annotator")
        VIEWER = "viewer", _("Viewer")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)

    class Source(models.TextChoices):
        MANUAL = "manual", _("Added by a manager")
        DIRECTORY = "directory", _("From a directory group")

    # Where the role came from: a directory group's role is taken back at the next login
    # without that group; a manager's stays (labeler/services/members.py).
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="labelclass_unique_name")
        ]
        verbose_name_plural = "label classes"

    def __str__(self) -> str:
        return self.name


def item_file_path(item: Item, filename: str) -> str:
    # Content-addressed and per project: no user-chosen path segment ever reaches the disk.
    suffix = PurePosixPath(filename).suffix.lower()
    return f"items/{item.project_id}/{item.checksum[:2]}/{item.checksum}{suffix}"


# An item whose newest model guess differs from its label; the items page filters on it.
MODEL_DISAGREES = Q(label__isnull=False, model_label__isnull=False) & ~Q(label=F("model_label"))


class Item(models.Model):
    class Status(models.TextChoices):
        UNLABELED = "unlabeled", _("Unlabeled")
        # With overlap: some annotators have answered, more are still to come.
        PENDING = "pending", _("Waiting for more annotators")
        # With overlap: the answers disagree and a manager must adjudicate.
        CONFLICT = "conflict", _("Annotators disagree")
        LABELED = "labeled", _("Labeled")
        SKIPPED = "skipped", _("Skipped")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    text = models.TextField(blank=True)
    file = models.FileField(upload_to=item_file_path, blank=True, max_length=300)
    source_name = models.CharField(max_length=500, help_text="File name or row it came from.")
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the content.")
    metadata = models.JSONField(default=dict, blank=True)
    # A label that came with the import (class sub-folder or label column).
    prelabel = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The item's current label: the latest annotation's, else the pre-label.
    label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNLABELED)
    # Drawn at random into the evaluation set: never trained on, only used to measure.
    is_evaluation = models.BooleanField(default=False)
    # Position in the seeded random order in which evaluation items are served.
    evaluation_order = models.PositiveIntegerField(null=True, blank=True)
    # The newest model's guess, written after each run for the labeled items and the items it
    # queues: what the items page filters on ("the model disagrees with the label").
    model_label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_confidence = models.FloatField(null=True, blank=True)
    # Findings projects: the newest model's probability per finding, ``{finding name: p}``,
    # written where a run stored them (shown on the items page; never filtered on).
    model_findings = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "checksum"], name="item_unique_checksum")
        ]
        indexes = [
            models.Index(fields=["project", "status"], name="item_project_status"),
            models.Index(fields=["project", "is_evaluation"], name="item_project_evaluation"),
            # The items page pages by id (keyset, never OFFSET) within a status or a label.
            models.Index(fields=["project", "id"], name="item_project_id"),
            models.Index(fields=["project", "status", "id"], name="item_project_status_id"),
            models.Index(fields=["project", "label", "id"], name="item_project_label_id"),
            models.Index(
                fields=["project", "model_confidence", "id"], name="item_project_confidence"
            ),
            # "The model disagrees with the label": a handful of the labeled items, found
            # without reading the others.
            models.Index(
                fields=["project", "id"], condition=MODEL_DISAGREES, name="item_model_disagrees"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.source_name}"


class ModelRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    # A run on its way: at most one per project (the constraint below).
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_runs")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    strategy = models.CharField(max_length=64, blank=True)
    model_name = models.CharField(max_length=64, blank=True)
    n_labels = models.PositiveIntegerField(default=0, help_text="Labels the model trained on.")
    metrics = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The Celery message that claimed the run: a redelivery of that same message (its worker
    # died mid-run) may take the run over; any other duplicate message leaves it alone.
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    train_seconds = models.FloatField(null=True, blank=True)
    query_seconds = models.FloatField(null=True, blank=True)
    # The features the run trained and chose on (None: a cold-start draw before any were ready).
    feature_set = models.ForeignKey(
        "FeatureSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One retrain per project at a time, enforced by the database, not by hope.
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status__in=["queued", "running"]),
                name="modelrun_one_active_per_project",
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="modelrun_status_created")]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.project_id} ({self.status})"


class FeatureSet(models.Model):
    """One version of a project's items as float32 rows under one representation: the only
    record of what has been embedded. Its shards live in a folder named by the row
    (``labeler.engine.store.feature_set_dir``); rows ``0..processed-1`` are valid."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the embedding worker"
        EMBEDDING = "embedding", "Embedding"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="feature_sets")
    representation = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # FeaturizerOptions fixed for this version (image size, seed), so appended rows match.
    params = models.JSONField(default=dict, blank=True)
    dimension = models.PositiveIntegerField(null=True, blank=True)
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    rows_per_second = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The embedding task holding the set (a lease renewed after every chunk), so a duplicate
    # message never writes the same rows twice.
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Set once, when every item of the pool at the time had a row; a set stays usable while
    # rows for newer items are appended.
    ready_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "representation", "version"], name="featureset_unique_version"
            )
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="featureset_status")]

    def __str__(self) -> str:
        return f"{self.representation} v{self.version} of {self.project_id} ({self.status})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 0


class QueryRound(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    # None for the cold-start round chosen before any model exists.
    model_run = models.ForeignKey(
        ModelRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="rounds"
    )
    strategy = models.CharField(max_length=64)
    size = models.PositiveIntegerField(default=0)
    n_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # How far leases have read into the round's ranking beyond its reserve (QueueRanking).
    ranked_served = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="round_unique_number")
        ]

    def __str__(self) -> str:
        return f"round {self.number} of {self.project_id}"


class QueueEntry(models.Model):
    """One ranked slot of a round. Serving leases the first free entry; no score is computed
    on the request path."""

    class Kind(models.TextChoices):
        STRATEGY = "strategy", _("Chosen by the strategy")
        EVALUATION = "evaluation", _("Random evaluation draw")
        # Put back by a manager from the items page; a new round does not replace it.
        REQUEUED = "requeued", _("Requeued by a manager")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="queue")
    round = models.ForeignKey(QueryRound, on_delete=models.CASCADE, related_name="entries")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="queue_entries")
    rank = models.PositiveIntegerField()
    # With overlap N an item has N entries in its round, slots 0..N-1, each for a different
    # annotator.
    slot = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.STRATEGY)
    score = models.FloatField(null=True, blank=True)
    # The model's guess when the round was chosen: shown only if the project enables it, and
    # copied onto the annotation for audits and exports.
    predicted_label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    predicted_confidence = models.FloatField(null=True, blank=True)
    leased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Which of the annotator's pages (a browser tab, an API client) holds the lease: each tab
    # of one annotator holds items of its own. Empty for a client that names none.
    lease_tab = models.CharField(max_length=32, blank=True, default="")
    done = models.BooleanField(default=False)
    # The next-best picks of the same scoring, ranked after the round: served while the next
    # round is being trained, replaced when it is written. Not counted in the round's size.
    is_reserve = models.BooleanField(default=False)

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "item", "slot"], name="queueentry_unique_item_slot"
            )
        ]
        indexes = [
            # The next-item query: first undone entry by rank, bounded by this partial index.
            models.Index(
                fields=["project", "rank"], condition=Q(done=False), name="queue_open_by_rank"
            ),
            models.Index(
                fields=["leased_by", "project"], condition=Q(done=False), name="queue_open_leases"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.item_id} ({self.kind})"


class QueueRanking(models.Model):
    """One stretch of a round's ranking beyond its reserve: the item ids the same scoring
    ranked next, most uncertain first (``number`` orders the stretches), as little-endian
    int64 bytes. Leases read it, a stretch at a time, when the round and its reserve are used
    up and the next round is late; the next round's write replaces it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(QueryRound, on_delete=models.CASCADE, related_name="ranking")
    number = models.PositiveIntegerField()
    item_ids = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "number"], name="queueranking_unique_number")
        ]

    def __str__(self) -> str:
        return f"ranking {self.number} of round {self.round_id}"


class Annotation(models.Model):
    """An expert's answer. A correction is a new row that ``replaces`` the old one; nothing is
    overwritten, so the full history of an item's labels stays."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    # RESTRICT, not PROTECT: a label class or an expert's account cannot vanish from under
    # their annotations, but deleting a whole project takes its annotations with it.
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.RESTRICT, related_name="annotations"
    )
    # Empty for an answer to a findings project: its states are FindingAnswer rows.
    label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.RESTRICT, related_name="annotations"
    )
    kind = models.CharField(
        max_length=12, choices=QueueEntry.Kind.choices, default=QueueEntry.Kind.STRATEGY
    )
    round = models.ForeignKey(
        QueryRound, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    seconds_spent = models.FloatField(null=True, blank=True)
    note = models.TextField(blank=True)
    # What the model said about this item when it was labeled (for audits and exports).
    predicted_label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    predicted_confidence = models.FloatField(null=True, blank=True)
    client_key = models.CharField(max_length=64, null=True, blank=True)
    # The annotator marked the answer "unsure": managers can find these to review.
    is_unsure = models.BooleanField(default=False)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="replaced_by"
    )
    is_current = models.BooleanField(default=True)
    # A manager's ruling on an item the annotators disagreed on; it decides the item's label.
    is_adjudication = models.BooleanField(default=False)
    # The labeling-page tab that sent it ("" from the API): undo in a tab takes back that
    # tab's own last answer, not one its twin in another tab just gave.
    tab = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Idempotent submits: a retried request with the same key is the same annotation.
            models.UniqueConstraint(
                fields=["annotator", "client_key"],
                condition=Q(client_key__isnull=False),
                name="annotation_unique_client_key",
            )
        ]
        indexes = [
            models.Index(fields=["project", "created_at"], name="annotation_project_created"),
            models.Index(fields=["annotator", "created_at"], name="annotation_annotator_day"),
            models.Index(fields=["item", "is_current"], name="annotation_item_current"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} → {self.label_id} by {self.annotator_id}"


class Skip(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="skips")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skips")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skips"
    )
    # As Annotation.tab: the tab that skipped, whose undo brings the item back.
    tab = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.item_id} skipped by {self.annotator_id}"


class ImportJob(models.Model):
    """An import started from the browser: the worker fills in progress and the report."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_name = models.CharField(max_length=300)
    upload_path = models.CharField(max_length=500)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list, blank=True)
    # Series kept although a slice is missing (projects whose items are series or studies):
    # [{"name", "reason"}], as ``rejected``; a later import of the slice completes them.
    incomplete = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # The language of the request that started the job: the worker writes the report's
    # reasons in it.
    language = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.source_name} ({self.status})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 0


class PasswordChangeRequired(models.Model):
    """An account whose password was set for its owner (a one-time password): they must
    choose their own before doing anything else. Removed when the password changes."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_change"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"password change required for user {self.user_id}"


class ItemView(models.Model):
    """Who opened which item, where, when: append-only (no update, no delete path in the app
    or the admin). Patient data being looked at is what a hospital's audit asks about.

    The audit outlives what it names: deleting a project, an item or a user leaves its rows,
    with the project's and the user's names as they were (no cascade, no database constraint
    on the project)."""

    class Where(models.TextChoices):
        LABELING = "labeling", _("Labeling page")
        ITEM_PAGE = "item_page", _("Item page")
        ITEMS_PAGE = "items_page", _("Items page")
        CONFLICTS = "conflicts", _("Conflicts page")
        FILE = "file", _("File")
        API = "api", _("API")
        EXPORT = "export", _("Export")
        ADMIN = "admin", _("Admin")

    project = models.ForeignKey(
        Project,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    project_name = models.CharField(max_length=200, blank=True)
    # No foreign key: an export covers many items, and the record outlives deleted items.
    item_id = models.BigIntegerField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    where = models.CharField(max_length=16, choices=Where.choices)
    detail = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "item_id", "at"]),
            models.Index(fields=["project", "at"], name="labeler_itemview_project_at"),
        ]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"user {self.user_id} opened item {self.item_id} ({self.where}) at {self.at}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("view records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("view records are append-only")


class Heartbeat(models.Model):
    """When a background process last showed it was alive: ``beat``, written by the
    scheduler's own loop, and ``worker:<queue>``, by each worker's main process for each queue
    it consumes from, once a sweep period (config/heartbeat.py, their one writer);
    ``/healthz`` reports one gone quiet (labeler/selectors_health.py)."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at}"


class SecurityEvent(models.Model):
    """Sign-in events an administrator is alerted to (a locked account-and-address pair, one
    address trying many accounts): append-only, kept when the user is deleted."""

    class Kind(models.TextChoices):
        LOCKOUT = "lockout", "Sign-in locked"
        PASSWORD_SPRAY = "password_spray", "Password spraying"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The name that was typed, not a foreign key: it may name no account at all.
    username = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "ip_address", "at"])]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} from {self.ip_address} at {self.at}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("security events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("security events are append-only")


# Webhooks (labeler/services/webhooks.py writes them), scans, the series and study items'
# parts (labeler/services/scans.py), findings (issue 21, labeler/services/findings.py) and a
# team's own model's predictions (labeler/services/suggestions.py) live in their own modules.
from labeler.models_findings import FindingAnswer, ItemFinding  # noqa: E402, F401
from labeler.models_scans import ScanSeries, ScanSlice  # noqa: E402, F401
from labeler.models_suggestions import Suggestion  # noqa: E402, F401
from labeler.models_webhooks import Webhook, WebhookDelivery  # noqa: E402, F401
