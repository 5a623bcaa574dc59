"""The manager's workbench in Chromium: the items page filtered and a label corrected, the
export button's download, the pages in Korean, the styled error pages, and every page but
the labeling page at phone width (390×844) without horizontal scrolling. Screenshots go to
test-output/."""

import csv
import io

import pytest
from django.urls import reverse

from labeler import services
from labeler.models import Annotation, Item, Membership
from tests.browser.test_labeling import digits_project, log_in, run_queued_here
from tests.factories import UserFactory

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def workbench(transactional_db):
    """A digits project with a model, eight labels by an annotator (one skip), a viewer."""
    manager = UserFactory(username="head")
    project = digits_project(manager, 60)
    run_queued_here(project)
    annotator = UserFactory(username="alice")
    Membership.objects.create(project=project, user=annotator, role="annotator")
    viewer = UserFactory(username="vera")
    Membership.objects.create(project=project, user=viewer, role="viewer")
    skipped = services.next_item_lease(project=project, annotator=annotator).entry.item
    services.item_skip(project=project, annotator=annotator, item_id=skipped.pk)
    label_open_entries_digits(project, annotator, 8)
    services.retrain_force(project=project)
    run_queued_here(project)
    return {"project": project, "manager": manager, "annotator": annotator, "viewer": viewer}


def label_open_entries_digits(project, annotator, count: int) -> None:
    from tests.browser.test_labeling import true_digit

    for _ in range(count):
        entry = services.next_item_lease(project=project, annotator=annotator).entry
        services.annotation_submit(
            project=project,
            annotator=annotator,
            item_id=entry.item_id,
            label=true_digit(entry.item_id),
        )


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_manager_filters_the_items_and_corrects_a_label(new_page, workbench, output_dir):
    project, manager = workbench["project"], workbench["manager"]
    page = new_page()
    items_url = reverse("project-items", args=[project.pk])
    log_in(page, manager, items_url)
    page.screenshot(path=output_dir / "items-all.png", full_page=True)

    page.select_option("select[name=status]", "skipped")
    page.click("#item-filters button[type=submit]")
    page.wait_for_url("**status=skipped**")
    rows = page.locator("tr[data-item]")
    assert rows.count() == 1
    skipped_id = int(rows.first.get_attribute("data-item"))
    assert Item.objects.get(pk=skipped_id).status == Item.Status.SKIPPED
    page.screenshot(path=output_dir / "items-filter-skipped.png", full_page=True)

    page.check(f'input[name=items][value="{skipped_id}"]')
    page.click("button[name=action][value=unskip]")
    page.wait_for_selector(".messages li.success")
    assert "back in the pool" in page.inner_text(".messages")
    assert Item.objects.get(pk=skipped_id).status == Item.Status.UNLABELED

    page.select_option("select[name=status]", "labeled")
    page.click("#item-filters button[type=submit]")
    page.wait_for_url("**status=labeled**")
    assert page.locator("tr[data-item]").count() == 8
    first = page.locator("tr[data-item]").first
    item_id = int(first.get_attribute("data-item"))
    old = Item.objects.get(pk=item_id).label.name
    new = "1" if old != "1" else "7"
    first.locator("a.item-link").click()
    page.wait_for_url(f"**/items/{item_id}/")
    page.click(f'.correct-form button[value="{new}"]')
    page.wait_for_selector(".messages li.success")
    assert Item.objects.get(pk=item_id).label.name == new
    history = [a.label.name for a in Annotation.objects.filter(item=item_id).order_by("id")]
    assert history == [old, new]
    assert page.locator("tr.state-replaced").count() == 1
    page.screenshot(path=output_dir / "item-corrected.png", full_page=True)

    page.goto(f"{items_url}?label={project.classes.get(name=new).pk}")
    assert str(item_id) in page.locator("tr[data-item]").evaluate_all(
        "rows => rows.map(r => r.dataset.item)"
    )


def test_export_button_downloads_the_labels(new_page, workbench, output_dir):
    project, manager = workbench["project"], workbench["manager"]
    page = new_page()
    log_in(page, manager, reverse("project-dashboard", args=[project.pk]))
    page.click("details.export summary")
    page.select_option("details.export select[name=format]", "csv")
    page.screenshot(path=output_dir / "export-open.png")
    with page.expect_download() as download_info:
        page.click("details.export button[type=submit]")
    download = download_info.value
    assert download.suggested_filename == f"project-{project.pk}-labels.csv"
    path = output_dir / download.suggested_filename
    download.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == Item.objects.filter(project=project, status="labeled").count() == 8


