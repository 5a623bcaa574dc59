"""Reading Label Studio's JSON task format (and this app's own JSON export rows): texts and
inline images, each task's chosen label as its pre-label, validated like any upload. The
entries are stored by :func:`labeler.services.imports.items_import_labelstudio`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

from django.utils.translation import gettext as _

from labeler import importing
from labeler.models import Project


class _MalformedTask(ValueError):
    """A Label Studio task whose annotations do not have Label Studio's shape."""


def _labelstudio_choice(task: dict) -> str | None:
    """The label of a Label Studio task: the first choice of its last annotation that was
    not cancelled. Wrong types anywhere on that path refuse the task (with the path named)
    rather than import it silently without its label."""
    annotations = task.get("annotations") or task.get("completions") or []
    if not isinstance(annotations, list):
        raise _MalformedTask(_("%(path)s must be a list") % {"path": "'annotations'"})
    for index, annotation in enumerate(reversed(annotations)):
        where = f"annotations[{len(annotations) - 1 - index}]"
        if not isinstance(annotation, dict):
            raise _MalformedTask(_("%(path)s must be an object") % {"path": where})
        if annotation.get("was_cancelled"):
            continue
        results = annotation.get("result")
        results = [] if results is None else results
        if not isinstance(results, list):
            raise _MalformedTask(_("%(path)s must be a list") % {"path": f"{where}.result"})
        for number, result in enumerate(results):
            if not isinstance(result, dict):
                raise _MalformedTask(
                    _("%(path)s must be an object") % {"path": f"{where}.result[{number}]"}
                )
            if result.get("type", "choices") != "choices":
                continue
            value = result.get("value") or {}
            if not isinstance(value, dict):
                raise _MalformedTask(
                    _("%(path)s must be an object") % {"path": f"{where}.result[{number}].value"}
                )
            choices = value.get("choices") or []
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise _MalformedTask(
                    _("%(path)s must be a list of strings")
                    % {"path": f"{where}.result[{number}].value.choices"}
                )
            if choices:
                return choices[0]
    return None


def _labelstudio_findings(task: dict) -> dict[str, str] | None:
    """A findings pre-label from the last annotation (not cancelled) with a choices result:
    every choice is a present finding, except those of an ``uncertain`` control. Called
    after ``_labelstudio_choice`` has checked the task's shape."""
    for annotation in reversed(task.get("annotations") or task.get("completions") or []):
        if annotation.get("was_cancelled"):
            continue
        results = [
            r for r in annotation.get("result") or [] if r.get("type", "choices") == "choices"
        ]
        if not results:
            continue
        states: dict[str, str] = {}
        for result in results:
            state = "uncertain" if result.get("from_name") == "uncertain" else "present"
            for choice in (result.get("value") or {}).get("choices") or []:
                states[choice] = state
        return states
    return None


def _with_findings(entry: importing.Entry, prefindings: object) -> importing.Entry:
    if isinstance(prefindings, str):
        return importing.Rejection(entry.source_name, prefindings)
    if isinstance(entry, importing.Candidate) and prefindings is not None:
        return replace(entry, prefindings=prefindings)
    return entry


def _data_uri_bytes(value: str) -> bytes | None:
    header, _comma, payload = value.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _pick(record: dict, keys: tuple[str, ...]) -> object:
    for key, value in record.items():
        if isinstance(key, str) and key.strip().lower() in keys:
            return value
    return None


def labelstudio_entries(
    name: str, tasks: object, limits: importing.Limits, *, kind: str
) -> Iterator[importing.Entry]:
    """Turn Label Studio tasks (or this app's own JSON export rows) into importer entries,
    validated exactly like uploaded files and rows."""
    if not isinstance(tasks, list):
        raise importing.ImportSourceError(
            _(
                "%(name)s: expected a JSON array of Label Studio tasks or of rows with a 'text' "
                "field"
            )
            % {"name": name}
        )
    for number, task in enumerate(tasks, start=1):
        where = _("%(name)s task %(number)s") % {"name": name, "number": number}
        if not isinstance(task, dict):
            yield importing.Rejection(where, _("each task must be a JSON object"))
            continue
        data = task.get("data")
        if "data" in task and not isinstance(data, dict):
            yield importing.Rejection(where, _('\'data\' must be an object, e.g. {"text": "…"}'))
            continue
        if isinstance(data, dict):
            try:
                label = _labelstudio_choice(task)
            except _MalformedTask as malformed:
                yield importing.Rejection(
                    where, _("not a Label Studio task: %(problem)s") % {"problem": malformed}
                )
                continue
            prefindings = _labelstudio_findings(task)
            metadata = {"labelstudio_id": task["id"]} if "id" in task else {}
            if isinstance(task.get("meta"), dict):
                metadata.update(importing.user_metadata(task["meta"]))
        else:
            data = task
            label = _pick(task, importing.LABEL_COLUMNS)
            label = None if label is None else str(label)
            prefindings = importing.record_findings(task)
            metadata = {}
        if kind == Project.Kind.IMAGE:
            value = data.get("image") if isinstance(data.get("image"), str) else None
            content = _data_uri_bytes(value) if value else None
            if content is None:
                yield importing.Rejection(
                    where,
                    _(
                        "image tasks must carry the image inline as a base64 data: URI; "
                        "upload the image files as a zip instead"
                    ),
                )
                continue
            candidate = importing.image_candidate(where, content, limits, label)
            yield _with_findings(candidate, prefindings)
            continue
        text = _pick(data, importing.TEXT_COLUMNS)
        if text is None:
            strings = [value for value in data.values() if isinstance(value, str)]
            text = strings[0] if len(strings) == 1 else None
        if not isinstance(text, str):
            yield importing.Rejection(where, _("no text: expected data.text (a string)"))
            continue
        candidate = importing.text_candidate(where, text, limits, label, metadata)
        yield _with_findings(candidate, prefindings)


def labelstudio_read(
    name: str, stream: BinaryIO, limits: importing.Limits, *, kind: str
) -> tuple[int, Iterator[importing.Entry]]:
    """The tasks of a JSON file of Label Studio tasks (or of rows from this app's JSON
    export) as importer entries, and their count. The file is parsed whole, so it is held to
    the upload size limit."""
    raw = stream.read(limits.max_total_bytes + 1)
    if len(raw) > limits.max_total_bytes:
        raise importing.ImportSourceError(
            _("%(name)s: over the %(limit)s byte limit for JSON imports")
            % {"name": name, "limit": f"{limits.max_total_bytes:,}"}
        )
    try:
        tasks = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise importing.ImportSourceError(
            _("%(name)s: not UTF-8 text (%(error)s)") % {"name": name, "error": error.reason}
        ) from error
    except json.JSONDecodeError as error:
        raise importing.ImportSourceError(
            _("%(name)s: invalid JSON: %(error)s at line %(line)s")
            % {"name": name, "error": error.msg, "line": error.lineno}
        ) from error
    except (ValueError, RecursionError) as error:
        # A number with thousands of digits, or nesting deeper than the parser goes.
        reason = str(error)[:200] if isinstance(error, ValueError) else _("nested too deeply")
        raise importing.ImportSourceError(
            _("%(name)s: invalid JSON: %(error)s") % {"name": name, "error": reason}
        ) from error
    del raw
    # A source that is not an array fails on the first entry, before anything is stored.
    entries = labelstudio_entries(name, tasks, limits, kind=kind)
    return (len(tasks) if isinstance(tasks, list) else 0), entries
