"""Korean on the labeling page breaks lines between words, as Korean is set, never inside one:
at 1280×800 a single-label project's panel is narrow, and "확실하지 않음" came out as
"확실하지 않 / 음", "건너뛰기" as "건너 / 뛰기"."""

import pytest
from django.urls import reverse

from tests.browser.test_labeling import log_in, shown_item, ten_texts_project
from tests.factories import UserFactory

# Every Hangul word of the panel's controls whose characters lie on more than one line.
SPLIT_WORDS = """() => {
  const split = [];
  const walker = document.createTreeWalker(document.querySelector('#label-ready'),
                                           NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const text = node.textContent;
    for (const match of text.matchAll(/[\\uac00-\\ud7a3]+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
      if (tops.size > 1) split.push(match[0]);
    }
  }
  return split;
}"""


@pytest.mark.browser
def test_korean_words_are_not_split_across_lines_on_the_labeling_panel(
    transactional_db, browser, live_server, output_dir
):
    manager = UserFactory()
    project = ten_texts_project(
        manager, name="Tickets", classes=["CT", "MR", "CR", "US", "NM", "OT", "SEG"]
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "django_language", "value": "ko", "url": live_server.url}])
    page = context.new_page()
    try:
        log_in(page, manager, reverse("label", args=[project.pk]))
        shown_item(page)
        split = page.evaluate(SPLIT_WORDS)
        page.screenshot(path=output_dir / "korean-label-panel-1280x800.png")
        assert split == []
    finally:
        context.close()
