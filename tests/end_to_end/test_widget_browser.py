"""The embeddable widget in a real browser: host pages on other origins, the bot on its own.

Set UPDATE_WIDGET_SCREENSHOTS=1 to copy the screenshots to docs/ (they are always written to
the test's tmp folder).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from qa_bot.answer.bot import QABot
from qa_bot.config import Settings, bundled_model_path
from qa_bot.encoder.embedding import Embedder
from qa_bot.indexing.build import build_index
from qa_bot.questionlog.log import QuestionLog
from tests.support import ARTICLE, ROOT, LiveServer, free_port
from tests.support.browser import (
    HostSite,
    article_page,
    ask,
    launcher,
    open_widget,
    save_for_docs,
    widget_frame,
)

pytestmark = pytest.mark.browser

QUESTION = "How many North Korean special forces arrived in Vladivostok?"
QUOTE = (
    "Nonetheless, intelligence from South Korea indicates that around 1,500 North Korean "
    "special forces initially arrived in Vladivostok for training in October 2024."
)
TITLE, *PARAGRAPHS = ARTICLE.read_text(encoding="utf-8").strip().splitlines()
ESCAPED = [html.escape(p) for p in PARAGRAPHS]
HOSTILE = (
    "The harbour board of Zanzibar posted <script>window.__pwned=1</script> a notice, "
    '<img src=x onerror="window.__pwned=1"> signed by the ferry master, and a link '
    '<a href="javascript:window.__pwned=1">click</a> to the timetable.'
)
HOSTILE_QUESTION = "What did the harbour board of Zanzibar post?"
PWNED = "() => typeof window.__pwned"
# Emoji beyond U+FFFF before and inside the quote: one code point each in the API's offsets,
# two UTF-16 units each in JavaScript.
FESTIVAL = (
    "The harbour festival opened on the quay \U0001f389\U0001f389 with music from three "
    "bands \U0001f3b6 and a parade of dhows \u26f5. {quote} Tickets for the evening "
    "concert sold out within an hour \U0001f39f\ufe0f."
)
FESTIVAL_QUOTE = (
    "The ferry to Pemba carried 412 passengers on the first morning \U0001f6a2, the "
    "most since the route opened."
)
FESTIVAL_QUESTION = "How many passengers did the ferry to Pemba carry?"


# Fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host(host_origin: str) -> Iterator[HostSite]:
    """The news site that embeds the widget: an origin the bot allows."""
    with HostSite(host_origin) as site:
        yield site


@pytest.fixture(scope="module")
def stranger() -> Iterator[HostSite]:
    """A site the bot does not allow to frame it."""
    with HostSite(f"http://127.0.0.3:{free_port('127.0.0.3')}") as site:
        yield site


@pytest.fixture(scope="module")
def hostile_server(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, host_origin: str
) -> Iterator[LiveServer]:
    """A bot whose only article contains HTML and JavaScript meant to run in readers' browsers."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "corpus").mkdir()
    filler = " ".join(f"The ferry left on day {day} with passengers and cargo." for day in range(8))
    (root / "corpus" / "hostile.txt").write_text(
        f"Zanzibar harbour notices\n{filler}\n{HOSTILE}\n{filler}\n", encoding="utf-8"
    )
    build_index(root / "corpus", root / "index", bundled_model_path(), embedder=embedder)
    settings = Settings(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        port=free_port(),
        allowed_origins=(host_origin,),
        rate_limit="1000/minute",
    )
    with LiveServer(settings, QABot(root / "index", embedder)) as server:
        yield server


@pytest.fixture(scope="module")
def emoji_server(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, host_origin: str
) -> Iterator[LiveServer]:
    """A bot whose only article holds emoji, in its headline and before the quoted sentence."""
    root = tmp_path_factory.mktemp("emoji")
    (root / "corpus").mkdir()
    (root / "corpus" / "festival.txt").write_text(
        f"Harbour festival in Stone Town \U0001f389\n{FESTIVAL.format(quote=FESTIVAL_QUOTE)}\n",
        encoding="utf-8",
    )
    build_index(root / "corpus", root / "index", bundled_model_path(), embedder=embedder)
    settings = Settings(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        port=free_port(),
        allowed_origins=(host_origin,),
        rate_limit="1000/minute",
    )
    with LiveServer(settings, QABot(root / "index", embedder)) as server:
        yield server


