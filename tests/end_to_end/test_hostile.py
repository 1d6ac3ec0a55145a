"""Hostile input, as an attacker sends it, against live servers: one section per case of
issue 9 ("Hardening"), numbered as there."""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from qa_bot.answer.ask_request import parse_ask_request
from qa_bot.answer.bot import QABot
from qa_bot.config import Settings, bundled_model_path
from qa_bot.errors import (
    INDEX_UNAVAILABLE,
    ConfigError,
    IndexCorrupt,
    IndexUnwritable,
    InvalidQuestion,
    QABotError,
)
from qa_bot.indexing import builds, store
from qa_bot.indexing.build import build_index
from qa_bot.ingest.corpus import scan_corpus
from qa_bot.serve import guards
from qa_bot.serve.examples import load_examples
from qa_bot.serve.ui import build_chat, question_fns, render_answer
from tests.support import ARTICLE, CORPUS, ROOT, LiveServer, first_health, free_port
from tests.support.nginx import NGINX_MISSING, nginx_binary, running_nginx

MODEL = bundled_model_path()
QUESTION = "How many North Korean special forces arrived in Vladivostok?"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa_bot", *args],
        cwd=ROOT,
        env=ENV,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def serve(index: Path, bot: QABot, **options: object) -> LiveServer:
    settings = Settings(
        corpus_dir=index.parent / "corpus",
        index_dir=index,
        port=free_port(),
        **{"rate_limit": "1000/minute", **options},
    )  # type: ignore[arg-type]
    return LiveServer(settings, bot)


def ask(url: str, question: str = "Why?", **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json={"question": question}, headers=headers)


def chat_call(url: str, question: str = QUESTION) -> httpx.Response:
    """A question through the chat's REST entrance ("Use via API")."""
    return httpx.post(f"{url}/gradio_api/call/chat", json={"data": [question, []]})


# 1. The chat's own endpoints obey the limits -------------------------------------------------


def test_the_chat_and_the_api_share_one_allowance_per_reader(article_index, bot) -> None:
    with serve(article_index, bot, rate_limit="4/minute") as server:
        assert [ask(server.url).status_code for _ in range(2)] == [200, 200]
        assert [chat_call(server.url).status_code for _ in range(2)] == [200, 200]
        assert chat_call(server.url).status_code == 429
        refused = ask(server.url)
        assert refused.status_code == 429 and set(refused.json()) == {"error"}
        assert httpx.get(f"{server.url}/api/health").status_code == 200


@pytest.mark.parametrize("path", ["/gradio_api/call/chat", "/gradio_api/call/v2/chat"])
def test_the_chats_rest_calls_count_as_questions(article_index, bot, path) -> None:
    with serve(article_index, bot, rate_limit="2/minute") as server:
        codes = [
            httpx.post(server.url + path, json={"data": [QUESTION, []]}).status_code
            for _ in range(3)
        ]
        assert codes[-1] == 429 and 429 not in codes[:2], codes


def test_only_the_chats_answering_events_count_as_questions(article_index, bot) -> None:
    chat = build_chat(bot, load_examples(article_index.parent / "corpus"))  # as served
    answering = {chat.fns[i].name for i in question_fns(chat)}
    assert answering == {"_submit_fn", "respond"}
    with serve(article_index, bot, rate_limit="2/minute") as server:
        join = f"{server.url}/gradio_api/queue/join"
        other = [i for i in chat.fns if i not in question_fns(chat)][:5]
        for index in other:  # clearing the box, saving the conversation: not questions
            httpx.post(join, json={"data": [], "fn_index": index, "session_hash": "s1"})
        codes = [
            httpx.post(
                join,
                json={
                    "data": [None, None],
                    "fn_index": question_fns(chat)[0],
                    "session_hash": "s1",
                },
            ).status_code
            for _ in range(3)
        ]
        assert codes[-1] == 429 and 429 not in codes[:2]


