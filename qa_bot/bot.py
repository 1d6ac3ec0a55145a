"""The read path: QABot.ask(question, history, source) -> Answer.

The model is loaded once per process. The index is reloaded when a build replaces it: each
question first reads the small CURRENT file, and a new build is loaded and swapped in while
requests already running finish on the old one.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import store
from .answer import Answer, compose_answer
from .chunking import ChunkingSettings
from .config import Settings
from .embedding import Embedder
from .errors import InvalidQuestion, QABotError
from .question import Turn, previous_question
from .retrieval import Retrieval, Retriever

log = logging.getLogger("qa_bot")
MAX_QUESTION_CHARS = 2000
MAX_HISTORY_TURNS = 50


@dataclass(frozen=True)
class IndexInfo:
    build_id: str
    built_at: str
    sources: list[str]
    passages: int
    model: str
    titles: dict[str, str]  # source -> the document's headline


class QABot:
    def __init__(self, index_dir: Path, embedder: Embedder,
                 chunking: ChunkingSettings = ChunkingSettings()) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.chunking = chunking
        self._reload_lock = threading.Lock()
        self._failed_build: str | None = None
        self._retriever = self._load()

    @classmethod
    def from_settings(cls, settings: Settings) -> QABot:
        return cls(settings.index_dir, Embedder.load(settings.model_path))

    def _load(self) -> Retriever:
        stored = store.load_index(self.index_dir)
        store.check_compatible(stored.manifest, self.embedder.name, self.embedder.fingerprint,
                               self.chunking)
        return Retriever(stored, self.embedder)

    @property
    def retriever(self) -> Retriever:
        """The retriever of the current build. When a build has replaced it, one request loads
        the new one while the others go on answering from the old; a new build that cannot be
        loaded is logged and the old one kept."""
        retriever = self._retriever
        current = store.current_build(self.index_dir)
        if current in (retriever.stored.build_id, self._failed_build):
            return retriever
        if not self._reload_lock.acquire(blocking=False):
            return retriever
        try:
            if store.current_build(self.index_dir) != self._retriever.stored.build_id:
                self._retriever = self._load()
        except QABotError as error:
            log.error("Keeping build %s: %s", retriever.stored.build_id, error)
            self._failed_build = current
        finally:
            self._reload_lock.release()
        return self._retriever

    def info(self) -> IndexInfo:
        stored = self.retriever.stored
        titles = {source: document.title for source, document in stored.documents.items()}
        return IndexInfo(stored.build_id, stored.manifest.built_at, stored.manifest.sources,
                         len(stored.passages), stored.manifest.model_name, titles)

    def ask(self, question: str, history: Sequence[Turn] = (), source: str | None = None) -> Answer:
        """Answer one question, reading short follow-ups together with the conversation."""
        answer = self.ask_with_evidence(question, history, source)[0]
        return replace(answer, id=uuid.uuid4().hex)

    def ask_with_evidence(self, question: str, history: Sequence[Turn] = (),
                          source: str | None = None) -> tuple[Answer, Retrieval]:
        """The answer and the retrieval it came from (for evaluation)."""
        question = validate_question(question)
        previous = previous_question(question, list(history)[-MAX_HISTORY_TURNS:])
        retrieval = self.retriever.retrieve(question, previous, source)
        return compose_answer(question, retrieval), retrieval


def validate_question(question: object) -> str:
    if not isinstance(question, str):
        raise InvalidQuestion("The question must be text.")
    question = question.strip()
    if not question:
        raise InvalidQuestion("The question is empty; type a question about the article.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(f"The question is {len(question):,} characters long; keep it under "
                              f"{MAX_QUESTION_CHARS:,}.")
    return question
