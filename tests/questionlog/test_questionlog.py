"""The question log on its own: what it keeps, for how long, and with several writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qa_bot.answer.result import Answer, ShortAnswer
from qa_bot.config import Settings
from qa_bot.errors import ConfigError
from qa_bot.questionlog import log as questionlog
from qa_bot.questionlog.log import QuestionLog
from tests.support import ROOT

CLIENT = "203.0.113.77"


def answer(question: str = "When did they arrive?", answered: bool = True) -> Answer:
    short = ShortAnswer("October 2024", "a.txt", 10, 22) if answered else None
    return Answer(
        question,
        "They arrived in October 2024. [1]",
        answered,
        0.9 if answered else 0.1,
        (),
        short,
        id=uuid.uuid4().hex,
    )


def log_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


@pytest.fixture
def log(tmp_path: Path) -> QuestionLog:
    return QuestionLog(tmp_path / "var" / "questions.sqlite3")


def test_a_question_is_logged_with_its_answer_and_no_client_address(log) -> None:
    given = answer()
    log.record(given, channel="widget", source="a.txt", latency=0.0123, client=CLIENT)
    (logged,) = log.questions()
    assert (
        logged.channel,
        logged.source,
        logged.question,
        logged.answered,
        logged.answer,
        logged.latency_ms,
    ) == ("widget", "a.txt", given.question, True, "October 2024", 12.3)
    assert len(logged.reader) == 16 and CLIENT not in logged.reader
    assert CLIENT.encode() not in log_bytes(log.path)
    assert log.path.stat().st_mode & 0o077 == 0  # readable by its owner only
    mode = sqlite3.connect(log.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_declined_question_keeps_no_answer_text(log) -> None:
    log.record(
        answer("Who won the cup?", answered=False),
        channel="api",
        source=None,
        latency=0.01,
        client=CLIENT,
    )
    (logged,) = log.questions()
    assert (logged.answered, logged.answer, logged.source) == (False, "", None)


def test_readers_are_told_apart_within_a_day_but_not_across_days(log, monkeypatch) -> None:
    for client in (CLIENT, CLIENT, "198.51.100.1"):
        log.record(answer(), channel="api", source=None, latency=0.01, client=client)
    first, again, other = (q.reader for q in log.questions())
    assert first == again != other

    class Tomorrow(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return datetime.now(tz) + timedelta(days=1)

    monkeypatch.setattr(questionlog, "datetime", Tomorrow)
    log.record(answer(), channel="api", source=None, latency=0.01, client=CLIENT)
    assert log.questions()[-1].reader != first
    salts = sqlite3.connect(log.path).execute("SELECT day FROM salt").fetchall()
    assert salts == [((datetime.now(UTC) + timedelta(days=1)).date().isoformat(),)]


def test_a_server_start_deletes_a_salt_left_from_an_earlier_day(tmp_path) -> None:
    path = tmp_path / "q.sqlite3"
    QuestionLog(path)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO salt (day, value) VALUES ('2000-01-01', x'00')")
    QuestionLog.from_settings(Settings(log_path=path))
    assert sqlite3.connect(path).execute("SELECT count(*) FROM salt").fetchone() == (0,)


def test_feedback_needs_a_logged_answer_and_the_latest_verdict_counts(log) -> None:
    given = answer()
    log.record(given, channel="chat", source=None, latency=0.01, client=CLIENT)
    assert log.add_feedback("no-such-id", True) is False
    assert log.add_feedback(given.id, True, "Clear.") is True
    assert log.add_feedback(given.id, False) is True
    (logged,) = log.questions()
    assert (logged.helpful, logged.comment) == (False, "Clear.")


def test_old_questions_and_their_feedback_are_deleted(tmp_path) -> None:
    log = QuestionLog(tmp_path / "q.sqlite3", days=30)
    old, new = answer("Old?"), answer("New?")
    for given in (old, new):
        log.record(given, channel="api", source=None, latency=0.01, client=CLIENT)
        log.add_feedback(given.id, False)
    long_ago = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    with sqlite3.connect(log.path) as db:
        db.execute("UPDATE questions SET time = ? WHERE answer_id = ?", (long_ago, old.id))
    log.prune()
    assert [q.question for q in log.questions()] == ["New?"]
    feedback = sqlite3.connect(log.path).execute("SELECT answer_id FROM feedback").fetchall()
    assert feedback == [(new.id,)]


def test_the_size_cap_keeps_the_newest_questions(tmp_path) -> None:
    log = QuestionLog(tmp_path / "q.sqlite3", max_rows=3)
    for number in range(5):
        log.record(
            answer(f"Question {number}?"), channel="api", source=None, latency=0.01, client=CLIENT
        )
    assert [q.question for q in log.questions()] == [f"Question {n}?" for n in (2, 3, 4)]


def test_forget_deletes_questions_and_feedback_without_a_trace(log) -> None:
    secret = answer("Is Jane Rowbotham of 12 Mill Lane in the article?")
    log.record(secret, channel="widget", source=None, latency=0.01, client=CLIENT)
    log.add_feedback(secret.id, False, "I am Jane Rowbotham")
    log.record(answer(), channel="widget", source=None, latency=0.01, client=CLIENT)
    assert log.forget("jane ROWBOTHAM") == 1
    assert [q.question for q in log.questions()] == ["When did they arrive?"]
    assert b"Rowbotham" not in log_bytes(log.path)
    # A name given only in a feedback comment is found too, with the question it rated.
    rated = answer("Who won?")
    log.record(rated, channel="widget", source=None, latency=0.01, client=CLIENT)
    log.add_feedback(rated.id, True, "thanks, Sam Okafor here")
    assert log.forget("okafor") == 1
    assert [q.question for q in log.questions()] == ["When did they arrive?"]
    assert b"Okafor" not in log_bytes(log.path)


def test_a_failed_write_is_reported_and_never_raised(log, caplog) -> None:
    given = answer()
    log.record(given, channel="api", source=None, latency=0.01, client=CLIENT)
    log.record(given, channel="api", source=None, latency=0.01, client=CLIENT)  # same id
    assert "Could not log a question" in caplog.text
    assert len(log.questions()) == 1


def test_several_processes_can_write_at_once(tmp_path) -> None:
    path = tmp_path / "q.sqlite3"
    writer = (
        "import sys, uuid\n"
        "from qa_bot.answer.result import Answer\n"
        "from qa_bot.questionlog.log import QuestionLog\n"
        "log = QuestionLog(__import__('pathlib').Path(sys.argv[1]))\n"
        "for n in range(150):\n"
        "    given = Answer(f'{sys.argv[2]} {n}?', 'a', True, 0.9, (), id=uuid.uuid4().hex)\n"
        "    log.record(given, channel='api', source=None, latency=0.01, client='x')\n"
    )
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", writer, str(path), f"w{n}"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert errors == ["", "", ""] and [w.returncode for w in writers] == [0, 0, 0]
    assert len(QuestionLog(path).questions()) == 450


def test_the_log_follows_its_settings(tmp_path) -> None:
    assert QuestionLog.from_settings(Settings(log_path=None)) is None
    log = QuestionLog.from_settings(
        Settings(log_path=tmp_path / "q.sqlite3", log_days=7, log_max_rows=10)
    )
    assert log is not None and (log.days, log.max_rows) == (7, 10)
    assert Settings.from_env({"QA_BOT_LOG": "off"}).log_path is None
    with pytest.raises(ConfigError, match="QA_BOT_LOG_DAYS must be a whole number above 0"):
        Settings.from_env({"QA_BOT_LOG_DAYS": "a month"})
    (tmp_path / "folder").mkdir()
    with pytest.raises(
        ConfigError,
        match=r"Cannot use .*folder as the question log .*set "
        "QA_BOT_LOG to a writable file, or to off",
    ):
        QuestionLog(tmp_path / "folder")