def article_url(host: HostSite, bot_url: str, path: str, **options: str) -> str:
    return host.add(path, article_page(bot_url, ESCAPED, TITLE, **options))


# Asking -------------------------------------------------------------------------------------


def test_launcher_opens_chat_that_answers_with_citation(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    frame = open_widget(page, article_url(host, live_server.url, "/ask.html"))
    answer = ask(frame, QUESTION)

    assert console == []  # no CSP violations, no script errors, in the page or the frame
    assert "1,500" in answer.locator(".answer").inner_text()
    assert answer.locator(".answer .short").inner_text() == "around 1,500"
    assert answer.locator(".cite").all_inner_texts() == ["1"]
    card = answer.locator(".card")
    assert card.locator(".src").inner_text().startswith("North Korea's Military Involvement")
    assert card.locator("mark").inner_text() == QUOTE
    assert launcher(page).get_attribute("aria-expanded") == "true"
    assert added_elements(page) == ["QA-BOT-WIDGET"]
    assert added_globals(page) == []


def added_globals(page: Page) -> list[str]:
    """Names on window that the same page without any script does not have."""
    return page.evaluate("""async () => {
        const frame = document.createElement("iframe");
        frame.srcdoc = "<p>bare</p>";
        const loaded = new Promise(resolve => frame.onload = resolve);
        document.body.append(frame);
        await loaded;
        const bare = new Set(Object.getOwnPropertyNames(frame.contentWindow));
        frame.remove();
        return Object.getOwnPropertyNames(window).filter(name => !bare.has(name));
    }""")


def added_elements(page: Page) -> list[str]:
    """Tags of the elements in the live page that are not in the HTML it was served."""
    return page.evaluate("""async () => {
        const served = new DOMParser().parseFromString(
            await (await fetch(location.href)).text(), "text/html");
        const tags = doc => [...doc.querySelectorAll("*")].map(e => e.tagName);
        const left = tags(served);
        return tags(document).filter(tag => {
            const i = left.indexOf(tag);
            if (i < 0) return true;
            left.splice(i, 1);
            return false;
        });
    }""")


def test_host_css_cannot_break_the_widget(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    hostile_css = (
        "<style>* { all: unset !important; font-size: 40px !important; }"
        " div, button, iframe { display: none !important; width: 1px !important; }"
        "</style>"
    )
    url = host.add(
        "/rude-css.html", article_page(live_server.url, ESCAPED, TITLE, head=hostile_css)
    )
    frame = open_widget(page, url)

    button = launcher(page).bounding_box()
    panel = page.locator("qa-bot-widget iframe").bounding_box()
    assert button and panel
    assert button["height"] == 52 and button["x"] + button["width"] == 1280 - 20
    assert (panel["width"], panel["height"]) == (380, 560)
    assert frame.locator("#title").inner_text() == "Ask about this article"


def test_plain_iframe_without_the_loader(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    src = f"{live_server.url}/widget?source=north-korea-troops-ukraine.txt&amp;title=Ask%20away"
    page.goto(
        host.add(
            "/plain-iframe.html",
            f'<!doctype html><link rel="icon" href="data:,">'
            f'<iframe src="{src}" title="Ask away" width="380" height="560"></iframe>',
        ),
        wait_until="load",
    )
    frame = page.frame_locator("iframe")
    answer = ask(frame, QUESTION)

    assert "1,500" in answer.inner_text()
    assert frame.locator("h1").inner_text() == "Ask away"
    expect(frame.get_by_role("button", name="Close chat")).to_be_hidden()
    assert answer.get_by_role("button", name="Show in article").count() == 0


def test_launcher_position(page: Page, host: HostSite, live_server: LiveServer) -> None:
    page.goto(
        host.add(
            "/left.html",
            article_page(live_server.url, ESCAPED, TITLE, attributes='data-position="bottom-left"'),
        ),
        wait_until="load",
    )
    box = launcher(page).bounding_box()
    assert box and (box["x"], box["y"] + box["height"]) == (20, 800 - 20)


def test_declines_and_errors_are_shown_politely(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    frame = open_widget(page, article_url(host, live_server.url, "/ask.html"))
    declined = ask(frame, "What is the boiling point of water at sea level?")
    assert "can't find the answer" in declined.inner_text()
    assert declined.locator(".cite, .card:not(.related), mark").count() == 0
    assert (
        declined.locator(".related-label").inner_text() == "Related in the article (not an answer)"
    )
    assert declined.locator(".card.related").count() == 3

    wrong = host.add(
        "/wrong-source.html",
        article_page(live_server.url, ESCAPED, TITLE).replace(
            "north-korea-troops-ukraine.txt", "no-such-article.txt"
        ),
    )
    frame = open_widget(page, wrong)
    error = ask(frame, QUESTION)
    assert error.get_attribute("role") == "alert"
    assert "no-such-article.txt" in error.inner_text()


def test_thumbs_rate_the_answer_into_the_question_log(
    page: Page, host: HostSite, live_server: LiveServer, article_index: Path
) -> None:
    frame = open_widget(page, article_url(host, live_server.url, "/ask.html"))
    answer = ask(frame, QUESTION)
    answer.get_by_role("button", name="Helpful", exact=True).click()
    answer.get_by_role("button", name="Not helpful").click()
    expect(answer.get_by_role("status")).to_have_text("Thanks for your feedback.")
    assert answer.get_by_role("button", name="Not helpful").get_attribute("aria-pressed") == "true"
    assert (
        answer.get_by_role("button", name="Helpful", exact=True).get_attribute("aria-pressed")
        == "false"
    )
    logged = QuestionLog(article_index.parent / "questions.sqlite3").questions()[-1]
    assert (logged.question, logged.channel, logged.helpful) == (QUESTION, "widget", False)


def test_the_chat_refuses_a_blank_question_and_shows_no_footer_or_second_font(
    page: Page, live_server: LiveServer
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server.url}/", wait_until="load")
    box = page.get_by_role("textbox").first
    box.fill("   ")
    box.press("Enter")
    expect(
        page.get_by_text("The question is empty; type a question about the article.")
    ).to_be_visible()
    user_bubbles = page.locator("[data-testid=user]")
    assert user_bubbles.count() == 0  # no empty bubble
    box.fill(QUESTION)
    box.press("Enter")
    expect(user_bubbles).to_have_count(1)  # a real question still goes through
    expect(page.get_by_text("Sources (1)")).to_be_visible(timeout=30_000)

    assert page.get_by_text("Use via API").count() == 0
    assert page.get_by_text("Built with Gradio").count() == 0
    heading = page.locator("h1").first
    expect(heading).to_contain_text("North Korea's Military Involvement")
    assert heading.evaluate("h => getComputedStyle(h).fontFamily").startswith("system-ui")
    assert not [url for url in requests if url.endswith((".woff2", ".woff", ".ttf"))]


def test_the_chat_shows_what_the_reader_typed_as_typed(page: Page, live_server: LiveServer) -> None:
    typed = "How many North Korean special forces arrived in **Vladivostok** <b>at first</b>?"
    page.goto(f"{live_server.url}/", wait_until="load")
    box = page.get_by_role("textbox").first
    box.fill(typed)
    box.press("Enter")
    user = page.locator("[data-testid=user]")
    expect(user).to_have_count(1)
    expect(user).to_have_text(typed)
    assert user.locator("b, strong").count() == 0
    expect(page.get_by_text("Sources (1)")).to_be_visible(timeout=30_000)

    box.fill("When did they arrive?")  # a follow-up reads the first question as typed
    box.press("Enter")
    expect(page.get_by_text("October 2024").last).to_be_visible(timeout=30_000)
    expect(user).to_have_count(2)


def test_chat_thumbs_rate_the_answer_into_the_question_log(
    page: Page, live_server: LiveServer, article_index: Path
) -> None:
    question = "Where did the North Korean special forces train?"
    page.goto(f"{live_server.url}/", wait_until="load")
    page.get_by_role("textbox").fill(question)
    page.get_by_role("textbox").press("Enter")
    expect(page.get_by_text("Sources (1)")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Dislike").last.click()
    log = QuestionLog(article_index.parent / "questions.sqlite3")
    for _ in range(50):
        logged = [q for q in log.questions() if q.question == question]
        if logged and logged[-1].helpful is not None:
            break
        page.wait_for_timeout(100)
    assert [(q.channel, q.helpful) for q in logged] == [("chat", False)]


def chat_answer(page: Page, question: str) -> None:
    """Ask in the Gradio chat; returns once the answer's sources are shown and the chat has
    stopped growing (the Sources block opens in a transition, and Gradio follows it down)."""
    marks = page.locator("mark")
    before = marks.count()
    box = page.get_by_role("textbox").first
    box.fill(question)
    box.press("Enter")
    marks.nth(before).wait_for(timeout=30_000)
    log, height = page.locator("[role=log]").first, None
    for _ in range(20):
        if height == (height := log.evaluate("log => log.scrollHeight")):
            return
        page.wait_for_timeout(250)


def test_chat_markers_take_the_reader_to_their_own_answers_source(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/", wait_until="load")
    chat_answer(page, QUESTION)
    chat_answer(page, "Which Russian region did Ukraine enter in August 2024?")  # the same passage
    chat_answer(page, "Where did the North Korean special forces train?")  # scrolls the first out
    markers = page.get_by_role("link", name="Source 1", exact=True)
    expect(markers).to_have_count(3)
    assert (
        markers.first.evaluate(  # shown as "[1]", named "Source 1"
            "m => getComputedStyle(m, '::before').content"
        )
        == '"[" / ""'
    )
    first, second = (
        page.locator(f"[id='{m.get_attribute('href')[1:]}']")
        for m in (markers.nth(0), markers.nth(1))
    )
    expect(first.locator("mark")).to_have_text(QUOTE)  # the first answer's source 1 ...
    expect(second.locator("mark", has_text=QUOTE)).to_have_count(0)  # ... not the second's
    log = page.locator("[role=log]").first

    # A click, the chat scrolled to the end: the first answer's source is brought into view.
    log.evaluate("log => log.scrollTop = log.scrollHeight")
    expect(first).not_to_be_in_viewport()
    markers.first.click()
    expect(first).to_be_focused()
    expect(first).to_be_in_viewport()
    assert first.evaluate("s => getComputedStyle(s).outlineStyle") != "none"  # focus visible

    # The keyboard, its Sources block folded: Enter on the marker opens it and goes there.
    page.get_by_role("button", name="Sources (1)").first.click()
    expect(first).to_have_count(0)  # Gradio leaves a folded block's content out of the page
    log.evaluate("log => log.scrollTop = log.scrollHeight")
    markers.first.focus()
    markers.first.press("Enter")
    expect(first).to_be_focused()
    expect(first).to_be_in_viewport()
    expect(second).not_to_be_focused()
    assert "#" not in page.url  # the reader's history is not filled with markers


# Highlighting the quote in the host page -----------------------------------------------------


def highlighted_text(page: Page) -> str:
    return page.evaluate("""() => {
        const h = CSS.highlights.get("qa-bot-quote");
        return h ? [...h].map(r => r.toString()).join(" | ") : "";
    }""")


def test_citation_highlights_quote_in_host_page(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    # The quote spans inline elements, and the page is long enough to need scrolling to it.
    paragraphs = [
        p.replace("1,500 North Korean", "<strong>1,500</strong> North\n  Korean").replace(
            "special forces", "<a href='#sf'>special</a> <em>forces</em>"
        )
        for p in ESCAPED
    ]
    url = host.add(
        "/highlight.html",
        article_page(
            live_server.url,
            paragraphs,
            TITLE,
            attributes='data-highlight="true"',
            before="<p style='height: 1500px'>Advertisement</p>",
        ),
    )
    frame = open_widget(page, url)
    assert "highlight=1" in (page.locator("qa-bot-widget iframe").get_attribute("src") or "")
    answer = ask(frame, QUESTION)
    assert answer.get_by_role("button", name="Show in article").count() == 1

    answer.locator(".cite").first.click()

    page.wait_for_function("() => CSS.highlights.has('qa-bot-quote') && window.scrollY > 1000")
    assert " ".join(highlighted_text(page).split()) == QUOTE
    assert added_elements(page) == ["QA-BOT-WIDGET"]


def test_no_highlight_unless_host_opts_in(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    frame = open_widget(page, article_url(host, live_server.url, "/ask.html"))
    assert "highlight" not in (page.locator("qa-bot-widget iframe").get_attribute("src") or "")
    answer = ask(frame, QUESTION)
    assert answer.get_by_role("button", name="Show in article").count() == 0

    answer.locator(".cite").first.click()
    page.wait_for_timeout(300)
    assert highlighted_text(page) == ""
    assert page.evaluate("() => document.adoptedStyleSheets.length") == 0


def test_host_ignores_highlight_messages_from_anyone_but_its_frame(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    page.goto(
        host.add(
            "/highlight-plain.html",
            article_page(live_server.url, ESCAPED, TITLE, attributes='data-highlight="true"'),
        ),
        wait_until="load",
    )
    launcher(page).click()
    widget_frame(page).locator("#question").wait_for()

    page.evaluate(
        """quote => window.postMessage(
        {type: "qa-bot:highlight", quote, source: "x"}, "*")""",
        QUOTE,
    )
    page.wait_for_timeout(300)
    assert highlighted_text(page) == ""


def test_on_a_phone_showing_the_quote_closes_the_chat(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    frame = open_widget(
        page,
        host.add(
            "/phone.html",
            article_page(live_server.url, ESCAPED, TITLE, attributes='data-highlight="true"'),
        ),
    )
    ask(frame, QUESTION).get_by_role("button", name="Show in article").click()

    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    expect(page.locator("qa-bot-widget iframe")).to_be_hidden()
    assert " ".join(highlighted_text(page).split()) == QUOTE


# Reading ------------------------------------------------------------------------------------

LONG_QUESTION = "What does Kim Jong-un gain from sending troops?"


def log_view(message: Locator) -> dict[str, float]:
    """Where `message` starts and where the log's visible area is, in the log's coordinates."""
    return message.evaluate("""node => {
        const log = node.closest(".log");
        return {top: node.offsetTop, scroll: log.scrollTop, height: log.clientHeight};
    }""")


def test_each_new_answer_is_scrolled_into_view_at_its_top(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    frame = open_widget(page, article_url(host, live_server.url, "/scroll.html"))
    for question in (LONG_QUESTION, QUESTION, LONG_QUESTION):
        answer = ask(frame, question)
        view = log_view(answer)
        assert view["scroll"] <= view["top"] <= view["scroll"] + view["height"] - 60, view
    question = frame.locator(".msg.user").last
    assert log_view(question)["top"] >= view["scroll"]  # and its question above it


def test_example_questions_in_the_intro_can_be_tapped(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    examples = json.loads((ROOT / "corpus" / "examples.json").read_text(encoding="utf-8"))
    frame = open_widget(page, article_url(host, live_server.url, "/examples.html"))
    buttons = frame.get_by_role("list", name="Try asking").get_by_role("button")
    expect(buttons).to_have_text(examples)
    buttons.first.click()
    answer = frame.locator(".msg.bot:not(.pending)").first
    answer.wait_for()
    assert frame.locator(".msg.user").inner_text() == examples[0]
    assert answer.locator(".answer .short").inner_text() == "around 1,500"
    expect(frame.locator("#intro")).to_have_count(0)


def test_finding_the_answer_is_announced(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    frame = open_widget(page, article_url(host, live_server.url, "/status.html"))
    inner = page.locator("qa-bot-widget iframe").content_frame
    assert inner is not None
    inner.locator("#log").evaluate("""log => {
        log.seen = [];
        new MutationObserver(changes => changes.forEach(change => change.addedNodes.forEach(
            node => node.classList.contains("pending") &&
                log.seen.push([node.getAttribute("role"), node.textContent])
        ))).observe(log, {childList: true});
    }""")
    ask(frame, QUESTION)
    assert inner.locator("#log").evaluate("log => log.seen") == [["status", "Finding the answer…"]]


def test_on_a_phone_the_open_chat_keeps_focus_inside(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    frame = open_widget(page, article_url(host, live_server.url, "/trap.html"))
    ask(frame, QUESTION)
    expect(page.locator("qa-bot-widget .panel")).to_have_attribute("aria-modal", "true")
    focused = []
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 12:
        page.keyboard.press(key)
        assert page.evaluate("() => document.activeElement.tagName") == "QA-BOT-WIDGET"
        focused.append(frame.locator(":focus").evaluate("n => n.id || n.className"))
    assert "close" in focused and "question" in focused  # it cycles through the whole chat

    page.set_viewport_size({"width": 1280, "height": 800})  # a desktop panel is not modal
    expect(page.locator("qa-bot-widget .panel")).not_to_have_attribute("aria-modal", "true")


# Only the bot and the host page itself ------------------------------------------------------


def test_widget_talks_only_to_the_bot(page: Page, host: HostSite, live_server: LiveServer) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    url = host.add(
        "/requests.html",
        article_page(live_server.url, ESCAPED, TITLE, attributes='data-highlight="true"'),
    )
    frame = open_widget(page, url)
    ask(frame, QUESTION).locator(".cite").first.click()
    page.wait_for_function("() => CSS.highlights.has('qa-bot-quote')")

    from_host = [u for u in requests if u.startswith(host.origin + "/")]
    from_bot = [u for u in requests if u.startswith(live_server.url + "/")]
    assert from_host == [url]
    assert sorted(from_host + from_bot) == sorted(requests)
    assert f"{live_server.url}/api/ask" in from_bot


def test_sites_not_allowed_cannot_frame_the_widget(
    page: Page, stranger: HostSite, live_server: LiveServer
) -> None:
    page.goto(
        stranger.add("/stranger.html", article_page(live_server.url, ESCAPED, TITLE)),
        wait_until="load",
    )
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as blocked:
        launcher(page).click()

    assert "has been blocked" in blocked.value.text
    frame = page.locator("qa-bot-widget iframe").content_frame
    assert frame.locator("body").count() == 1 and frame.locator("#qa-bot-chat").count() == 0


# Hostile article text -----------------------------------------------------------------------


def assert_not_pwned(page: Page) -> None:
    for frame in page.frames:
        assert frame.evaluate(PWNED) == "undefined", frame.url


def test_hostile_article_text_stays_text_in_widget_and_host_page(
    page: Page, host: HostSite, hostile_server: LiveServer
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    url = host.add(
        "/hostile.html",
        article_page(
            hostile_server.url,
            [html.escape(HOSTILE)],
            "Harbour notices",
            source="hostile.txt",
            attributes='data-highlight="true"',
        ),
    )
    frame = open_widget(page, url)
    answer = ask(frame, HOSTILE_QUESTION)

    assert answer.locator(".answer").inner_text() == HOSTILE + "\u00a01"  # marker kept on its line
    assert answer.locator("mark").inner_text() == HOSTILE
    answer.locator(".cite").first.click()
    answer.get_by_role("button", name="Show in article").click()

    # The quote posted to the host page is only ever matched as text, never parsed.
    page.wait_for_function("() => CSS.highlights.has('qa-bot-quote')")
    assert highlighted_text(page) == HOSTILE
    assert added_elements(page) == ["QA-BOT-WIDGET"]
    assert frame.locator("img, script:not([src]), a").count() == 0
    assert_not_pwned(page)
    assert not [u for u in requests if u.endswith("/x")]


def test_hostile_article_text_stays_text_in_gradio_chat(
    page: Page, hostile_server: LiveServer
) -> None:
    page.goto(hostile_server.url + "/", wait_until="load")
    box = page.get_by_role("textbox").first
    box.fill(HOSTILE_QUESTION)
    box.press("Enter")

    page.get_by_text("signed by the ferry master").last.wait_for()  # the sources, shown open
    chat = page.locator(".bubble-wrap, [role=log]").first.inner_text()
    for literal in (
        "<script>window.__pwned=1</script>",
        '<img src=x onerror="window.__pwned=1">',
        '<a href="javascript:window.__pwned=1">click</a>',
    ):
        assert chat.count(literal) == 2, chat  # in the answer and in its source
    assert page.locator("a[href^='javascript:'], img[src='x']").count() == 0
    assert_not_pwned(page)


# Emoji -------------------------------------------------------------------------------------


def test_quotes_after_emoji_are_cut_where_the_api_says(
    page: Page, host: HostSite, emoji_server: LiveServer
) -> None:
    url = host.add(
        "/festival.html",
        article_page(
            emoji_server.url,
            [html.escape(FESTIVAL.format(quote=FESTIVAL_QUOTE))],
            "Harbour festival",
            source="festival.txt",
        ),
    )
    answer = ask(open_widget(page, url), FESTIVAL_QUESTION)

    assert answer.locator(".answer").inner_text() == FESTIVAL_QUOTE + "\u00a01"
    assert answer.locator(".answer .short").inner_text() == "412"
    assert answer.locator(".card mark").inner_text() == FESTIVAL_QUOTE
    assert FESTIVAL.split(" {quote}")[0] in answer.locator(".card").inner_text()


def test_quotes_after_emoji_are_marked_where_the_api_says_in_gradio_chat(
    page: Page, emoji_server: LiveServer
) -> None:
    page.goto(emoji_server.url + "/", wait_until="load")
    box = page.get_by_role("textbox").first
    box.fill(FESTIVAL_QUESTION)
    box.press("Enter")

    mark = page.locator(".qa-source mark").last
    mark.wait_for()
    assert mark.inner_text() == FESTIVAL_QUOTE


# Keyboard -----------------------------------------------------------------------------------


def test_keyboard_opens_and_escape_closes_returning_focus(
    page: Page, host: HostSite, live_server: LiveServer
) -> None:
    page.goto(article_url(host, live_server.url, "/ask.html"), wait_until="load")
    button = launcher(page)
    for _ in range(5):
        page.keyboard.press("Tab")
        if button.evaluate("b => b.getRootNode().activeElement === b"):
            break
    expect(button).to_be_focused()
    expect(button).to_have_accessible_name("Ask about this article")

    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(button).to_have_accessible_name("Close")  # what it shows
    expect(widget_frame(page).locator("#question")).to_be_focused()
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(page.locator("qa-bot-widget iframe")).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_accessible_name("Ask about this article")

    page.keyboard.press("Enter")
    expect(widget_frame(page).locator("#question")).to_be_focused()
    close = widget_frame(page).get_by_role("button", name="Close chat")
    for _ in range(6):  # back over the example questions
        page.keyboard.press("Shift+Tab")
        if close.evaluate("b => document.activeElement === b"):
            break
    expect(close).to_be_focused()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()


# Screenshots --------------------------------------------------------------------------------


@pytest.mark.parametrize("name, width, height", [("desktop", 1280, 800), ("phone", 375, 740)])
def test_screenshot(
    page: Page,
    host: HostSite,
    live_server: LiveServer,
    tmp_path: Path,
    name: str,
    width: int,
    height: int,
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    frame = open_widget(
        page,
        host.add(
            "/screenshot.html",
            article_page(live_server.url, ESCAPED, TITLE, attributes='data-highlight="true"'),
        ),
    )
    answer = ask(frame, QUESTION)
    panel = page.locator("qa-bot-widget iframe").bounding_box()
    assert panel
    if name == "desktop":
        answer.locator(".cite").first.click()
        page.wait_for_function("() => CSS.highlights.has('qa-bot-quote')")
        page.wait_for_timeout(1300)  # smooth scrolling and the card's flash
        assert (panel["width"], panel["height"]) == (380, 560)
    else:
        assert (panel["width"], panel["height"]) == (width, height)
    frame.locator("#question").blur()
    frame.locator(".card").first.blur()

    shot = tmp_path / f"widget-{name}.png"
    page.screenshot(path=shot)
    if os.environ.get("UPDATE_WIDGET_SCREENSHOTS"):
        assert save_for_docs(shot, ROOT / "docs").stat().st_size < 200_000


def test_screenshot_of_the_intro_on_a_phone(
    page: Page, host: HostSite, live_server: LiveServer, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    frame = open_widget(page, article_url(host, live_server.url, "/intro-shot.html"))
    expect(frame.locator(".example")).to_have_count(4)
    frame.locator("#question").blur()
    shot = tmp_path / "widget-intro.png"
    page.screenshot(path=shot)
    if os.environ.get("UPDATE_WIDGET_SCREENSHOTS"):
        assert save_for_docs(shot, ROOT / "docs").stat().st_size < 200_000


def test_screenshot_of_a_decline(
    page: Page, host: HostSite, live_server: LiveServer, tmp_path: Path
) -> None:
    frame = open_widget(page, article_url(host, live_server.url, "/decline-shot.html"))
    declined = ask(frame, "Who won the 2022 World Cup?")
    expect(declined.locator(".related-label")).to_have_text(
        "Related in the article (not an answer)"
    )
    frame.locator("#question").blur()
    shot = tmp_path / "widget-decline.png"
    page.screenshot(path=shot)
    if os.environ.get("UPDATE_WIDGET_SCREENSHOTS"):
        assert save_for_docs(shot, ROOT / "docs").stat().st_size < 200_000


@pytest.mark.parametrize("name, width, height", [("desktop", 1280, 800), ("phone", 375, 740)])
def test_screenshot_of_the_chat(
    page: Page, live_server: LiveServer, tmp_path: Path, name: str, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/", wait_until="load")
    chat_answer(page, QUESTION)
    expect(page.locator("mark").first).to_be_visible()  # open without a click
    page.get_by_role("textbox").first.blur()
    shot = tmp_path / f"chat-{name}.png"
    page.screenshot(path=shot)
    if os.environ.get("UPDATE_WIDGET_SCREENSHOTS"):
        assert save_for_docs(shot, ROOT / "docs").stat().st_size < 200_000
