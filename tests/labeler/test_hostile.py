"""A hostile tester's inputs against the real stack (PostgreSQL, the URL conf, the API and the
pages): every one must get a 4xx with a reason (or a 2xx that refuses the bad part), never a
5xx, never a traceback in the server log, and nothing already stored may change.

Cases are plain data: ``(id, role, method, path-template, body, kind)``, where ``kind`` says
how the body is sent. ``{p}`` in a path is the project id, ``{i}`` an item id, ``{a}`` an
annotation id. File cases build their upload in ``UPLOADS``."""

from __future__ import annotations

import base64
import io
import json
import logging
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from labeler import services
from labeler.models import Annotation, Item, LabelClass, Membership, Project, QueueEntry
from tests.conftest import png_bytes
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import item_add, membership_add, round_add
from tests.labeler.test_dicom_pixel_text import ct_with_text

pytestmark = pytest.mark.django_db

NUL = "\x00"
HUGE_TEXT = "9" * 5000
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
LONG_NAME = "u" * 300
VERY_LONG_NAME = "v" * 100_000


def _deep_json_bytes() -> bytes:
    return DEEP.encode()


def _zip(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _corrupt_deflate_zip() -> bytes:
    data = bytearray(_zip({"cat/a.png": png_bytes(1, (64, 64)) * 3}))
    start = data.index(b"cat/a.png") + len(b"cat/a.png")
    for offset in range(start + 4, start + 40):
        data[offset] ^= 0x5A
    return bytes(data)


def _bad_crc_zip() -> bytes:
    data = bytearray(_zip({"cat/b.png": png_bytes(2)}, compression=zipfile.ZIP_STORED))
    # The CRC in the local header and the central directory both: the data no longer matches.
    for signature, crc_offset in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        at = data.index(signature)
        data[at + crc_offset] ^= 0xFF
    return bytes(data)


def _truncated_zip() -> bytes:
    return _zip({"cat/c.png": png_bytes(3)})[:-30]


def _labelstudio(tasks) -> bytes:
    return json.dumps(tasks).encode()


def _ls_task(**overrides) -> dict:
    task = {
        "data": {"text": "a fine day"},
        "annotations": [{"result": [{"type": "choices", "value": {"choices": ["spam"]}}]}],
    }
    task.update(overrides)
    return task


# Files uploaded to the text project (``text``) or the image project (``image``).
UPLOADS: dict[str, tuple[str, str, bytes]] = {
    # A CT slice with a patient's name in its pixels, under a patient's name (issue 23).
    "dicom-text-in-pixels": ("image", "SMITH_JOHN_19510429.dcm", ct_with_text()[0]),
    "csv-nul-in-text": ("text", "a.csv", b"text,label\nhello\x00world,spam\n"),
    "csv-nul-in-header": ("text", "b.csv", b"te\x00xt,label\nhello,spam\n"),
    "csv-nul-in-metadata-name": ("text", "c.csv", b"text,lab\x00el,x\x00y\nhello,spam,1\n"),
    "csv-nul-in-metadata-value": ("text", "d.csv", b"text,site\nhello,a\x00b\n"),
    "csv-only-nul": ("text", "e.csv", b"\x00" * 2000),
    "csv-no-text-column": ("text", "f.csv", b"body,label\nhi,spam\n"),
    "csv-unknown-label": ("text", "g.csv", b"text,label\nhi,emperor\n"),
    "csv-latin1": ("text", "h.csv", "text\ncaf\xe9\n".encode("latin-1")),
    "csv-huge-field": ("text", "i.csv", b"text\n" + b"x" * 600_000 + b"\n"),
    "csv-unbalanced-quote": ("text", "j.csv", b'text\n"never closed\n'),
    "csv-extra-fields": ("text", "k.csv", b"text\nhi,there,extra\n"),
    "csv-empty": ("text", "l.csv", b""),
    "csv-header-only-blank": ("text", "m.csv", b"\n\n\n"),
    "csv-width-metadata-nul": ("text", "n.csv", b"text,width,height\nhi\x00,x,y\n"),
    "jsonl-nul-escape": ("text", "a.jsonl", b'{"text": "a\\u0000b"}\n'),
    "jsonl-raw-nul": ("text", "b.jsonl", b'{"text": "a\x00b"}\n'),
    "jsonl-nul-in-key": ("text", "c.jsonl", b'{"text": "ok-nul-key", "k\\u0000": 1, "z": "x"}\n'),
    "jsonl-deep": ("text", "d.jsonl", b'{"text": "deep", "m": ' + DEEP.encode() + b"}\n"),
    "jsonl-deep-object": ("text", "e.jsonl", DEEP_OBJECT.encode() + b"\n"),
    "jsonl-huge-number": ("text", "f.jsonl", b'{"text": "n", "v": ' + HUGE_TEXT.encode() + b"}\n"),
    "jsonl-huge-label-number": (
        "text",
        "g.jsonl",
        b'{"text": "n2", "label": ' + HUGE_TEXT.encode() + b"}\n",
    ),
    "jsonl-text-number": ("text", "h.jsonl", b'{"text": 12}\n'),
    "jsonl-array-line": ("text", "i.jsonl", b"[1, 2]\n"),
    "jsonl-label-object": ("text", "j.jsonl", b'{"text": "x", "label": {"a": 1}}\n'),
    "jsonl-lone-surrogate": ("text", "k.jsonl", b'{"text": "\\ud800"}\n'),
    "jsonl-nan": ("text", "l.jsonl", b'{"text": "nan", "score": NaN}\n'),
    "jsonl-not-json": ("text", "m.jsonl", b"{text: hi}\n"),
    "jsonl-invalid-utf8": ("text", "n.jsonl", b'{"text": "\xff\xfe"}\n'),
    "ls-not-a-list": ("text", "a.json", _labelstudio({"data": {"text": "x"}})),
    "ls-list-of-strings": ("text", "b.json", _labelstudio(["a", "b"])),
    "ls-data-string": ("text", "c.json", _labelstudio([_ls_task(data="text")])),
    "ls-data-missing": ("text", "d.json", _labelstudio([{"annotations": []}])),
    "ls-text-number": ("text", "e.json", _labelstudio([_ls_task(data={"text": 5})])),
    "ls-annotations-dict": ("text", "f.json", _labelstudio([_ls_task(annotations={"a": 1})])),
    "ls-annotations-strings": ("text", "g.json", _labelstudio([_ls_task(annotations=["x"])])),
    "ls-result-dict": ("text", "h.json", _labelstudio([_ls_task(annotations=[{"result": {}}])])),
    "ls-result-string": ("text", "i.json", _labelstudio([_ls_task(annotations=[{"result": "x"}])])),
    "ls-result-items-numbers": (
        "text",
        "j.json",
        _labelstudio([_ls_task(annotations=[{"result": [1, 2]}])]),
    ),
    "ls-value-string": (
        "text",
        "k.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": "spam"}]}])]),
    ),
    "ls-value-list": (
        "text",
        "l.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": ["spam"]}]}])]),
    ),
    "ls-choices-string": (
        "text",
        "m.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": {"choices": "spam"}}]}])]),
    ),
    "ls-choices-number": (
        "text",
        "n.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": {"choices": 7}}]}])]),
    ),
    "ls-choices-nested": (
        "text",
        "o.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": {"choices": [["spam"]]}}]}])]),
    ),
    "ls-choices-dicts": (
        "text",
        "p.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": {"choices": [{"a": 1}]}}]}])]),
    ),
    "ls-choices-empty": (
        "text",
        "q.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": {"choices": []}}]}])]),
    ),
    "ls-choices-unknown": (
        "text",
        "r.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": {"choices": ["emperor"]}}]}])]),
    ),
    "ls-nul-in-text": ("text", "s.json", _labelstudio([_ls_task(data={"text": "a\x00b"})])),
    "ls-nul-in-choice": (
        "text",
        "t.json",
        _labelstudio([_ls_task(annotations=[{"result": [{"value": {"choices": ["sp\x00am"]}}]}])]),
    ),
    "ls-nul-in-data-key": (
        "text",
        "u.json",
        _labelstudio([_ls_task(data={"text": "nul key", "me\x00ta": "x"})]),
    ),
    "ls-deep": ("text", "v.json", DEEP.encode()),
    "ls-huge-number": (
        "text",
        "w.json",
        b'[{"data": {"text": "x"}, "id": ' + HUGE_TEXT.encode() + b"}]",
    ),
    "ls-invalid-json": ("text", "x.json", b"[{"),
    "ls-not-utf8": ("text", "y.json", b'[{"data": {"text": "\xff"}}]'),
    "ls-image-data-url-garbage": (
        "image",
        "z.json",
        _labelstudio([{"data": {"image": "data:image/png;base64,!!!!"}}]),
    ),
    "ls-image-number": ("image", "za.json", _labelstudio([{"data": {"image": 5}}])),
    "ls-image-remote-url": (
        "image",
        "zb.json",
        _labelstudio([{"data": {"image": "http://169.254.169.254/latest/meta-data"}}]),
    ),
    "ls-predictions-wrong-type": (
        "text",
        "zc.json",
        _labelstudio([_ls_task(annotations=[], predictions="spam")]),
    ),
    "zip-corrupt-deflate": ("image", "a.zip", _corrupt_deflate_zip()),
    "zip-bad-crc": ("image", "b.zip", _bad_crc_zip()),
    "zip-truncated": ("image", "c.zip", _truncated_zip()),
    "zip-not-a-zip": ("image", "d.zip", b"PK\x03\x04 not really"),
    "zip-traversal": ("image", "e.zip", _zip({"../../etc/cat.png": png_bytes(4)})),
    "zip-absolute": ("image", "f.zip", _zip({"/abs/cat.png": png_bytes(5)})),
    "zip-nul-in-name": ("image", "g.zip", _zip({"cat/a\x00.png": png_bytes(6)})),
    "zip-not-images": ("image", "h.zip", _zip({"cat/a.txt": b"hello"})),
    "zip-png-garbage": ("image", "i.zip", _zip({"cat/a.png": b"\x89PNG garbage"})),
    "zip-empty": ("image", "j.zip", _zip({})),
    "zip-csv-nul-in-text-project": ("text", "k.zip", _zip({"t.csv": b"text\nhi\x00\n"})),
    "zip-corrupt-csv-member": (
        "text",
        "l.zip",
        _corrupt_deflate_zip().replace(b"cat/a.png", b"cat/a.csv"),
    ),
    "image-garbage-png": ("image", "a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
    "image-text-as-png": ("image", "b.png", b"hello"),
    "image-svg": ("image", "c.svg", b"<svg/>"),
    "image-gif": ("image", "d.gif", b"GIF89a"),
    "image-truncated-png": ("image", "e.png", png_bytes(7, (32, 32))[:40]),
    "image-name-nul": ("image", "f\x00.png", png_bytes(8)),
    "text-project-pdf": ("text", "a.pdf", b"%PDF-1.4"),
}