@pytest.mark.parametrize("path", ["/gradio_api/queue/join", "/gradio_api/run/predict"])
def test_an_answering_event_counts_however_its_fn_index_is_written(
    article_index, bot, path
) -> None:
    """Gradio reads fn_index leniently (pydantic's lax int): each form it accepts is the same
    question and must count as one."""
    chat = build_chat(bot, load_examples(article_index.parent / "corpus"))  # as served
    index = question_fns(chat)[0]
    forms = [str(index), float(index), f" +{index} ", f"0{index}", f"{index}.0", index]
    proxies = Settings.from_env({"QA_BOT_TRUSTED_PROXIES": "127.0.0.1"}).trusted_proxies
    with serve(article_index, bot, rate_limit="2/minute", trusted_proxies=proxies) as server:
        for number, form in enumerate(forms):  # one reader per form, each its own allowance
            reader = {"X-Forwarded-For": f"203.0.113.{number}"}
            codes = [
                httpx.post(
                    server.url + path,
                    headers=reader,
                    json={"data": [None, None], "fn_index": form, "session_hash": "s1"},
                ).status_code
                for _ in range(3)
            ]
            assert codes[-1] == 429 and 429 not in codes[:2], (form, codes)


@pytest.mark.parametrize(
    "path", ["/gradio_api/queue/join", "/gradio_api/call/chat", "/gradio_api/run/predict"]
)
def test_chat_bodies_are_capped(live_server, path) -> None:
    huge = json.dumps({"data": ["a" * (guards.CHAT_BODY_BYTES + 1)]}).encode()
    assert (
        httpx.post(
            live_server.url + path, content=huge, headers={"content-type": "application/json"}
        ).status_code
        == 413
    )

    def trickle():  # no Content-Length: counted as it arrives
        for _ in range(guards.CHAT_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536

    response = httpx.post(
        live_server.url + path, content=trickle(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_a_long_chat_fits_under_the_chat_body_cap(bot) -> None:
    """The largest body the chat page sends carries the whole conversation as the browser
    holds it (content as parts, Sources messages included): 50 questions must fit."""
    history: list[dict[str, object]] = []
    questions = [QUESTION, "When did they arrive?", "Which region did Ukraine enter?"]
    for number in range(50):
        question = questions[number % 3]
        history.append(
            {
                "role": "user",
                "metadata": None,
                "content": [{"text": question, "type": "text"}],
                "options": None,
            }
        )
        for message in render_answer(bot.ask(question, source=None)):
            history.append(
                {
                    **message,
                    "content": [{"text": message["content"], "type": "text"}],
                    "options": None,
                }
            )
    body = json.dumps(
        {
            "data": [history],
            "event_data": None,
            "fn_index": 4,
            "trigger_id": 11,
            "session_hash": "x" * 11,
        }
    ).encode()
    assert len(body) < guards.CHAT_BODY_BYTES / 3, len(body)


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/upload",
        "/gradio_api/run/chat",
        "/gradio_api/api/chat",
        "/gradio_api/stream/an-event",
        "/gradio_api/process_recording",
        "/login",
    ],
)
def test_entrances_the_chat_page_does_not_use_are_closed(live_server, tmp_path, path) -> None:
    uploads_before = _gradio_uploads()
    response = httpx.post(live_server.url + path, files={"files": ("a.txt", b"x" * 100_000)})
    assert response.status_code == 404
    assert _gradio_uploads() == uploads_before


def _gradio_uploads() -> int:
    folder = Path(os.environ.get("GRADIO_TEMP_DIR", Path("/tmp") / "gradio"))
    return sum(1 for _ in folder.rglob("*")) if folder.is_dir() else 0


# 2. The reader's address -------------------------------------------------------------------


@pytest.mark.parametrize(
    "peer, forwarded, trusted, reader",
    [
        ("127.0.0.1", ["10.9.9.1"], [], "127.0.0.1"),  # nobody trusted: the header is ignored
        ("10.0.0.2", ["203.0.113.7"], ["10.0.0.0/8"], "203.0.113.7"),
        ("10.0.0.2", ["1.1.1.1, 203.0.113.7"], ["10.0.0.0/8"], "203.0.113.7"),  # left: reader's say
        ("10.0.0.2", ["203.0.113.7, 10.0.0.3"], ["10.0.0.0/8"], "203.0.113.7"),  # proxy chain
        ("10.0.0.2", ["203.0.113.7", "10.0.0.3"], ["10.0.0.0/8"], "203.0.113.7"),  # two headers
        ("10.0.0.2", [], ["10.0.0.0/8"], "10.0.0.2"),
        ("198.51.100.1", ["203.0.113.7"], ["10.0.0.0/8"], "198.51.100.1"),  # not a trusted peer
        ("::1", ["2001:db8::5"], ["::1"], "2001:db8::5"),
    ],
)
def test_the_reader_is_the_peer_unless_a_trusted_proxy_says_otherwise(
    peer, forwarded, trusted, reader
) -> None:
    networks = Settings.from_env({"QA_BOT_TRUSTED_PROXIES": ",".join(trusted)}).trusted_proxies
    assert guards.reader_address(peer, forwarded, networks) == reader


def test_trusted_proxies_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match="QA_BOT_TRUSTED_PROXIES takes addresses or ranges"):
        Settings.from_env({"QA_BOT_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"})
    assert Settings.from_env({}).trusted_proxies == ()


