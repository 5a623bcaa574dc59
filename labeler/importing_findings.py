"""Findings pre-labels in import sources (issue 21): a ``labels`` column of ``|``-separated
present findings (CSV, JSONL), a ``findings`` object of names and states (JSONL, JSON), or
Label Studio's multiple choices. Names are checked against the project later, in
``labeler.services.imports``; here only the shape is."""

from __future__ import annotations

from django.utils.translation import gettext as _

# Columns or keys holding the present findings, "effusion|atelectasis".
LABELS_COLUMNS = ("labels",)
FINDINGS_KEYS = ("findings",)
# A state as a name or as CheXpert's number (also what the CSV export writes).
STATE_SPELLINGS = {
    "present": "present",
    "absent": "absent",
    "uncertain": "uncertain",
    "1": "present",
    "0": "absent",
    "-1": "uncertain",
    "1.0": "present",
    "0.0": "absent",
    "-1.0": "uncertain",
}


def findings_from_labels(value: object) -> dict[str, str] | str | None:
    """``"a|b"`` or ``["a", "b"]`` → ``{"a": "present", "b": "present"}``; an empty cell is no
    pre-label (None); a wrong type is the reason as a string."""
    if value is None:
        return None
    if isinstance(value, str):
        names = [name.strip() for name in value.split("|")]
        if not any(names):
            return None
    elif isinstance(value, list) and all(isinstance(name, str) for name in value):
        names = [name.strip() for name in value]
    else:
        return _("'labels' must be a string of names separated by | or a list of names")
    return {name: "present" for name in names if name}


def findings_from_object(value: object) -> dict[str, str] | str | None:
    """``{"effusion": "present", "atelectasis": -1}`` → states by name; a wrong shape is the
    reason as a string."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return _("'findings' must be an object of finding names and states")
    states = {}
    for name, state in value.items():
        spelled = (
            STATE_SPELLINGS.get(str(state).strip().lower())
            if not isinstance(state, bool | dict | list)
            else None
        )
        if spelled is None:
            return _(
                "finding %(name)s: unknown state %(state)s; use present, absent, uncertain "
                "(or 1, 0, -1)"
            ) % {"name": repr(str(name)[:100]), "state": repr(str(state)[:40])}
        states[str(name).strip()] = spelled
    return states