# Uploads whose bad part is ignored by design while the rest is a valid item: fields Label
# Studio tasks carry that the import does not read, an annotation with no choice.
# A quote left open at the end of a CSV closes at the end of the file (Python's csv, as Excel
# reads it); a NUL in an upload's file name is stored as "?".
ACCEPTED_UPLOADS = {
    "ls-nul-in-data-key",
    "ls-choices-empty",
    "ls-predictions-wrong-type",
    "csv-unbalanced-quote",
    "image-name-nul",
}


def _tampered_cursors() -> dict[str, str]:
    def encoded(raw: str) -> str:
        return base64.b64encode(raw.encode()).decode()

    return {
        "garbage": "!!!not-base64!!!",
        "b64-garbage": encoded("\x00\x01\x02"),
        "huge-offset": encoded("o=" + "9" * 40 + "&p=1"),
        "negative-offset": encoded("o=-5&r=1"),
        "huge-position": encoded("p=" + "9" * 400),
        "nul-position": encoded("p=a\x00b"),
        "date-position": encoded("p=not-a-date&r=1"),
        "long": "A" * 20_000,
        "nul": "ab\x00cd",
    }


CURSOR_LISTS = [
    "/api/projects/",
    "/api/projects/{p}/items/",
    "/api/projects/{p}/annotations/",
    "/api/projects/{p}/rounds/",
    "/api/projects/{p}/model-runs/",
]

