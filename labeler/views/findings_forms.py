"""The findings (multi-label) side of the item page and the conflicts page: a state per finding
posted as ``finding:<name>`` fields, the rows those forms show, and the summaries of answers
in the history (issue 21)."""

from __future__ import annotations

from collections import Counter

from django.http import QueryDict

from labeler import selectors_findings
from labeler.models import Annotation, Project

STATES = ("present", "absent", "uncertain")
FIELD_PREFIX = "finding:"


def findings_posted(post: QueryDict) -> dict[str, str]:
    """``finding:<name>=<state>`` fields → ``{name: state}`` (the service checks both)."""
    return {
        key.removeprefix(FIELD_PREFIX): value
        for key, value in post.items()
        if key.startswith(FIELD_PREFIX)
    }


def finding_rows(
    project: Project, chosen: dict[str, str], answers: list[Annotation] = ()
) -> list[dict]:
    """A row per finding for the form: its name, the state to show as chosen and, for a
    conflict, how many annotators gave each state."""
    names = list(selectors_findings.finding_names(project=project).values())
    given = selectors_findings.annotation_states(
        project=project, annotation_ids=[a.pk for a in answers]
    )
    rows = []
    for name in names:
        votes = Counter(states[name] for states in given.values())
        rows.append(
            {
                "name": name,
                "field": FIELD_PREFIX + name,
                "chosen": chosen.get(name, "absent"),
                "votes": [(state, votes[state]) for state in STATES],
                "split": len(answers) > 1 and votes.most_common(1)[0][1] * 2 <= len(answers),
            }
        )
    return rows


def majority(project: Project, answers: list[Annotation]) -> dict[str, str]:
    """Each finding's most given state among the answers (ties: the first answer's)."""
    given = list(
        selectors_findings.annotation_states(
            project=project, annotation_ids=[a.pk for a in answers]
        ).values()
    )
    if not given:
        return {}
    return {name: Counter(s[name] for s in given).most_common(1)[0][0] for name in given[0]}


def summaries_attach(answers: list[Annotation]) -> None:
    """``findings_summary`` on each answer and the answer it replaced, for the history."""
    ids = {a.pk for a in answers} | {a.replaces_id for a in answers if a.replaces_id}
    said = selectors_findings.answer_summaries(annotation_ids=list(ids))
    for answer in answers:
        answer.findings_summary = said.get(answer.pk, "")
        answer.replaced_summary = said.get(answer.replaces_id, "")
