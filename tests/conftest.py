"""Shared fixtures: the real model loaded once, a real index of the real article, a live server.

A test that uses the encoder (any fixture built on `embedder`), the reading model, or lives in
end_to_end/ is marked `model`: `pytest -m "not model"` runs the pure logic alone, in seconds.
Heavy imports stay inside the fixtures so that collecting the pure tests loads no model.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import shutil
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support import CORPUS, HOST_PAGE_ORIGIN_HOST, LiveServer, free_port

if TYPE_CHECKING:
    from qa_bot.answer.bot import QABot
    from qa_bot.encoder.embedding import Embedder

MODEL_FIXTURES = {"embedder"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & MODEL_FIXTURES or "end_to_end" in item.path.parts:
            item.add_marker(pytest.mark.model)


def pytest_report_header() -> list[str]:
    names = ("torch", "sentence-transformers", "faiss-cpu", "gradio", "bm25s", "playwright")
    return ["versions: " + ", ".join(f"{n} {metadata.version(n)}" for n in names)]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    from qa_bot.config import bundled_model_path
    from qa_bot.encoder.embedding import Embedder

    return Embedder.load(bundled_model_path())


@pytest.fixture(scope="session")
def article_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the real corpus, built once. Returns the index folder; corpus beside it."""
    from qa_bot.config import bundled_model_path
    from qa_bot.indexing.build import build_index

    root = tmp_path_factory.mktemp("article")
    shutil.copytree(CORPUS, root / "corpus")
    build_index(root / "corpus", root / "index", bundled_model_path(), embedder=embedder)
    return root / "index"


@pytest.fixture(scope="session")
def bot(article_index: Path, embedder: Embedder) -> QABot:
    from qa_bot.answer.bot import QABot

    return QABot(article_index, embedder)


@pytest.fixture(scope="session")
def host_origin() -> str:
    """Origin of the test host page that embeds the widget (allowed by the live server)."""
    return f"http://{HOST_PAGE_ORIGIN_HOST}:{free_port(HOST_PAGE_ORIGIN_HOST)}"


@pytest.fixture(scope="session")
def live_server(article_index: Path, bot: QABot, host_origin: str):  # type: ignore[no-untyped-def]
    from qa_bot.config import Settings

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
    from tests.support.browser import chromium

    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    page = browser.new_page()
    yield page
    page.close()