def test_forged_forwarded_for_gains_nothing_without_trusted_proxies(article_index, bot) -> None:
    with serve(article_index, bot, rate_limit="3/minute") as server:
        codes = [
            ask(server.url, **{"X-Forwarded-For": f"10.9.9.{i}"}).status_code for i in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]


def test_behind_a_trusted_proxy_each_reader_has_an_allowance(article_index, bot) -> None:
    with serve(
        article_index,
        bot,
        rate_limit="2/minute",
        trusted_proxies=Settings.from_env({"QA_BOT_TRUSTED_PROXIES": "127.0.0.1"}).trusted_proxies,
    ) as server:
        first = [
            ask(server.url, **{"X-Forwarded-For": "203.0.113.1"}).status_code for _ in range(3)
        ]
        second = ask(server.url, **{"X-Forwarded-For": "203.0.113.2"}).status_code
        forged = ask(server.url, **{"X-Forwarded-For": "198.51.100.9, 203.0.113.1"}).status_code
        assert first == [200, 200, 429] and second == 200 and forged == 429


@contextmanager
def black_hole() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server on loopback that accepts connections and never answers: a hung Redis.
    Yields its port and the connections it has accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed: the test is over
            while True:
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        listener.close()
        for connection in accepted:
            connection.close()


def test_a_hung_rate_limit_storage_holds_up_no_other_request(
    article_index, bot, monkeypatch
) -> None:
    # Long enough to see what else the server does while a question waits on the storage.
    monkeypatch.setattr(guards, "STORAGE_SECONDS", 3.0)
    with (
        black_hole() as (port, accepted),
        serve(
            article_index,
            bot,
            rate_limit="2/minute",
            rate_limit_storage=f"redis://127.0.0.1:{port}",
        ) as server,
    ):
        first = concurrent.futures.ThreadPoolExecutor(1).submit(ask, server.url, QUESTION)
        deadline = time.monotonic() + 10
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert accepted, "the question never reached the storage"
        health = httpx.get(f"{server.url}/api/health", timeout=2)  # while the question waits
        assert health.status_code == 200 and not first.done()
        assert first.result(timeout=30).status_code == 200  # counted in memory instead
        # Within the back-off the storage is not asked again, and the allowance still holds.
        assert [ask(server.url, QUESTION).status_code for _ in range(2)] == [200, 429]
        assert len(accepted) == 1


def test_questions_arriving_while_the_storage_hangs_do_not_queue_behind_it(
    article_index, bot, monkeypatch
) -> None:
    monkeypatch.setattr(guards, "STORAGE_SECONDS", 3.0)
    with (
        black_hole() as (port, accepted),
        serve(article_index, bot, rate_limit_storage=f"redis://127.0.0.1:{port}") as server,
    ):
        first = concurrent.futures.ThreadPoolExecutor(1).submit(ask, server.url, QUESTION)
        deadline = time.monotonic() + 10
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(2 * guards.STORAGE_HUNG_SECONDS)  # the first count is now overdue
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(lambda _: ask(server.url, QUESTION).status_code, range(6)))
        # Counted in memory while the first still waits: not one more storage connection.
        assert codes == [200] * 6 and not first.done() and len(accepted) == 1
        assert first.result(timeout=30).status_code == 200


