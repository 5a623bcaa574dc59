"""Reads: the querysets pages and the API build on, scoped to what a user may see."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeler import access
from labeler.models import (
    Annotation,
    ImportJob,
    Item,
    ItemView,
    LabelClass,
    Membership,
    ModelRun,
    Project,
    QueryRound,
    QueueEntry,
    Skip,
    Webhook,
)
from labeler.selectors_semi import semi_supervised_figures


def projects_visible_to(*, user: AbstractBaseUser) -> QuerySet[Project]:
    if user.is_superuser:
        return Project.objects.all()
    # One membership per (project, user): the join cannot duplicate rows, so no DISTINCT.
    return Project.objects.filter(memberships__user=user)


def start_of_day(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def labels_today(*, project: Project, annotator: AbstractBaseUser, now: dt.datetime) -> int:
    """Answers this annotator gave in the project since midnight (UTC): the daily cap's count,
    served by the (annotator, created_at) index."""
    return Annotation.objects.filter(
        project=project,
        annotator=annotator,
        created_at__gte=start_of_day(now),
        is_adjudication=False,
    ).count()


def project_stats(*, project: Project) -> dict:
    """What the dashboard shows. Every query is bounded or served by an index: counters on the
    project, today's annotations, the open queue (at most a round or two) and recent runs."""
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    per_annotator = list(
        Annotation.objects.filter(project=project, created_at__gte=today, is_adjudication=False)
        .values("annotator__username")
        .annotate(labels=Count("id"), seconds=Sum("seconds_spent"))
        .order_by("-labels")
    )
    open_entries = QueueEntry.objects.filter(project=project, done=False)
    runs = list(ModelRun.objects.filter(project=project).order_by("-created_at")[:50])
    latest_succeeded = next((r for r in runs if r.status == ModelRun.Status.SUCCEEDED), None)
    latest_model = next(
        (r for r in runs if r.status == ModelRun.Status.SUCCEEDED and r.artifact_path), None
    )
    active = next((r for r in runs if r.status in ModelRun.ACTIVE), None)
    seconds = Annotation.objects.filter(project=project, seconds_spent__isnull=False).aggregate(
        mean=Avg("seconds_spent")
    )["mean"]
    remaining = None if project.budget is None else max(project.budget - project.n_annotations, 0)
    recent_rounds = list(
        QueryRound.objects.filter(project=project)
        .select_related("model_run")
        .order_by("-number")[:20]
    )
    from labeler.engine import feature_progress
    from labeler.selectors_representation import representation_state

    features = feature_progress(project)
    return {
        "representation": representation_state(
            project=project, serving=features.serving, latest_model=latest_model
        ),
        "features": {
            "serving": features.serving,
            "building": features.building,
            "eta_seconds": features.eta_seconds,
        },
        "n_items": project.n_items,
        "n_labeled": project.n_labeled,
        "labels_spent": project.n_annotations,
        "budget": project.budget,
        "budget_remaining": remaining,
        "daily_cap": project.daily_cap,
        "mean_seconds_per_label": seconds,
        "hours_to_spend_budget": (remaining * seconds / 3600) if remaining and seconds else None,
        "per_annotator_today": [
            {
                "annotator": row["annotator__username"],
                "labels": row["labels"],
                "seconds": row["seconds"],
            }
            for row in per_annotator
        ],
        "queue": {
            "open": open_entries.count(),
            "leased": open_entries.filter(lease_expires_at__gt=now).count(),
            "evaluation_open": open_entries.filter(kind=QueueEntry.Kind.EVALUATION).count(),
        },
        "evaluation": {
            "items": Item.objects.filter(project=project, is_evaluation=True).count(),
            "labeled": Item.objects.filter(
                project=project, is_evaluation=True, status=Item.Status.LABELED
            ).count(),
        },
        "worker": {
            "state": active.status if active else "idle",
            "run": active.pk if active else None,
            "since": (active.started_at or active.created_at) if active else None,
        },
        "latest_run": latest_succeeded,
        "latest_model": latest_model,
        "metrics": latest_model.metrics if latest_model else {},
        "learning_curve": latest_model.metrics.get("curve", []) if latest_model else [],
        "stop": latest_model.metrics.get("stop") if latest_model else None,
        "versus_random": _versus_random(latest_model),
        "semi_supervised": semi_supervised_figures(latest_model),
        "runs": runs,
        "rounds": recent_rounds,
    }


def _versus_random(latest_model: ModelRun | None) -> dict | None:
    """The latest model's "versus random" figures (labeler.engine.versus_random) without the
    cross-fitted curve they were read from; None before a model measured them."""
    figures = latest_model.metrics.get("versus_random") if latest_model else None
    if not figures:
        return None
    return {key: value for key, value in figures.items() if key != "cross_fit"}