# (id, role, method, path, body, how the body is sent)
REQUESTS: list[tuple[str, str, str, str, object, str]] = [
    # Login: the page, the admin and the token endpoint, with absurd usernames.
    *[
        (f"{where}-{label}", "anonymous", "post", path, {"username": name, "password": pw}, how)
        for where, path, how in (
            ("login-page", "/accounts/login/", "form"),
            ("admin-login", "/admin/login/", "form"),
            ("token", "/api/auth/token/", "json"),
            ("token-form", "/api/auth/token/", "form"),
        )
        for label, name, pw in (
            ("username-300", LONG_NAME, "x"),
            ("username-100k", VERY_LONG_NAME, "x"),
            ("username-nul", "ad\x00min", "x"),
            ("password-nul", "hostile-manager", "pa\x00ss"),
            ("password-100k", "hostile-manager", "p" * 100_000),
            ("username-list", ["a", "b"], "x"),
        )
        if not (how == "form" and isinstance(name, list))
    ],
    ("token-deep-json", "anonymous", "post", "/api/auth/token/", DEEP, "raw-json"),
    # Password change: the current password again, NUL, an absurd length.
    *[
        (
            f"password-change-{label}",
            "manager",
            "post",
            "/accounts/password_change/",
            {"old_password": old, "new_password1": new, "new_password2": new},
            "form",
        )
        for label, old, new in (
            ("same", "correct horse battery", "correct horse battery"),
            ("nul", "correct horse battery", "a new\x00phrase 42"),
            ("100k-wrong-old", "p" * 100_000, "a new phrase 42"),
            ("wrong-old-nul", "x\x00", "a new phrase 42"),
        )
    ],
    (
        "token-huge-number",
        "anonymous",
        "post",
        "/api/auth/token/",
        '{"username": ' + HUGE_TEXT + "}",
        "raw-json",
    ),
    # Project create and update with hostile JSON.
    ("create-deep-json", "creator", "post", "/api/projects/", DEEP, "raw-json"),
    ("create-deep-object", "creator", "post", "/api/projects/", DEEP_OBJECT, "raw-json"),
    (
        "create-huge-budget",
        "creator",
        "post",
        "/api/projects/",
        '{"name": "h", "kind": "text", "budget": ' + HUGE_TEXT + "}",
        "raw-json",
    ),
    (
        "create-huge-round",
        "creator",
        "post",
        "/api/projects/",
        '{"name": "h", "kind": "text", "round_size": ' + HUGE_TEXT + "}",
        "raw-json",
    ),
    (
        "create-huge-float",
        "creator",
        "post",
        "/api/projects/",
        '{"name": "h", "kind": "text", "evaluation_share": 1e999}',
        "raw-json",
    ),
    (
        "create-nan-share",
        "creator",
        "post",
        "/api/projects/",
        '{"name": "h", "kind": "text", "evaluation_share": NaN}',
        "raw-json",
    ),
    (
        "create-nul-name",
        "creator",
        "post",
        "/api/projects/",
        {"name": "a\x00b", "kind": "text"},
        "json",
    ),
    (
        "create-nul-description",
        "creator",
        "post",
        "/api/projects/",
        {"name": "ok", "kind": "text", "description": "\x00"},
        "json",
    ),
    (
        "create-nul-class",
        "creator",
        "post",
        "/api/projects/",
        {"name": "ok", "kind": "text", "classes": ["a\x00", "b"]},
        "json",
    ),
    (
        "create-lookalike-classes",
        "creator",
        "post",
        "/api/projects/",
        {"name": "ok", "kind": "text", "classes": ["cat", "ｃａｔ"]},
        "json",
    ),
    (
        "create-case-classes",
        "creator",
        "post",
        "/api/projects/",
        {"name": "ok", "kind": "text", "classes": ["Cat", "cat"]},
        "json",
    ),
    (
        "create-classes-object",
        "creator",
        "post",
        "/api/projects/",
        {"name": "ok", "kind": "text", "classes": {"a": 1}},
        "json",
    ),
    (
        "create-classes-numbers",
        "creator",
        "post",
        "/api/projects/",
        {"name": "ok", "kind": "text", "classes": [[1], [2]]},
        "json",
    ),
    (
        "create-kind-list",
        "creator",
        "post",
        "/api/projects/",
        {"name": "ok", "kind": ["text"]},
        "json",
    ),
    (
        "create-name-100k",
        "creator",
        "post",
        "/api/projects/",
        {"name": "n" * 100_000, "kind": "text"},
        "json",
    ),
    (
        "create-overlap-huge",
        "creator",
        "post",
        "/api/projects/",
        '{"name": "h", "kind": "text", "overlap": ' + HUGE_TEXT + "}",
        "raw-json",
    ),
    (
        "create-lease-negative",
        "creator",
        "post",
        "/api/projects/",
        {"name": "h", "kind": "text", "lease_seconds": -1},
        "json",
    ),
    (
        "create-strategy-nul",
        "creator",
        "post",
        "/api/projects/",
        {"name": "h", "kind": "text", "strategy": "ma\x00rgin"},
        "json",
    ),
    ("create-not-json", "creator", "post", "/api/projects/", "{not json", "raw-json"),
    ("create-json-array", "creator", "post", "/api/projects/", "[1, 2]", "raw-json"),
    ("create-json-string", "creator", "post", "/api/projects/", '"name"', "raw-json"),
    (
        "create-without-permission",
        "manager",
        "post",
        "/api/projects/",
        {"name": "x", "kind": "text"},
        "json",
    ),
    ("patch-deep-json", "manager", "patch", "/api/projects/{p}/", DEEP, "raw-json"),
    (
        "patch-huge-budget",
        "manager",
        "patch",
        "/api/projects/{p}/",
        '{"budget": ' + HUGE_TEXT + "}",
        "raw-json",
    ),
    (
        "patch-huge-daily-cap",
        "manager",
        "patch",
        "/api/projects/{p}/",
        '{"daily_cap": ' + HUGE_TEXT + "}",
        "raw-json",
    ),
    (
        "patch-huge-target",
        "manager",
        "patch",
        "/api/projects/{p}/",
        '{"target_value": 1e999}',
        "raw-json",
    ),
    (
        "patch-nan-target",
        "manager",
        "patch",
        "/api/projects/{p}/",
        '{"target_value": NaN}',
        "raw-json",
    ),
    ("patch-nul-name", "manager", "patch", "/api/projects/{p}/", {"name": "x\x00"}, "json"),
    ("patch-overlap", "manager", "patch", "/api/projects/{p}/", {"overlap": 3}, "json"),
    ("patch-kind", "manager", "patch", "/api/projects/{p}/", {"kind": "image"}, "json"),
    (
        "patch-counters",
        "manager",
        "patch",
        "/api/projects/{p}/",
        {"n_items": 0, "n_labeled": 99},
        "json-expect-2xx",
    ),
    (
        "patch-lookalike-class",
        "manager",
        "patch",
        "/api/projects/{p}/",
        {"classes": ["ＳＰＡＭ"]},
        "json",
    ),
    ("patch-case-class", "manager", "patch", "/api/projects/{p}/", {"classes": ["Spam"]}, "json"),
    ("patch-by-annotator", "annotator", "patch", "/api/projects/{p}/", {"budget": 1}, "json"),
    ("put-missing-fields", "manager", "put", "/api/projects/{p}/", {"budget": 5}, "json"),
    ("class-nul", "manager", "post", "/api/projects/{p}/classes/", {"name": "x\x00"}, "json"),
    (
        "class-lookalike",
        "manager",
        "post",
        "/api/projects/{p}/classes/",
        {"name": "ｓｐａｍ"},
        "json",
    ),
    ("class-long", "manager", "post", "/api/projects/{p}/classes/", {"name": "c" * 5000}, "json"),
    ("class-deep", "manager", "post", "/api/projects/{p}/classes/", DEEP, "raw-json"),
    ("class-number", "manager", "post", "/api/projects/{p}/classes/", {"name": ["a"]}, "json"),
    # Submitting labels.
    (
        "submit-huge-item",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        '{"item": ' + HUGE_TEXT + ', "label": "spam"}',
        "raw-json",
    ),
    (
        "submit-item-2pow63",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": 2**63, "label": "spam"},
        "json",
    ),
    (
        "submit-item-negative",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": -1, "label": "spam"},
        "json",
    ),
    (
        "submit-item-string",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "abc", "label": "spam"},
        "json",
    ),
    (
        "submit-item-float",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        '{"item": 1e308, "label": "spam"}',
        "raw-json",
    ),
    (
        "submit-label-nul",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{i}", "label": "sp\x00am"},
        "json",
    ),
    (
        "submit-label-list",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{i}", "label": ["spam"]},
        "json",
    ),
    (
        "submit-label-unknown",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{i}", "label": "emperor"},
        "json",
    ),
    (
        "submit-note-nul",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{i}", "label": "spam", "note": "n\x00"},
        "json",
    ),
    (
        "submit-client-key-nul",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{i}", "label": "spam", "client_key": "k\x00"},
        "json",
    ),
    (
        "submit-client-key-long",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{i}", "label": "spam", "client_key": "k" * 10_000},
        "json",
    ),
    (
        "submit-seconds-huge",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        '{"item": ITEM, "label": "spam", "seconds_spent": 1e999}',
        "raw-json",
    ),
    (
        "submit-seconds-nan",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        '{"item": ITEM, "label": "spam", "seconds_spent": NaN}',
        "raw-json",
    ),
    (
        "submit-seconds-negative",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{i}", "label": "spam", "seconds_spent": -3},
        "json",
    ),
    ("submit-deep", "annotator", "post", "/api/projects/{p}/annotations/", DEEP, "raw-json"),
    (
        "submit-not-held-item",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{o}", "label": "spam"},
        "json",
    ),
    (
        "submit-by-viewer",
        "viewer",
        "post",
        "/api/projects/{p}/annotations/",
        {"item": "{i}", "label": "spam"},
        "json",
    ),
    (
        "skip-huge-id",
        "annotator",
        "post",
        "/api/projects/{p}/items/" + HUGE_TEXT[:30] + "/skip/",
        None,
        "json",
    ),
    ("skip-not-held", "annotator", "post", "/api/projects/{p}/items/{o}/skip/", None, "json"),
    (
        "correct-nul-label",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/{a}/correct/",
        {"label": "\x00"},
        "json",
    ),
    (
        "correct-deep",
        "annotator",
        "post",
        "/api/projects/{p}/annotations/{a}/correct/",
        DEEP,
        "raw-json",
    ),
    (
        "adjudicate-nul",
        "manager",
        "post",
        "/api/projects/{p}/items/{i}/adjudicate/",
        {"label": "\x00"},
        "json",
    ),
    (
        "adjudicate-huge-item",
        "manager",
        "post",
        "/api/projects/{p}/items/" + HUGE_TEXT[:25] + "/adjudicate/",
        {"label": "spam"},
        "json",
    ),
    # Members.
    (
        "invite-long-username",
        "manager",
        "post",
        "/api/projects/{p}/members/",
        {"username": LONG_NAME, "role": "viewer"},
        "json",
    ),
    (
        "invite-nul-username",
        "manager",
        "post",
        "/api/projects/{p}/members/",
        {"username": "a\x00", "role": "viewer"},
        "json",
    ),
    (
        "invite-create-nul",
        "manager",
        "post",
        "/api/projects/{p}/members/",
        {"username": "a\x00", "role": "viewer", "create_account": True},
        "json",
    ),
    (
        "invite-create-long",
        "manager",
        "post",
        "/api/projects/{p}/members/",
        {"username": "n" * 151, "role": "viewer", "create_account": True},
        "json",
    ),
    (
        "invite-role-list",
        "manager",
        "post",
        "/api/projects/{p}/members/",
        {"username": "x", "role": ["viewer"]},
        "json",
    ),
    ("invite-deep", "manager", "post", "/api/projects/{p}/members/", DEEP, "raw-json"),
    (
        "member-role-nul",
        "manager",
        "patch",
        "/api/projects/{p}/members/{m}/",
        {"role": "\x00"},
        "json",
    ),
    (
        "member-huge-id",
        "manager",
        "patch",
        "/api/projects/{p}/members/" + HUGE_TEXT[:30] + "/",
        {"role": "viewer"},
        "json",
    ),
    ("remove-last-manager", "manager", "delete", "/api/projects/{p}/members/{mm}/", None, "json"),
    # Ids in paths far past 64 bits.
    *[
        (f"huge-id-{label}", "manager", "get", path, None, "json")
        for label, path in (
            ("project", "/api/projects/" + "9" * 30 + "/"),
            ("project-stats", "/api/projects/" + "9" * 30 + "/stats/"),
            ("item", "/api/projects/{p}/items/" + "9" * 30 + "/"),
            ("item-history", "/api/projects/{p}/items/" + "9" * 30 + "/history/"),
            ("annotation", "/api/projects/{p}/annotations/" + "9" * 30 + "/"),
            ("run", "/api/projects/{p}/model-runs/" + "9" * 30 + "/"),
            ("artifact", "/api/projects/{p}/model-runs/" + "9" * 30 + "/artifact/"),
            ("file", "/api/items/" + "9" * 30 + "/file/"),
            ("page-dashboard", "/projects/" + "9" * 30 + "/"),
            ("page-item", "/projects/{p}/items/" + "9" * 30 + "/"),
            ("page-file", "/items/" + "9" * 30 + "/file"),
            ("page-import-job", "/imports/" + "9" * 30 + "/"),
            ("page-member-role", "/projects/{p}/members/" + "9" * 30 + "/role/"),
        )
    ],
    # Query strings: filters, export options, cursors.
    ("filter-status-nul", "manager", "get", "/api/projects/{p}/items/?status=a%00b", None, "json"),
    ("filter-label-nul", "manager", "get", "/api/projects/{p}/items/?label=a%00b", None, "json"),
    ("filter-search-nul", "manager", "get", "/api/projects/{p}/items/?search=a%00b", None, "json"),
    (
        "filter-huge-id",
        "manager",
        "get",
        "/api/projects/{p}/items/?id=" + HUGE_TEXT[:40],
        None,
        "json",
    ),
    (
        "filter-annotator-huge",
        "manager",
        "get",
        "/api/projects/{p}/annotations/?annotator=" + HUGE_TEXT[:40],
        None,
        "json",
    ),
    (
        "filter-date-garbage",
        "manager",
        "get",
        "/api/projects/{p}/annotations/?created_after=yesterday%00",
        None,
        "json",
    ),
    (
        "filter-is-evaluation-garbage",
        "manager",
        "get",
        "/api/projects/{p}/items/?is_evaluation=%00",
        None,
        "json",
    ),
    (
        "export-format-nul",
        "manager",
        "get",
        "/api/projects/{p}/export/?format=cs%00v",
        None,
        "json",
    ),
    (
        "export-format-unknown",
        "manager",
        "get",
        "/api/projects/{p}/export/?format=xlsx",
        None,
        "json",
    ),
    (
        "export-final-garbage",
        "manager",
        "get",
        "/api/projects/{p}/export/?format=csv&final=%00",
        None,
        "json",
    ),
    (
        "export-by-annotator",
        "annotator",
        "get",
        "/api/projects/{p}/export/?format=csv",
        None,
        "json",
    ),
    *[
        (f"cursor-{label}-{index}", "manager", "get", f"{path}?cursor={cursor}", None, "json")
        for index, path in enumerate(CURSOR_LISTS)
        for label, cursor in _tampered_cursors().items()
    ],
    # Pages: forms with hostile values.
    (
        "page-settings-huge-budget",
        "manager",
        "post",
        "/projects/{p}/settings/",
        {
            "name": "x",
            "budget": HUGE_TEXT,
            "round_size": 10,
            "strategy": "default",
            "features": "auto",
            "evaluation_share": 0.1,
            "lease_seconds": 300,
        },
        "form",
    ),
    (
        "page-settings-nul-name",
        "manager",
        "post",
        "/projects/{p}/settings/",
        {
            "name": "x\x00",
            "round_size": 10,
            "strategy": "default",
            "features": "auto",
            "evaluation_share": 0.1,
            "lease_seconds": 300,
        },
        "form",
    ),
    (
        "page-settings-lookalike",
        "manager",
        "post",
        "/projects/{p}/settings/",
        {
            "name": "x",
            "round_size": 10,
            "strategy": "default",
            "features": "auto",
            "evaluation_share": 0.1,
            "lease_seconds": 300,
            "new_classes": "ｓｐａｍ",
        },
        "form",
    ),
    (
        "page-settings-nan",
        "manager",
        "post",
        "/projects/{p}/settings/",
        {
            "name": "x",
            "round_size": 10,
            "strategy": "default",
            "features": "auto",
            "evaluation_share": "NaN",
            "lease_seconds": 300,
        },
        "form",
    ),
    (
        "page-create-nul",
        "creator",
        "post",
        "/projects/new/",
        {"name": "x\x00", "kind": "text"},
        "form",
    ),
    (
        "page-create-huge",
        "creator",
        "post",
        "/projects/new/",
        {"name": "x", "kind": "text", "round_size": HUGE_TEXT},
        "form",
    ),
    (
        "page-submit-huge-item",
        "annotator",
        "post",
        "/projects/{p}/label/submit/",
        {"item_id": HUGE_TEXT, "label": "spam"},
        "form",
    ),
    (
        "page-submit-nul-label",
        "annotator",
        "post",
        "/projects/{p}/label/submit/",
        {"item_id": "{i}", "label": "s\x00"},
        "form",
    ),
    (
        "page-submit-note-nul",
        "annotator",
        "post",
        "/projects/{p}/label/submit/",
        {"item_id": "{i}", "label": "spam", "note": "\x00"},
        "form",
    ),
    (
        "page-submit-other-item",
        "annotator",
        "post",
        "/projects/{p}/label/submit/",
        {"item_id": "{o}", "label": "spam"},
        "form",
    ),
    (
        "page-skip-huge",
        "annotator",
        "post",
        "/projects/{p}/label/skip/",
        {"item_id": HUGE_TEXT},
        "form",
    ),
    (
        "page-skip-other-item",
        "annotator",
        "post",
        "/projects/{p}/label/skip/",
        {"item_id": "{o}"},
        "form",
    ),
    (
        "page-invite-long",
        "manager",
        "post",
        "/projects/{p}/members/",
        {"account": "existing", "username": LONG_NAME, "role": "viewer"},
        "form",
    ),
    (
        "page-invite-nul",
        "manager",
        "post",
        "/projects/{p}/members/",
        {"account": "new", "username": "a\x00b", "role": "viewer"},
        "form",
    ),
    (
        "page-role-nul",
        "manager",
        "post",
        "/projects/{p}/members/{m}/role/",
        {"role": "\x00"},
        "form",
    ),
    (
        "page-adjudicate-huge",
        "manager",
        "post",
        "/projects/{p}/conflicts/",
        {"item_id": HUGE_TEXT, "label": "spam"},
        "form",
    ),
    (
        "page-adjudicate-nul",
        "manager",
        "post",
        "/projects/{p}/conflicts/",
        {"item_id": "{i}", "label": "\x00"},
        "form",
    ),
    (
        "page-password-reset-nul",
        "anonymous",
        "post",
        "/accounts/password_reset/",
        {"email": "a\x00@b.c"},
        "form",
    ),
    # The audit page's filters (issue 23): bad values are a 400 form, never a query error.
    ("audit-item-not-a-number", "manager", "get", "/projects/{p}/audit/?item=x", None, "form"),
    (
        "audit-item-overflow",
        "manager",
        "get",
        "/projects/{p}/audit/?item=99999999999999999999999&format=csv",
        None,
        "form",
    ),
    ("audit-user-nul", "manager", "get", "/projects/{p}/audit/?user=a%00b", None, "form"),
    (
        "audit-date-impossible",
        "manager",
        "get",
        "/projects/{p}/audit/?date_from=2026-02-31&format=csv",
        None,
        "form",
    ),
    ("audit-where-unknown", "manager", "get", "/projects/{p}/audit/?where=%27--", None, "form"),
    ("audit-as-annotator", "annotator", "get", "/projects/{p}/audit/", None, "form"),
    ("audit-all-as-manager", "manager", "get", "/audit/?project=-1", None, "form"),
    # The pixel-text setting takes one of its two choices.
    (
        "api-pixel-text-unknown",
        "manager",
        "patch",
        "/api/projects/{p}/",
        {"dicom_pixel_text": "burn"},
        "json",
    ),
    (
        "api-pixel-text-nul",
        "manager",
        "patch",
        "/api/projects/{p}/",
        {"dicom_pixel_text": NUL},
        "json",
    ),
    # A page's or client's tab id (issue 23): letters, digits, - and _, at most 32.
    ("next-tab-nul", "annotator", "get", "/api/projects/{p}/next/?tab=a%00b", None, "json"),
    (
        "next-tab-too-long",
        "annotator",
        "get",
        "/api/projects/{p}/next/?tab=" + "t" * 33,
        None,
        "json",
    ),
    ("next-tab-path", "annotator", "get", "/api/projects/{p}/next/?tab=..%2Fx", None, "json"),
    (
        "label-lease-tab-quote",
        "annotator",
        "post",
        "/projects/{p}/label/lease/",
        {"tab": "'--"},
        "form",
    ),
    (
        "label-answer-tab-nul",
        "annotator",
        "post",
        "/projects/{p}/label/answer/",
        {"item_id": "{i}", "label": "spam", "tab": NUL},
        "form",
    ),
    (
        "label-undo-tab-huge",
        "annotator",
        "post",
        "/projects/{p}/label/undo/",
        {"tab": HUGE_TEXT},
        "form",
    ),
]


