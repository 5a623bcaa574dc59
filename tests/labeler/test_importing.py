import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeler import services
from labeler.importing import ImportSourceError
from labeler.models import Item, Project
from tests.conftest import png_bytes
from tests.factories import ProjectFactory


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG that claims width×height pixels but carries almost no data: a decompression bomb
    as an attacker would send it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def zip_bytes(entries: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.django_db
def test_zip_with_corrupt_bomb_and_traversal_entries_imports_only_the_valid_png(
    image_project, settings, tmp_path
):
    valid = png_bytes(color=10)
    corrupt = valid[:40] + b"garbage" * 10
    archive = zip_bytes(
        {
            "ok.png": valid,
            "broken.png": corrupt,
            "huge.png": huge_png_header(20000, 20000),
            "../evil.txt": b"owned",
        }
    )
    before = all_files(tmp_path)

    report = services.items_import_stream(project=image_project, name="batch.zip", stream=archive)

    assert report.imported == 1
    reasons = {r["name"]: r["reason"] for r in report.rejected}
    assert set(reasons) == {"broken.png", "huge.png", "../evil.txt"}
    assert "corrupt" in reasons["broken.png"] or "not a readable image" in reasons["broken.png"]
    assert "pixel limit" in reasons["huge.png"]
    assert "unsafe path" in reasons["../evil.txt"]
    item = Item.objects.get(project=image_project)
    assert item.source_name == "ok.png"
    # Exactly one new file, and it is inside MEDIA_ROOT.
    new_files = all_files(tmp_path) - before
    assert len(new_files) == 1
    (stored,) = new_files
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT))
    assert stored.read_bytes() == valid
    assert not any(p.name == "evil.txt" for p in tmp_path.parent.rglob("evil.txt"))
    image_project.refresh_from_db()
    assert image_project.n_items == 1


@pytest.mark.django_db
def test_reimporting_the_same_images_counts_duplicates_and_stores_nothing_new(image_project):
    archive = {"a.png": png_bytes(1), "b.png": png_bytes(2), "copy-of-a.png": png_bytes(1)}

    first = services.items_import_stream(
        project=image_project, name="x.zip", stream=zip_bytes(archive)
    )
    second = services.items_import_stream(
        project=image_project, name="x.zip", stream=zip_bytes(archive)
    )

    assert (first.imported, first.duplicates) == (2, 1)
    assert (second.imported, second.duplicates) == (0, 3)
    assert Item.objects.filter(project=image_project).count() == 2


@pytest.mark.django_db
def test_an_image_just_over_the_pixel_cap_is_refused_before_decoding(image_project, settings):
    settings.TWEEZERS_MAX_IMAGE_PIXELS = 1000

    report = services.items_import_stream(
        project=image_project, name="big.png", stream=io.BytesIO(huge_png_header(40, 40))
    )

    assert report.imported == 0
    assert report.rejected == [
        {"name": "big.png", "reason": "image is 40×40 = 1,600 pixels, over the 1,000 pixel limit"}
    ]


@pytest.mark.django_db
def test_class_subfolders_in_a_zip_become_prelabels(image_project):
    archive = zip_bytes(
        {"cat/1.png": png_bytes(1), "dog/2.png": png_bytes(2), "3.png": png_bytes(3)}
    )

    report = services.items_import_stream(project=image_project, name="x.zip", stream=archive)

    assert report.imported == 3
    labels = dict(Item.objects.values_list("source_name", "label__name"))
    assert labels == {"cat/1.png": "cat", "dog/2.png": "dog", "3.png": None}
    image_project.refresh_from_db()
    assert image_project.n_labeled == 2


@pytest.mark.django_db
def test_a_folder_with_an_unknown_class_rejects_those_files_and_keeps_the_rest(
    image_project, tmp_path
):
    root = tmp_path / "images"
    (root / "cat").mkdir(parents=True)
    (root / "horse").mkdir()
    (root / "cat" / "1.png").write_bytes(png_bytes(1))
    (root / "horse" / "2.png").write_bytes(png_bytes(2))
    (root / "notes.txt").write_text("not an image")
    (root / "link.png").symlink_to(root / "cat" / "1.png")

    report = services.items_import_path(project=image_project, path=root)

    assert report.imported == 1
    reasons = {r["name"]: r["reason"] for r in report.rejected}
    assert "unknown label 'horse'" in reasons["horse/2.png"]
    assert "not an image" in reasons["notes.txt"]
    assert "symbolic link" in reasons["link.png"]


