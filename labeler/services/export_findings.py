"""Exports of findings projects (issue 21): a column per finding holding 1 / 0 / -1 in CSV
(CheXpert's convention; a finding named like a standard column is written ``finding:<name>``),
a ``findings`` object in JSON and JSON Lines, and Label Studio tasks with multiple choices
(present findings under ``findings``, uncertain ones under ``uncertain``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from labeler.models import Project
from labeler.models_findings import STATE_VALUES
from labeler.services.export_columns import STANDARD_COLUMNS

# What a single label says and a findings row has no use for.
SINGLE_LABEL_COLUMNS = ("label", "predicted_label", "predicted_confidence")
FINDING_PREFIX = "finding:"


def finding_column(name: str) -> str:
    return FINDING_PREFIX + name if name in STANDARD_COLUMNS else name


def findings_columns(
    project: Project,
    columns: list[str],
    rows: Callable[[], Iterator[dict]],
    *,
    tabular: bool,
) -> tuple[list[str], Callable[[], Iterator[dict]]]:
    """The columns and rows of a findings export: tabular formats get a column per finding
    (1 present, 0 absent, -1 uncertain), JSON formats a ``findings`` object."""
    names = list(project.classes.values_list("name", flat=True))
    kept = [column for column in columns if column not in SINGLE_LABEL_COLUMNS]
    if not tabular:
        return [*kept, "findings"], rows
    by_column = {finding_column(name): name for name in names}

    def tabular_rows() -> Iterator[dict]:
        for row in rows():
            states = row["findings"] or {}
            yield {
                **row,
                **{
                    column: STATE_VALUES[states.get(name, "absent")]
                    for column, name in by_column.items()
                },
            }

    return [*kept, *by_column], tabular_rows


def labelstudio_findings_result(findings: dict[str, str], data_key: str) -> list[dict]:
    """A findings answer as Label Studio choices: present findings under ``findings``,
    uncertain ones under ``uncertain`` (both ``choice="multiple"``); no finding is an empty
    ``findings`` choice."""
    result = []
    for from_name, state in (("findings", "present"), ("uncertain", "uncertain")):
        chosen = [name for name, given in findings.items() if given == state]
        if chosen or from_name == "findings":
            result.append(
                {
                    "from_name": from_name,
                    "to_name": data_key,
                    "type": "choices",
                    "value": {"choices": chosen},
                }
            )
    return result
