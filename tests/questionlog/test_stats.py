"""Editors' statistics, and the whole loop: readers ask through the API, the widget's channel and
the chat, rate answers, and `stats` reports it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa_bot.answer.result import Answer
from qa_bot.config import Settings
from qa_bot.questionlog.log import QuestionLog
from qa_bot.questionlog.stats import Day, _every_day, normalise, printable, summarise
from tests.support import ROOT, LiveServer, free_port

QUESTION = "How many North Korean special forces arrived in Vladivostok?"
OFF_TOPIC = "Who won the football world cup in 1998?"


def stats(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa_bot", "stats", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def record(
    log: QuestionLog,
    question: str,
    answered: bool = True,
    source: str | None = None,
    client: str = "192.0.2.1",
) -> Answer:
    given = Answer(question, "An answer. [1]", answered, 0.9, (), id=uuid.uuid4().hex)
    log.record(given, channel="api", source=source, latency=0.02, client=client)
    return given


@pytest.fixture(scope="module")
def logged_server(
    article_index: Path,
    bot,  # type: ignore[no-untyped-def]
    tmp_path_factory,
) -> Iterator[LiveServer]:
    log_path = tmp_path_factory.mktemp("log") / "questions.sqlite3"
    settings = Settings(
        corpus_dir=article_index.parent / "corpus",
        index_dir=article_index,
        port=free_port(),
        rate_limit="1000/minute",
        log_path=log_path,
    )
    with LiveServer(settings, bot) as server:
        server.log_path = log_path  # type: ignore[attr-defined]
        yield server


def test_questions_from_api_widget_and_chat_are_logged_rated_and_counted(logged_server) -> None:
    from gradio_client import Client

    url, log_path = logged_server.url, logged_server.log_path
    asked = [
        httpx.post(f"{url}/api/ask", json=body, timeout=60).json()
        for body in (
            {"question": QUESTION},
            {
                "question": QUESTION.upper() + "!!",
                "source": "north-korea-troops-ukraine.txt",
                "channel": "widget",
            },
            {"question": OFF_TOPIC, "channel": "widget"},
        )
    ]
    chat = Client(url, verbose=False).predict(
        "how many north korean special forces arrived in vladivostok", api_name="/chat"
    )
    chat_id = chat[0]["metadata"]["id"]
    ratings = [
        (asked[0]["id"], True, None),
        (asked[2]["id"], False, "It should know this."),
        (chat_id, True, None),
    ]
    for answer_id, helpful, comment in ratings:
        response = httpx.post(
            f"{url}/api/feedback", json={"id": answer_id, "helpful": helpful, "comment": comment}
        )
        assert (response.status_code, response.json()) == (200, {"status": "recorded"})

    result = stats("--log", str(log_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["questions"], report["answered"], report["declined_count"]) == (4, 3, 1)
    assert report["top"][0] == {"question": QUESTION, "count": 3}
    assert report["declined"] == [{"question": OFF_TOPIC, "count": 1}]
    assert report["feedback"] == {"helpful": 2, "unhelpful": 1}
    assert report["unhelpful_answers"][0]["comment"] == "It should know this."
    assert report["readers"] == 1
    logged = QuestionLog(log_path).questions()
    assert [q.channel for q in logged] == ["api", "widget", "widget", "chat"]
    assert logged[1].source == "north-korea-troops-ukraine.txt"
    assert all(q.latency_ms > 0 for q in logged)
    assert b"127.0.0.1" not in b"".join(p.read_bytes() for p in log_path.parent.iterdir())


def test_the_chat_thumbs_send_feedback_for_the_answer_rated(logged_server, bot) -> None:
    import gradio as gr

    from qa_bot.serve.ui import build_chat

    log = QuestionLog(logged_server.log_path)
    chat = build_chat(bot, [], log)
    (rate,) = [f.fn for f in chat.fns.values() if f.fn and f.fn.__name__ == "rate"]
    first = record(log, "First?")
    history = [
        {"role": "user", "content": "First?"},
        {"role": "assistant", "content": "An answer.", "metadata": {"id": first.id}},
        {"role": "assistant", "content": "[1] …", "metadata": {"title": "Sources (1)"}},
    ]
    rate(history, gr.LikeData(None, {"index": 2, "value": "[1] …", "liked": False}))
    assert [q.helpful for q in log.questions() if q.question == "First?"] == [False]


def test_feedback_errors_use_the_error_shape(logged_server) -> None:
    url = logged_server.url
    unknown = httpx.post(f"{url}/api/feedback", json={"id": "f" * 32, "helpful": True})
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": "No answer with this id in the question log; send the id "
        "of an answer from the last 30 days."
    }
    for body, error in [
        ({"id": "x", "helpful": "yes"}, '"helpful" must be true or false.'),
        (
            {"id": "x", "helpful": True, "comment": "x" * 501},
            '"comment" must be at most 500 characters.',
        ),
        ({"helpful": True}, 'The request needs "id".'),
    ]:
        response = httpx.post(f"{url}/api/feedback", json=body)
        assert (response.status_code, response.json()) == (422, {"error": error})
    bad_channel = httpx.post(f"{url}/api/ask", json={"question": "Why?", "channel": "email"})
    assert bad_channel.json() == {"error": '"channel" must be "api" or "widget".'}
    documented = httpx.get(f"{url}/openapi.json").json()["paths"]["/api/feedback"]["post"]
    assert {"404", "422", "429"} <= set(documented["responses"])


def test_without_a_log_feedback_is_refused_under_its_own_allowance(article_index, bot) -> None:
    settings = Settings(
        corpus_dir=article_index.parent / "corpus",
        index_dir=article_index,
        port=free_port(),
        rate_limit="3/minute",
        log_path=None,
    )
    with LiveServer(settings, bot) as server:
        asked = [
            httpx.post(f"{server.url}/api/ask", json={"question": QUESTION}, timeout=60)
            for _ in range(3)
        ]
        rated = [
            httpx.post(
                f"{server.url}/api/feedback", json={"id": asked[0].json()["id"], "helpful": True}
            )
            for _ in range(4)
        ]
    assert [r.status_code for r in asked] == [200, 200, 200]
    assert [r.status_code for r in rated] == [404, 404, 404, 429]
    assert rated[0].json() == {
        "error": "Feedback is not collected here: this server keeps no question log."
    }
    assert rated[3].json()["error"].startswith("Too many ratings from your address")


def test_questions_group_by_their_words_and_print_without_control_characters() -> None:
    assert normalise("  Where did they TRAIN?!") == normalise("where did they train") != ""
    assert (
        printable("Where\x1b[2J\x1b]0;pwned\x07 did\u202e they\ntrain?")
        == "Where [2J ]0;pwned did they train?"
    )


def test_stats_text_lists_declined_questions_and_unhelpful_answers(tmp_path) -> None:
    log = QuestionLog(tmp_path / "q.sqlite3")
    for _ in range(2):
        record(log, "Who is the \x1b[31mminister\x1b[0m?", answered=False)
    rated = record(log, "When did they arrive?", source="a.txt", client="192.0.2.2")
    log.add_feedback(rated.id, False, "Wrong\x1b[2J date")
    result = stats("--log", str(tmp_path / "q.sqlite3"))
    assert result.returncode == 0 and "\x1b" not in result.stdout
    assert result.stdout.splitlines()[:2] == [
        "3 questions from 2 readers (counted per day): 1 answered, 2 declined",
        "feedback: 0 helpful, 1 unhelpful",
    ]
    assert "      2  Who is the [31mminister [0m?" in result.stdout
    assert "comment: Wrong [2J date" in result.stdout
    scoped = json.loads(
        stats(
            "--log", str(tmp_path / "q.sqlite3"), "--source", "a.txt", "--json", "--since", "1"
        ).stdout
    )
    assert (scoped["questions"], scoped["declined"]) == (1, [])


def test_stats_report_draws_questions_per_day(tmp_path) -> None:
    log = QuestionLog(tmp_path / "q.sqlite3")
    record(log, "When?")
    record(log, "Who?", answered=False)
    result = stats("--log", str(tmp_path / "q.sqlite3"), "--report", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    chart = tmp_path / "report" / "questions-per-day.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000
    assert summarise(log.questions()).days[0].answered == 1


def test_stats_forget_deletes_on_request(tmp_path) -> None:
    log = QuestionLog(tmp_path / "q.sqlite3")
    record(log, "Is my neighbour Ann Price named?")
    record(log, "When?")
    result = stats("--log", str(tmp_path / "q.sqlite3"), "--forget", "ann price")
    assert result.returncode == 0
    assert result.stderr == (
        "deleted 1 questions whose text or feedback contains 'ann price', and their feedback\n"
    )
    assert [q.question for q in log.questions()] == ["When?"]


def test_stats_without_a_log_says_what_to_do(tmp_path) -> None:
    missing = stats("--log", str(tmp_path / "none.sqlite3"))
    assert (missing.returncode, missing.stderr) == (
        1,
        f"error: No question log at "
        f"{tmp_path / 'none.sqlite3'}: the server "
        "writes it when readers ask; pass --log "
        "FILE to read another.\n",
    )
    off = subprocess.run(
        [sys.executable, "-m", "qa_bot", "stats"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        env={"QA_BOT_LOG": "off", "PATH": "/usr/bin"},
    )
    assert off.returncode == 1 and "The question log is off" in off.stderr


def test_the_chart_shows_days_without_questions_as_empty_days() -> None:
    days = _every_day([Day("2026-02-27", 3, 1), Day("2026-03-02", 2, 2)])
    assert [(d.day, d.questions) for d in days] == [
        ("2026-02-27", 3),
        ("2026-02-28", 0),
        ("2026-03-01", 0),
        ("2026-03-02", 2),
    ]