@pytest.mark.django_db
def test_a_project_without_classes_takes_them_from_its_first_labeled_import(user):
    project = ProjectFactory(kind="image", classes=[], created_by=user)
    archive = zip_bytes({"zero/a.png": png_bytes(1), "one/b.png": png_bytes(2)})

    services.items_import_stream(project=project, name="x.zip", stream=archive)

    assert sorted(project.classes.values_list("name", flat=True)) == ["one", "zero"]


@pytest.mark.django_db
def test_csv_rows_with_bad_encoding_or_no_text_are_reported_by_line(text_project):
    data = (
        b"text,label,source\n"
        b"buy cheap pills now,spam,web\n"
        b"caf\xe9 latin-1 row,ham,mail\n"
        b",ham,mail\n"
        b"see you at lunch,ham,mail\n"
        b"totally new class,eggs,mail\n"
    )

    report = services.items_import_stream(
        project=text_project, name="texts.csv", stream=io.BytesIO(data)
    )

    assert report.imported == 2
    reasons = {r["name"]: r["reason"] for r in report.rejected}
    assert "UTF-8" in reasons["texts.csv line 3"]
    assert reasons["texts.csv line 4"] == "empty text"
    assert "unknown label 'eggs'" in reasons["texts.csv line 6"]
    item = Item.objects.get(text="buy cheap pills now")
    assert item.label.name == "spam"
    assert item.metadata == {"source": "web"}


@pytest.mark.django_db
def test_jsonl_reports_invalid_lines_and_imports_the_rest(text_project):
    lines = [
        json.dumps({"text": "hello there", "label": "ham"}),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"body": "no text key"}),
        json.dumps({"text": "win money", "id": 7}),
    ]
    stream = io.BytesIO("\n".join(lines).encode())

    report = services.items_import_stream(project=text_project, name="t.jsonl", stream=stream)

    assert report.imported == 2
    assert [r["name"] for r in report.rejected] == [
        "t.jsonl line 2",
        "t.jsonl line 3",
        "t.jsonl line 4",
    ]
    assert "invalid JSON" in report.rejected[0]["reason"]
    assert Item.objects.get(text="win money").metadata == {"id": 7}


@pytest.mark.django_db
def test_a_csv_without_a_text_column_is_refused_whole_and_nothing_changes(text_project):
    stream = io.BytesIO(b"body,label\nhello,ham\n")

    with pytest.raises(ImportSourceError, match="no text column"):
        services.items_import_stream(project=text_project, name="t.csv", stream=stream)

    assert not Item.objects.filter(project=text_project).exists()


@pytest.mark.django_db
def test_a_failing_batch_keeps_no_rows_and_no_files(image_project, monkeypatch, settings):
    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Item.objects, "bulk_create", fail)
    archive = zip_bytes({"a.png": png_bytes(1), "b.png": png_bytes(2)})

    with pytest.raises(RuntimeError):
        services.items_import_stream(project=image_project, name="x.zip", stream=archive)

    assert not Item.objects.exists()
    assert not all_files(Path(settings.MEDIA_ROOT))
    assert Project.objects.get(pk=image_project.pk).n_items == 0


@pytest.mark.django_db
def test_import_items_command_prints_counts_and_each_rejection(image_project, tmp_path, capsys):
    path = tmp_path / "upload.zip"
    path.write_bytes(zip_bytes({"a.png": png_bytes(1), "b.png": b"nope"}).getvalue())

    call_command("import_items", str(image_project.pk), str(path))

    out, err = capsys.readouterr()
    assert "imported 1, duplicates 0, rejected 1" in out
    assert "rejected b.png" in err


@pytest.mark.django_db
def test_import_items_command_names_a_missing_project_or_file(image_project, tmp_path):
    with pytest.raises(CommandError, match="no project"):
        call_command("import_items", "does-not-exist", str(tmp_path))
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_items", str(image_project.pk), str(tmp_path / "missing.zip"))
    with pytest.raises(CommandError, match="not a readable zip"):
        bad = tmp_path / "bad.zip"
        bad.write_bytes(b"this is not a zip")
        call_command("import_items", str(image_project.pk), str(bad))
