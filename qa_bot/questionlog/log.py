"""The question log: what readers asked through the API, the widget and the chat, how the bot
answered, and what readers thought of the answers. Editors read it with `python -m qa_bot stats`.

One SQLite file in WAL mode: each answer is one small transaction, and several server processes
on one machine may write at once (a writer waits up to BUSY_TIMEOUT_MS for another). Each host
keeps its own file. The client address is never stored: a reader is a hash of the address with
a random salt that is kept in the log and replaced every day (UTC), so readers can be counted
per day but not followed from one day to the next, nor traced back to an address once the day's
salt is gone. Rows older than the retention period, and the oldest rows beyond the size cap,
are deleted on every write; a question's feedback goes with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from qa_bot.config import Settings
from qa_bot.errors import ConfigError

if TYPE_CHECKING:
    from qa_bot.answer.result import Answer

log = logging.getLogger("qa_bot.questionlog.log")
ANSWER_CHARS = 300  # of the answer text kept when there is no short answer
BUSY_TIMEOUT_MS = 5000
SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,            -- UTC, ISO 8601
    channel TEXT NOT NULL,         -- api, widget or chat
    source TEXT,                   -- the article asked about; NULL: all articles
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,     -- 0: declined
    confidence REAL NOT NULL,
    answer TEXT NOT NULL,          -- the short answer, or the start of the answer
    latency_ms REAL NOT NULL,
    answer_id TEXT NOT NULL UNIQUE,
    reader TEXT NOT NULL           -- salted hash of the client address; the salt changes daily
);
CREATE INDEX IF NOT EXISTS questions_time ON questions (time);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT PRIMARY KEY REFERENCES questions (answer_id) ON DELETE CASCADE,
    time TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    comment TEXT
);
CREATE TABLE IF NOT EXISTS salt (day TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


@dataclass(frozen=True)
class LoggedQuestion:
    """One logged question with the reader's feedback on its answer, if any."""

    time: str
    channel: str
    source: str | None
    question: str
    answered: bool
    confidence: float
    answer: str
    latency_ms: float
    reader: str
    helpful: bool | None
    comment: str | None


