"""The read path: QABot.ask(question, history, source) -> Answer.

The encoder is loaded once per process; questions asked at the same moment are encoded in one
call (embedding.QueryBatcher). The index is reloaded when a build replaces it: each question
first reads the small CURRENT file, and a new build is loaded and swapped in while requests
already running finish on the old one. A question asked again without history, against the
same build, is answered from a small cache, with a fresh answer id.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import store
from .answer import Answer, compose_answer
from .chunking import ChunkingSettings
from .config import Settings
from .embedding import Embedder, QueryBatcher
from .errors import InvalidQuestion, QABotError
from .question import Turn, previous_question
from .retrieval import Retrieval, Retriever

log = logging.getLogger("qa_bot")
MAX_QUESTION_CHARS = 2000
MAX_HISTORY_TURNS = 50
# Answers kept for repeated questions: an answer is a few KB, so 1,000 hold a few MB.
CACHED_ANSWERS = 1000


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
        self.encoder = QueryBatcher(embedder)
        self.chunking = chunking
        self.cache = AnswerCache(CACHED_ANSWERS)
        self._reload_lock = threading.Lock()
        self._failed_build: str | None = None
        self._retriever = self._load()

    @classmethod
    def from_settings(cls, settings: Settings) -> QABot:
        return cls(settings.index_dir, Embedder.load(settings.model_path))

    def _load(self) -> Retriever:
        stored = store.load_index(self.index_dir)
        store.check_compatible(stored.manifest, self.embedder.name, self.embedder.fingerprint,
                               self.embedder.encoder, self.chunking)
        return Retriever(stored, self.encoder)  # type: ignore[arg-type] # encodes as Embedder

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
        asked = validate_question(question)
        retriever = self.retriever
        key = (" ".join(asked.split()), source)  # the same words, however spaced
        answer = None if history else self.cache.get(retriever.stored.build_id, key)
        if answer is None:
            answer = self._answer(retriever, asked, history, source)[0]
            if not history:
                self.cache.put(retriever.stored.build_id, key, answer)
        return replace(answer, question=asked, id=uuid.uuid4().hex)

    def ask_with_evidence(self, question: str, history: Sequence[Turn] = (),
                          source: str | None = None) -> tuple[Answer, Retrieval]:
        """The answer and the retrieval it came from (for evaluation)."""
        return self._answer(self.retriever, question, history, source)

    @staticmethod
    def _answer(retriever: Retriever, question: str, history: Sequence[Turn],
                source: str | None) -> tuple[Answer, Retrieval]:
        question = validate_question(question)
        previous = previous_question(question, list(history)[-MAX_HISTORY_TURNS:])
        retrieval = retriever.retrieve(question, previous, source)
        return compose_answer(question, retrieval), retrieval


class AnswerCache:
    """A bounded LRU of answers for one build: a question from another build empties it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.build = ""
        self._answers: OrderedDict[tuple[str, str | None], Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, build: str, key: tuple[str, str | None]) -> Answer | None:
        with self._lock:
            if build != self.build:
                self._answers.clear()
                self.build = build
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, build: str, key: tuple[str, str | None], answer: Answer) -> None:
        with self._lock:
            if build != self.build:
                return
            self._answers[key] = answer
            if len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)


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
