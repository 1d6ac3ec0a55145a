"""Errors a user can cause. Each message is one sentence that says what to do.

Core code raises these; only the interfaces translate them (CLI: one line on stderr and an exit
code; API: {"error": ...} with a status; chat: a polite message).
"""

from __future__ import annotations

# What a reader is told when no usable index answers: the cause (a file path, a command to
# run) is for whoever runs the server, in its log and /api/health.
INDEX_UNAVAILABLE = (
    "The article index is not available right now; please try again in a few minutes."
)


class QABotError(Exception):
    """Base class: str(error) is the message shown to the user."""

    status = 400


class ConfigError(QABotError):
    """A setting has a value that cannot work."""


class CorpusError(QABotError):
    """The corpus folder is missing or holds nothing readable."""


class IndexMissing(QABotError):
    status = 503


class IndexMismatch(QABotError):
    """The index was built with another model or other settings."""

    status = 503


class IndexCorrupt(QABotError):
    """An index file is damaged or half-written."""

    status = 503


class IndexUnwritable(QABotError):
    """The index folder cannot be written: a full disk, a read-only file system."""


class BuildInProgress(QABotError):
    status = 409


class InvalidQuestion(QABotError):
    """Empty, too long, or not text."""

    status = 422


class UnknownSource(QABotError):
    status = 404
