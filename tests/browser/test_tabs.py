"""Two tabs of one annotator label side by side: each holds items of its own and neither
refuses what the other answers."""

import pytest

from labeler.models import Annotation
from tests.browser.test_labeling import (
    log_in,
    shown_item,
    true_digit,
    two_annotators,
    wait_for_next,
    wait_until_saved,
)

PRESSES_PER_TAB = 5


@pytest.mark.browser
def test_two_tabs_of_one_annotator_label_different_items_and_nothing_is_refused(
    transactional_db, new_page
):
    project, alice, _bob, label_url = two_annotators(n_items=60)
    first = new_page()
    log_in(first, alice, label_url)
    # The same browser, the same login: a second tab opened beside the first.
    second = first.context.new_page()
    second.goto(label_url)
    tabs = (first, second)

    seen: list[list[int]] = [[], []]
    for _ in range(PRESSES_PER_TAB):
        # Alternating, without waiting for the answers to be saved: both tabs' answers and
        # top-ups are on their way at once.
        for index, page in enumerate(tabs):
            item_id = shown_item(page)
            seen[index].append(item_id)
            page.keyboard.press(true_digit(item_id))
            wait_for_next(page, item_id)
    for page in tabs:
        wait_until_saved(page)

    assert not set(seen[0]) & set(seen[1]), "both tabs were shown the same item"
    for page in tabs:
        assert page.locator("#label-banners .banner.bad").count() == 0
        assert page.locator(".answer-chip.failed").count() == 0
    stored = Annotation.objects.filter(project=project, annotator=alice)
    assert sorted(stored.values_list("item_id", flat=True)) == sorted(seen[0] + seen[1])
    assert all(a.label.name == true_digit(a.item_id) for a in stored)
    project.refresh_from_db()
    assert project.n_annotations == 2 * PRESSES_PER_TAB
    # Each tab keeps its own outbox: neither tab's storage holds the other's answers.
    tab_ids = {page.evaluate("window.tweezersLabel.tab") for page in tabs}
    assert len(tab_ids) == 2


@pytest.mark.browser
def test_backspace_in_a_tab_takes_back_that_tabs_answer_not_the_other_tabs_later_one(
    transactional_db, new_page
):
    project, alice, _bob, label_url = two_annotators(n_items=30)
    first = new_page()
    log_in(first, alice, label_url)
    second = first.context.new_page()
    second.goto(label_url)
    answered = []
    # Each answer saved before the next: an undo of an answer still in the outbox is taken
    # back in the page itself, never asked of the server.
    for page in (first, second):
        item_id = shown_item(page)
        page.keyboard.press(true_digit(item_id))
        wait_for_next(page, item_id)
        wait_until_saved(page)
        answered.append(item_id)

    first.keyboard.press("Backspace")
    first.wait_for_function(
        "item => document.getElementById('label-panel').dataset.itemId === String(item)",
        arg=answered[0],
    )
    wait_until_saved(first)

    current = Annotation.objects.filter(project=project, annotator=alice, is_current=True)
    assert list(current.values_list("item_id", flat=True)) == [answered[1]]
    assert first.locator("#label-banners .banner.bad").count() == 0