def run_numbers(*, project: Project) -> dict[int, int]:
    """Each of the project's model runs' number within the project (1, 2, 3…) by run id: what
    pages show, rather than the database id that counts every project's runs."""
    ids = ModelRun.objects.filter(project=project).order_by("id").values_list("id", flat=True)
    return {pk: number for number, pk in enumerate(ids.iterator(), start=1)}


def agreement_stats(*, project: Project) -> dict:
    """Inter-annotator agreement for a project with overlap, from the current answers."""
    from labeler import engine

    if project.is_findings:
        from labeler.selectors_findings import findings_agreement_stats

        return findings_agreement_stats(project=project)

    rows = (
        Annotation.objects.filter(project=project, is_current=True, is_adjudication=False)
        .values_list("item_id", "annotator__username", "label__name")
        .order_by("item_id")
    )
    answers: dict[int, list[tuple[str, str]]] = {}
    for item_id, annotator, label in rows.iterator(chunk_size=5000):
        answers.setdefault(item_id, []).append((annotator, label))
    shared = {item: labels for item, labels in answers.items() if len(labels) >= 2}
    resolved = dict(
        Item.objects.filter(pk__in=list(shared), status=Item.Status.LABELED).values_list(
            "id", "label__name"
        )
    )
    figures = engine.agreement_figures(shared, resolved, project.overlap)
    figures["conflicts"] = Item.objects.filter(project=project, status=Item.Status.CONFLICT).count()
    figures["overlap"] = project.overlap
    return figures


def item_history(*, item: Item, user: AbstractBaseUser, role: str) -> list[Annotation]:
    """Every answer ever given for an item that ``user`` may read in ``role`` (the access
    policy's ``visible_annotations``), oldest first: who, when, which label, and which
    earlier answer it replaced (old → new)."""
    answers = access.visible_annotations(Annotation.objects.filter(item=item), user=user, role=role)
    return list(
        answers.select_related("annotator", "label", "replaces__label").order_by("created_at", "id")
    )


def project_with_role(*, user: AbstractBaseUser, project_id: int) -> tuple[Project, str] | None:
    """The project and the user's role in it, in one query; None if they are not a member."""
    # Whether any webhook listens, in the same query: a submit then does no webhook work at
    # all (no query after its commit) on the projects that have none, nearly all of them.
    if user.is_superuser:
        project = (
            Project.objects.annotate(has_webhooks=_webhooks_listen(OuterRef("pk")))
            .filter(pk=project_id)
            .first()
        )
        return (project, Membership.Role.MANAGER) if project else None
    membership = (
        Membership.objects.select_related("project")
        .annotate(project_has_webhooks=_webhooks_listen(OuterRef("project_id")))
        .filter(user=user, project_id=project_id)
        .first()
    )
    if membership is None:
        return None
    membership.project.has_webhooks = membership.project_has_webhooks
    return membership.project, membership.role


def _webhooks_listen(project_id: OuterRef) -> Exists:
    return Exists(Webhook.objects.filter(project_id=project_id, active=True))


def project_roles(*, user: AbstractBaseUser) -> dict[int, str]:
    """The user's role in each of their projects, by project id."""
    return dict(Membership.objects.filter(user=user).values_list("project_id", "role"))


def item_visible_to(*, user: AbstractBaseUser, item_id: int) -> Item | None:
    # With its project: the audit row of what is shown names the project.
    items = Item.objects.filter(pk=item_id).select_related("project")
    if not user.is_superuser:
        items = items.filter(project__memberships__user=user)
    return items.first()


def labeling_progress(*, project: Project, annotator: AbstractBaseUser) -> dict:
    """What the labeling page says the annotator is working through: their labels today
    against the daily cap, and the project against its budget and target. Counters and one
    indexed look-up of the newest model's metric; never a count over the pool."""
    today = labels_today(project=project, annotator=annotator, now=timezone.now())
    # The counters as stored now: the caller's project was read before this request's answer
    # (and others' answers) moved them.
    spent, labeled, n_items = Project.objects.values_list(
        "n_annotations", "n_labeled", "n_items"
    ).get(pk=project.pk)
    metric_value = None
    if project.target_value is not None:
        metric_value = (
            ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
            .exclude(artifact_path="")
            .order_by("-created_at")
            .values_list(f"metrics__{project.target_metric}", flat=True)
            .first()
        )
    return {
        "today": today,
        "daily_cap": project.daily_cap,
        "spent": spent,
        "budget": project.budget,
        "labeled": labeled,
        "items": n_items,
        "target_metric": project.get_target_metric_display(),
        "target_value": project.target_value,
        "metric_value": metric_value if isinstance(metric_value, (int, float)) else None,
    }


def answers_recent(*, project: Project, annotator: AbstractBaseUser, limit: int = 10) -> list:
    """The annotator's newest current answers in the project, newest first (the page's strip
    of answers to change); served by the (annotator, created_at) index."""
    return list(
        Annotation.objects.filter(
            project=project, annotator=annotator, is_current=True, is_adjudication=False
        )
        .order_by("-created_at", "-id")
        .values("id", "item_id", "label__name", "is_unsure")[:limit]
    )


