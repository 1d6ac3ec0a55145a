"""qa_bot: answer readers' questions about news articles with the articles' own sentences.

Data flows one way: corpus -> chunking -> embedding -> store -> indexing/retrieval -> answer
-> bot -> interfaces (cli, api, ui, server). Importing this package is cheap; the model,
faiss and gradio load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa_bot.config import Settings
from qa_bot.errors import (
    BuildInProgress,
    ConfigError,
    CorpusError,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    InvalidQuestion,
    QABotError,
    UnknownSource,
)

if TYPE_CHECKING:
    from qa_bot.answer.bot import QABot
    from qa_bot.answer.result import Answer, Citation
    from qa_bot.indexing.build import build_index

__all__ = [
    "Settings",
    "QABot",
    "Answer",
    "Citation",
    "build_index",
    "QABotError",
    "ConfigError",
    "CorpusError",
    "IndexMissing",
    "IndexMismatch",
    "IndexCorrupt",
    "BuildInProgress",
    "InvalidQuestion",
    "UnknownSource",
]


def __getattr__(name: str) -> object:
    """Heavy parts load on first use, so `import qa_bot` stays fast."""
    if name in ("Answer", "Citation"):
        from qa_bot.answer import result

        return getattr(result, name)
    if name == "QABot":
        from qa_bot.answer.bot import QABot

        return QABot
    if name == "build_index":
        from qa_bot.indexing.build import build_index

        return build_index
    raise AttributeError(name)