def test_after_the_back_off_one_request_asks_a_hung_storage_again(
    article_index, bot, monkeypatch
) -> None:
    monkeypatch.setattr(guards, "STORAGE_SECONDS", 1.0)
    monkeypatch.setattr(guards, "STORAGE_BACKOFF_SECONDS", 0.5)
    with (
        black_hole() as (port, accepted),
        serve(article_index, bot, rate_limit_storage=f"redis://127.0.0.1:{port}") as server,
    ):
        assert ask(server.url, QUESTION).status_code == 200
        assert len(accepted) == 1
        time.sleep(guards.STORAGE_BACKOFF_SECONDS)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda _: ask(server.url, QUESTION).status_code, range(4)))
        assert codes == [200] * 4 and len(accepted) == 2  # the others counted in memory


def test_the_rate_limit_storage_is_given_a_short_time_to_answer() -> None:
    redis = guards._storage("redis://127.0.0.1:6379").storage  # type: ignore[attr-defined]
    given = redis.connection_pool.connection_kwargs
    assert given["socket_connect_timeout"] == given["socket_timeout"] == guards.STORAGE_SECONDS


def test_uvicorn_does_not_trust_forwarded_headers_itself(article_index) -> None:
    from qa_bot.serve.app import uvicorn_config

    config = uvicorn_config(None, Settings(index_dir=article_index))  # type: ignore[arg-type]
    assert config.proxy_headers is False


