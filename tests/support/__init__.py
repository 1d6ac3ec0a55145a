"""What the tests share besides fixtures: paths, the answer contract's keys, a live server,
and small helpers. Fixtures are in tests/conftest.py."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from qa_bot.config import bundled_model_path

if TYPE_CHECKING:
    from qa_bot.answer.bot import QABot
    from qa_bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
ARTICLE = CORPUS / "north-korea-troops-ukraine.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"
MODEL = bundled_model_path()  # the bundled encoder's folder
HOST_PAGE_ORIGIN_HOST = "127.0.0.2"  # a second loopback origin for host pages
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


def write(folder: Path, name: str, text: str) -> None:
    """Write an article into a corpus folder, making its sub-folders."""
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def word_pieces(text: str) -> int:
    """Word pieces the bundled model reads for `text` before truncation, special tokens included."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(MODEL) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return len(tokenizer.encode(text).ids)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def shared_file(name: str) -> Path:
    """A file of ../shared/data; the test skips, saying so, when it is not there (the project
    runs without it)."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{name}, which is not here")
    return path


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
