"""axe-core (bundled by axe-playwright-python) on the widget page and the chat, in Chromium.

The widget is all ours: no serious or critical violation, in any state a reader sees. The chat
is Gradio's page around our messages: what axe finds there is listed, with what it is, in
docs/ACCESSIBILITY.md; a violation in what we render, or one not listed there, fails.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.support import ROOT, LiveServer

pytestmark = pytest.mark.browser

SERIOUS = ("serious", "critical")
QUESTION = "How many North Korean special forces arrived in Vladivostok?"
DECLINED = "What is the capital of France?"


def violations(page: Page) -> list[dict]:  # type: ignore[type-arg]
    """axe's violations on the page as it is now."""
    return Axe().run(page).response["violations"]


def describe(found: list[dict]) -> str:  # type: ignore[type-arg]
    return "\n".join(
        f"{v['id']} ({v['impact']}): {node['target']} {node['html'][:120]}"
        for v in found
        for node in v["nodes"]
    )


@pytest.mark.parametrize("width, height", [(380, 560), (375, 740)])
def test_the_widget_has_no_serious_violation(
    page: Page, live_server: LiveServer, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/widget?source=north-korea-troops-ukraine.txt", wait_until="load")
    page.locator(".example").first.wait_for()
    checked = [violations(page)]  # the intro with its example questions
    for question in (QUESTION, DECLINED):
        done = page.locator(".msg.bot:not(.pending)")
        before = done.count()
        page.locator("#question").fill(question)
        page.locator("#question").press("Enter")
        done.nth(before).wait_for()
    page.get_by_role("button", name="Show whole passage").first.click()
    page.get_by_role("button", name="Helpful").first.click()
    checked.append(violations(page))  # an answer, a decline with related passages, a rating
    serious = [v for found in checked for v in found if v["impact"] in SERIOUS]
    assert not serious, describe(serious)


def test_the_chat_has_no_violation_in_what_we_render_and_lists_gradios(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/", wait_until="load")
    box = page.get_by_role("textbox").first
    box.fill(QUESTION)
    box.press("Enter")
    page.locator("mark").first.wait_for()  # the sources open: the quote marked
    box.fill(DECLINED)
    box.press("Enter")
    page.get_by_text("Related in the article").first.wait_for()
    found = violations(page)

    ours, gradios = [], []
    for violation in found:
        for node in violation["nodes"]:
            inside = page.locator(node["target"][0]).first.evaluate(
                "n => !!n.closest('.prose, .message-content')"
            )  # the Markdown we render
            (ours if inside else gradios).append({**violation, "nodes": [node]})
    assert not ours, describe(ours)
    listed = (ROOT / "docs" / "ACCESSIBILITY.md").read_text(encoding="utf-8")
    unlisted = [v for v in gradios if f"`{v['id']}`" not in listed]
    assert not unlisted, describe(unlisted)
