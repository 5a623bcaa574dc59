"""How export rows become files: CSV (formula cells neutralised), JSON Lines, a JSON array,
Label Studio tasks, and the folder names of an imagefolder zip. Rows in, text out; the rows
themselves are read in ``services.exports``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator

from labeler.models import Project

# Response chunks are handed out when the buffer reaches this size.
FLUSH_BYTES = 64 * 1024


def folder_name(label: str) -> str:
    # A class name becomes one folder level, never a path.
    cleaned = label.replace("/", "_").replace("\\", "_").strip()
    return cleaned if cleaned not in ("", ".", "..") else "_"


def class_folders(names: Iterable[str]) -> dict[str, str]:
    """One folder per class, never shared: "a/b" and "a_b" would both clean to "a_b", and
    "Cat" and "cat" are one folder on Windows and macOS. A name that needs no cleaning keeps
    its folder; the others get a numbered one ("a_b~2")."""
    names = list(names)
    folders: dict[str, str] = {}
    taken: set[str] = set()
    # Names that are folder-safe as they are go first, so they keep their own spelling.
    for name in sorted(names, key=lambda n: (folder_name(n) != n, names.index(n))):
        folder = folder_name(name)
        candidate, number = folder, 1
        while candidate.casefold() in taken:
            number += 1
            candidate = f"{folder}~{number}"
        folders[name] = candidate
        taken.add(candidate.casefold())
    return folders


# A cell a spreadsheet would run as a formula (=, +, -, @) or that hides one behind a tab or
# carriage return (OWASP's CSV injection advice): prefixed with an apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def buffered(pieces: Iterable[str], flush_bytes: int = FLUSH_BYTES) -> Iterator[bytes]:
    """Text pieces as UTF-8 chunks of about ``flush_bytes``."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= flush_bytes:
            yield "".join(buffer).encode("utf-8")
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def public(row: dict, columns: list[str]) -> dict:
    return {column: row[column] for column in columns}


def csv_lines(
    rows: Iterable[dict], columns: list[str], *, neutralise: bool = False
) -> Iterator[str]:
    line = io.StringIO()
    writer = csv.writer(line)

    def render(values: list) -> str:
        line.seek(0)
        line.truncate()
        writer.writerow(values)
        return line.getvalue()

    yield render(columns)
    for row in rows:
        values = []
        for column in columns:
            value = row[column]
            if column == "annotators":
                value = ";".join(value)
            if neutralise:
                value = neutralised(value)
            values.append("" if value is None else value)
        yield render(values)


def jsonl_lines(rows: Iterable[dict], columns: list[str]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(public(row, columns), ensure_ascii=False) + "\n"


def json_array(objects: Iterable[dict]) -> Iterator[str]:
    yield "["
    separator = "\n"
    for obj in objects:
        yield separator + json.dumps(obj, ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


def labelstudio_tasks(
    rows: Iterable[dict], kind: str, file_url: Callable[[int], str]
) -> Iterator[dict]:
    data_key = "image" if kind == Project.Kind.IMAGE else "text"
    for row in rows:
        value = file_url(row["item_id"]) if kind == Project.Kind.IMAGE else row["text"]
        if row.get("findings") is not None:
            from labeler.services.export_findings import labelstudio_findings_result

            result = labelstudio_findings_result(row["findings"], data_key)
        else:
            result = [
                {
                    "from_name": "label",
                    "to_name": data_key,
                    "type": "choices",
                    "value": {"choices": [row["label"]]},
                }
            ]
        task = {
            "id": row["item_id"],
            "data": {data_key: value},
            "meta": {
                "source_name": row["source_name"],
                "annotators": row["annotators"],
                "origin": row["origin"],
                "is_evaluation": row["is_evaluation"],
            },
            "annotations": [
                {"result": result, "created_at": row["labeled_at"], "was_cancelled": False}
            ],
        }
        if row.get("predicted_label") is not None:
            task["predictions"] = [
                {
                    "model_version": "tweezers",
                    "score": row["predicted_confidence"],
                    "result": [
                        {**result[0], "value": {"choices": [row["predicted_label"]]}},
                    ],
                }
            ]
        yield task
