"""Shared fixtures: the real model loaded once, a real index of the real article, a live server."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import json
import shutil
import socket
import subprocess
import threading
import time
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from qa_bot.answer.bot import QABot
from qa_bot.config import Settings, bundled_model_path
from qa_bot.encoder.embedding import Embedder
from qa_bot.indexing.build import build_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
ARTICLE = CORPUS / "north-korea-troops-ukraine.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"
# The JSON contract of an answer and of a citation (README, "Command line").
ASK_KEYS = {
    "id",
    "question",
    "answer",
    "answered",
    "confidence",
    "citations",
    "short_answer",
    "related",
}
CITATION_KEYS = {
    "n",
    "source",
    "start",
    "end",
    "text",
    "quote",
    "score",
    "quote_spans",
    "title",
    "published",
    "author",
}


def pytest_report_header() -> list[str]:
    names = ("torch", "sentence-transformers", "faiss-cpu", "gradio", "bm25s", "playwright")
    return ["versions: " + ", ".join(f"{n} {metadata.version(n)}" for n in names)]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.load(bundled_model_path())


@pytest.fixture(scope="session")
def article_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the real corpus, built once. Returns the index folder; corpus beside it."""
    root = tmp_path_factory.mktemp("article")
    shutil.copytree(CORPUS, root / "corpus")
    build_index(root / "corpus", root / "index", bundled_model_path(), embedder=embedder)
    return root / "index"


@pytest.fixture(scope="session")
def bot(article_index: Path, embedder: Embedder) -> QABot:
    return QABot(article_index, embedder)


def first_health(
    url: str,
    process: subprocess.Popen,
    log: Path | None = None,
    seconds: float = 120,
    what: str = "the server",
) -> httpx.Response:
    """/api/health of a server a test started, once its port opens (it opens once the index is
    loaded); fails when the process exits first (with its log) or after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, log.read_text() if log else f"{what} exited; see above"
        try:
            return httpx.get(f"{url}/api/health")
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{what} did not start"
            time.sleep(0.25)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LiveServer:
    """The real app served by uvicorn in a thread, on a free port."""

    def __init__(self, settings: Settings, bot: QABot) -> None:
        import uvicorn

        from qa_bot.serve.app import create_app, uvicorn_config

        self.url = f"http://{settings.host}:{settings.port}"
        self.server = uvicorn.Server(uvicorn_config(create_app(settings, bot), settings))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start; see the log above")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


HOST_PAGE_ORIGIN_HOST = "127.0.0.2"  # a second loopback origin for host pages


@pytest.fixture(scope="session")
def host_origin() -> str:
    """Origin of the test host page that embeds the widget (allowed by the live server)."""
    return f"http://{HOST_PAGE_ORIGIN_HOST}:{free_port(HOST_PAGE_ORIGIN_HOST)}"


@pytest.fixture(scope="session")
def live_server(article_index: Path, bot: QABot, host_origin: str):  # type: ignore[no-untyped-def]
    settings = Settings(
        corpus_dir=article_index.parent / "corpus",
        index_dir=article_index,
        port=free_port(),
        allowed_origins=(host_origin,),
        rate_limit="1000/minute",
        log_path=article_index.parent / "questions.sqlite3",
    )
    with LiveServer(settings, bot) as server:
        yield server


@pytest.fixture
def copied_index(article_index: Path, tmp_path: Path) -> Path:
    """A private copy of the article index that a test may damage."""
    shutil.copytree(article_index, tmp_path / "index")
    return tmp_path / "index"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Headless Debian Chromium with a fresh profile, one per test module."""
    from browser_support import chromium

    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    page = browser.new_page()
    yield page
    page.close()
