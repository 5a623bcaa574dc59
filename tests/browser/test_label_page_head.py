"""On a phone the labeling page's head is one line: the project's name (cut with an ellipsis)
and its tabs (scrollable). Both must start on the screen: a column laid out flush right
pushed the start of a long name and the first tabs ("Label", "Dashboard") off its left edge,
where no scrolling reaches them."""

import pytest
from django.urls import reverse

from tests.browser.test_labeling import log_in, shown_item, ten_texts_project
from tests.factories import UserFactory


@pytest.mark.browser
def test_a_long_project_name_and_the_first_tab_start_on_a_phones_screen(
    transactional_db, browser, live_server, output_dir
):
    manager = UserFactory()
    project = ten_texts_project(
        manager, name="Radiology series (DICOM, one item per series)", classes=["CT", "MR"]
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        log_in(page, manager, reverse("label", args=[project.pk]))
        shown_item(page)
        page.screenshot(path=output_dir / "label-head-390x844.png")
        title = page.locator(".project-head h1").bounding_box()
        first_tab = page.locator(".project-head .tabs a").first.bounding_box()
        assert title["x"] >= 0, title
        assert first_tab["x"] >= 0, first_tab
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
