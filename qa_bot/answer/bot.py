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

from qa_bot.answer.ask_request import MAX_HISTORY_MESSAGES, validate_question
from qa_bot.answer.compose import ReadSentence, compose_answer, reading_candidates, reading_question
from qa_bot.answer.hits import Retrieval
from qa_bot.answer.question import Turn, previous_question
from qa_bot.answer.reader import Reader
from qa_bot.answer.result import Answer
from qa_bot.answer.retrieval import Retriever
from qa_bot.config import Settings
from qa_bot.encoder.embedding import Embedder, QueryBatcher
from qa_bot.errors import IndexMissing, QABotError
from qa_bot.indexing import builds, store
from qa_bot.indexing.manifest import check_compatible
from qa_bot.ingest.chunking import DEFAULT_CHUNKING, ChunkingSettings

log = logging.getLogger("qa_bot")
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
    problem: str | None = None  # why the newest build is not the one in use, when it is not


class QABot:
    """With `require_index=False` (a server) a missing or unusable index is not fatal: the
    newest older build that loads answers meanwhile, or, when there is none, every question
    gets that error (503 over HTTP) until a build that loads appears."""

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        chunking: ChunkingSettings = DEFAULT_CHUNKING,
        *,
        require_index: bool = True,
        reader: Reader | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.reader = reader or Reader()
        self.encoder = QueryBatcher(embedder)
        self.chunking = chunking
        self.cache = AnswerCache(CACHED_ANSWERS)
        self._reload_lock = threading.Lock()
        self._failed_build: str | None = None
        self._failure: QABotError | None = None
        self._retriever: Retriever | None = None
        try:
            self._retriever = self._load()
        except QABotError as error:
            if require_index:
                raise
            self._failed_build, self._failure = builds.current_build(index_dir), error
            self._retriever = self._load_older()
            if self._retriever is None:
                log.error("No usable index: %s", error)
            else:
                log.error(
                    "Answering from the older build %s: %s", self._retriever.stored.build_id, error
                )

    @classmethod
    def from_settings(cls, settings: Settings, *, require_index: bool = True) -> QABot:
        return cls(
            settings.index_dir, Embedder.load(settings.model_path), require_index=require_index
        )

    def _load_older(self) -> Retriever | None:
        """The newest older build that loads: a server restarted with a damaged build answers
        as one that was running when it was written does (`reload_if_changed`)."""
        for build_id in builds.older_builds(self.index_dir):
            try:
                return self._load(build_id)
            except QABotError:
                continue
        return None

    def _load(self, build_id: str | None = None) -> Retriever:
        stored = store.load_index(self.index_dir, build_id)
        check_compatible(
            stored.manifest,
            self.embedder.name,
            self.embedder.fingerprint,
            self.embedder.encoder,
            self.chunking,
        )
        return Retriever(stored, self.encoder)  # type: ignore[arg-type] # encodes as Embedder

    @property
    def retriever(self) -> Retriever:
        """The retriever of the current build, after reload_if_changed(); the load error when
        there is no usable build."""
        self.reload_if_changed()
        retriever = self._retriever
        if retriever is None:
            failure = self._failure
            raise (
                type(failure)(str(failure))
                if failure
                else IndexMissing("The index is being loaded; ask again in a moment.")
            )
        return retriever

    def reload_if_changed(self) -> None:
        """Load the build CURRENT names when it is not the one in use. One request loads it
        while the others go on answering from the old one; a build that cannot be loaded is
        tried once, logged, and the old one kept (info() then names the problem)."""
        loaded = self._retriever
        current = builds.current_build(self.index_dir)
        if current == self._failed_build or (loaded and current == loaded.stored.build_id):
            return
        if not self._reload_lock.acquire(blocking=False):
            return
        try:
            current = builds.current_build(self.index_dir)
            if self._retriever is None or current != self._retriever.stored.build_id:
                self._retriever = self._load()
                self._failed_build, self._failure = None, None
        except QABotError as error:
            kept = self._retriever.stored.build_id if self._retriever else "none"
            log.error("Keeping build %s: %s", kept, error)
            self._failed_build, self._failure = current, error
        finally:
            self._reload_lock.release()

    def info(self) -> IndexInfo:
        """The build in use; `problem` says why when it is not the newest."""
        stored = self.retriever.stored
        titles = {source: document.title for source, document in stored.documents.items()}
        return IndexInfo(
            stored.build_id,
            stored.manifest.built_at,
            stored.manifest.sources,
            len(stored.passages),
            stored.manifest.model_name,
            titles,
            problem=_sentence(self._failure) if self._failure else None,
        )

    def ask(self, question: str, history: Sequence[Turn] = (), source: str | None = None) -> Answer:
        """Answer one question, reading short follow-ups together with the conversation."""
        asked = validate_question(question)
        key = (" ".join(asked.split()), source)  # the same words, however spaced
        answer = None if history else self.cache.get(self.retriever.stored.build_id, key)
        if answer is None:
            build, answer = self.answer_afresh(asked, tuple(history), source)
            if not history:
                self.cache.put(build, key, answer)
        return replace(answer, question=asked, id=uuid.uuid4().hex)

    def answer_afresh(
        self, question: str, history: tuple[Turn, ...], source: str | None
    ) -> tuple[str, Answer]:
        """A new answer, never the cache's, and the build it came from."""
        retriever = self.retriever
        return retriever.stored.build_id, self._answer(retriever, question, history, source)[0]

    def close(self) -> None:
        """Release what answering holds beyond this object: nothing here (see PooledBot)."""

    def ask_with_evidence(
        self, question: str, history: Sequence[Turn] = (), source: str | None = None
    ) -> tuple[Answer, Retrieval, list[ReadSentence]]:
        """The answer, the retrieval it came from and the reader's readings (for evaluation)."""
        return self._answer(self.retriever, question, history, source)

    def _answer(
        self, retriever: Retriever, question: str, history: Sequence[Turn], source: str | None
    ) -> tuple[Answer, Retrieval, list[ReadSentence]]:
        question = validate_question(question)
        previous = previous_question(question, list(history)[-MAX_HISTORY_MESSAGES:])
        retrieval = retriever.retrieve(question, previous, source)
        candidates = reading_candidates(question, retrieval)
        readings = self.reader.read(
            reading_question(question, previous), [c.sentence.text for c in candidates]
        )
        read = [ReadSentence(c, r) for c, r in zip(candidates, readings)]
        return compose_answer(question, retrieval, read, self.reader.calibration), retrieval, read


def _sentence(failure: QABotError) -> str:
    """The load error's first sentence (its cause; the rest says how to rebuild), in one."""
    cause = str(failure).split(". ")[0].rstrip(".")
    return f"The newest build could not be loaded ({cause}); an older build is answering."


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
