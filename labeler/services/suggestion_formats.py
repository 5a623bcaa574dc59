"""Reading a team's model predictions: a CSV or JSONL of ``item,label,score`` (one row per
item, or one per scored class of an item) and Label Studio's tasks with ``predictions``. Rows
come out as :class:`PredictionRow`; the first malformed one refuses the whole file, naming its
row (nothing is stored: :mod:`labeler.services.suggestions` stores only a clean file)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.utils.translation import gettext as _

from labeler.services.rejections import Rejected

FORMATS = ("csv", "jsonl", "json")


class PredictionsRejected(Rejected):
    """A predictions file refused; the message names the row and the field."""


@dataclass(frozen=True)
class PredictionRow:
    # Where it came from: a CSV line or JSONL line number, a Label Studio task's position.
    row: int
    # The Tweezers item id (exports' "item_id", Label Studio's task "id"), or else its
    # source name.
    item_id: int | None
    source_name: str
    label: str
    score: float | None
    model_version: str = ""


def _refuse(row: int, message: str) -> PredictionsRejected:
    return PredictionsRejected(
        "invalid_row", _("Row %(row)s: %(message)s") % {"row": row, "message": message}
    )


def _score(row: int, value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise _refuse(row, _("'score' must be a number between 0 and 1.")) from None
    if isinstance(value, bool) or not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise _refuse(row, _("'score' must be a number between 0 and 1."))
    return score


# Item ids are PostgreSQL bigints.
MAX_ITEM_ID = 2**63 - 1


def _item_id(row: int, value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ITEM_ID:
        return value
    raise _refuse(row, _("'item' must be an item id (a whole number)."))


def _text(row: int, value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise _refuse(row, _("'%(name)s' must be text.") % {"name": name})
    return value.strip()


def _from_record(row: int, record: object) -> PredictionRow:
    if not isinstance(record, dict):
        raise _refuse(row, _("expected an object with 'item', 'label' and 'score'."))
    item_id = _item_id(row, record.get("item", record.get("item_id")))
    source_name = _text(row, record.get("source_name"), "source_name")
    if item_id is None and not source_name:
        raise _refuse(row, _("'item' (the item id) or 'source_name' is missing."))
    label = _text(row, record.get("label"), "label")
    if not label:
        raise _refuse(row, _("'label' is missing."))
    model = _text(row, record.get("model"), "model")
    return PredictionRow(row, item_id, source_name, label, _score(row, record.get("score")), model)


def _text_lines(upload: BinaryIO) -> Iterator[tuple[int, str]]:
    reader = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
    number = 0
    try:
        for number, line in enumerate(reader, start=1):  # noqa: B007 - read after the loop
            yield number, line
    except UnicodeDecodeError:
        raise _refuse(number + 1, _("not valid UTF-8.")) from None


def _csv_rows(upload: BinaryIO) -> Iterator[PredictionRow]:
    lines = _text_lines(upload)
    reader = csv.DictReader(line for _, line in lines)
    try:
        for record in reader:
            yield _from_record(reader.line_num, record)
    except csv.Error as error:
        raise _refuse(reader.line_num, str(error)) from None


def _jsonl_rows(upload: BinaryIO) -> Iterator[PredictionRow]:
    for number, line in _text_lines(upload):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            raise _refuse(number, _("not valid JSON.")) from None
        yield _from_record(number, record)


def _labelstudio_prediction(row: int, task: dict) -> tuple[str, float | None, object] | None:
    """The first prediction's first choice, its score (the result's, else the prediction's)
    and model version; None for a task without predictions."""
    predictions = task.get("predictions") or []
    if not isinstance(predictions, list):
        raise _refuse(row, _("'predictions' must be a list."))
    for prediction in predictions:
        if not isinstance(prediction, dict) or not isinstance(prediction.get("result"), list):
            raise _refuse(row, _("each prediction needs a 'result' list."))
        for result in prediction["result"]:
            value = result.get("value") if isinstance(result, dict) else None
            choices = value.get("choices") if isinstance(value, dict) else None
            if not isinstance(choices, list) or not choices or not isinstance(choices[0], str):
                continue
            score = result.get("score", prediction.get("score"))
            return choices[0], _score(row, score), prediction.get("model_version")
    return None


def _labelstudio_rows(upload: BinaryIO) -> Iterator[PredictionRow]:
    try:
        tasks = json.load(io.TextIOWrapper(upload, encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _refuse(1, _("not valid JSON.")) from None
    if not isinstance(tasks, list):
        raise _refuse(1, _("expected a list of Label Studio tasks."))
    for number, task in enumerate(tasks, start=1):
        if not isinstance(task, dict):
            raise _refuse(number, _("a Label Studio task must be an object."))
        found = _labelstudio_prediction(number, task)
        if found is None:
            continue
        meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
        record = {
            "item": task.get("id"),
            "source_name": meta.get("source_name"),
            "label": found[0],
            "model": found[2],
        }
        parsed = _from_record(number, record)
        yield PredictionRow(
            number, parsed.item_id, parsed.source_name, parsed.label, found[1], parsed.model_version
        )


def prediction_rows(upload: BinaryIO, file_name: str) -> Iterator[PredictionRow]:
    """The rows of an uploaded predictions file, by its name's suffix (``.csv``, ``.jsonl``,
    ``.json`` for Label Studio tasks)."""
    suffix = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if suffix == "csv":
        return _csv_rows(upload)
    if suffix == "jsonl":
        return _jsonl_rows(upload)
    if suffix == "json":
        return _labelstudio_rows(upload)
    raise PredictionsRejected(
        "unsupported_file",
        _("Predictions come as .csv, .jsonl or Label Studio .json, not %(name)s.")
        % {"name": file_name},
    )