class QuestionLog:
    """The log file of this host; safe to share between threads and processes."""

    def __init__(self, path: Path, days: int = 30, max_rows: int = 1_000_000) -> None:
        self.path = path
        self.days = days
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._salt_day = ""
        self._salt = b""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # questions are personal
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent on a crash
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA secure_delete=ON")  # deleted questions are overwritten
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"Cannot use {path} as the question log ({error}); set QA_BOT_LOG "
                "to a writable file, or to off."
            ) from error

    @classmethod
    def from_settings(cls, settings: Settings) -> QuestionLog | None:
        """The configured log, or None when QA_BOT_LOG is off."""
        if settings.log_path is None:
            return None
        log = cls(settings.log_path, settings.log_days, settings.log_max_rows)
        log.prune()
        return log

    def record(
        self,
        answer: Answer,
        *,
        channel: str,
        source: str | None,
        latency: float,
        client: str | None,
    ) -> None:
        """Log one answered (or declined) question; `latency` in seconds. A failure is logged,
        never raised: it must not cost the reader the answer."""
        try:
            self._record(answer, channel, source, latency, client)
        except sqlite3.Error as error:
            log.error("Could not log a question in %s: %s", self.path, error)

    def _record(
        self, answer: Answer, channel: str, source: str | None, latency: float, client: str | None
    ) -> None:
        now = datetime.now(UTC)
        short = answer.short_answer.text if answer.short_answer else answer.answer
        text = short[:ANSWER_CHARS] if answer.answered else ""
        with self._lock, self._transaction():
            reader = hmac.new(
                self._day_salt(now), (client or "unknown").encode(), hashlib.sha256
            ).hexdigest()[:16]
            cursor = self._db.execute(
                "INSERT INTO questions (time, channel, source, question, answered, confidence, "
                "answer, latency_ms, answer_id, reader) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _iso(now),
                    channel,
                    source,
                    answer.question,
                    int(answer.answered),
                    answer.confidence,
                    text,
                    round(latency * 1000, 2),
                    answer.id,
                    reader,
                ),
            )
            self._delete_old(now, cursor.lastrowid or 0)

    def add_feedback(self, answer_id: str, helpful: bool, comment: str | None = None) -> bool:
        """Record a reader's verdict on an answer (the latest wins); False for an unknown id."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO feedback (answer_id, time, helpful, comment) "
                "SELECT answer_id, ?, ?, ? FROM questions WHERE answer_id = ? "
                "ON CONFLICT (answer_id) DO UPDATE SET time = excluded.time, "
                "helpful = excluded.helpful, comment = coalesce(excluded.comment, comment)",
                (_iso(datetime.now(UTC)), int(helpful), comment or None, answer_id),
            )
            return cursor.rowcount == 1

    def questions(
        self, since: datetime | None = None, source: str | None = None
    ) -> list[LoggedQuestion]:
        """Logged questions, oldest first, with their feedback."""
        with self._lock:
            rows = self._db.execute(
                "SELECT q.time, q.channel, q.source, q.question, q.answered, q.confidence, "
                "q.answer, q.latency_ms, q.reader, f.helpful, f.comment FROM questions q "
                "LEFT JOIN feedback f ON f.answer_id = q.answer_id "
                "WHERE q.time >= ? AND (? IS NULL OR q.source = ?) ORDER BY q.id",
                (_iso(since) if since else "", source, source),
            ).fetchall()
        return [
            LoggedQuestion(
                time,
                channel,
                source_,
                question,
                bool(answered),
                confidence,
                answer,
                latency,
                reader,
                None if helpful is None else bool(helpful),
                comment,
            )
            for (
                time,
                channel,
                source_,
                question,
                answered,
                confidence,
                answer,
                latency,
                reader,
                helpful,
                comment,
            ) in rows
        ]

    def forget(self, text: str) -> int:
        """Delete every question containing `text` (ignoring case), or whose feedback comment
        contains it, with its feedback, leaving no copy in the file; returns how many were
        deleted."""
        needle = text.casefold()
        with self._lock:
            ids = [
                (row_id,)
                for row_id, question, comment in self._db.execute(
                    "SELECT q.id, q.question, f.comment FROM questions q "
                    "LEFT JOIN feedback f ON f.answer_id = q.answer_id"
                )
                if needle in question.casefold() or needle in (comment or "").casefold()
            ]
            with self._transaction():
                self._db.executemany("DELETE FROM questions WHERE id = ?", ids)
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(ids)

    def prune(self) -> None:
        """Delete what is past the retention period or over the size cap, and earlier days'
        salts."""
        now = datetime.now(UTC)
        with self._lock, self._transaction():
            last = self._db.execute("SELECT max(id) FROM questions").fetchone()[0] or 0
            self._delete_old(now, last)
            self._db.execute("DELETE FROM salt WHERE day < ?", (now.date().isoformat(),))

    def close(self) -> None:
        self._db.close()

    def _delete_old(self, now: datetime, last_id: int) -> None:
        self._db.execute(
            "DELETE FROM questions WHERE time < ?", (_iso(now - timedelta(days=self.days)),)
        )
        self._db.execute("DELETE FROM questions WHERE id <= ?", (last_id - self.max_rows,))

    def _day_salt(self, now: datetime) -> bytes:
        """Today's salt, made by the first process to need it; earlier days' are deleted."""
        day = now.date().isoformat()
        if day != self._salt_day:
            self._db.execute(
                "INSERT OR IGNORE INTO salt (day, value) VALUES (?, ?)", (day, os.urandom(16))
            )
            self._db.execute("DELETE FROM salt WHERE day < ?", (day,))
            self._salt = self._db.execute(
                "SELECT value FROM salt WHERE day = ?", (day,)
            ).fetchone()[0]
            self._salt_day = day
        return self._salt

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE: take the write lock at the start, so a busy writer is waited for
        instead of failing when a read would turn into a write."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._salt_day = ""  # a salt read in this transaction may not have been kept
            raise
        self._db.execute("COMMIT")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
