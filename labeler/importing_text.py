"""CSV and JSONL texts: one ``Candidate`` or ``Rejection`` per row, named by file and line."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import PurePosixPath
from typing import BinaryIO

from django.utils.translation import gettext as _

from labeler import importing_findings
from labeler.importing_entries import (
    Candidate,
    Entry,
    ImportSourceError,
    Limits,
    Rejection,
    line_of,
    metadata_problem,
    sha256,
    unstorable,
    user_metadata,
)

TEXT_COLUMNS = ("text", "content", "sentence")
LABEL_COLUMNS = ("label", "class", "category")


def text_candidate(
    name: str, text: str, limits: Limits, prelabel: str | None, metadata: dict
) -> Candidate | Rejection:
    text = text.strip()
    if not text:
        return Rejection(name, _("empty text"))
    problem = unstorable(text) or (unstorable(prelabel) if prelabel else None)
    if problem:
        return Rejection(name, _("text or label %(problem)s") % {"problem": problem})
    problem = metadata_problem(metadata)
    if problem:
        return Rejection(name, problem)
    if len(text) > limits.max_text_chars:
        return Rejection(
            name,
            _("text is %(chars)s characters, over the %(limit)s limit")
            % {"chars": f"{len(text):,}", "limit": f"{limits.max_text_chars:,}"},
        )
    if prelabel is not None:
        prelabel = prelabel.strip() or None
    return Candidate(
        source_name=name,
        checksum=sha256(text.encode("utf-8")),
        text=text,
        prelabel=prelabel,
        metadata=metadata,
    )


def _has_undecodable(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def _pick_column(fieldnames: Iterable[str], options: tuple[str, ...]) -> str | None:
    by_lower = {name.strip().lower(): name for name in fieldnames if name}
    for option in options:
        if option in by_lower:
            return by_lower[option]
    return None


def read_csv(name: str, stream: BinaryIO, limits: Limits) -> Iterator[Entry]:
    # surrogateescape keeps undecodable bytes as marker characters, so one bad row is reported
    # with its line number instead of failing the whole file.
    text_stream = io.TextIOWrapper(
        stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    csv.field_size_limit(max(limits.max_text_chars * 4, 131072))
    reader = csv.DictReader(text_stream)
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as error:
        raise ImportSourceError(
            _("%(name)s: not a readable CSV file (%(error)s)") % {"name": name, "error": error}
        ) from error
    text_column = _pick_column(fieldnames, TEXT_COLUMNS)
    if text_column is None:
        columns = ", ".join(repr(c) for c in fieldnames) or "none"
        raise ImportSourceError(
            _("%(name)s: no text column; expected one named 'text' (columns found: %(columns)s)")
            % {"name": name, "columns": columns}
        )
    label_column = _pick_column(fieldnames, LABEL_COLUMNS)
    labels_column = _pick_column(fieldnames, importing_findings.LABELS_COLUMNS)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Rejection(
                line_of(name, reader.line_num), _("malformed CSV: %(error)s") % {"error": error}
            )
            continue
        where = line_of(name, reader.line_num)
        if None in row:
            yield Rejection(where, _("more fields than the header has columns"))
            continue
        values = [value for value in row.values() if isinstance(value, str)]
        if any(_has_undecodable(value) for value in values):
            yield Rejection(where, _("not valid UTF-8 text; save the file as UTF-8"))
            continue
        text = row.get(text_column) or ""
        label = row.get(label_column) if label_column else None
        metadata = user_metadata(
            {
                key: value
                for key, value in row.items()
                if key not in (text_column, label_column, labels_column)
                and key
                and value not in (None, "")
            }
        )
        candidate = text_candidate(where, text, limits, label, metadata)
        prefindings = importing_findings.findings_from_labels(row.get(labels_column))
        if isinstance(candidate, Candidate) and prefindings is not None:
            candidate = replace(candidate, prefindings=prefindings)
        yield candidate


def read_jsonl(name: str, stream: BinaryIO, limits: Limits) -> Iterator[Entry]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    for line_number, raw_line in enumerate(stream, start=1):
        where = line_of(name, line_number)
        if line_number == 1 and raw_line.startswith(codecs.BOM_UTF8):
            raw_line = raw_line[len(codecs.BOM_UTF8) :]
        try:
            line = decoder.decode(raw_line, final=True)
        except UnicodeDecodeError:
            decoder.reset()
            yield Rejection(where, _("not valid UTF-8 text; save the file as UTF-8"))
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield Rejection(
                where,
                _("invalid JSON: %(error)s at column %(column)s")
                % {"error": error.msg, "column": error.colno},
            )
            continue
        except (ValueError, RecursionError) as error:
            # A number with thousands of digits, or nesting deeper than the parser goes.
            yield Rejection(
                where,
                _("invalid JSON: %(error)s")
                % {"error": str(error)[:200] or _("nested too deeply")},
            )
            continue
        if not isinstance(record, dict):
            yield Rejection(where, _("each line must be a JSON object with a 'text' field"))
            continue
        text_key = _pick_column(record.keys(), TEXT_COLUMNS)
        text = record.get(text_key) if text_key else None
        if not isinstance(text, str):
            yield Rejection(where, _("missing 'text' field (a string)"))
            continue
        label_key = _pick_column(record.keys(), LABEL_COLUMNS)
        label = record.get(label_key) if label_key else None
        if label is not None and not isinstance(label, str | int) or isinstance(label, bool):
            yield Rejection(where, _("'label' must be a string"))
            continue
        prefindings = record_findings(record)
        if isinstance(prefindings, str):
            yield Rejection(where, prefindings)
            continue
        metadata = user_metadata(
            {k: v for k, v in record.items() if k not in (text_key, label_key, *FINDINGS_FIELDS)}
        )
        candidate = text_candidate(
            where, text, limits, None if label is None else str(label), metadata
        )
        if isinstance(candidate, Candidate) and prefindings is not None:
            candidate = replace(candidate, prefindings=prefindings)
        yield candidate


FINDINGS_FIELDS = (*importing_findings.FINDINGS_KEYS, *importing_findings.LABELS_COLUMNS)


def record_findings(record: dict) -> dict | str | None:
    """A JSON record's findings pre-label: its ``findings`` object, else its ``labels``."""
    key = _pick_column(record.keys(), importing_findings.FINDINGS_KEYS)
    if key is not None:
        return importing_findings.findings_from_object(record[key])
    key = _pick_column(record.keys(), importing_findings.LABELS_COLUMNS)
    return importing_findings.findings_from_labels(record[key]) if key is not None else None


def read_text_file(name: str, stream: BinaryIO, limits: Limits) -> Iterator[Entry]:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".csv":
        return read_csv(name, stream, limits)
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(name, stream, limits)
    raise ImportSourceError(
        _("%(name)s: text projects import .csv or .jsonl files") % {"name": name}
    )
