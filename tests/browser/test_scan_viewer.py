"""A series project in a real browser at 768×1024 (issue 22): the annotator scrolls each scan
by wheel, arrows, PageUp/PageDown and Home/End, applies window presets and invert to the whole
series, jumps to the model's evidence slices, switches a study's series by key, and labels
scans by keyboard while the worker retrains. A slice change from the browser's cache is timed
in the page (performance.now() from the swap to the decoded image); the timings are printed
and left in test-output/ for bench/scan_viewer.py. Screenshots go to test-output/."""

import json
import statistics

import pydicom
import pytest
from django.urls import reverse

from labeler import services
from labeler.models import Annotation, ModelRun, Project
from tests.browser.test_labeling import log_in, shown_item, wait_for_next
from tests.factories import UserFactory
from tests.labeler.scan_data import mr_series, zipped
from tests.processes import wait_until

SLICES = 24
KEYS = {"parkinson": "1", "normal": "2"}
TIMINGS_FILE = "scan_slice_timings.json"


def series_project(manager) -> Project:
    project = services.project_create(
        name="Brain MRI series", kind=Project.Kind.IMAGE, unit="series",
        classes=list(KEYS), created_by=manager, round_size=4,
    )  # fmt: skip
    for number in range(14):
        # The first six arrive labeled (class folders), so the first retrain has a model.
        folder = ("parkinson/" if number % 2 else "normal/") if number < 6 else ""
        instances = mr_series(series_number=number + 1, count=SLICES, prefix=f"s{number}-")
        services.items_import_stream(
            project=project, name=f"series-{number}.zip", stream=zipped(instances, folder=folder)
        )
    return project


def shown(page) -> dict:
    return page.evaluate(
        """() => {
            const image = document.querySelector("#label-panel .item-image");
            return { src: image.src, ok: image.complete && image.naturalWidth > 0,
                     text: document.querySelector(".dicom-frame").textContent };
        }"""
    )


def wait_for_slice(page, index: int, *fragments: str, absent: str = "@") -> None:
    page.wait_for_function(
        """([index, fragments, absent]) => {
            const image = document.querySelector("#label-panel .item-image");
            if (!image || !image.src.includes("/scan/slice.png")) return false;
            const at = new URL(image.src).searchParams.get("index");
            return at === String(index) && fragments.every((f) => image.src.includes(f))
                && !image.src.includes(absent) && image.complete && image.naturalWidth > 0;
        }""",
        arg=[index, list(fragments), absent],
    )


def evidence_marks(page) -> list[int]:
    return page.evaluate(
        "() => [...document.querySelectorAll('[data-scan-marks] span')]"
        ".map((mark) => Number(mark.dataset.slice))"
    )


