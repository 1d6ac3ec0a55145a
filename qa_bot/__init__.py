"""qa_bot: answer readers' questions about news articles with the articles' own sentences.

Data flows one way: corpus -> chunking -> embedding -> store -> indexing/retrieval -> answer
-> bot -> interfaces (cli, api, ui, server). Importing this package is cheap; the model,
faiss and gradio load only when used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Settings
from .errors import (BuildInProgress, ConfigError, CorpusError, IndexCorrupt, IndexMismatch,
                     IndexMissing, InvalidQuestion, QABotError, UnknownSource)

if TYPE_CHECKING:
    from .answer import Answer, Citation
    from .bot import QABot
    from .indexing import build_index

__all__ = ["Settings", "QABot", "Answer", "Citation", "build_index", "QABotError", "ConfigError",
           "CorpusError", "IndexMissing", "IndexMismatch", "IndexCorrupt", "BuildInProgress",
           "InvalidQuestion", "UnknownSource"]


def __getattr__(name: str) -> object:
    """Heavy parts load on first use, so `import qa_bot` stays fast."""
    if name in ("Answer", "Citation"):
        from . import answer
        return getattr(answer, name)
    if name == "QABot":
        from .bot import QABot
        return QABot
    if name == "build_index":
        from .indexing import build_index
        return build_index
    raise AttributeError(name)
