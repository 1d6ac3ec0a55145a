"""The one web app: JSON API, widget loader and page, API docs, and the Gradio chat at /.

API routes are declared before Gradio is mounted at "/", which would shadow later routes.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa_bot.answer.bot import QABot
from qa_bot.config import Settings, set_environment_defaults
from qa_bot.errors import ConfigError
from qa_bot.questionlog.log import QuestionLog
from qa_bot.serve import api, guards

STATIC = Path(__file__).parent / "static"
# What the widget page (/widget) loads. Only these are served from STATIC under
# /widget-assets/: the page itself is served at /widget alone, under its strict policy.
WIDGET_ASSETS = ("widget-page.css", "widget-page.js")
# Connections and requests one server holds at once before answering 503: every open chat keeps
# one event stream, a question takes ~20 ms of CPU. Slow clients cannot hold more than this.
MAX_CONCURRENCY = 256
KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024  # h11 refuses a request line and headers larger than this
# On SIGTERM the server stops accepting, finishes the requests it holds, then exits; open chat
# event streams never finish, so they are cut after this. Answers take at most a few seconds
# (p95 0.6 s under 50 clients, BENCHMARKS.md); process managers wait about 30 s to kill.
GRACEFUL_SHUTDOWN_SECONDS = 10


def create_app(settings: Settings, bot: QABot) -> FastAPI:
    set_environment_defaults()  # before gradio loads: no usage analytics
    import gradio as gr
    import swagger_ui_bundle

    from qa_bot.serve.examples import load_examples
    from qa_bot.serve.ui import CHAT_HEAD, CSS, build_chat, question_fns, theme

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        bot.close()  # after the requests held at shutdown are answered

    app = FastAPI(
        title="qa_bot",
        version="1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        description="Answers questions about news articles with the articles' own "
        'sentences and numbered citations. Errors are `{"error": "..."}`.',
    )
    question_log = QuestionLog.from_settings(settings)
    app.include_router(api.router(bot, question_log, settings.corpus_dir))
    api.add_error_handlers(app)
    app.mount(
        "/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger"
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="qa_bot API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Response:
        return Response(
            (STATIC / "widget.js").read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=300"},
        )

    @app.get("/widget", include_in_schema=False)
    def widget_page() -> Response:
        return Response((STATIC / "widget.html").read_bytes(), media_type="text/html")

    @app.get("/widget-assets/{name}", include_in_schema=False)
    def widget_asset(name: str) -> FileResponse:
        if name not in WIDGET_ASSETS:
            raise HTTPException(
                404, f"There is no widget asset {name!r}; the widget page is /widget."
            )
        return FileResponse(STATIC / name)

    chat = build_chat(bot, load_examples(settings.corpus_dir), question_log)
    # No footer: "Use via API" and "Built with Gradio" offer readers nothing they need.
    app = gr.mount_gradio_app(
        app, chat, path="/", theme=theme(), css=CSS, head=CHAT_HEAD, footer_links=[]
    )
    # Innermost first: each add_middleware wraps the ones before it.
    app.add_middleware(guards.UnexpectedErrors)
    app.add_middleware(api.OtherMethods)
    app.add_middleware(SecurityHeaders, allowed_origins=settings.allowed_origins)
    app.add_middleware(
        guards.ReaderLimits,
        rate_limit=settings.rate_limit,
        question_fns=question_fns(chat),
        storage=settings.rate_limit_storage,
    )
    app.add_middleware(
        CORS,
        allow_origins=list(settings.allowed_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["content-type", "x-gradio-user"],
        max_age=600,
    )
    app.add_middleware(guards.ReaderAddress, trusted_proxies=settings.trusted_proxies)
    # Starlette builds the middleware on the first request: build it now, so a bad setting
    # (QA_BOT_RATE_LIMIT, QA_BOT_RATE_LIMIT_STORAGE) stops the start with its one sentence.
    app.middleware_stack = app.build_middleware_stack()
    return app


def uvicorn_config(app: FastAPI, settings: Settings):  # type: ignore[no-untyped-def]
    """How uvicorn serves the app: the reader's address comes from guards.ReaderAddress
    (QA_BOT_TRUSTED_PROXIES), never from uvicorn's own trust of X-Forwarded-For; what one
    server holds is bounded, and so is how long it finishes them when stopped. Header and
    body read timeouts need a proxy in front (deploy/)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        limit_concurrency=MAX_CONCURRENCY,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


class CORS(CORSMiddleware):
    """Starlette's CORS, with a refused preflight in the API's error shape, not plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-length", "content-type")
        }
        return api.error_response(
            400,
            f"This cross-origin request is not allowed ({refused}): "
            "the API takes GET and POST, with Content-Type, from the "
            "origins in QA_BOT_ALLOWED_ORIGINS.",
            headers,
        )


class SecurityHeaders:
    """Who may frame our pages (frame-ancestors), and a strict policy for the widget page."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        ancestors = " ".join(("'self'", *allowed_origins))
        self.frame_policy = f"frame-ancestors {ancestors}; img-src 'self' data: blob:"
        self.widget_policy = (
            f"default-src 'none'; script-src 'self'; style-src 'self'; "
            f"connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
            f"form-action 'none'; frame-ancestors {ancestors}"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = self.widget_policy if scope["path"] == "/widget" else self.frame_policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"content-security-policy", b"x-frame-options")
                ]
                headers += [
                    (b"content-security-policy", policy.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def serve(settings: Settings, listener: socket.socket) -> None:
    """Serve until stopped, answering in settings.workers worker processes (none: in this
    one), on `listener` (from `bound_socket`, bound before the slow start and its print).
    Without a usable index the server still starts and answers 503 until a build that loads
    appears."""
    import uvicorn

    from qa_bot.serve.workers import PooledBot

    if settings.workers:
        bot: QABot = PooledBot(settings, settings.workers)
    else:
        bot = QABot.from_settings(settings, require_index=False)
        _ = bot.embedder.session  # the encoder loaded before the server listens
    app = create_app(settings, bot)
    config = uvicorn_config(app, settings)
    try:  # now that every process can answer; another server still starting may have bound it
        listener.listen(config.backlog)
    except OSError as error:
        listener.close()
        raise ConfigError(_cannot_listen(error, settings.host, settings.port)) from None
    url = f"http://{settings.host}:{settings.port}"
    answering = (
        "the server process"
        if not settings.workers
        else "1 worker process"
        if settings.workers == 1
        else f"{settings.workers} worker processes"
    )
    print(
        f"qa_bot: chat at {url}/ and API docs at {url}/docs; answering in {answering}", flush=True
    )
    uvicorn.Server(config).run(sockets=[listener])


def bound_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, not yet listening: uvicorn listens once every process can
    answer. Binding first finds a port in use at once and says so in one sentence (uvicorn
    would log its own error, after the start, and exit 3)."""
    # IPPROTO_TCP named, or asyncio leaves TCP_NODELAY off for its connections: Nagle and
    # delayed ACKs then added ~40 ms to every answer on a kept-alive connection (measured).
    listener = socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ConfigError(_cannot_listen(error, host, port)) from None
    return listener


def _cannot_listen(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"Port {port} on {host} is in use: stop what uses it or choose another with --port."
    if error.errno == errno.EACCES:
        return f"Port {port} needs privileges to listen on: choose one above 1023 with --port."
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: choose another with --host."
    return (
        f"Cannot listen on {host} port {port} ({error.strerror or error}): choose another "
        "--host or --port."
    )
