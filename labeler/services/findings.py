"""The owner of findings answers (issue 21): parsing a submitted ``{"finding": "state"}``
object, storing an answer's per-finding states (``FindingAnswer``) and an item's resolved
states (``ItemFinding``). Called inside ``services.annotating``'s transactions, which hold the
item's row lock; nothing else writes these tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from django.utils.translation import gettext as _

from labeler.models import Annotation, FindingAnswer, Item, ItemFinding, LabelClass, Project
from labeler.models_findings import STATE_NAMES, STATE_VALUES
from labeler.services.rejections import SubmitRejected

# The states a client may send; absent is also what a finding left out means.
STATES = tuple(STATE_VALUES)


class FindingsRejected(SubmitRejected):
    """An answer that does not fit the project's task or findings; ``labeler.api.errors``
    names the field at fault by ``code``."""

    def __init__(self, code: str, message: str, field: str = "findings") -> None:
        super().__init__(code, message)
        self.field = field


def findings_parse(
    *, project: Project, findings: object, classes: Iterable[LabelClass] | None = None
) -> dict[int, int]:
    """``{finding name: state name}`` → ``{finding (LabelClass) id: stored state}`` with only
    present (1) and uncertain (-1) kept. Raises ``FindingsRejected`` naming the finding or
    the state at fault; findings left out are absent."""
    if not project.is_findings:
        raise FindingsRejected(
            "label_expected",
            _("This project takes one label per item, not findings; send “label”."),
            field="label",
        )
    if not isinstance(findings, Mapping):
        raise FindingsRejected(
            "invalid_findings", _("findings must be an object of finding names and states")
        )
    by_name = {c.name: c.pk for c in (classes if classes is not None else project.classes.all())}
    states: dict[int, int] = {}
    for name, state in findings.items():
        if name not in by_name:
            raise FindingsRejected(
                "unknown_finding",
                _("unknown finding %(name)s; the findings are: %(known)s")
                % {"name": repr(name), "known": ", ".join(by_name)},
            )
        if not isinstance(state, str) or state not in STATE_VALUES:
            raise FindingsRejected(
                "unknown_state",
                _("unknown state %(state)s for finding %(name)s; use present, absent or uncertain")
                % {"state": repr(state)[:80], "name": repr(name)},
            )
        if STATE_VALUES[state]:
            states[by_name[name]] = STATE_VALUES[state]
    return states


def finding_answers_store(*, annotation: Annotation, states: Mapping[int, int]) -> None:
    """The per-finding states of a new answer (present and uncertain ones; absent is none)."""
    FindingAnswer.objects.bulk_create(
        FindingAnswer(annotation=annotation, finding_id=finding_id, state=state)
        for finding_id, state in states.items()
        if state
    )


def answers_states(annotation_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """``{annotation id: {finding id: state}}`` for the given answers (absent left out)."""
    states: dict[int, dict[int, int]] = {pk: {} for pk in annotation_ids}
    rows = FindingAnswer.objects.filter(annotation_id__in=list(states)).values_list(
        "annotation_id", "finding_id", "state"
    )
    for annotation_id, finding_id, state in rows:
        states[annotation_id][finding_id] = state
    return states


def findings_resolution(
    *, project: Project, ruling: Annotation | None, answers: list[Annotation]
) -> tuple[str, dict[int, int]]:
    """The item's status and resolved states from its current answers, as a single label's:
    a manager's ruling decides; one annotator per item, their answer; with overlap N, once N
    answers are in, the strict majority per finding, else a conflict."""
    if ruling is not None:
        return Item.Status.LABELED, answers_states([ruling.pk])[ruling.pk]
    if not answers:
        return Item.Status.UNLABELED, {}
    if project.overlap <= 1:
        return Item.Status.LABELED, answers_states([answers[0].pk])[answers[0].pk]
    if len(answers) < project.overlap:
        return Item.Status.PENDING, {}
    per_answer = list(answers_states(a.pk for a in answers).values())
    resolved: dict[int, int] = {}
    for finding_id in {f for states in per_answer for f in states}:
        votes = Counter(states.get(finding_id, 0) for states in per_answer)
        state, count = votes.most_common(1)[0]
        if count * 2 <= len(per_answer):
            return Item.Status.CONFLICT, {}
        if state:
            resolved[finding_id] = state
    return Item.Status.LABELED, resolved


def item_findings_write(*, project: Project, item: Item, states: Mapping[int, int]) -> None:
    """Replace the item's resolved states (the caller holds the item's row lock)."""
    stored = dict(ItemFinding.objects.filter(item=item).values_list("finding_id", "state"))
    if stored == dict(states):
        return
    ItemFinding.objects.filter(item=item).delete()
    ItemFinding.objects.bulk_create(
        ItemFinding(project=project, item=item, finding_id=finding_id, state=state)
        for finding_id, state in states.items()
        if state
    )


def states_named(states: Mapping[int, int], names: Mapping[int, str]) -> dict[str, str]:
    """Every finding of the project (``names``: id → name, in order) with its state name."""
    return {name: STATE_NAMES[states.get(pk, 0)] for pk, name in names.items()}


def answer_summary(annotation: Annotation) -> str:
    """A findings answer in a few words for messages and the strip of last answers:
    present findings by name, uncertain ones with “?”, else “no finding”."""
    rows = (
        FindingAnswer.objects.filter(annotation=annotation)
        .order_by("finding__order", "finding_id")
        .values_list("finding__name", "state")
    )
    return summary_text(list(rows))


def summary_text(rows: list[tuple[str, int]]) -> str:
    parts = [name if state == 1 else f"{name}?" for name, state in rows if state]
    return ", ".join(parts) if parts else _("no finding")


def prefindings_resolve(*, candidate, finding_ids: Mapping[str, int]) -> tuple[object, list[str]]:
    """A findings project's import candidate with its pre-label as ``{name: state}`` (or no
    pre-label), and the finding names it uses that the project lacks. A ``label`` column
    names one present finding; columns named by a finding (or ``finding:<name>``, as the CSV
    export writes them) give its state."""
    from dataclasses import replace

    from labeler.importing_findings import STATE_SPELLINGS

    states = dict(candidate.prefindings) if candidate.prefindings is not None else None
    metadata = dict(candidate.metadata)
    for name in finding_ids:
        for column in (name, f"finding:{name}"):
            if column in metadata and str(metadata[column]).strip() in STATE_SPELLINGS:
                states = {} if states is None else states
                states.setdefault(name, STATE_SPELLINGS[str(metadata.pop(column)).strip()])
    if states is None and candidate.prelabel:
        states = {candidate.prelabel: "present"}
    if states is None:
        return replace(candidate, prelabel=None, metadata=metadata), []
    missing = [name for name in states if name not in finding_ids]
    return replace(candidate, prelabel=None, prefindings=states, metadata=metadata), missing


def prefindings_store(*, project: Project, items: Iterable[tuple[Item, Mapping]]) -> None:
    """The resolved states of newly imported pre-labeled items (``(item, {name: state})``),
    in the import batch's transaction."""
    finding_ids = dict(LabelClass.objects.filter(project=project).values_list("name", "id"))
    ItemFinding.objects.bulk_create(
        ItemFinding(project=project, item=item, finding_id=finding_ids[name], state=value)
        for item, states in items
        for name, state in states.items()
        if (value := STATE_VALUES[state])
    )
