"""Helpers for the browser tests: headless Chromium, host pages on another origin, the widget."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, FrameLocator, Locator, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium(profile_dir: Path) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile; never a downloaded browser."""
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile_dir,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield context
        finally:
            context.close()


class HostSite:
    """HTML pages served from one origin (a loopback address) by http.server in a thread."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = pages.get(urlsplit(self.path).path)
                if page is None:
                    self.send_error(404)
                    return
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        address = urlsplit(origin)
        self.server = ThreadingHTTPServer((address.hostname or "", address.port or 80), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, page: str) -> str:
        """Serve `page` at `path`; returns its URL."""
        self.pages[path] = page
        return self.origin + path

    def __enter__(self) -> HostSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


ARTICLE_CSS = """
body { margin: 0; background: #fff; color: #1f2328; font: 18px/1.65 Georgia, serif; }
.masthead { border-bottom: 1px solid #ddd; padding: 14px 32px; font: 700 20px/1 system-ui,
  sans-serif; letter-spacing: .02em; }
main { max-width: 680px; margin: 0 auto; padding: 24px 24px 120px; }
h1 { font-size: 34px; line-height: 1.2; margin: 16px 0 8px; }
.byline { color: #666; font: 14px system-ui, sans-serif; margin-bottom: 24px; }
"""


def article_page(
    bot_url: str,
    paragraphs: list[str],
    title: str,
    *,
    attributes: str = "",
    head: str = "",
    before: str = "",
    source: str = "north-korea-troops-ukraine.txt",
) -> str:
    """A news-article host page whose paragraphs are HTML (already escaped), with the snippet."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>{html.escape(title)}</title>
<style>{ARTICLE_CSS}</style>{head}</head>
<body><div class="masthead">The Daily Example</div>
<main>{before}<h1>{html.escape(title)}</h1>
<div class="byline">By A. Reporter · <a href="#top">Share</a></div>
{body}
</main>
<script src="{bot_url}/widget.js" data-source="{html.escape(source)}"
  data-title="Ask about this article" {attributes} async></script>
</body></html>"""


# The widget, seen from the host page ---------------------------------------------------------


def launcher(page: Page) -> Locator:
    return page.locator("qa-bot-widget button.launcher")  # CSS locators pierce the open shadow


def widget_frame(page: Page) -> FrameLocator:
    return page.frame_locator("qa-bot-widget iframe")


def open_widget(page: Page, url: str) -> FrameLocator:
    page.goto(url, wait_until="load")
    launcher(page).click()
    frame = widget_frame(page)
    frame.locator("#question").wait_for()
    return frame


def ask(frame: FrameLocator, question: str) -> Locator:
    """Ask in the widget; returns the new answer message once it is shown."""
    done = frame.locator(".msg.bot:not(.pending), .msg.error")
    before = done.count()
    frame.locator("#question").fill(question)
    frame.locator("#question").press("Enter")
    answer = done.nth(before)
    answer.wait_for()
    return answer


def save_for_docs(screenshot: Path, docs: Path) -> Path:
    """A copy of the screenshot in 128 colours: it looks the same and weighs a third."""
    from PIL import Image  # a dependency of gradio; only needed to refresh docs/

    target = docs / screenshot.name
    image = Image.open(screenshot).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        target, optimize=True
    )
    return target
