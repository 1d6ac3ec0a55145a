"""The one web app: JSON API, widget loader and page, API docs, and the Gradio chat at /.

API routes are declared before Gradio is mounted at "/", which would shadow later routes.
"""
from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import api
from .bot import QABot
from .config import Settings
from .questionlog import QuestionLog

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("qa_bot.server")


def create_app(settings: Settings, bot: QABot) -> FastAPI:
    import gradio as gr
    import swagger_ui_bundle

    from .ui import build_chat, load_examples

    app = FastAPI(title="qa_bot", version="1.0", docs_url=None, redoc_url=None,
                  description="Answers questions about news articles with the articles' own "
                  "sentences and numbered citations. Errors are `{\"error\": \"...\"}`.")
    question_log = QuestionLog.from_settings(settings)
    app.include_router(api.router(bot, settings.rate_limit, question_log))
    api.add_error_handlers(app)
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="qa_bot API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger/favicon-32x32.png")

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Response:
        return Response((STATIC / "widget.js").read_bytes(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=300"})

    @app.get("/widget", include_in_schema=False)
    def widget_page() -> Response:
        return Response((STATIC / "widget.html").read_bytes(), media_type="text/html")

    app.mount("/widget-assets", StaticFiles(directory=STATIC), name="widget-assets")

    chat = build_chat(bot, load_examples(settings.corpus_dir), question_log)
    app = gr.mount_gradio_app(app, chat, path="/")
    app.add_middleware(SecurityHeaders, allowed_origins=settings.allowed_origins)
    app.add_middleware(LimitApiBody, max_bytes=api.MAX_BODY_BYTES)
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins),
                       allow_methods=["GET", "POST"],
                       allow_headers=["content-type", "x-gradio-user"], max_age=600)
    return app


class SecurityHeaders:
    """Who may frame our pages (frame-ancestors), and a strict policy for the widget page."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        ancestors = " ".join(("'self'", *allowed_origins))
        self.frame_policy = f"frame-ancestors {ancestors}; img-src 'self' data: blob:"
        self.widget_policy = (f"default-src 'none'; script-src 'self'; style-src 'self'; "
                              f"connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                              f"form-action 'none'; frame-ancestors {ancestors}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = self.widget_policy if scope["path"] == "/widget" else self.frame_policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"content-security-policy", b"x-frame-options")]
                headers += [(b"content-security-policy", policy.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"strict-origin-when-cross-origin")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LimitApiBody:
    """POST bodies to /api/ must be JSON and at most max_bytes: 415 and 413 otherwise."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":
            return await _error(send, 415, "Send the question as JSON with the header "
                                "Content-Type: application/json.")
        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await _error(send, 413, f"The request body is over "
                                f"{self.max_bytes // 1024} KB; send a shorter question.")
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await _error(send, 413, f"The request body is over "
                                    f"{self.max_bytes // 1024} KB; send a shorter question.")

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _error(send: Send, status: int, message: str) -> None:
    response = api.error_response(status, message)
    await response({"type": "http"}, _no_receive, send)  # type: ignore[arg-type]


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def ensure_index(settings: Settings) -> None:
    """Build the index when there is none, so the first run of the chat just works."""
    from .indexing import build_index, has_index

    if has_index(settings.index_dir):
        return
    log.warning("No index in %s yet; building it from %s.", settings.index_dir,
                settings.corpus_dir)
    summary = build_index(settings.corpus_dir, settings.index_dir, settings.model_path)
    print(summary.line(), flush=True)


def serve(settings: Settings) -> None:
    import uvicorn

    ensure_index(settings)
    bot = QABot.from_settings(settings)
    app = create_app(settings, bot)
    print(f"qa_bot: chat at http://{settings.host}:{settings.port}/ , API docs at /docs",
          flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")