@pytest.fixture
def hostile(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.contrib.auth.models import Permission

    manager = UserFactory(username="hostile-manager")
    creator = UserFactory(username="hostile-creator")
    creator.user_permissions.add(Permission.objects.get(codename="add_project"))
    text = ProjectFactory(kind="text", created_by=manager, classes=("spam", "ham"))
    image = ProjectFactory(kind="image", created_by=manager, classes=("cat", "dog"))
    annotator, viewer = UserFactory(username="hostile-annotator"), UserFactory()
    for project in (text, image):
        membership_add(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
        membership_add(project=project, user=viewer, role=Membership.Role.VIEWER)
    items = [item_add(text, text=f"message {n}") for n in range(4)]
    round_add(text, items)
    held = services.next_item_lease(project=text, annotator=annotator).entry.item
    annotation, _ = services.annotation_submit(
        project=text, annotator=annotator, item_id=held.pk, label="spam"
    )
    held = services.next_item_lease(project=text, annotator=annotator).entry.item
    # Waiting in the queue, held by nobody: not this annotator's to answer or skip.
    other = QueueEntry.objects.filter(project=text, done=False, leased_by=None).first().item
    users = {
        "manager": manager,
        "creator": creator,
        "annotator": annotator,
        "viewer": viewer,
        "anonymous": None,
    }
    ids = {
        "{p}": text.pk,
        "{i}": held.pk,
        "{o}": other.pk,
        "{a}": annotation.pk,
        "{m}": Membership.objects.get(project=text, user=viewer).pk,
        "{mm}": Membership.objects.get(project=text, user=manager).pk,
    }
    return {"users": users, "ids": ids, "text": text, "image": image}


def stored_state() -> dict:
    """Everything a refused request must leave exactly as it was."""
    return {
        "projects": list(Project.objects.order_by("pk").values()),
        "classes": list(LabelClass.objects.order_by("pk").values()),
        "items": list(Item.objects.order_by("pk").values()),
        "annotations": list(Annotation.objects.order_by("pk").values()),
        "memberships": list(Membership.objects.order_by("pk").values()),
        "users": list(get_user_model().objects.order_by("pk").values("pk", "username", "password")),
        "queue": list(
            QueueEntry.objects.order_by("pk").values("pk", "item_id", "done", "leased_by_id")
        ),
    }


def _fill(value, ids: dict):
    if isinstance(value, str):
        for key, number in ids.items():
            value = value.replace(key, str(number))
        return int(value) if value.isdigit() and len(value) < 12 else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _client(user, *, api: bool):
    client = (
        APIClient(raise_request_exception=False) if api else Client(raise_request_exception=False)
    )
    if user is not None:
        client.force_login(user)
    return client


def _send(client, method: str, path: str, body, how: str, ids: dict):
    send = getattr(client, method)
    if how == "raw-json":
        raw = body.replace("ITEM", str(ids["{i}"]))
        return send(path, raw, content_type="application/json")
    if how == "form":
        return send(path, _fill(body, ids) or {})
    return send(path, _fill(body, ids), format="json")


@pytest.fixture
def server_log(caplog):
    caplog.set_level(logging.ERROR, logger="django.request")
    return caplog


def _assert_refused_cleanly(response, before: dict, server_log, *, allow_2xx=False):
    assert response.status_code < 500, response.content[:500]
    tracebacks = [r for r in server_log.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    if not allow_2xx and response.status_code < 400:
        body = response.content[:2000].decode(errors="replace")
        # A page that re-renders its form with the error is a refusal too.
        assert response.status_code in (200, 302), body
    assert stored_state() == before


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "how"),
    [pytest.param(*case[1:], id=case[0]) for case in REQUESTS],
)
def test_a_hostile_request_is_refused_with_a_4xx_and_changes_nothing(
    hostile, server_log, role, method, path, body, how
):
    ids = hostile["ids"]
    client = _client(hostile["users"][role], api=path.startswith("/api/"))
    before = stored_state()

    response = _send(
        client, method, _fill(path, ids) if isinstance(path, str) else path, body, how, ids
    )

    if how == "json-expect-2xx":
        # Read-only fields are ignored, never written: the counters stay the submits' own.
        assert response.status_code == 200
        assert stored_state()["projects"] == before["projects"]
        return
    _assert_refused_cleanly(response, before, server_log)
    if path.startswith("/api/") and response.status_code >= 400:
        assert response.json()["error"]["message"]


@pytest.mark.parametrize("upload", list(UPLOADS), ids=list(UPLOADS))
def test_a_hostile_upload_is_refused_with_a_reason_and_stores_nothing(hostile, server_log, upload):
    target, name, data = UPLOADS[upload]
    project = hostile[target]
    client = _client(hostile["users"]["manager"], api=True)
    before = stored_state()
    file = io.BytesIO(data)
    file.name = name

    response = client.post(f"/api/projects/{project.pk}/items/", {"file": file})

    # A DICOM file's name may be its patient's: never echoed.
    assert b"SMITH_JOHN" not in response.content
    if upload in ACCEPTED_UPLOADS:
        assert response.status_code == 201 and response.json()["imported"] == 1
        stored = Item.objects.filter(project=project).order_by("-pk").first()
        stored_strings = (stored.text, str(stored.metadata), stored.source_name)
        assert not any("\x00" in value for value in stored_strings)
        return
    _assert_refused_cleanly(response, before, server_log, allow_2xx=True)
    body = response.json()
    if response.status_code >= 400:
        assert body["error"]["message"]
    else:
        assert body["imported"] == 0 and body["rejected"], body
        assert all(row["reason"] for row in body["rejected"])