def stage_centre(page) -> tuple[float, float]:
    box = page.locator("#label-panel .stage").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def time_cached_slice_changes(page, presses: int = 40) -> list[float]:
    """Scroll the whole series once (the prefetch keeps every slice decoded), then time
    ``presses`` slice changes that the cache serves."""
    page.keyboard.press("Home")
    wait_for_slice(page, 0)
    page.wait_for_function(
        """(count) => {
            const slices = window.tweezersDicom.slices;
            const ready = (i) => [...slices].some(([url, entry]) => entry.ready
                && new URL(url, location.href).searchParams.get("index") === String(i)
                && url.includes("preset=own") && !url.includes("invert"));
            return Array.from({ length: count }, (_, i) => i + 1).every(ready);
        }""",
        arg=12,
    )
    page.evaluate("window.tweezersDicom.sliceTimings.length = 0")
    for press in range(presses):
        index = press % 12 + 1 if (press // 12) % 2 == 0 else 11 - press % 12
        page.keyboard.press("ArrowDown" if (press // 12) % 2 == 0 else "ArrowUp")
        wait_for_slice(page, index)
        page.wait_for_function(
            "(n) => window.tweezersDicom.sliceTimings.length >= n", arg=press + 1
        )
    timings = page.evaluate("window.tweezersDicom.sliceTimings")
    return [t["ms"] for t in timings if t["cached"]]


@pytest.mark.browser
@pytest.mark.slow
def test_scans_scroll_by_wheel_and_keys_with_presets_evidence_and_keyboard_labels(
    request, new_page, output_dir
):
    manager = UserFactory()
    project = series_project(manager)
    # The worker starts once every scan is in, so the first features and model cover them
    # all (a scan imported later waits for the next run's evidence).
    request.getfixturevalue("celery_worker")
    wait_until(
        lambda: (
            ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
            .exclude(artifact_path="")
            .exists()
        ),
        timeout=180,
        what="the first retrain on the pre-labeled scans",
    )
    page = new_page()
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, manager, reverse("label", args=[project.pk]))
    page.evaluate("window.sameDocument = true")

    item_id = shown_item(page)
    page.wait_for_selector("#dicom-viewer:not([hidden]) [data-scan-nav]:not([hidden])")
    wait_for_slice(page, SLICES // 2, "series=0")
    assert shown(page)["text"] == f"Slice {SLICES // 2 + 1} of {SLICES}"
    page.screenshot(path=output_dir / "scan-series-middle-768.png")

    page.mouse.move(*stage_centre(page))
    page.mouse.wheel(0, 120)
    wait_for_slice(page, 13)
    page.mouse.wheel(0, -120)
    page.mouse.wheel(0, -120)
    wait_for_slice(page, 11)
    for key, index in [("ArrowDown", 12), ("ArrowUp", 11), ("PageDown", 16), ("PageUp", 11),
                       ("End", SLICES - 1), ("Home", 0)]:  # fmt: skip
        page.keyboard.press(key)
        wait_for_slice(page, index)
    assert shown(page)["text"] == f"Slice 1 of {SLICES}"
    assert page.get_attribute("[data-scan-slider]", "value") == "0"

    # Presets, invert and a dragged window hold for every slice of the series.
    page.keyboard.press("Shift+5")
    wait_for_slice(page, 0, "preset=brain")
    page.keyboard.press("ArrowDown")
    wait_for_slice(page, 1, "preset=brain")
    page.keyboard.press("Shift+I")
    wait_for_slice(page, 1, "preset=brain", "invert=1")
    page.keyboard.press("PageDown")
    wait_for_slice(page, 6, "preset=brain", "invert=1")
    page.screenshot(path=output_dir / "scan-series-brain-inverted.png")
    x, y = stage_centre(page)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 30, steps=6)
    page.mouse.up()
    wait_for_slice(page, 6, "wc=")
    page.keyboard.press("ArrowDown")
    wait_for_slice(page, 7, "wc=", "invert=1")
    page.keyboard.press("Shift+1")
    page.keyboard.press("Shift+I")
    wait_for_slice(page, 7, "preset=own", absent="invert")

    # The model's evidence slices: marked on the scrollbar, reached by Shift+E in turn.
    marks = evidence_marks(page)
    assert len(marks) == 3 and all(0 <= m < SLICES for m in marks)
    for mark in marks:
        page.keyboard.press("Shift+E")
        wait_for_slice(page, mark)
    page.screenshot(path=output_dir / "scan-series-evidence.png")

    cached = time_cached_slice_changes(page)
    median = statistics.median(cached)
    print(f"\nslice change from cache: {len(cached)} changes, median {median:.1f} ms, "
          f"max {max(cached):.1f} ms")  # fmt: skip
    (output_dir / TIMINGS_FILE).write_text(json.dumps({"cached_ms": cached}))
    assert len(cached) >= 30
    # None of the viewer's keys answered the scan.
    assert shown_item(page) == item_id

    labeled = []
    for number in range(6):
        current = shown_item(page)
        page.keyboard.press(KEYS["parkinson" if number % 2 else "normal"])
        wait_for_next(page, current)
        labeled.append(current)
        page.wait_for_selector("#dicom-viewer:not([hidden]) [data-scan-nav]:not([hidden])")
    page.wait_for_function("() => window.tweezersLabel.outbox.length === 0")
    assert page.evaluate("window.sameDocument === true"), "the labeling page reloaded"
    stored = Annotation.objects.filter(project=project, item_id__in=labeled)
    assert sorted(stored.values_list("item_id", flat=True)) == sorted(labeled)
    page.screenshot(path=output_dir / "scan-series-after-labels.png")


@pytest.mark.browser
def test_a_studys_series_are_listed_by_description_and_switched_by_key(
    celery_worker, new_page, output_dir
):
    manager = UserFactory()
    project = services.project_create(
        name="Brain MRI studies", kind=Project.Kind.IMAGE, unit="study",
        classes=list(KEYS), created_by=manager, round_size=4,
    )  # fmt: skip
    for number in range(2):
        study = pydicom.uid.generate_uid()
        first = mr_series(series_number=2, study_uid=study, count=9, prefix=f"{number}t1-")
        second = mr_series(series_number=5, study_uid=study, count=5, prefix=f"{number}t2-")
        parts = [*first, *second]
        services.items_import_stream(project=project, name=f"s{number}.zip", stream=zipped(parts))
    page = new_page()
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, manager, reverse("label", args=[project.pk]))
    shown_item(page)
    page.wait_for_selector("[data-scan-series]:visible")
    options = page.eval_on_selector_all("[data-scan-series] option", "o => o.map(x => x.text)")
    assert options == ["MR series 2 (9)", "MR series 5 (5)"]
    wait_for_slice(page, 4, "series=0")
    page.keyboard.press("Shift+ArrowRight")
    wait_for_slice(page, 2, "series=1")
    assert shown(page)["text"] == "Slice 3 of 5"
    page.keyboard.press("End")
    wait_for_slice(page, 4, "series=1")
    page.screenshot(path=output_dir / "scan-study-second-series-768.png")
    page.keyboard.press("Shift+ArrowLeft")
    wait_for_slice(page, 4, "series=0")
    assert page.input_value("[data-scan-series]") == "0"


@pytest.mark.browser
def test_a_one_slice_series_shows_no_slider_and_no_hint_speaks_of_frames(
    celery_worker, new_page, output_dir
):
    """A scan's slices are moved by ↑ ↓ and the wheel (the slice line says so); the status line
    used to say they moved frames, and a one-slice series showed a slider with nowhere to go."""
    manager = UserFactory()
    project = services.project_create(
        name="Localisers", kind=Project.Kind.IMAGE, unit="series",
        classes=list(KEYS), created_by=manager, round_size=4,
    )  # fmt: skip
    for number in range(2):
        instances = mr_series(series_number=number + 1, count=1, prefix=f"one{number}-")
        services.items_import_stream(
            project=project, name=f"one-{number}.zip", stream=zipped(instances)
        )
    page = new_page()
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, manager, reverse("label", args=[project.pk]))
    shown_item(page)
    page.wait_for_selector("[data-scan-nav]:visible")
    assert page.is_hidden(".scan-track")
    hints = page.locator("#dicom-viewer .muted").all_inner_texts()
    assert hints and not any("frame" in hint for hint in hints), hints
    assert any("slice" in hint for hint in hints), hints
    page.screenshot(path=output_dir / "scan-one-slice-768.png")
