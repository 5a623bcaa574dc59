"""DICOM in a real browser: an annotator labels CT and MR items by keyboard with the window
presets, invert, a window drag and frame navigation, while the worker retrains and serves the
next round. Screenshots go to test-output/."""

import io

import pydicom
import pytest
from django.urls import reverse
from pydicom.uid import generate_uid

from labeler import services
from labeler.models import Annotation, Item, ModelRun, Project, QueryRound
from tests.browser.test_labeling import log_in, shown_item, wait_for_next
from tests.factories import UserFactory
from tests.labeler.dicom_data import SAMPLES, identified_ct

ROUND_SIZE = 6
KEYS = {"CT": "1", "MR": "2"}


def mr_series(count: int) -> list[bytes]:
    """pydicom-data's 10-frame MR, as ``count`` distinct instances."""
    files = []
    for _ in range(count):
        dataset = pydicom.dcmread(SAMPLES / "emri_small.dcm")
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    return files


def dicom_project(manager) -> Project:
    project = services.project_create(
        name="Head CT or MR",
        kind=Project.Kind.IMAGE,
        classes=list(KEYS),
        created_by=manager,
        round_size=ROUND_SIZE,
    )
    files = [identified_ct(patient_id=f"PID-{n:08d}") for n in range(12)] + mr_series(12)
    for number, data in enumerate(files):
        services.items_import_stream(
            project=project, name=f"scan-{number}.dcm", stream=io.BytesIO(data)
        )
    return project


def modality(item_id: int) -> str:
    return Item.objects.get(pk=item_id).metadata["dicom"]["modality"]


def wait_for_rendition(page, fragment: str, absent: str = "@") -> None:
    page.wait_for_function(
        """([fragment, absent]) => {
            const image = document.querySelector("#label-panel .item-image");
            return image && image.src.includes(fragment) && !image.src.includes(absent)
                && image.complete && image.naturalWidth > 0;
        }""",
        arg=[fragment, absent],
    )


def image_src(page) -> str:
    return page.get_attribute("#label-panel .item-image", "src")


@pytest.mark.browser
def test_dicom_items_are_labeled_by_keyboard_with_presets_invert_and_frames(
    celery_worker, new_page, output_dir
):
    manager = UserFactory()
    project = dicom_project(manager)
    page = new_page()
    label_url = reverse("label", args=[project.pk])
    log_in(page, manager, label_url)
    page.evaluate("window.sameDocument = true")

    labeled: list[int] = []
    seen_ct = seen_mr = False
    while len(labeled) < 2 * ROUND_SIZE + 2:
        item_id = shown_item(page)
        page.wait_for_selector("#dicom-viewer:not([hidden])")
        if modality(item_id) == "CT" and not seen_ct:
            seen_ct = True
            page.screenshot(path=output_dir / "dicom-ct-own-window.png")
            page.keyboard.press("Shift+3")
            wait_for_rendition(page, "preset=lung")
            assert page.get_attribute('[data-preset="lung"]', "aria-pressed") == "true"
            page.screenshot(path=output_dir / "dicom-ct-lung.png")
            page.keyboard.press("Shift+4")
            wait_for_rendition(page, "preset=bone")
            page.keyboard.press("Shift+I")
            wait_for_rendition(page, "invert=1")
            page.screenshot(path=output_dir / "dicom-ct-bone-inverted.png")
            page.keyboard.press("Shift+I")
            wait_for_rendition(page, "preset=bone", absent="invert")
            # A drag on the image sets a window of its own; the readout follows.
            box = page.locator("#label-panel .item-image").bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + 80, y + 40, steps=8)
            page.mouse.up()
            wait_for_rendition(page, "wc=")
            assert page.get_attribute('[data-preset="bone"]', "aria-pressed") == "false"
            assert page.text_content(".dicom-window").startswith("W ")
            page.keyboard.press("Shift+1")
            wait_for_rendition(page, "preset=own")
            # None of the viewer's keys answered the item.
            assert shown_item(page) == item_id
        if modality(item_id) == "MR" and not seen_mr:
            seen_mr = True
            # The viewer fills in when the item is shown (the page swaps items at once).
            page.wait_for_function(
                "() => document.querySelector('.dicom-frame').textContent === 'Frame 6 of 10'"
            )
            page.keyboard.press("ArrowDown")
            wait_for_rendition(page, "frame=6")
            page.mouse.move(*_stage_centre(page))
            page.mouse.wheel(0, -120)
            page.mouse.wheel(0, -120)
            wait_for_rendition(page, "frame=4")
            assert page.text_content(".dicom-frame") == "Frame 5 of 10"
            page.screenshot(path=output_dir / "dicom-mr-frames.png")
            assert shown_item(page) == item_id
        page.keyboard.press(KEYS[modality(item_id)])
        wait_for_next(page, item_id)
        labeled.append(item_id)

    assert page.evaluate("window.sameDocument === true"), "the labeling page reloaded"
    assert seen_ct and seen_mr
    # Answers are sent in the background, in order: wait until the server has them all.
    page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")
    annotations = Annotation.objects.filter(project=project)
    assert annotations.count() == len(labeled) == len(set(labeled))
    assert all(a.label.name == modality(a.item_id) for a in annotations)
    # The loop ran under the page: a model trained on these labels chose a later round.
    trained = ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED).exclude(
        artifact_path=""
    )
    assert trained.exists()
    assert QueryRound.objects.filter(project=project, model_run__in=trained).exists()
    page.screenshot(path=output_dir / "dicom-after-rounds.png")


def _stage_centre(page) -> tuple[float, float]:
    box = page.locator("#label-panel .stage").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
