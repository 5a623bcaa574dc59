"""A findings project labeled by keyboard on a phone (390×844), in English and in Korean:
present, uncertain (Shift), absent (cycling back), "no finding", undo and skip, with what is
stored checked after each step (issue 21)."""

import pytest
from django.urls import reverse

from labeler.models import Annotation, Project, Skip
from labeler.selectors_findings import annotation_states
from tests.browser.test_labeling import (
    log_in,
    shown_item,
    ten_texts_project,
    wait_for_next,
    wait_until_saved,
)
from tests.factories import UserFactory

# CheXpert's fourteen findings.
FINDINGS = [
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Effusion",
    "Emphysema",
    "Fibrosis",
    "Hernia",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pleural thickening",
    "Pneumonia",
    "Pneumothorax",
]
WIDTH, HEIGHT = 390, 844


def findings_project(manager) -> Project:
    return ten_texts_project(
        manager, name="Chest reports", classes=FINDINGS, task=Project.Task.FINDINGS
    )


def current_states(item_id: int, project: Project) -> dict[str, str]:
    answer = Annotation.objects.get(item_id=item_id, is_current=True)
    states = annotation_states(project=project, annotation_ids=[answer.pk])[answer.pk]
    return {name: state for name, state in states.items() if state != "absent"}


@pytest.mark.browser
@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_findings_project_is_labeled_by_keyboard_on_a_phone(
    transactional_db, browser, live_server, output_dir, language
):
    manager = UserFactory()
    project = findings_project(manager)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": WIDTH, "height": HEIGHT}, has_touch=True
    )
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    try:
        log_in(page, manager, reverse("label", args=[project.pk]))
        first = shown_item(page)
        assert page.get_attribute("html", "lang") == language
        submit_text = page.inner_text(".submit-findings")
        assert ("제출" if language == "ko" else "Submit") in submit_text

        # The layout holds: no sideways scrolling, all fourteen findings on the first screen.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        buttons = page.locator("#label-ready .finding-button")
        assert buttons.count() == 14
        for index in range(14):
            box = buttons.nth(index).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (index, box)
            assert box["y"] + box["height"] <= HEIGHT, (index, box)
        page.screenshot(path=output_dir / f"findings-{language}-{WIDTH}x{HEIGHT}.png")

        # Present (1), uncertain (Shift+2), and 3 cycled present → uncertain → absent.
        page.keyboard.press("1")
        page.keyboard.press("Shift+2")
        for _ in range(3):
            page.keyboard.press("3")
        assert page.get_attribute('[data-finding="Atelectasis"]', "data-state") == "present"
        assert page.get_attribute('[data-finding="Cardiomegaly"]', "data-state") == "uncertain"
        assert page.get_attribute('[data-finding="Consolidation"]', "data-state") == "absent"
        page.screenshot(path=output_dir / f"findings-{language}-marked.png")
        page.keyboard.press("Enter")
        wait_for_next(page, first)
        wait_until_saved(page)
        assert current_states(first, project) == {
            "Atelectasis": "present",
            "Cardiomegaly": "uncertain",
        }
        # The next item starts with every finding absent.
        assert page.locator('#label-ready .finding-button:not([data-state="absent"])').count() == 0

        # "No finding" is one key; then undo brings that item back, to answer again.
        second = shown_item(page)
        page.keyboard.press("0")
        wait_for_next(page, second)
        wait_until_saved(page)
        assert current_states(second, project) == {}
        page.keyboard.press("Backspace")
        page.wait_for_function(
            f"() => document.getElementById('label-panel').dataset.itemId === '{second}'"
        )
        wait_until_saved(page)
        assert not Annotation.objects.filter(item_id=second, is_current=True).exists()
        page.keyboard.press("e")  # Pneumothorax's key after 1–9 and a–d
        page.keyboard.press("Enter")
        wait_for_next(page, second)
        wait_until_saved(page)
        assert current_states(second, project) == {"Pneumothorax": "present"}

        # Skip with Space.
        third = shown_item(page)
        page.keyboard.press(" ")
        wait_for_next(page, third)
        wait_until_saved(page)
        assert Skip.objects.filter(item_id=third, annotator=manager).exists()

        strip = page.inner_text("#label-strip")
        assert f"#{first} Atelectasis, Cardiomegaly?" in strip
        assert f"#{second} Pneumothorax" in strip
        page.screenshot(path=output_dir / f"findings-{language}-strip.png", full_page=True)
        project.refresh_from_db()
        assert project.n_annotations == 3  # one answer per item, however many findings
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(768, 1024), (1024, 768)])
def test_fourteen_findings_fit_a_tablet(
    transactional_db, browser, live_server, output_dir, width, height
):
    manager = UserFactory()
    project = findings_project(manager)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}, has_touch=True
    )
    page = context.new_page()
    try:
        log_in(page, manager, reverse("label", args=[project.pk]))
        shown_item(page)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        buttons = page.locator("#label-ready .finding-button")
        for index in range(buttons.count()):
            box = buttons.nth(index).bounding_box()
            assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
            assert box["height"] >= 40, (index, box)
        submit = page.locator(".submit-findings").bounding_box()
        assert submit["y"] + submit["height"] <= height
        page.screenshot(path=output_dir / f"findings-{width}x{height}.png")
    finally:
        context.close()


# Debian's debtags: names that share a long prefix and differ only at the end.
DEBTAGS = [
    "implemented-in::c",
    "implemented-in::c++",
    "implemented-in::perl",
    "implemented-in::python",
    "interface::commandline",
    "interface::text-mode",
    "works-with::audio",
    "works-with::image",
]


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_findings_named_alike_are_shown_whole_not_cut_to_the_same_prefix(
    transactional_db, browser, live_server, output_dir, width, height
):
    manager = UserFactory()
    project = ten_texts_project(
        manager, name="Package tags", classes=DEBTAGS, task=Project.Task.FINDINGS
    )
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}
    )
    page = context.new_page()
    try:
        log_in(page, manager, reverse("label", args=[project.pk]))
        shown_item(page)
        clipped = page.evaluate(
            """() => [...document.querySelectorAll('#label-ready .finding-name')]
                .filter((name) => name.scrollWidth > name.clientWidth
                                  || name.scrollHeight > name.clientHeight)
                .map((name) => name.textContent)"""
        )
        page.screenshot(path=output_dir / f"debtags-{width}x{height}.png")
        assert clipped == []
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