# 3. Text that cannot be encoded -------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"question": "\\ud800"}',
        '{"question": "Why? \\udfff"}',
        '{"question": "Why?", "history": [{"role": "user", "content": "\\ud83d"}]}',
        '{"question": "Why?", "source": "\\udc00.txt"}',
    ],
)
def test_lone_surrogates_get_422(live_server, body) -> None:
    response = httpx.post(
        f"{live_server.url}/api/ask", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "must be valid Unicode text" in response.json()["error"]


def test_lone_surrogates_in_the_cli_and_the_chat_get_the_same_sentence(article_index, bot) -> None:
    result = cli(
        "ask", "--index", str(article_index), "--json", "-", stdin='{"question": "\\ud800"}\n'
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == (
        '"question" must be valid Unicode text; it holds an unpaired surrogate.'
    )
    (message,) = build_chat(bot, []).fn("\ud800", [], None)
    assert "must be valid Unicode text" in message["content"]


def test_file_names_that_are_not_utf8_are_skipped_with_a_warning(tmp_path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / "article.txt")
    with open(os.fsencode(corpus) + b"/bad\xff.txt", "wb") as file:
        file.write(b"The granary held 5,500 tonnes.\n")
    build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    info = QABot(tmp_path / "index", embedder).info()
    assert info.sources == ["article.txt"]
    result = cli("build", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    assert (
        "warning: skipped bad\\xff.txt: it has a file name that is not valid UTF-8" in result.stderr
    )
    with serve(tmp_path / "index", QABot(tmp_path / "index", embedder)) as server:
        assert httpx.get(f"{server.url}/api/health").status_code == 200
        assert ask(server.url, "How much did the granary hold?").status_code == 200


# 4. Errors in the documented shape ------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"question": "\xff\xfe"}', b"[" * 2000 + b"]" * 2000])
def test_undecodable_or_deep_json_is_400_with_the_error_shape(live_server, body) -> None:
    response = httpx.post(
        f"{live_server.url}/api/ask", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "The request body is not valid JSON."},
    )


@pytest.mark.parametrize(
    "method, path, status, allow",
    [
        ("GET", "/api/ask", 405, "POST, OPTIONS"),
        ("HEAD", "/api/ask", 405, "POST, OPTIONS"),
        ("TRACE", "/api/ask", 405, "POST, OPTIONS"),
        ("DELETE", "/api/health", 405, "GET, HEAD, OPTIONS"),
        ("OPTIONS", "/api/ask", 204, "POST, OPTIONS"),
        ("OPTIONS", "/api/health", 204, "GET, HEAD, OPTIONS"),
    ],
)
def test_methods_get_allow_and_the_error_shape(live_server, method, path, status, allow) -> None:
    response = httpx.request(method, live_server.url + path)
    assert response.status_code == status and response.headers["allow"] == allow
    if status >= 400 and method != "HEAD":
        assert set(response.json()) == {"error"}


def test_head_works_where_get_does(live_server) -> None:
    response = httpx.head(f"{live_server.url}/api/health")
    assert response.status_code == 200 and response.content == b""


def test_a_500_carries_cors_headers_and_the_error_shape(article_index, bot, host_origin) -> None:
    class Broken(QABot):
        def __init__(self) -> None:
            self.__dict__.update(bot.__dict__)

        def ask(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("a bug")

    with serve(article_index, Broken(), allowed_origins=(host_origin,)) as server:
        response = httpx.post(
            f"{server.url}/api/ask", json={"question": "Why?"}, headers={"Origin": host_origin}
        )
    assert response.status_code == 500
    assert response.json() == {"error": "Something went wrong on our side; please try again."}
    assert response.headers["access-control-allow-origin"] == host_origin


# 5. The OpenAPI schema says what is enforced, and a fuzzer agrees ----------------------------


def test_the_schema_states_the_question_limits(live_server) -> None:
    schema = httpx.get(f"{live_server.url}/openapi.json").json()
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert (question["minLength"], question["maxLength"]) == (1, 2000)
    assert question["pattern"] == r"^\s*\S"
    history = schema["components"]["schemas"]["AskRequest"]["properties"]["history"]
    assert history["maxItems"] == 100


@pytest.fixture(scope="module")
def fuzz_server(article_index, bot):  # type: ignore[no-untyped-def]
    with serve(article_index, bot, rate_limit="100000/minute") as server:
        yield server


@pytest.fixture
def api_schema(fuzz_server):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


fuzzed = schemathesis.pytest.from_fixture("api_schema")


@fuzzed.parametrize()
@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_survives_a_schema_fuzzer(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate()


# 6. Files outside the corpus are never read ---------------------------------------------------


def test_links_out_of_the_corpus_are_skipped_and_never_read(tmp_path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / "article.txt")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (corpus / "passwd.txt").symlink_to(secret)
    (corpus / "inside.txt").symlink_to(corpus / "article.txt")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "more.txt").write_text("Secret plans.", encoding="utf-8")
    (corpus / "linked-folder").symlink_to(tmp_path / "elsewhere")
    summary = build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    assert {s.source: s.reason for s in summary.skipped} == {
        "passwd.txt": "is a link to a file outside the corpus folder, which is never read"
    }
    bot = QABot(tmp_path / "index", embedder)
    assert bot.info().sources == ["article.txt", "inside.txt"]
    text = " ".join(p.text for p in store.load_index(tmp_path / "index").passages)
    assert "root:x" not in text and "Secret plans" not in text


def test_the_corpus_folder_may_itself_be_a_link(tmp_path) -> None:
    (tmp_path / "real").mkdir()
    shutil.copy(ARTICLE, tmp_path / "real" / "article.txt")
    (tmp_path / "corpus").symlink_to(tmp_path / "real")
    files = scan_corpus(tmp_path / "corpus")
    assert [(f.source, f.skipped) for f in files] == [("article.txt", "")]


# 7. Damage is noticed ------------------------------------------------------------------------


def test_the_manifest_records_each_index_files_size_and_checksum(copied_index) -> None:
    build_id, manifest = store.read_manifest(copied_index)
    folder = copied_index / "builds" / build_id
    assert set(manifest.index_files) == set(store.INDEX_FILES)
    for name, record in manifest.index_files.items():
        assert record.size == (folder / name).stat().st_size and len(record.sha256) == 64


def _truncate_vectors(index: Path) -> Path:
    path = index / "builds" / builds.current_build(index) / "passages.faiss"
    os.truncate(path, 100)
    return path


def _flip_a_byte(index: Path) -> Path:
    path = index / "builds" / builds.current_build(index) / "sentences.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("damage", [_truncate_vectors, _flip_a_byte])
def test_status_and_check_name_a_damaged_file_and_build_repairs_it(copied_index, damage) -> None:
    corpus = str(CORPUS)  # what the copied index was built from
    path = damage(copied_index)
    for command in (["status"], ["build", "--check"]):
        result = cli(*command, "--corpus", corpus, "--index", str(copied_index))
        assert result.returncode == 1
        assert f"Index file {path} is damaged" in result.stdout + result.stderr
    repaired = cli("build", "--corpus", corpus, "--index", str(copied_index))
    assert repaired.returncode == 0, repaired.stderr
    assert "rebuilt everything: Index file" in repaired.stderr
    assert cli("status", "--corpus", corpus, "--index", str(copied_index)).returncode == 0
    assert store.load_index(copied_index).build_id != path.parent.name


def test_a_loading_server_checks_sizes(copied_index, embedder) -> None:
    path = _truncate_vectors(copied_index)
    with pytest.raises(IndexCorrupt, match=f"Index file {path} is damaged: it has 100 bytes"):
        QABot(copied_index, embedder)


def test_health_is_degraded_while_an_older_build_answers(copied_index, embedder) -> None:
    bot = QABot(copied_index, embedder)
    old = builds.current_build(copied_index)
    newer = copied_index / "builds" / "29990101T000000Z-000000001"
    shutil.copytree(copied_index / "builds" / old, newer)
    (copied_index / "CURRENT").write_text(newer.name + "\n", encoding="utf-8")
    _truncate_vectors(copied_index)
    with serve(copied_index, bot) as server:
        health = httpx.get(f"{server.url}/api/health").json()
        assert health["status"] == "degraded" and health["build"] == old
        assert health["problem"].startswith("The newest build could not be loaded (Index file")
        assert health["problem"].count(". ") == 0 and "passages.faiss" in health["problem"]
        assert ask(server.url, QUESTION).status_code == 200


def test_a_server_started_on_a_damaged_build_answers_from_the_older_one(
    copied_index, embedder
) -> None:
    old = builds.current_build(copied_index)
    newer = copied_index / "builds" / "29990101T000000Z-000000001"
    shutil.copytree(copied_index / "builds" / old, newer)
    (copied_index / "CURRENT").write_text(newer.name + "\n", encoding="utf-8")
    _truncate_vectors(copied_index)
    with pytest.raises(IndexCorrupt):  # the CLI asks of the active build only
        QABot(copied_index, embedder)
    bot = QABot(copied_index, embedder, require_index=False)
    info = bot.info()
    assert info.build_id == old and "passages.faiss" in (info.problem or "")
    assert bot.ask(QUESTION).answered


def test_a_server_without_a_usable_build_answers_503_until_one_is_built(
    copied_index, embedder
) -> None:
    _truncate_vectors(copied_index)
    bot = QABot(copied_index, embedder, require_index=False)
    with serve(copied_index, bot) as server:
        health, answer = httpx.get(f"{server.url}/api/health"), ask(server.url, QUESTION)
        assert health.status_code == answer.status_code == 503
        # The cause is for whoever runs the server; a reader is told to come back later.
        assert "passages.faiss is damaged" in health.json()["error"]
        assert answer.json() == {"error": INDEX_UNAVAILABLE}
        (message,) = build_chat(bot, []).fn(QUESTION, [], None)  # the chat says the same
        assert message["content"] == INDEX_UNAVAILABLE
        assert httpx.get(f"{server.url}/").status_code == 200  # the chat page still loads
        build_index(CORPUS, copied_index, MODEL, embedder=embedder)
        assert httpx.get(f"{server.url}/api/health").json()["status"] == "ok"


def test_a_restarted_server_with_a_damaged_index_answers_503(copied_index) -> None:
    _truncate_vectors(copied_index)
    port = free_port()
    log = copied_index.parent / "serve.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qa_bot",
                "serve",
                "--index",
                str(copied_index),
                "--corpus",
                str(CORPUS),
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=ENV,
            stdout=output,
            stderr=output,
        )
    try:
        response = first_health(f"http://127.0.0.1:{port}", server, log)
        assert response.status_code == 503
        assert "passages.faiss is damaged" in response.json()["error"]
    finally:
        server.terminate()
        server.wait(timeout=30)


# 8. A failed build cleans up after itself ---------------------------------------------------


@pytest.mark.parametrize(
    "code, says",
    [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the file system is read-only")],
)
def test_a_failed_build_leaves_nothing_and_says_why_in_one_line(
    tmp_path, embedder, monkeypatch, code, says
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / "article.txt")

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(IndexUnwritable) as error:
        build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    assert str(error.value) == (
        f"Cannot write the index in {tmp_path / 'index'}: {says}" + str(error.value).split(says)[1]
    )
    assert "\n" not in str(error.value)
    assert not list((tmp_path / "index" / "builds").iterdir())


def test_leftovers_of_a_killed_build_are_pruned_before_the_next(copied_index, embedder) -> None:
    leftover = copied_index / "builds" / "20990101T000000Z-000000001.partial"
    leftover.mkdir()
    (leftover / "passages.faiss").write_bytes(b"\0" * 1000)
    with pytest.raises(QABotError):
        build_index(copied_index.parent / "no-corpus", copied_index, MODEL, embedder=embedder)
    assert not leftover.exists()


# 9. The chat shows the article's words as text ----------------------------------------------


def test_the_chat_heading_is_escaped_and_latex_is_off(tmp_path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    chat = build_chat(QABot(tmp_path / "index", embedder), [])
    assert "<a" not in chat.title and "<img" not in chat.title
    assert chat.title.startswith("&lt;a href=")
    assert chat.chatbot.latex_delimiters == []


@pytest.mark.browser
def test_the_chat_heading_follows_a_rebuilt_index(tmp_path, embedder) -> None:
    from tests.support.browser import chromium

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "Ferry fares rise\nThe ferry fare rose on Monday.\n", encoding="utf-8"
    )
    build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    with (
        serve(tmp_path / "index", QABot(tmp_path / "index", embedder)) as server,
        chromium(tmp_path / "profile") as browser,
    ):
        page = browser.new_page()
        page.goto(server.url + "/", wait_until="load")
        page.locator("h1", has_text="Ferry fares rise").wait_for()
        (corpus / "a.txt").unlink()  # the newsroom replaces the article and rebuilds
        (corpus / "b.txt").write_text(
            "Bridge reopens\nThe bridge reopened on Tuesday.\n", encoding="utf-8"
        )
        build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
        page.reload(wait_until="load")
        page.locator("h1", has_text="Bridge reopens").wait_for()
        assert "Ferry" not in page.locator("h1").first.inner_text()


HOSTILE_ARTICLE = (
    '<a href="https://evil.example/login">Session expired: log in</a><img src=x>\n'
    "The ferry fare rose to $$x^2$$ shillings on Monday, the harbour board said, "
    "and details are at https://evil.example/login and www.evil.example today.\n"
)


@pytest.mark.browser
def test_the_chat_page_shows_heading_and_article_as_text(tmp_path_factory, embedder) -> None:
    from tests.support.browser import chromium

    root = tmp_path_factory.mktemp("hostile-chat")
    (root / "corpus").mkdir()
    (root / "corpus" / "a.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    build_index(root / "corpus", root / "index", MODEL, embedder=embedder)
    with (
        serve(root / "index", QABot(root / "index", embedder)) as server,
        chromium(root / "profile") as browser,
    ):
        page = browser.new_page()
        page.goto(server.url + "/", wait_until="load")
        heading = page.locator("h1").first
        assert "Session expired" in heading.inner_text()
        assert heading.locator("a, img").count() == 0
        box = page.get_by_role("textbox").first
        box.fill("What did the ferry fare rise to?")
        box.press("Enter")
        page.get_by_text("Sources (1)").wait_for()
        chat = page.locator(".bubble-wrap, [role=log]").first
        assert "$$x^2$$ shillings" in chat.inner_text()
        assert "https://evil.example/login" in chat.inner_text()
        assert chat.locator(".katex, a[href*='evil']").count() == 0


# 10. Slow clients are bounded ---------------------------------------------------------------


def test_one_server_holds_a_bounded_number_of_connections(article_index) -> None:
    from qa_bot.serve.app import uvicorn_config

    config = uvicorn_config(None, Settings(index_dir=article_index))  # type: ignore[arg-type]
    assert config.limit_concurrency and config.timeout_keep_alive <= 5
    assert config.h11_max_incomplete_event_size == 16 * 1024


def test_a_trickling_body_is_cut_off(article_index, bot, monkeypatch) -> None:
    monkeypatch.setattr(guards, "BODY_SECONDS", 1.0)
    with serve(article_index, bot) as server:
        host, port = server.url.removeprefix("http://").split(":")
        began = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                b"\r\nContent-Length: 100\r\n\r\n{"
            )
            reply = b""
            for _ in range(30):
                time.sleep(0.1)
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
                sock.settimeout(0.01)
                try:
                    reply += sock.recv(4096)
                except (TimeoutError, BlockingIOError):
                    continue
                if reply:
                    break
        assert reply.startswith(b"HTTP/1.1 408"), reply
        assert time.monotonic() - began < 3


def test_the_nginx_example_times_out_slow_clients() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    for directive in (
        "client_header_timeout",
        "client_body_timeout",
        "client_max_body_size",
        "proxy_set_header X-Forwarded-For",
    ):
        assert directive in config
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed: apt-get install -y nginx-light")
    result = subprocess.run(
        ["nginx", "-t", "-c", str(ROOT / "deploy" / "nginx.conf"), "-p", str(ROOT / "deploy")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


# 11. One parser for every interface -------------------------------------------------------

BAD_REQUESTS = [
    ({"question": "Why?", "history": "no"}, '"history" must be a list.'),
    ({"question": "Why?", "history": [{"role": "user"}]}, 'The request needs "history.0.content".'),
    (
        {"question": "Why?", "history": [{"role": "user", "content": "x"}] * 101},
        '"history" has too many items; send at most 100.',
    ),
    ({"question": 7}, '"question" must be text.'),
    ({"question": "   "}, "The question is empty; type a question about the article."),
]


@pytest.mark.parametrize("data, message", BAD_REQUESTS)
def test_cli_api_and_parser_give_the_same_message(
    live_server, article_index, data, message
) -> None:
    with pytest.raises(InvalidQuestion) as error:
        parse_ask_request(data)
    assert str(error.value) == message
    response = httpx.post(f"{live_server.url}/api/ask", json=data)
    assert (response.status_code, response.json()) == (422, {"error": message})
    result = cli("ask", "--index", str(article_index), "--json", "-", stdin=json.dumps(data))
    assert json.loads(result.stdout)["error"] == message


def test_the_history_limit_is_one_number() -> None:
    from qa_bot.answer.ask_request import MAX_HISTORY_MESSAGES

    assert MAX_HISTORY_MESSAGES == 100
    widget = (ROOT / "qa_bot" / "serve" / "static" / "widget-page.js").read_text(encoding="utf-8")
    assert "const MAX_HISTORY = 100;" in widget
    long = [{"role": "user", "content": "x"}] * 100
    assert len(parse_ask_request({"question": "Why?", "history": long}).turns) == 100


def test_through_the_nginx_example_readers_cannot_forge_their_address(
    article_index, bot, tmp_path
) -> None:
    if nginx_binary() is None:
        pytest.skip(NGINX_MISSING)
    trusted = Settings.from_env({"QA_BOT_TRUSTED_PROXIES": "127.0.0.1"}).trusted_proxies
    with serve(article_index, bot, rate_limit="2/minute", trusted_proxies=trusted) as server:
        replica = server.url.removeprefix("http://")
        with running_nginx(tmp_path, free_port(), [replica]) as proxy:
            codes = [
                ask(proxy, **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(3)
            ]
            assert codes == [200, 200, 429]  # one reader, whatever the header said