def test_the_pages_in_korean(new_page, workbench, output_dir):
    project, manager = workbench["project"], workbench["manager"]
    page = new_page()
    log_in(page, manager, reverse("project-list"))
    page.click('.language-switcher button[value="ko"]')
    page.wait_for_selector('html[lang="ko"]')
    assert "프로젝트" in page.inner_text("h1")
    page.screenshot(path=output_dir / "ko-projects.png", full_page=True)
    for name, url in [
        ("dashboard", reverse("project-dashboard", args=[project.pk])),
        ("items", reverse("project-items", args=[project.pk])),
        ("members", reverse("project-members", args=[project.pk])),
        ("settings", reverse("project-settings", args=[project.pk])),
    ]:
        page.goto(url)
        assert page.get_attribute("html", "lang") == "ko"
        page.screenshot(path=output_dir / f"ko-{name}.png", full_page=True)
    page.goto(reverse("project-dashboard", args=[project.pk]))
    page.wait_for_function(
        "() => window.tweezersChart !== undefined && window.tweezersChart !== null"
    )
    labels = page.evaluate("window.tweezersChart.data.datasets.map(d => d.label)")
    assert "정확도" in labels  # the chart's legend, from the JavaScript catalog
    assert "대시보드" in page.inner_text("nav.tabs")
    # The labeling page too: its buttons and its script's strings.
    page.goto(reverse("label", args=[project.pk]))
    assert page.get_attribute("html", "lang") == "ko"
    page.wait_for_selector(".class-buttons button")
    assert "건너뛰기" in page.inner_text(".skip-button")
    assert "항목" in page.inner_text("#label-item-name")  # "Item 12", from label.js's catalog
    page.screenshot(path=output_dir / "ko-label.png", full_page=True)
    # The choice is remembered: a new visit in the same browser is still Korean.
    page.goto(reverse("project-list"))
    assert page.get_attribute("html", "lang") == "ko"


def test_error_pages_are_styled_and_lead_back(new_page, workbench, output_dir):
    project = workbench["project"]
    page = new_page()
    log_in(page, workbench["viewer"], reverse("project-dashboard", args=[project.pk]))
    response = page.goto(reverse("project-settings", args=[project.pk]))
    assert response.status == 403
    assert page.locator(".error-page .error-code").inner_text() == "403"
    page.screenshot(path=output_dir / "error-403.png", full_page=True)
    page.click(".error-page a.button.primary")
    page.wait_for_url("**/")
    response = page.goto("/projects/999999/")
    assert response.status == 404
    assert page.locator(".error-page").is_visible()
    page.screenshot(path=output_dir / "error-404.png", full_page=True)

    annotator_page = new_page()
    log_in(annotator_page, workbench["annotator"], reverse("project-list"))
    annotator_page.goto(reverse("project-dashboard", args=[project.pk]))
    annotator_page.wait_for_url(f"**{reverse('label', args=[project.pk])}")


def test_pages_fit_a_phone_without_horizontal_scrolling(
    browser, live_server, workbench, output_dir
):
    project, manager = workbench["project"], workbench["manager"]
    item = Item.objects.filter(project=project, status="labeled").first()
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(reverse("login"))
        assert no_horizontal_scroll(page)
        page.screenshot(path=output_dir / "phone-login.png")
        log_in(page, manager, reverse("project-list"))
        pages = {
            "projects": reverse("project-list"),
            "dashboard": reverse("project-dashboard", args=[project.pk]),
            "items": reverse("project-items", args=[project.pk]),
            "item": reverse("item-history", args=[project.pk, item.pk]),
            "members": reverse("project-members", args=[project.pk]),
            "settings": reverse("project-settings", args=[project.pk]),
            "import": reverse("project-import", args=[project.pk]),
            "conflicts": reverse("project-conflicts", args=[project.pk]),
            "not-found": "/projects/999999/",
        }
        wide = []
        for name, url in pages.items():
            page.goto(url)
            page.screenshot(path=output_dir / f"phone-{name}.png", full_page=True)
            if not no_horizontal_scroll(page):
                width = page.evaluate("document.documentElement.scrollWidth")
                wide.append(f"{name}: {width}px")
        assert not wide, f"wider than the phone's 390 px: {wide}"
    finally:
        context.close()
