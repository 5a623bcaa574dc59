"""Reading findings (multi-label) data for the simulator, with errors that name the file and
row (:class:`learning.datasets.DatasetError`).

Formats: ``.npz`` with ``X`` ``(n, d)`` and ``Y`` ``(n, k)`` holding 1 present / 0 absent /
-1 uncertain (optional ``classes`` ``(k,)``, the finding names); CSV or JSONL with ``text``
and ``labels``, the present findings separated by ``|`` (empty: none present); the findings
are every name that occurs, sorted.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.datasets import DatasetError


@dataclass
class FindingsData:
    """``kind`` "features" (``items`` the ``(n, d)`` matrix) or "text" (``items`` texts);
    ``Y`` ``(n, k)`` int8; ``names`` the k findings."""

    kind: str
    items: Any
    Y: NDArray[np.int8]
    names: list[str]
    source: Path

    def __len__(self) -> int:
        return len(self.Y)

    def subset(self, positions: NDArray[np.int64]) -> FindingsData:
        items = (
            self.items[positions] if self.kind == "features" else [self.items[i] for i in positions]
        )
        return FindingsData(self.kind, items, self.Y[positions], self.names, self.source)


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error):
        return []


def _first_json_object(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    return row if isinstance(row, dict) else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return {}


def is_findings_file(path: str | Path) -> bool:
    """Whether ``path`` holds findings data: an ``.npz`` with ``Y``, or a CSV / JSONL whose
    rows have a ``labels`` column."""
    source = Path(path)
    suffix = source.suffix.lower()
    if not source.is_file():
        return False
    if suffix == ".npz":
        try:
            with np.load(source, allow_pickle=False) as archive:
                return "Y" in archive.files
        except (OSError, ValueError):
            return False
    if suffix == ".csv":
        return "labels" in _csv_header(source)
    if suffix in {".jsonl", ".ndjson"}:
        return "labels" in _first_json_object(source)
    return False


def _read_npz(path: Path) -> FindingsData:
    with np.load(path, allow_pickle=False) as archive:
        if "X" not in archive.files:
            raise DatasetError(f"{path}: missing array X (has: {', '.join(archive.files)})")
        X, Y = archive["X"], archive["Y"]
        names = [str(c) for c in archive["classes"]] if "classes" in archive.files else None
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        raise DatasetError(
            f"{path}: X must be (n, d) and Y (n, k), got X {X.shape} and Y {Y.shape}"
        )
    if not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise DatasetError(f"{path}: X must be finite numbers")
    bad = np.flatnonzero(~np.isin(Y, (1, 0, -1)).all(axis=1))
    if len(bad):
        raise DatasetError(f"{path} row {int(bad[0])}: Y holds values other than 1, 0, -1")
    names = names or [f"finding_{j}" for j in range(Y.shape[1])]
    if len(names) != Y.shape[1]:
        raise DatasetError(f"{path}: {len(names)} classes for {Y.shape[1]} columns of Y")
    return FindingsData("features", X.astype(np.float32), Y.astype(np.int8), names, path)


def _text_rows(path: Path, rows: list[tuple[int, dict]], where: str) -> FindingsData:
    texts, present = [], []
    for number, row in rows:
        if not isinstance(row, dict):
            raise DatasetError(f"{path} {where} {number}: expected an object with text, labels")
        text, labels = row.get("text"), row.get("labels")
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f"{path} {where} {number}: empty or missing 'text'")
        if labels is None:
            labels = ""
        if isinstance(labels, list):
            labels = "|".join(map(str, labels))
        if not isinstance(labels, str):
            raise DatasetError(f"{path} {where} {number}: 'labels' must be names joined by |")
        texts.append(text)
        present.append({name.strip() for name in labels.split("|") if name.strip()})
    names = sorted(set().union(*present)) if present else []
    if len(texts) < 2 or not names:
        raise DatasetError(f"{path}: needs at least 2 rows and one finding in 'labels'")
    Y = np.array([[int(name in row) for name in names] for row in present], dtype=np.int8)
    return FindingsData("text", texts, Y, names, path)


def load_findings(path: str | Path) -> FindingsData:
    """Read findings data (see the module's formats)."""
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix == ".npz":
        return _read_npz(source)
    try:
        with open(source, newline="", encoding="utf-8") as handle:
            if suffix == ".csv":
                reader = csv.DictReader(handle)
                if "text" not in (reader.fieldnames or []):
                    raise DatasetError(f"{source}: missing column text (a header 'text,labels')")
                rows = list(enumerate(reader, start=2))
                return _text_rows(source, rows, "row")
            rows = []
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        rows.append((number, json.loads(line)))
                    except json.JSONDecodeError as error:
                        raise DatasetError(
                            f"{source} line {number}: not JSON ({error.msg})"
                        ) from None
            return _text_rows(source, rows, "line")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{source}: not UTF-8 text ({error.reason})") from None