def items_skipped_by(*, annotator: AbstractBaseUser, project: Project, limit: int = 50) -> list:
    """The items this annotator skipped in the project, newest first, to come back to."""
    return list(
        Skip.objects.filter(project=project, annotator=annotator)
        .order_by("-created_at", "-id")
        .values_list("item_id", flat=True)[:limit]
    )


def annotation_of(*, project: Project, annotator: AbstractBaseUser, annotation_id: int):
    """The annotator's own annotation in the project, or None."""
    return Annotation.objects.filter(project=project, annotator=annotator, pk=annotation_id).first()


def import_jobs_recent(*, project: Project, limit: int = 10) -> list[ImportJob]:
    return list(ImportJob.objects.filter(project=project).order_by("-created_at", "-id")[:limit])


def projects_with_roles(*, user: AbstractBaseUser) -> list[Project]:
    """The projects the user sees, classes prefetched, each with ``role`` set to the user's."""
    projects = list(projects_visible_to(user=user).prefetch_related("classes"))
    roles = project_roles(user=user)
    for project in projects:
        project.role = Membership.Role.MANAGER if user.is_superuser else roles.get(project.pk)
    return projects


def label_classes(*, project: Project) -> list[LabelClass]:
    """The project's classes in their display order."""
    return list(project.classes.all())


def class_names(*, project: Project) -> list[str]:
    """The names of the project's classes in their display order."""
    return list(project.classes.values_list("name", flat=True))


def import_job_with_project(*, job_id: int) -> ImportJob | None:
    """The import job with its project loaded; None if there is no such job."""
    return ImportJob.objects.select_related("project").filter(pk=job_id).first()


def item_views(*, project: Project, item_id: int, limit: int = 50) -> list[ItemView]:
    """The latest records of who opened the item (the view audit), newest first."""
    views = ItemView.objects.filter(project=project, item_id=item_id).select_related("user")
    return list(views.order_by("-at", "-id")[:limit])


def item_in_project(*, project: Project, item_id: int) -> Item | None:
    """The project's item with its label and prelabel loaded; None if it is not in the project."""
    return (
        Item.objects.select_related("label", "prelabel").filter(project=project, pk=item_id).first()
    )


def conflict_count(*, project: Project) -> int:
    """How many of the project's items wait for a manager's ruling."""
    # Served by the (project, status) index; conflicts are few.
    return Item.objects.filter(project=project, status=Item.Status.CONFLICT).count()


def conflicts_with_answers(*, project: Project, limit: int) -> list[tuple[Item, list[Annotation]]]:
    """The oldest open conflicts, each with its annotators' current answers, oldest first."""
    items = list(
        Item.objects.filter(project=project, status=Item.Status.CONFLICT).order_by("id")[:limit]
    )
    answers: dict[int, list[Annotation]] = {item.pk: [] for item in items}
    for answer in (
        Annotation.objects.filter(item__in=items, is_current=True, is_adjudication=False)
        .select_related("annotator", "label", "predicted_label")
        .order_by("created_at", "id")
    ):
        answers[answer.item_id].append(answer)
    return [(item, answers[item.pk]) for item in items]


_ROLE_ORDER = Case(
    When(role=Membership.Role.MANAGER, then=Value(0)),
    When(role=Membership.Role.ANNOTATOR, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def members_with_activity(*, project: Project) -> list[Membership]:
    """The project's members, managers first, each with ``labels_today`` and ``last_label_at``."""
    # Subqueries rather than a join: the (annotator, created_at) index answers each without
    # touching the member's answers in other projects.
    answers = Annotation.objects.filter(
        project=project, annotator=OuterRef("user_id"), is_adjudication=False
    )
    today = (
        answers.filter(created_at__gte=start_of_day(timezone.now()))
        .order_by()
        .values("annotator")
        .annotate(n=Count("id"))
        .values("n")
    )
    last = answers.order_by("-created_at").values("created_at")[:1]
    return list(
        Membership.objects.filter(project=project)
        .select_related("user")
        .annotate(labels_today=Coalesce(Subquery(today), 0), last_label_at=Subquery(last))
        .order_by(_ROLE_ORDER, "user__username")
    )


def annotations_recent(*, project: Project, limit: int) -> list[Annotation]:
    """The project's newest answers, newest first, with who gave them and what they replaced."""
    return list(
        Annotation.objects.filter(project=project)
        .select_related("annotator", "label", "replaces__label")
        .order_by("-created_at", "-id")[:limit]
    )


def api_tokens_of(*, user: AbstractBaseUser) -> list:
    """The user's API tokens that still work, newest first (their account page)."""
    from knox.models import AuthToken

    return list(AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created"))
